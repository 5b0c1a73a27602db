//! `toy.claim`: a tiny claim-making kind beside the engine's `toy.*` kinds, so the integration
//! tests can drive `claims.ledger`, `run`'s claims line and `minorfirst diff` on a pipeline that
//! runs in milliseconds. It lives in the binary because the engine's toys know no claims.

use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use stagekit::claims::{Claim, write_claims};

/// `toy.claim`: measures the sum of its inputs' `value.json` (plus `seed_weight` · (`seed` mod 7), a
/// seed-dependent term for the reseeding tests) and claims it is within `tol` of `expected` (one
/// [`Claim::within`] row with id `id`, section `toy`).
pub struct ToyClaim;

impl StageKind for ToyClaim {
    fn name(&self) -> &'static str {
        "toy.claim"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new("id", ParamType::Str { choices: None }, "the claim id"),
            ParamSpec::new(
                "expected",
                ParamType::Float {
                    min: None,
                    max: None,
                },
                "the value the sum of the inputs should have",
            ),
            ParamSpec::new(
                "tol",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "PASS iff |sum − expected| ≤ tol",
            ),
            ParamSpec::new(
                "seed",
                ParamType::Int {
                    min: Some(0),
                    max: None,
                },
                "a seed: the measurement gains seed_weight · (seed mod 7)",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "seed_weight",
                ParamType::Float {
                    min: None,
                    max: None,
                },
                "how much the seed moves the measurement (0: not at all)",
            )
            .with_default(0.0),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        #[derive(serde::Deserialize)]
        struct Params {
            id: String,
            expected: f64,
            tol: f64,
            seed: u64,
            seed_weight: f64,
        }
        let params: Params = ctx.params()?;
        let mut sum = 0.0;
        for input in ctx.inputs {
            let value: serde_json::Value =
                serde_json::from_slice(&std::fs::read(input.path("value.json"))?)?;
            sum += value["value"]
                .as_f64()
                .ok_or("input value.json has no numeric `value`")?;
        }
        sum += params.seed_weight * (params.seed % 7) as f64;
        let claim = Claim::within(
            &params.id,
            "toy",
            "the inputs sum to the expected value",
            "sum of the inputs' values",
            sum,
            params.expected,
            params.tol,
            "toy tolerance",
        );
        // The toy plan's rule is its own `tol` parameter, declared in its pipeline.toml.
        let claim = Claim {
            rule: Some(format!("tol = {}: the toy plan's tolerance", params.tol)),
            ..claim
        };
        write_claims(ctx.out_dir, &[claim])?;
        Ok(())
    }
}
