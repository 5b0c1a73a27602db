//! Tables as polars DataFrames: built column by column, stored as Parquet in a task's object, and
//! published as CSV + Parquet under `reports/tables/`.

use std::fs::File;
use std::path::Path;

use pipeline::stage::InputArtifact;
use polars::prelude::*;

use crate::error::AnalysisError;

/// Builds a DataFrame column by column; every column must have the same length.
#[derive(Default)]
pub struct Columns {
    columns: Vec<Column>,
}

impl Columns {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn f64(mut self, name: &str, values: Vec<f64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn i64(mut self, name: &str, values: Vec<i64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn u64(mut self, name: &str, values: Vec<u64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn bool(mut self, name: &str, values: Vec<bool>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn str(mut self, name: &str, values: Vec<String>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    /// Optional floats (null where `None`), e.g. a switch time that does not exist.
    pub fn opt_f64(mut self, name: &str, values: Vec<Option<f64>>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }
    pub fn finish(self) -> Result<DataFrame, AnalysisError> {
        Ok(DataFrame::new_infer_height(self.columns)?)
    }
}

/// Write `<name>.parquet` into a task's output directory (the engine commits it atomically).
pub fn write(df: &mut DataFrame, out_dir: &Path, name: &str) -> Result<(), AnalysisError> {
    write_parquet(df, &out_dir.join(format!("{name}.parquet")))
}

/// Write `<name>.parquet` into the task's object and CSV + Parquet copies under
/// `publish/tables/`, which the engine mirrors to `reports/tables/`.
pub fn write_and_publish(
    df: &mut DataFrame,
    out_dir: &Path,
    name: &str,
) -> Result<(), AnalysisError> {
    write(df, out_dir, name)?;
    let tables = out_dir.join("publish").join("tables");
    std::fs::create_dir_all(&tables).map_err(|source| AnalysisError::io(&tables, source))?;
    write_parquet(df, &tables.join(format!("{name}.parquet")))?;
    let csv_path = tables.join(format!("{name}.csv"));
    let mut file =
        File::create(&csv_path).map_err(|source| AnalysisError::io(&csv_path, source))?;
    CsvWriter::new(&mut file).include_header(true).finish(df)?;
    Ok(())
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), AnalysisError> {
    let file = File::create(path).map_err(|source| AnalysisError::io(path, source))?;
    // Single-threaded column serialisation keeps the bytes identical from run to run.
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .set_parallel(false)
        .finish(df)?;
    Ok(())
}

/// Read a Parquet file.
pub fn read(path: &Path) -> Result<DataFrame, AnalysisError> {
    let file = File::open(path).map_err(|source| AnalysisError::io(path, source))?;
    Ok(ParquetReader::new(file).finish()?)
}

/// Read table `name` of an input artifact.
pub fn read_input(input: &InputArtifact, name: &str) -> Result<DataFrame, AnalysisError> {
    read(&input.path(&format!("{name}.parquet")))
}

/// Stack frames whose columns may differ (e.g. β columns for different d): the union of columns in
/// first-seen order, missing ones filled with nulls.
pub fn concat(frames: Vec<DataFrame>) -> Result<DataFrame, AnalysisError> {
    let mut names: Vec<(PlSmallStr, DataType)> = Vec::new();
    for frame in &frames {
        for column in frame.columns() {
            if !names.iter().any(|(name, _)| name == column.name()) {
                names.push((column.name().clone(), column.dtype().clone()));
            }
        }
    }
    let mut stacked: Option<DataFrame> = None;
    for frame in frames {
        let height = frame.height();
        let columns = names
            .iter()
            .map(|(name, dtype)| match frame.column(name) {
                Ok(column) => column.cast(dtype),
                Err(_) => Ok(Column::full_null(name.clone(), height, dtype)),
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let aligned = DataFrame::new(height, columns)?;
        match stacked.as_mut() {
            None => stacked = Some(aligned),
            Some(acc) => {
                acc.vstack_mut(&aligned)?;
            }
        }
    }
    let mut result = stacked.unwrap_or_default();
    result.rechunk_mut();
    Ok(result)
}

/// Column `name` as f64 values (nulls become NaN).
pub fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<f64>, AnalysisError> {
    let column = df.column(name)?.cast(&DataType::Float64)?;
    Ok(column
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Column `name` as strings (nulls become empty strings).
pub fn str_column(df: &DataFrame, name: &str) -> Result<Vec<String>, AnalysisError> {
    let column = df.column(name)?.cast(&DataType::String)?;
    Ok(column
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_diagonal_concat() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Columns::new()
            .str("run", vec!["a".into(), "a".into()])
            .f64("beta_0", vec![1.0, 2.0])
            .finish()
            .unwrap();
        write_and_publish(&mut a, dir.path(), "t").unwrap();
        let back = read(&dir.path().join("t.parquet")).unwrap();
        assert_eq!(back, a);
        assert!(dir.path().join("publish/tables/t.csv").exists());
        let b = Columns::new()
            .str("run", vec!["b".into()])
            .f64("beta_0", vec![3.0])
            .f64("beta_1", vec![4.0])
            .finish()
            .unwrap();
        let both = concat(vec![a, b]).unwrap();
        assert_eq!(both.height(), 3);
        let beta_1 = f64_column(&both, "beta_1").unwrap();
        assert!(beta_1[0].is_nan() && beta_1[1].is_nan() && beta_1[2] == 4.0);
    }

    #[test]
    fn parquet_bytes_are_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let make = || {
            Columns::new()
                .f64("x", (0..1000).map(f64::from).collect())
                .finish()
                .unwrap()
        };
        write(&mut make(), dir.path(), "one").unwrap();
        write(&mut make(), dir.path(), "two").unwrap();
        let one = std::fs::read(dir.path().join("one.parquet")).unwrap();
        let two = std::fs::read(dir.path().join("two.parquet")).unwrap();
        assert_eq!(one, two);
    }
}
