//! Documented exit codes, shared by every subcommand (also listed in README.md).

use std::process::ExitCode;

/// Everything succeeded (and, for `verify`, every claim passed).
pub const OK: u8 = 0;
/// An unexpected failure (IO error outside the store, a bug).
pub const UNEXPECTED: u8 = 1;
/// Bad input: a malformed pipeline.toml, an unknown or invalid flag or `--set`, a bad data file.
/// Nothing was written.
pub const BAD_INPUT: u8 = 2;
/// At least one pipeline task failed (independent tasks still ran and were stored).
pub const TASK_FAILED: u8 = 3;
/// `verify`: at least one claim of the ledger failed, or an artifact did not verify.
pub const CLAIM_FAILED: u8 = 4;
/// `train`: a value stopped being finite (weights, β or the loss overflowed). The output up to
/// the last finite state is still written, its last row flagged `non_finite`.
pub const NON_FINITE: u8 = 5;
/// `status --exit-code`: at least one task would run (0: everything is up to date). As in
/// `git diff --exit-code`, a "yes" answer, not a failure; nothing is printed on stderr for it.
pub const PENDING: u8 = 1;
/// `diff --exit-code`: the two runs differ (0: they agree).
pub const DIFFERENT: u8 = 1;

/// An error that knows its exit code. Its message is printed on one line as `error: <message>`.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: BAD_INPUT,
            message: message.into(),
        }
    }
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self {
            code: UNEXPECTED,
            message: message.into(),
        }
    }
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// An exit code that is an answer, not an error: no `error:` line is printed.
    pub fn silent(code: u8) -> Self {
        Self {
            code,
            message: String::new(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Print the error (if any) and turn the outcome into the process exit code.
pub fn report(outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::from(OK),
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("error: {}", error.message);
            }
            ExitCode::from(error.code)
        }
    }
}

/// Write `text` to stdout; a closed pipe (`minorfirst status | head`) is not an error.
pub fn print_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`minorfirst status | head`) is not an error worth reporting.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(CliError::unexpected(format!(
            "failed to write to stdout: {error}"
        ))),
    }
}
