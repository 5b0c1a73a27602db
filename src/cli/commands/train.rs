//! `minorfirst train`: one discrete run or one SAM flow from flags, written as JSON or CSV.

use std::io::Write;
use std::path::{Path, PathBuf};

use numerics::Dataset;
use numerics::flow::{FlowConfig, FlowParams, FlowStatus, integrate_flow};
use numerics::model::Network;
use numerics::optim::{Clock, Optimizer};
use numerics::trajectory::{LogSchedule, StopReason, TrainConfig, TrainParams, train};
use serde_json::{Value, json};

use crate::cli::exit::CliError;

/// Flags of `minorfirst train`. Bad values exit with code 2 and a one-line `error: …`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").args(["mu", "data"])))]
#[command(group(clap::ArgGroup::new("init").args(["alpha", "alpha_scale"])))]
pub struct TrainArgs {
    /// The single example μ (label +1), comma-separated, e.g. 1,2.
    #[arg(long, value_name = "M0,M1,…", allow_hyphen_values = true, value_delimiter = ',',
          num_args = 1, value_parser = finite)]
    pub mu: Option<Vec<f64>>,
    /// A dataset: JSON {"X": [[…]], "y": [±1, …]} or CSV with header x0,…,x{d-1},y.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Depth L ≥ 1.
    #[arg(long, value_name = "L", allow_negative_numbers = true)]
    pub depth: Option<usize>,
    /// The optimizer (usam: unnormalised SAM, ε = ρ·∇L).
    #[arg(long, value_name = "NAME", value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// SAM radius ρ ≥ 0 (required for sam-linf, sam-l2 and usam).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rho: Option<f64>,
    /// Balanced init per coordinate, comma-separated (d values).
    #[arg(long, value_name = "A0,A1,…", allow_hyphen_values = true, value_delimiter = ',',
          num_args = 1, value_parser = finite)]
    pub alpha: Option<Vec<f64>>,
    /// Balanced init s·(1,…,1).
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub alpha_scale: Option<f64>,
    /// Learning rate η > 0 (discrete runs).
    #[arg(long, value_name = "ETA", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Number of updates (discrete runs); steps × n × d × L may not exceed 10¹³ (README, "Work
    /// bounds") unless --allow-large-work is given.
    #[arg(long, value_name = "T", allow_negative_numbers = true, value_parser = parse_steps)]
    pub steps: Option<u64>,
    /// Which clock the run advances (and --t-end, --at-times count in).
    #[arg(long, value_name = "CLOCK", value_enum, default_value_t = ClockName::Original)]
    pub time: ClockName,
    /// Extra steps to record, comma-separated.
    #[arg(long, value_name = "S1,S2,…", allow_hyphen_values = true, value_delimiter = ',',
          num_args = 1, value_parser = step)]
    pub checkpoints: Option<Vec<u64>>,
    /// geometric:K — K records per decade of steps (default geometric:10 when no --checkpoints).
    #[arg(long, value_name = "geometric:K", value_parser = log_grid)]
    pub log_grid: Option<u32>,
    /// The output format.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Integrate the SAM flow instead of taking discrete steps.
    #[arg(long)]
    pub flow: bool,
    /// End time of the flow (in the --time clock).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub t_end: Option<f64>,
    /// Flow output times, comma-separated (0 and t-end are always included).
    #[arg(long, value_name = "T1,T2,…", allow_hyphen_values = true, value_delimiter = ',',
          num_args = 1, value_parser = finite)]
    pub at_times: Option<Vec<f64>>,
    /// Accept a discrete run whose work steps × n × d × L exceeds 10¹³ (README, "Work bounds").
    #[arg(long)]
    pub allow_large_work: bool,
}

/// `--steps`: a whole number ≥ 0, with a message that names the rule rather than the parser.
fn parse_steps(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .map_err(|_| format!("must be a whole number ≥ 0, got '{text}'"))
}

/// `--optimizer`: the choices `--help` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerName {
    /// Gradient descent.
    Gd,
    /// ℓ∞-SAM, ε = ρ·sign(∇L).
    #[value(name = "sam-linf")]
    SamLinf,
    /// ℓ2-SAM, ε = ρ·∇L/‖∇L‖ (the joint norm).
    #[value(name = "sam-l2")]
    SamL2,
    /// Unnormalised SAM, ε = ρ·∇L.
    Usam,
}

impl OptimizerName {
    fn flag(self) -> &'static str {
        match self {
            Self::Gd => "gd",
            Self::SamLinf => "sam-linf",
            Self::SamL2 => "sam-l2",
            Self::Usam => "usam",
        }
    }
}

/// `--time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockName {
    /// The plain gradient clock.
    Original,
    /// The loss-normalised (rescaled) clock.
    Rescaled,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

/// One element of a comma-separated list of numbers: finite.
fn finite(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(format!("expects finite numbers, got '{text}'")),
        Err(_) => Err(format!("expects comma-separated numbers, got '{text}'")),
    }
}

/// One `--checkpoints` step: a non-negative whole number (in any float spelling, e.g. 1e3).
fn step(text: &str) -> Result<u64, String> {
    let value = finite(text)?;
    if value >= 0.0 && value.fract() == 0.0 && value <= u64::MAX as f64 {
        Ok(value as u64)
    } else {
        Err(format!("expects non-negative integer steps, got {value}"))
    }
}

/// `--log-grid geometric:K` with an integer K ≥ 1.
fn log_grid(spec: &str) -> Result<u32, String> {
    spec.strip_prefix("geometric:")
        .and_then(|k| k.parse::<u32>().ok())
        .filter(|&k| k > 0)
        .ok_or_else(|| format!("expects geometric:K with an integer K ≥ 1, got '{spec}'"))
}

pub fn run(args: TrainArgs) -> Result<(), CliError> {
    // Required flags are checked here rather than by clap so every failure is one `error:` line.
    let depth = args
        .depth
        .ok_or_else(|| bad("--depth is required (the number of layers L ≥ 1)"))?;
    if depth == 0 {
        return Err(bad("--depth must be at least 1, got 0"));
    }
    let optimizer_name = args
        .optimizer
        .ok_or_else(|| bad("--optimizer is required (gd, sam-linf, sam-l2 or usam)"))?;
    let optimizer = optimizer_of(optimizer_name, args.rho)?;
    let (data, source) = load_source(&args)?;
    let clock = match args.time {
        ClockName::Original => Clock::Original,
        ClockName::Rescaled => Clock::Rescaled,
    };
    let format = args.format;
    let alpha = match (&args.alpha, args.alpha_scale) {
        (Some(alpha), _) => {
            let alpha = alpha.clone();
            if alpha.len() != data.d() {
                return Err(bad(format!(
                    "--alpha has {} values but the data has dimension {} (one value per coordinate expected)",
                    alpha.len(),
                    data.d()
                )));
            }
            alpha
        }
        (None, Some(scale)) if scale.is_finite() => vec![scale; data.d()],
        (None, Some(scale)) => {
            return Err(bad(format!("--alpha-scale must be finite, got {scale}")));
        }
        (None, None) => return Err(bad("one of --alpha or --alpha-scale is required")),
    };
    let network = Network::balanced(depth, &alpha).map_err(|e| bad(format!("--alpha: {e}")))?;
    let mut config = json!({
        "source": source,
        "n": data.n(),
        "d": data.d(),
        "depth": depth,
        "optimizer": optimizer.name(),
        "rho": optimizer.rho(),
        "alpha": alpha,
        "time": clock.name(),
    });
    let (output, rows, stopped) = if args.flow {
        let (output, rows) = run_flow(&args, &data, network, optimizer, clock, &mut config)?;
        (output, rows, None)
    } else {
        run_discrete(&args, &data, network, optimizer, clock, &mut config)?
    };
    let text = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&output)
                .map_err(|e| CliError::unexpected(format!("failed to encode json: {e}")))?;
            text.push('\n');
            text
        }
        Format::Csv => csv_text(&rows, data.d()),
    };
    write_output(args.out.as_deref(), &text)?;
    // The flagged output is still written (it shows where the run went wrong), but the run did not
    // complete: a distinct exit code, so a script never takes it for a result.
    stopped.map_or(Ok(()), Err)
}

/// The `status` of each logged row: `ok`, and on the last row how the run ended.
fn flag_rows(rows: &mut [Value], stop: &str) {
    let last = rows.len().saturating_sub(1);
    for (index, row) in rows.iter_mut().enumerate() {
        row["status"] = json!(if index == last { stop } else { "ok" });
    }
}

fn bad(message: impl Into<String>) -> CliError {
    CliError::bad_input(message)
}

fn run_discrete(
    args: &TrainArgs,
    data: &Dataset,
    network: Network,
    optimizer: Optimizer,
    clock: Clock,
    config: &mut Value,
) -> Result<(Value, Vec<Value>, Option<CliError>), CliError> {
    let lr = args
        .lr
        .ok_or_else(|| bad("--lr is required for discrete runs (a learning rate > 0)"))?;
    if !(lr.is_finite() && lr > 0.0) {
        return Err(bad(format!("--lr must be finite and > 0, got {lr}")));
    }
    let steps = args
        .steps
        .ok_or_else(|| bad("--steps is required for discrete runs (a step count)"))?;
    let work = steps as f64 * (data.n() * data.d() * network.depth()) as f64;
    if work > pipeline::WORK_BOUND && !args.allow_large_work {
        return Err(bad(format!(
            "--steps {steps}: work steps × n × d × L = {work:.3e} exceeds the bound {:.0e} \
             (see README.md, \"Work bounds\"); pass --allow-large-work to run it anyway",
            pipeline::WORK_BOUND
        )));
    }
    let checkpoints = args.checkpoints.clone().unwrap_or_default();
    let per_decade = match (args.log_grid, args.checkpoints.is_some()) {
        (Some(k), _) => Some(k),
        (None, true) => None,
        (None, false) => Some(10),
    };
    let params = TrainParams {
        optimizer,
        clock,
        lr,
        steps,
        log: LogSchedule {
            per_decade,
            steps: checkpoints.clone(),
        },
        beta_cap: f64::INFINITY,
    };
    let train_config = TrainConfig::new(params).map_err(|e| bad(e.to_string()))?;
    let run = train(data, network, &train_config).map_err(|e| bad(e.to_string()))?;
    config["mode"] = json!("discrete");
    config["lr"] = json!(lr);
    config["steps"] = json!(steps);
    config["checkpoints"] = json!(checkpoints);
    config["log_grid"] = match per_decade {
        Some(k) => json!(format!("geometric:{k}")),
        None => Value::Null,
    };
    let mut rows: Vec<Value> = run
        .records
        .iter()
        .map(|r| json!({"step": r.step, "time": r.time, "tau": r.tau, "loss": r.loss, "beta": r.beta}))
        .collect();
    flag_rows(&mut rows, run.stop.name());
    let last = &run.final_record;
    let stop_step = match run.stop {
        StopReason::Completed => Value::Null,
        StopReason::BetaCap { step } | StopReason::NonFinite { step } => json!(step),
    };
    let stopped = match run.stop {
        StopReason::NonFinite { step } => Some(CliError::new(
            crate::cli::exit::NON_FINITE,
            format!(
                "training stopped at step {step}: the update produced a non-finite value \
                 (weights, β or loss overflowed; try a smaller --lr); the output ends at step {} \
                 with status non_finite",
                last.step
            ),
        )),
        StopReason::Completed | StopReason::BetaCap { .. } => None,
    };
    let output = json!({
        "config": config,
        "checkpoints": rows,
        "final": {
            "step": last.step, "time": last.time, "tau": last.tau, "loss": last.loss, "beta": last.beta,
            "weights": run.final_weights, "stop_reason": run.stop.name(), "stop_step": stop_step,
        },
    });
    Ok((output, rows, stopped))
}

fn run_flow(
    args: &TrainArgs,
    data: &Dataset,
    network: Network,
    optimizer: Optimizer,
    clock: Clock,
    config: &mut Value,
) -> Result<(Value, Vec<Value>), CliError> {
    let t_end = args
        .t_end
        .ok_or_else(|| bad("--t-end is required with --flow (the end time, > 0)"))?;
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(bad(format!("--t-end must be finite and > 0, got {t_end}")));
    }
    let mut times = args.at_times.clone().unwrap_or_else(|| vec![0.0]);
    if let Some(t) = times.iter().find(|t| !(**t >= 0.0 && **t <= t_end)) {
        return Err(bad(format!(
            "--at-times values must lie in [0, --t-end = {t_end}], got {t}"
        )));
    }
    times.push(0.0);
    times.push(t_end);
    times.sort_by(f64::total_cmp);
    times.dedup();
    let flow_config = FlowConfig::new(FlowParams::new(optimizer, clock, times.clone()))
        .map_err(|e| bad(e.to_string()))?;
    let result = integrate_flow(data, network, &flow_config).map_err(|e| bad(e.to_string()))?;
    config["mode"] = json!("flow");
    config["t_end"] = json!(t_end);
    config["at_times"] = json!(times);
    let mut rows: Vec<Value> = result
        .records
        .iter()
        .map(|r| json!({"time": r.time, "tau": r.tau, "loss": r.loss, "beta": r.beta}))
        .collect();
    let (status, status_time) = match result.status {
        FlowStatus::Completed => ("completed", Value::Null),
        FlowStatus::BlowUp { t } => ("blow_up", json!(t)),
        FlowStatus::MaxSteps { t } => ("max_steps", json!(t)),
    };
    flag_rows(&mut rows, status);
    let mut final_value = match result.records.last() {
        Some(r) => {
            json!({"time": r.time, "tau": r.tau, "loss": r.loss, "beta": r.beta, "weights": r.weights})
        }
        None => json!({}),
    };
    final_value["stop_reason"] = json!(status);
    final_value["stop_time"] = status_time;
    Ok((
        json!({"config": config, "checkpoints": rows, "final": final_value}),
        rows,
    ))
}

fn optimizer_of(name: OptimizerName, rho: Option<f64>) -> Result<Optimizer, CliError> {
    let rho_for = |name: OptimizerName| -> Result<f64, CliError> {
        let rho = rho.ok_or_else(|| {
            bad(format!(
                "--rho is required for --optimizer {} (a radius ≥ 0)",
                name.flag()
            ))
        })?;
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(bad(format!("--rho must be finite and ≥ 0, got {rho}")));
        }
        Ok(rho)
    };
    Ok(match name {
        OptimizerName::Gd => Optimizer::Gd,
        OptimizerName::SamLinf => Optimizer::SamLinf {
            rho: rho_for(name)?,
        },
        OptimizerName::SamL2 => Optimizer::SamL2 {
            rho: rho_for(name)?,
        },
        OptimizerName::Usam => Optimizer::Usam {
            rho: rho_for(name)?,
        },
    })
}

fn load_source(args: &TrainArgs) -> Result<(Dataset, Value), CliError> {
    if let Some(mu) = &args.mu {
        let mu = mu.clone();
        let data = Dataset::single(&mu).map_err(|e| bad(format!("--mu: {e}")))?;
        return Ok((data, json!({"mu": mu})));
    }
    let path = args
        .data
        .as_ref()
        .ok_or_else(|| bad("one of --mu or --data is required"))?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "--data {}: cannot read the file: {e}",
            path.display()
        ))
    })?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    let (rows, labels) = if is_json {
        parse_json_data(&text)
    } else {
        parse_csv_data(&text)
    }
    .map_err(|e| bad(format!("--data {}: {e}", path.display())))?;
    let data = Dataset::from_rows(&rows, &labels)
        .map_err(|e| bad(format!("--data {}: {e}", path.display())))?;
    Ok((data, json!({"data": path.display().to_string()})))
}

type Rows = (Vec<Vec<f64>>, Vec<f64>);

fn parse_json_data(text: &str) -> Result<Rows, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid json: {e}"))?;
    let x = value
        .get("X")
        .and_then(Value::as_array)
        .ok_or("expected a field \"X\" holding an array of rows")?;
    let y = value
        .get("y")
        .and_then(Value::as_array)
        .ok_or("expected a field \"y\" holding an array of ±1 labels")?;
    let rows = x
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.as_array()
                .ok_or(format!("X[{i}] is not an array"))?
                .iter()
                .map(|v| v.as_f64().ok_or(format!("X[{i}] holds a non-number")))
                .collect::<Result<Vec<f64>, String>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let labels = y
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_f64().ok_or(format!("y[{i}] is not a number")))
        .collect::<Result<Vec<f64>, String>>()?;
    Ok((rows, labels))
}

fn parse_csv_data(text: &str) -> Result<Rows, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty file (expected header x0,…,x{d-1},y)")?
        .split(',')
        .map(str::trim)
        .collect();
    let d = header.len().saturating_sub(1);
    let expected: Vec<String> = (0..d)
        .map(|j| format!("x{j}"))
        .chain(["y".to_string()])
        .collect();
    if d == 0 || header != expected {
        return Err(format!(
            "expected the csv header {}, got {}",
            expected.join(","),
            header.join(",")
        ));
    }
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in lines.enumerate() {
        let values = line
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("data row {i}: '{}' is not a number", v.trim()))
            })
            .collect::<Result<Vec<f64>, String>>()?;
        if values.len() != d + 1 {
            return Err(format!(
                "data row {i} has {} fields, the header has {}",
                values.len(),
                d + 1
            ));
        }
        labels.push(values[d]);
        rows.push(values[..d].to_vec());
    }
    Ok((rows, labels))
}

fn csv_text(rows: &[Value], d: usize) -> String {
    let has_step = rows.first().is_some_and(|r| r.get("step").is_some());
    let mut header: Vec<String> = Vec::new();
    if has_step {
        header.push("step".into());
    }
    header.extend(["time", "tau", "loss"].map(String::from));
    header.extend((0..d).map(|j| format!("beta{j}")));
    header.push("status".into());
    let mut text = header.join(",");
    text.push('\n');
    for row in rows {
        let mut fields: Vec<String> = Vec::new();
        if has_step {
            fields.push(row["step"].to_string());
        }
        for key in ["time", "tau", "loss"] {
            fields.push(number_text(&row[key]));
        }
        if let Some(beta) = row["beta"].as_array() {
            fields.extend(beta.iter().map(number_text));
        }
        fields.push(row["status"].as_str().unwrap_or("ok").to_string());
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// JSON has no NaN/∞ (serde_json writes null); CSV spells them out.
fn number_text(value: &Value) -> String {
    match value.as_f64() {
        Some(v) => format!("{v:e}"),
        None => "NaN".to_string(),
    }
}

/// Stdout, or a temp file in the target directory renamed over FILE so readers never see half a file.
fn write_output(out: Option<&Path>, text: &str) -> Result<(), CliError> {
    let Some(path) = out else {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .map_err(|e| CliError::unexpected(format!("failed to write stdout: {e}")));
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(bad(format!(
            "--out {}: directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.file_name().is_none() {
        return Err(bad(format!("--out {}: not a file path", path.display())));
    }
    atomicfile::write(path, text.as_bytes(), atomicfile::Durability::None).map_err(|error| {
        CliError::unexpected(format!("failed to write {}: {error}", path.display()))
    })
}
