//! Toy stage kinds (`toy.*`), always registered, for the engine's integration tests and benchmark.
//!
//! They are deliberately tiny but exercise every engine path: typed and swept parameters
//! (`toy.gen`), CPU-bound or sleeping work (`toy.work`), aggregation over every task of a stage
//! (`toy.sum`), failure (`toy.fail`) and large outputs (`toy.blob`, for full-disk tests). When `MINORFIRST_TOY_LOG` is set, every execution appends
//! `<stage> <params as JSON>` to that file, so tests can count executions across processes.

use std::io::Write;

use serde_json::{Value, json};

use crate::registry::Registry;
use crate::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};

/// Register every toy kind.
pub fn register(registry: &mut Registry) {
    for kind in kinds() {
        registry.register_boxed(kind);
    }
}

/// Every toy kind.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(Gen),
        Box::new(Work),
        Box::new(Sum),
        Box::new(Fail),
        Box::new(Blob),
    ]
}

fn toy_fingerprint() -> &'static str {
    crate::fingerprint::FINGERPRINT
}

fn log_execution(ctx: &TaskContext<'_>) -> Result<(), TaskError> {
    if let Some(path) = std::env::var_os("MINORFIRST_TOY_LOG") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        // One write per line: O_APPEND keeps concurrent writers from interleaving.
        file.write_all(format!("{} {}\n", ctx.stage, ctx.params).as_bytes())?;
    }
    Ok(())
}

fn write_value(ctx: &TaskContext<'_>, value: f64) -> Result<(), TaskError> {
    std::fs::write(
        ctx.out_dir.join("value.json"),
        serde_json::to_vec(&json!({ "value": value }))?,
    )?;
    Ok(())
}

fn int(ctx: &TaskContext<'_>, name: &str) -> i64 {
    ctx.params[name].as_i64().unwrap_or_default()
}

/// `toy.gen`: value = n · scale + Σ v.
pub struct Gen;

impl StageKind for Gen {
    fn name(&self) -> &'static str {
        "toy.gen"
    }
    fn fingerprint(&self) -> &'static str {
        toy_fingerprint()
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "n",
                ParamType::Int {
                    min: Some(0),
                    max: Some(1_000_000),
                },
                "an integer",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "scale",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "a non-negative factor",
            )
            .with_default(1.0)
            .sweepable(),
            ParamSpec::new(
                "v",
                ParamType::FloatVec {
                    len: None,
                    min: None,
                    max: None,
                },
                "a vector added to the value",
            )
            .with_default(Value::Array(Vec::new()))
            .sweepable(),
            ParamSpec::new(
                "publish",
                ParamType::Bool,
                "also publish the value to reports/<stage>/",
            )
            .with_default(false),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        log_execution(ctx)?;
        let scale = ctx.params["scale"].as_f64().unwrap_or(1.0);
        let extra: f64 = ctx.params["v"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_f64).sum())
            .unwrap_or(0.0);
        let value = int(ctx, "n") as f64 * scale + extra;
        write_value(ctx, value)?;
        if ctx.params["publish"].as_bool() == Some(true) {
            let dir = ctx.out_dir.join("publish").join(ctx.stage);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(
                dir.join(format!("n{}.txt", int(ctx, "n"))),
                format!("{value}\n"),
            )?;
        }
        Ok(())
    }
}

/// `toy.work`: burns `spin_ms` of CPU and sleeps `sleep_ms`, then writes value = n.
pub struct Work;

impl StageKind for Work {
    fn name(&self) -> &'static str {
        "toy.work"
    }
    fn fingerprint(&self) -> &'static str {
        toy_fingerprint()
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "n",
                ParamType::Int {
                    min: None,
                    max: None,
                },
                "the value to write",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "spin_ms",
                ParamType::Int {
                    min: Some(0),
                    max: Some(60_000),
                },
                "CPU time to burn",
            )
            .with_default(0),
            ParamSpec::new(
                "sleep_ms",
                ParamType::Int {
                    min: Some(0),
                    max: Some(600_000),
                },
                "time to sleep",
            )
            .with_default(0),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        log_execution(ctx)?;
        let spin = std::time::Duration::from_millis(int(ctx, "spin_ms") as u64);
        let start = std::time::Instant::now();
        let mut accumulator = 0u64;
        while start.elapsed() < spin {
            for step in 0..10_000u64 {
                accumulator = std::hint::black_box(
                    accumulator
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(step),
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(int(ctx, "sleep_ms") as u64));
        write_value(ctx, int(ctx, "n") as f64)
    }
}

/// `toy.sum`: the sum of the `value` of every input; also published as `reports/<stage>.txt`.
pub struct Sum;

impl StageKind for Sum {
    fn name(&self) -> &'static str {
        "toy.sum"
    }
    fn fingerprint(&self) -> &'static str {
        toy_fingerprint()
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "offset",
                ParamType::Float {
                    min: None,
                    max: None,
                },
                "added to the sum",
            )
            .with_default(0.0),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        log_execution(ctx)?;
        let mut total = ctx.params["offset"].as_f64().unwrap_or(0.0);
        for input in ctx.inputs {
            let parsed: Value = serde_json::from_slice(&std::fs::read(input.path("value.json"))?)?;
            total += parsed["value"]
                .as_f64()
                .ok_or("input value.json has no numeric `value`")?;
        }
        write_value(ctx, total)?;
        std::fs::create_dir_all(ctx.out_dir.join("publish"))?;
        std::fs::write(
            ctx.out_dir
                .join("publish")
                .join(format!("{}.txt", ctx.stage)),
            format!("{total}\n"),
        )?;
        Ok(())
    }
}

/// `toy.fail`: fails when `n == fail_on`, otherwise writes value = n.
pub struct Fail;

impl StageKind for Fail {
    fn name(&self) -> &'static str {
        "toy.fail"
    }
    fn fingerprint(&self) -> &'static str {
        toy_fingerprint()
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "n",
                ParamType::Int {
                    min: None,
                    max: None,
                },
                "the value to write",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "fail_on",
                ParamType::Int {
                    min: None,
                    max: None,
                },
                "the value of n that fails",
            )
            .with_default(-1),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        log_execution(ctx)?;
        if int(ctx, "n") == int(ctx, "fail_on") {
            return Err(format!("toy failure at n = {}", int(ctx, "n")).into());
        }
        write_value(ctx, int(ctx, "n") as f64)
    }
}

/// `toy.blob`: writes `kib` KiB of bytes derived from `n` (a sweep of them fills a small disk).
/// With `opaque = true` a write error is reported without its cause, as some libraries do (parquet
/// says "transport error" for ENOSPC), so the engine must recognise a full disk by other means.
pub struct Blob;

impl StageKind for Blob {
    fn name(&self) -> &'static str {
        "toy.blob"
    }
    fn fingerprint(&self) -> &'static str {
        toy_fingerprint()
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "n",
                ParamType::Int {
                    min: Some(0),
                    max: Some(1_000_000),
                },
                "which blob",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "kib",
                ParamType::Int {
                    min: Some(0),
                    max: Some(1 << 20),
                },
                "size of the blob in KiB",
            )
            .with_default(1),
            ParamSpec::new(
                "opaque",
                ParamType::Bool,
                "report a write error without its cause",
            )
            .with_default(false),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        log_execution(ctx)?;
        let n = int(ctx, "n");
        let bytes: Vec<u8> = (0..int(ctx, "kib") * 1024)
            .map(|i| (i.wrapping_mul(31).wrapping_add(n) % 251) as u8)
            .collect();
        let written = std::fs::File::create(ctx.out_dir.join("blob.bin"))
            .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()));
        match written {
            Ok(()) => Ok(()),
            Err(_) if ctx.params["opaque"].as_bool() == Some(true) => {
                Err("blob writer: transport error".into())
            }
            Err(error) => Err(error.into()),
        }
    }
}
