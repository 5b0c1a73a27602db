//! `minorfirst`: the command line. Glue only — the logic lives in the crates under `crates/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::app::main()
}
