//! `minorfirst`: the command line. Glue only — the logic lives in the crates under `crates/`.

mod cli;

/// Implementation fingerprint of the binary's own kind (`toy.claim`), derived at build time by the
/// `fingerprint` crate; its `TOOLCHAIN` also serves the test hook of `cli::kinds`.
mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
}

// glibc malloc thrashes on the CNN's large temporaries (2–3× slower training, see deps.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::app::main()
}
