//! The binary's [`pipeline::Reporter`]: progress bars (one overall, one per stage) when stderr is
//! a terminal, one line per finished task otherwise ([`pipeline::Lines`]), only the wait for the
//! store lock with `--quiet`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pipeline::{Lines, Plan, Reporter, Task, TaskRecord};

/// How a run shows its progress.
pub fn reporter(quiet: bool) -> Arc<dyn Reporter> {
    if quiet {
        Arc::new(QuietProgress)
    } else if std::io::stderr().is_terminal() {
        Arc::new(Bars::default())
    } else {
        Arc::new(Lines::new())
    }
}

/// `--quiet`: no progress, but a wait for another run's lock is still said.
#[derive(Debug)]
struct QuietProgress;

impl Reporter for QuietProgress {
    fn waiting_for_lock(&self, store: &Path) {
        eprintln!("{}", pipeline::exec::waiting_line(store));
    }
}

/// indicatif bars: `all` and one per stage with tasks to execute; failures are printed above them.
#[derive(Debug, Default)]
struct Bars {
    bars: Mutex<Option<ActiveBars>>,
}

/// The bars of a run in progress: the container, the overall bar and one per stage (`None` for a
/// stage with nothing to execute).
type ActiveBars = (MultiProgress, ProgressBar, Vec<Option<ProgressBar>>);

impl Reporter for Bars {
    fn waiting_for_lock(&self, store: &Path) {
        eprintln!("{}", pipeline::exec::waiting_line(store));
    }

    fn start(&self, plan: &Plan, execute: &[usize]) {
        let total = execute.len();
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> ");
        let overall = multi.add(
            ProgressBar::new(total as u64)
                .with_style(style.clone())
                .with_prefix("all"),
        );
        let mut per_stage = vec![0usize; plan.stages().len()];
        for id in execute {
            per_stage[plan.tasks()[*id].stage] += 1;
        }
        let stage_bars = per_stage
            .iter()
            .enumerate()
            .map(|(stage, count)| {
                (*count > 0).then(|| {
                    multi.add(
                        ProgressBar::new(*count as u64)
                            .with_style(style.clone())
                            .with_prefix(plan.stages()[stage].name.clone()),
                    )
                })
            })
            .collect();
        *self.bars.lock().expect("bars lock") = Some((multi, overall, stage_bars));
    }

    fn finished(&self, plan: &Plan, task: &Task, record: &TaskRecord, log: Option<&Path>) {
        let bars = self.bars.lock().expect("bars lock");
        let Some((multi, overall, stages)) = bars.as_ref() else {
            return;
        };
        overall.inc(1);
        if let Some(bar) = &stages[task.stage] {
            bar.inc(1);
        }
        if let Some(error) = &record.error {
            let _ = multi.println(format!(
                "failed {}: {}{}",
                plan.label(task),
                pipeline::short_error(error),
                pipeline::exec::log_suffix(log)
            ));
        }
    }

    fn finish(&self) {
        if let Some((multi, overall, stages)) = self.bars.lock().expect("bars lock").take() {
            overall.finish();
            for bar in stages.iter().flatten() {
                bar.finish();
            }
            let _ = multi.clear();
        }
    }
}
