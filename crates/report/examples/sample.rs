//! Renders the sample model to the path given as the first argument, to look at the page.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: sample OUT.html");
        return ExitCode::from(2);
    };
    let model = report::sample::sample_model();
    match report::write(&model, &path) {
        Ok(()) => {
            println!("{} ({})", path.display(), model.claims_summary());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: failed to {error}");
            ExitCode::FAILURE
        }
    }
}
