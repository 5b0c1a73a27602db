//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while rendering or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("render the report templates")]
    Template(#[from] tera::Error),
    #[error(
        "accept {what} id {id:?}: ids must be non-empty and use only ASCII letters, digits, '_', '-', '.' or ':'"
    )]
    InvalidId { what: &'static str, id: String },
    #[error("accept id {id:?}: it is used twice on the page (as {first} and as {second})")]
    DuplicateId {
        id: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("link claim {claim:?} to {what} {target:?}: no such id on the page")]
    DanglingReference {
        claim: String,
        what: &'static str,
        target: String,
    },
    #[error("link result {result:?} to {what} {target:?}: no such id on the page")]
    DanglingResultReference {
        result: String,
        what: &'static str,
        target: String,
    },
    #[error(
        "accept path {path:?} in {context}: links must be relative paths inside the reports directory"
    )]
    NonRelativePath { context: String, path: String },
    #[error("accept key table {caption:?}: row {row} has {cells} cells for {columns} columns")]
    RaggedTable {
        caption: String,
        row: usize,
        cells: usize,
        columns: usize,
    },
    #[error("inline the SVG of figure {figure:?}: {reason}")]
    UnsafeSvg { figure: String, reason: String },
    #[error("write the report to {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
