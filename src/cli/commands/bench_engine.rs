//! `bench-engine`: end-to-end timings of the real binary on toy pipelines in a temp directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cli::exit::CliError;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Tasks in the cached plan timed for no-op `run` and `status`.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Empty tasks executed cold to measure the engine's overhead per executed task.
    #[arg(long, default_value_t = 2_000)]
    pub overhead_tasks: usize,
    /// CPU-bound tasks for the `--jobs 1` vs `--jobs 2` throughput comparison.
    #[arg(long, default_value_t = 8)]
    pub spin_tasks: usize,
    /// CPU time each of those tasks burns, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub spin_ms: u64,
    /// Repetitions of each no-op timing and of the cold overhead run (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

fn unexpected(error: impl std::fmt::Display) -> CliError {
    CliError::unexpected(format!("bench-engine: {error}"))
}

/// Wall time of one `minorfirst` invocation, in seconds; fails if it exits non-zero.
fn timed(dir: &Path, args: &[&str]) -> Result<f64, CliError> {
    let exe = std::env::current_exe().map_err(unexpected)?;
    let start = Instant::now();
    let status = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(unexpected)?;
    let seconds = start.elapsed().as_secs_f64();
    if !status.success() {
        return Err(unexpected(format!(
            "`minorfirst {}` failed with {status}",
            args.join(" ")
        )));
    }
    Ok(seconds)
}

fn median(dir: &Path, args: &[&str], repeat: usize) -> Result<f64, CliError> {
    let mut times = (0..repeat.max(1))
        .map(|_| timed(dir, args))
        .collect::<Result<Vec<_>, _>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn fresh_dir(root: &Path, name: &str, pipeline: &str) -> Result<PathBuf, CliError> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).map_err(unexpected)?;
    std::fs::write(dir.join("pipeline.toml"), pipeline).map_err(unexpected)?;
    Ok(dir)
}

/// Flush the filesystem before a timed cold run, so that the run is not charged for write-back or
/// discards left by earlier work (this machine's root filesystem is mounted with `discard`, which
/// makes the first flush after a large deletion slow). Best effort: without `sync`, runs are timed
/// as they come.
fn settle_filesystem() {
    let _ = Command::new("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn sweep(count: usize) -> String {
    let values: Vec<String> = (0..count).map(|n| n.to_string()).collect();
    format!("[{}]", values.join(", "))
}

pub fn run(args: BenchArgs) -> Result<(), CliError> {
    let root = std::env::temp_dir().join(format!("minorfirst-bench-{}", std::process::id()));
    let outcome = measure(&args, &root);
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

fn measure(args: &BenchArgs, root: &Path) -> Result<(), CliError> {
    // An empty stage kind does almost nothing, so a cold run's wall time per task is the engine's
    // overhead (planning, scratch dir, hashing, fsync, manifest, rename, records), process start
    // amortized over the tasks.
    // Each repetition runs in a fresh directory, so every one is a cold run of the same plan; the
    // median damps the filesystem's background work (write-back, discards of earlier deletions).
    let pipeline = format!(
        "[stage.g]\nkind = \"toy.gen\"\nn = {}\n",
        sweep(args.overhead_tasks)
    );
    let mut colds = (0..args.repeat.max(1))
        .map(|rep| {
            let dir = fresh_dir(root, &format!("overhead{rep}"), &pipeline)?;
            settle_filesystem();
            timed(&dir, &["run", "--quiet", "--jobs", "1"])
        })
        .collect::<Result<Vec<_>, _>>()?;
    colds.sort_by(f64::total_cmp);
    let jobs1 = colds[colds.len() / 2];
    println!(
        "cold run, {} empty tasks, --jobs 1: {:.3} s = {:.0} µs per executed task (median of {}; \
         range {:.0}–{:.0} µs)",
        args.overhead_tasks,
        jobs1,
        jobs1 / args.overhead_tasks as f64 * 1e6,
        colds.len(),
        colds[0] / args.overhead_tasks as f64 * 1e6,
        colds[colds.len() - 1] / args.overhead_tasks as f64 * 1e6,
    );

    let big = fresh_dir(
        root,
        "noop",
        &format!(
            "[stage.g]\nkind = \"toy.gen\"\nn = {}\n[stage.total]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
            sweep(args.tasks)
        ),
    )?;
    let cold = timed(&big, &["run", "--quiet"])?;
    println!(
        "cold run, {} tasks (all cores): {cold:.3} s",
        args.tasks + 1
    );
    // Stamps taken within the racy window of a file's mtime are not trusted (see
    // `pipeline::store::RACY_NS`), so the first no-op run after a fast cold run re-hashes every
    // object and re-stamps it; later ones are the steady state a user sees.
    std::thread::sleep(std::time::Duration::from_nanos(pipeline::store::RACY_NS) * 11 / 10);
    let first = timed(&big, &["run", "--quiet"])?;
    println!(
        "first no-op run after the racy window, {} tasks (re-hashes every object once): {:.1} ms",
        args.tasks + 1,
        first * 1e3
    );
    let noop = median(&big, &["run", "--quiet"], args.repeat)?;
    println!(
        "no-op run, {} cached tasks: {:.1} ms (median of {})",
        args.tasks + 1,
        noop * 1e3,
        args.repeat
    );
    let status = median(&big, &["status"], args.repeat)?;
    println!(
        "status, {} cached tasks: {:.1} ms (median of {})",
        args.tasks + 1,
        status * 1e3,
        args.repeat
    );

    let spin = format!(
        "[stage.w]\nkind = \"toy.work\"\nn = {}\nspin_ms = {}\n",
        sweep(args.spin_tasks),
        args.spin_ms
    );
    let one = timed(
        &fresh_dir(root, "spin1", &spin)?,
        &["run", "--quiet", "--jobs", "1"],
    )?;
    let two = timed(
        &fresh_dir(root, "spin2", &spin)?,
        &["run", "--quiet", "--jobs", "2"],
    )?;
    println!(
        "{} CPU-bound tasks of {} ms: --jobs 1 {one:.3} s, --jobs 2 {two:.3} s, speedup {:.2}×",
        args.spin_tasks,
        args.spin_ms,
        one / two
    );
    Ok(())
}
