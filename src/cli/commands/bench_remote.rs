//! `bench-remote`: look-up and fetch timings of the real binary against a remote cache, on a toy
//! plan of `--tasks` cached tasks (in a temp directory; the remote keeps what was uploaded).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cli::exit::CliError;

#[derive(Debug, clap::Args)]
pub struct BenchRemoteArgs {
    /// The remote cache to measure (file:///DIR or s3://BUCKET/PREFIX; AWS_* variables for S3).
    #[arg(long = "cache", value_name = "URL")]
    pub url: String,
    /// Tasks in the toy plan.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Repetitions of the look-up timing (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

fn unexpected(error: impl std::fmt::Display) -> CliError {
    CliError::unexpected(format!("bench-remote: {error}"))
}

/// Wall time of one `minorfirst` invocation and its stderr; fails if it exits non-zero.
fn timed(dir: &Path, args: &[&str]) -> Result<(f64, String), CliError> {
    let exe = std::env::current_exe().map_err(unexpected)?;
    let start = Instant::now();
    let output = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .output()
        .map_err(unexpected)?;
    let seconds = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(unexpected(format!(
            "`minorfirst {}` failed: {stderr}",
            args.join(" ")
        )));
    }
    Ok((seconds, stderr))
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

pub fn run(args: BenchRemoteArgs) -> Result<(), CliError> {
    let root = std::env::temp_dir().join(format!("minorfirst-bench-remote-{}", std::process::id()));
    let outcome = measure(&args, &root);
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

fn measure(args: &BenchRemoteArgs, root: &Path) -> Result<(), CliError> {
    // A salt unique to this invocation, so the keys are new to the remote (cold upload, then
    // every look-up a hit).
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64 % 1_000_000_007);
    let values: Vec<String> = (0..args.tasks).map(|n| n.to_string()).collect();
    let pipeline = format!(
        "[stage.g]\nkind = \"toy.gen\"\nn = [{}]\nscale = 1.0\nv = [{salt}.0]\n",
        values.join(", ")
    );
    let mut dirs = Vec::new();
    for name in ["a", "b"] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(unexpected)?;
        std::fs::write(dir.join("pipeline.toml"), &pipeline).map_err(unexpected)?;
        dirs.push(dir);
    }
    let url = args.url.as_str();
    let (cold, log) = timed(
        &dirs[0],
        &["run", "--quiet", "--cache", url, "--cache-push", "on"],
    )?;
    println!(
        "cold run + upload, {} tasks: {cold:.2} s ({})",
        args.tasks,
        last_line(&log)
    );
    let mut lookups = Vec::new();
    let mut line = String::new();
    for _ in 0..args.repeat.max(1) {
        let (seconds, log) = timed(&dirs[0], &["push", "--cache", url])?;
        lookups.push(seconds);
        line = last_line(&log).to_string();
    }
    lookups.sort_by(f64::total_cmp);
    println!(
        "look-up of {} cached keys (`push`, all present; median of {}): {:.2} s ({line})",
        args.tasks,
        lookups.len(),
        lookups[lookups.len() / 2]
    );
    let (fetch, log) = timed(&dirs[1], &["run", "--quiet", "--cache", url])?;
    println!(
        "fresh store, run fetching {} tasks: {fetch:.2} s ({})",
        args.tasks,
        last_line(&log)
    );
    Ok(())
}
