//! `minorfirst`: the command line. Glue only — the logic lives in the crates under `crates/`.

mod cli;

// glibc malloc thrashes on the CNN's large temporaries (2–3× slower training, see deps.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::app::main()
}
