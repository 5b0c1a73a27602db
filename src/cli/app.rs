//! The clap definition of the command line and the dispatch to subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::exit::{self, CliError};
use super::{cache, cache_bench, engine, train};

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
    #[command(flatten)]
    Engine(engine::EngineCommand),
    #[command(flatten)]
    Habits(super::habits::HabitsCommand),
    /// Execute one task from a task manifest written by `run --executor slurm` (what each Slurm
    /// job runs; not for interactive use).
    #[command(hide = true)]
    Worker(super::slurm::worker::WorkerArgs),
    /// Download every task of the plan that the local store lacks from the remote cache.
    Pull(cache::SyncArgs),
    /// Upload every stored task of the plan that the remote cache lacks.
    Push(cache::SyncArgs),
    /// Time look-ups and fetches of a toy plan against a remote cache.
    #[command(hide = true)]
    BenchRemote(cache_bench::BenchRemoteArgs),
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
        Command::Engine(command) => engine::run(command),
        Command::Habits(command) => super::habits::run(command),
        Command::Worker(args) => super::slurm::worker::run(args),
        Command::Pull(args) => cache::pull(args),
        Command::Push(args) => cache::push(args),
        Command::BenchRemote(args) => cache_bench::run(args),
    };
    exit::report(outcome)
}
