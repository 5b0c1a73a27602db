//! The clap definition of the command line and the dispatch to subcommands (one file each under
//! `commands/`).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use super::commands::{
    bench_engine, bench_remote, clean, completions, dag, diff, gc, man, pull, push, report, run,
    status, train, verify,
};
use super::exit::{self, CliError};

/// Reproduce "Minor First, Major Last" (ICLR 2026) from one command.
#[derive(Debug, Parser)]
#[command(name = "minorfirst", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one configuration from flags (discrete GD/SAM or the SAM flow); JSON or CSV out.
    Train(Box<train::TrainArgs>),
    /// Run the pipeline: execute what changed, reuse everything else (exit 3 if a task failed).
    Run(run::RunArgs),
    /// Per task: cached, or why it would run (new, param old → new, code or input changed).
    Status(status::StatusArgs),
    /// Print the stage graph (text, or Graphviz with --dot).
    Dag(dag::DagArgs),
    /// Remove stored objects that the current plan does not reach.
    Gc(gc::GcArgs),
    /// Delete the store (all cached results); reports are left alone.
    Clean(clean::CleanArgs),
    /// Check the current plan without recomputing: every artifact verifies against its hash and
    /// every claim of the ledger passes (exit 4 otherwise).
    Verify(verify::VerifyArgs),
    /// Compare two runs: claims that changed verdict or moved beyond their tolerance, and tasks
    /// whose key changed and why (exit 0; with --exit-code 1 if they differ; 2 if a run is missing).
    Diff(diff::DiffArgs),
    /// Measure the engine on toy pipelines (no-op run/status on 10 000 tasks, overhead, speedup).
    #[command(hide = true)]
    BenchEngine(bench_engine::BenchArgs),
    /// Print a shell completion script: `source <(minorfirst completions bash)`, or save it where
    /// the shell loads completions (zsh: a `_minorfirst` file on $fpath; fish:
    /// ~/.config/fish/completions/minorfirst.fish).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) of the binary or of one subcommand: `minorfirst man | man -l -`.
    Man(man::ManArgs),
    /// Print the file:// URL of the report (`reports/index.html`); --open opens it in a browser.
    Report(report::ReportArgs),
    /// Execute one task from a task manifest written by `run --executor slurm` (what each Slurm
    /// job runs; not for interactive use).
    #[command(hide = true)]
    Worker(super::slurm::worker::WorkerArgs),
    /// Download every task of the plan that the local store lacks from the remote cache.
    Pull(super::cache::SyncArgs),
    /// Upload every stored task of the plan that the remote cache lacks.
    Push(super::cache::SyncArgs),
    /// Time look-ups and fetches of a toy plan against a remote cache.
    #[command(hide = true)]
    BenchRemote(bench_remote::BenchRemoteArgs),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version to stdout with exit 0 and usage errors to stderr; usage errors
            // are bad input (exit 2, which is also clap's own convention).
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            });
        }
    };
    let outcome: Result<(), CliError> = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::Dag(args) => dag::run(args),
        Command::Gc(args) => gc::run(args),
        Command::Clean(args) => clean::run(args),
        Command::Verify(args) => verify::verify(args),
        Command::Diff(args) => diff::run(args),
        Command::BenchEngine(args) => bench_engine::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => man::run(args, Cli::command()),
        Command::Report(args) => report::run(args),
        Command::Worker(args) => super::slurm::worker::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Push(args) => push::run(args),
        Command::BenchRemote(args) => bench_remote::run(args),
    };
    exit::report(outcome)
}
