//! `minorfirst status`: per task, cached or why it would run (also `run --dry-run`).

use pipeline::{Plan, Store};

use crate::cli::exit::{self, CliError, print_stdout};
use crate::cli::plan::{PlanArgs, engine_error, load_plan};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Stages to report on (with their dependencies); default: every stage.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Print JSON instead of text: `{"total", "cached", "would_run", "tasks": [{"task", "stage",
    /// "index", "key", "cached", "why": {"reason", "detail"}, "text"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any task would run, 0 when everything is up to date (for CI).
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(args: StatusArgs) -> Result<(), CliError> {
    let (config, plan) = load_plan(&args.plan)?;
    let store = Store::new(&config.store);
    let pending = print_status(&plan, &store, &args.targets, &[], args.json)?;
    if args.exit_code && pending > 0 {
        return Err(CliError::silent(exit::PENDING));
    }
    Ok(())
}

/// Print per task whether it is cached or why it would run (text, or JSON), with the
/// `status:` summary on stderr; tasks of `forced` stages would run even if cached. Returns how
/// many tasks would run.
pub fn print_status(
    plan: &Plan,
    store: &Store,
    targets: &[String],
    forced: &[String],
    json: bool,
) -> Result<usize, CliError> {
    let lines = pipeline::status(plan, store, targets).map_err(engine_error)?;
    if let Some(name) = forced.iter().find(|name| plan.stage(name).is_none()) {
        return Err(CliError::bad_input(format!(
            "unknown --force stage `{name}` (see `minorfirst dag`)"
        )));
    }
    let mut out = String::with_capacity(lines.len() * 64);
    let mut rows = Vec::new();
    let mut cached = 0;
    for (id, why) in &lines {
        let task = &plan.tasks()[*id];
        let stage = &plan.stage_of(task).name;
        let is_forced = forced.contains(stage);
        let is_cached = *why == pipeline::Why::Cached && !is_forced;
        cached += usize::from(is_cached);
        let text = if *why == pipeline::Why::Cached && is_forced {
            "would run: forced".to_string()
        } else {
            why.to_string()
        };
        if json {
            let why_json = if *why == pipeline::Why::Cached && is_forced {
                serde_json::json!({ "reason": "forced" })
            } else {
                serde_json::to_value(why).expect("Why serializes")
            };
            rows.push(serde_json::json!({
                "task": plan.label(task),
                "stage": stage,
                "index": task.index,
                "key": task.key,
                "cached": is_cached,
                "why": why_json,
                "text": text,
            }));
        } else {
            out.push_str(&format!(
                "{}\t{}\t{text}\n",
                plan.label(task),
                &task.key[..12]
            ));
        }
    }
    if json {
        let document = serde_json::json!({
            "total": lines.len(),
            "cached": cached,
            "would_run": lines.len() - cached,
            "tasks": rows,
        });
        out = serde_json::to_string_pretty(&document).expect("status serializes");
        out.push('\n');
    }
    print_stdout(&out)?;
    eprintln!(
        "status: {} tasks, {cached} cached, {} would run",
        lines.len(),
        lines.len() - cached
    );
    Ok(lines.len() - cached)
}
