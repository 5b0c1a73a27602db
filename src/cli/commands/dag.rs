//! `minorfirst dag`: the stage graph as text or Graphviz.

use crate::cli::exit::{CliError, print_stdout};
use crate::cli::plan::{PlanArgs, load_plan};

#[derive(Debug, clap::Args)]
pub struct DagArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print Graphviz dot instead of text.
    #[arg(long)]
    pub dot: bool,
}

pub fn run(args: DagArgs) -> Result<(), CliError> {
    let (_, plan) = load_plan(&args.plan)?;
    let mut out = String::new();
    if args.dot {
        out.push_str("digraph pipeline {\n  rankdir=LR;\n");
        for stage in plan.stages() {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{} · {} task(s)\"];\n",
                stage.name,
                stage.name,
                stage.kind,
                stage.tasks.len()
            ));
            for dep in &stage.deps {
                out.push_str(&format!("  \"{dep}\" -> \"{}\";\n", stage.name));
            }
        }
        out.push_str("}\n");
    } else {
        for stage in plan.stages() {
            let deps = if stage.deps.is_empty() {
                String::new()
            } else {
                format!(" ← {}", stage.deps.join(", "))
            };
            out.push_str(&format!(
                "{} ({}, {} task(s)){deps}\n",
                stage.name,
                stage.kind,
                stage.tasks.len()
            ));
        }
    }
    print_stdout(&out)
}
