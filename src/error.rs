//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in crossleak, with the context a user needs to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file does not exist or is not a regular file.
    #[error("{table}: cannot read {path}: {reason}")]
    Unreadable {
        /// Logical table (`sales`, `products`, `catalog`, `config`, ...).
        table: String,
        /// The path that was given.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// A required column is absent.
    #[error("{table}: missing required column `{column}` (columns present: {}){}", available.join(", "), delimiter_hint(available))]
    MissingColumn {
        /// Logical table.
        table: String,
        /// The column name looked for (after config mapping).
        column: String,
        /// The columns the file has.
        available: Vec<String>,
    },
    /// A table holds no data rows.
    #[error("{table}: {path} holds no data rows")]
    EmptyTable {
        /// Logical table.
        table: String,
        /// The file.
        path: PathBuf,
    },
    /// Every row of a table was rejected, or it had none: nothing to detect on.
    #[error("{table}: no row accepted ({rows} read){first}")]
    NoAcceptedRows {
        /// Logical table.
        table: String,
        /// Data rows read.
        rows: usize,
        /// The first rejected row and why, when there is one (`; first rejected: ...`).
        first: String,
    },
    /// A column has a type that cannot hold what the contract asks for.
    #[error("{table}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        /// Logical table.
        table: String,
        /// Column name.
        column: String,
        /// Type found in the file.
        found: String,
        /// Type the contract needs.
        expected: String,
    },
    /// A value that makes the whole input unusable (row numbers count data rows from 1).
    #[error("{table}: row {row}, column `{column}`: {reason}")]
    BadValue {
        /// Logical table.
        table: String,
        /// Data row number, 1-based, header excluded.
        row: usize,
        /// Column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A configuration file or value is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A parameter is out of its valid range.
    #[error("parameter `{name}` = {value} is out of range: {expected}")]
    Param {
        /// Parameter name as in the config.
        name: String,
        /// The value given.
        value: String,
        /// The valid range.
        expected: String,
    },
    /// Error from polars (file format, decoding).
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// I/O error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// An image file that cannot be hashed: not an image, a format without a codec here,
    /// corrupt, or too large to decode.
    #[error("{path}: cannot hash image: {reason}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Error from linfa while fitting a model.
    #[error("model: {0}")]
    Model(String),
    /// A chart of the HTML report could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
    /// JSON (de)serialisation error.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// When a file's header came out as one column holding another common separator, says so:
/// the usual cause of a missing column is a file separated by something other than commas.
fn delimiter_hint(available: &[String]) -> String {
    let [only] = available else {
        return String::new();
    };
    [(';', "semicolons"), ('\t', "tabs"), ('|', "pipes")]
        .iter()
        .find(|(c, _)| only.contains(*c))
        .map(|(c, name)| {
            format!(
                "; the header is one column holding {c:?}: the file looks separated by {name}, not by the expected separator (a comma unless set otherwise)"
            )
        })
        .unwrap_or_default()
}

impl From<linfa_logistic::error::Error> for Error {
    fn from(e: linfa_logistic::error::Error) -> Self {
        Error::Model(e.to_string())
    }
}

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Error::Model(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
