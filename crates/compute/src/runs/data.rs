//! Dataset kinds: the single example D_μ, Gaussian clusters at ±mean (spec B7) and random separable
//! data (spec B3), each written as `dataset.json` plus a `dataset.parquet` table.

use std::path::Path;

use numerics::Dataset;
use numerics::generate;
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use serde::{Deserialize, Serialize};

use crate::artifacts::{read_json, write_json};
use crate::error::AnalysisError;
use crate::table::{self, Columns};

/// File name of a dataset inside a `data.*` object.
pub const DATASET_FILE: &str = "dataset.json";

/// A dataset as stored: rows, labels, and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFile {
    /// The generating kind (`data.single`, …).
    pub source: String,
    pub x: Vec<Vec<f64>>,
    pub y: Vec<f64>,
}

impl DatasetFile {
    pub fn from_dataset(source: &str, data: &Dataset) -> Self {
        Self {
            source: source.into(),
            x: (0..data.n()).map(|i| data.row(i).to_vec()).collect(),
            y: data.y().to_vec(),
        }
    }

    /// The validated dataset.
    pub fn dataset(&self) -> Result<Dataset, AnalysisError> {
        Ok(Dataset::from_rows(&self.x, &self.y)?)
    }

    pub fn read(dir: &Path) -> Result<Self, AnalysisError> {
        read_json(&dir.join(DATASET_FILE))
    }
}

/// Write `dataset.json` and the `dataset` table (columns x_0 … x_{d−1}, y).
fn write_dataset(out_dir: &Path, source: &str, data: &Dataset) -> Result<(), AnalysisError> {
    write_json(
        &out_dir.join(DATASET_FILE),
        &DatasetFile::from_dataset(source, data),
    )?;
    let mut columns = Columns::new();
    for j in 0..data.d() {
        columns = columns.f64(
            &format!("x_{j}"),
            (0..data.n()).map(|i| data.row(i)[j]).collect(),
        );
    }
    let mut df = columns.f64("y", data.y().to_vec()).finish()?;
    table::write(&mut df, out_dir, "dataset")
}

fn float_vec() -> ParamType {
    ParamType::FloatVec {
        len: None,
        min: None,
        max: None,
    }
}

fn seed_spec() -> ParamSpec {
    ParamSpec::new(
        "seed",
        ParamType::Int {
            min: Some(0),
            max: None,
        },
        "RNG seed (ChaCha8)",
    )
    .with_default(0)
    .sweepable()
}

/// `data.single`: D_μ = {(μ, +1)}.
pub struct Single;

#[derive(Deserialize)]
struct SingleParams {
    mu: Vec<f64>,
}

impl StageKind for Single {
    fn name(&self) -> &'static str {
        "data.single"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new("mu", float_vec(), "the single example μ (label +1)").sweepable(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: SingleParams = ctx.params()?;
        let data = generate::single_example(&params.mu).map_err(AnalysisError::from)?;
        write_dataset(ctx.out_dir, self.name(), &data)?;
        Ok(())
    }
}

/// `data.gaussian`: n_per_class points x ~ N(y·mean, σ² I) per label (spec B7).
pub struct Gaussian;

#[derive(Deserialize)]
struct GaussianParams {
    mean: Vec<f64>,
    sigma: f64,
    n_per_class: usize,
    seed: u64,
}

impl StageKind for Gaussian {
    fn name(&self) -> &'static str {
        "data.gaussian"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "mean",
                float_vec(),
                "cluster mean of the +1 class (−mean for −1)",
            )
            .with_default(vec![1.0, 2.0])
            .sweepable(),
            ParamSpec::new(
                "sigma",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "isotropic standard deviation",
            )
            .with_default(0.3)
            .sweepable(),
            ParamSpec::new(
                "n_per_class",
                ParamType::Int {
                    min: Some(1),
                    max: Some(1_000_000),
                },
                "points per class",
            )
            .with_default(20)
            .sweepable(),
            seed_spec(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: GaussianParams = ctx.params()?;
        let data = generate::gaussian_clusters(&p.mean, p.sigma, p.n_per_class, p.seed)
            .map_err(AnalysisError::from)?;
        write_dataset(ctx.out_dir, self.name(), &data)?;
        Ok(())
    }
}

/// `data.separable`: n standard Gaussian points labelled by a fixed w* and pushed `margin` away
/// from its hyperplane (spec B3).
pub struct Separable;

#[derive(Deserialize)]
struct SeparableParams {
    w_star: Vec<f64>,
    n: usize,
    margin: f64,
    seed: u64,
}

impl StageKind for Separable {
    fn name(&self) -> &'static str {
        "data.separable"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "w_star",
                float_vec(),
                "labelling direction; its length is the dimension d",
            )
            .with_default(vec![1.0, -2.0, 0.5])
            .sweepable(),
            ParamSpec::new(
                "n",
                ParamType::Int {
                    min: Some(1),
                    max: Some(1_000_000),
                },
                "number of points",
            )
            .with_default(12)
            .sweepable(),
            ParamSpec::new(
                "margin",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "geometric margin added along y·w*/‖w*‖",
            )
            .with_default(0.1)
            .sweepable(),
            seed_spec(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: SeparableParams = ctx.params()?;
        let data =
            generate::separable(p.n, &p.w_star, p.margin, p.seed).map_err(AnalysisError::from)?;
        write_dataset(ctx.out_dir, self.name(), &data)?;
        Ok(())
    }
}
