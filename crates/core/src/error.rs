//! The error type of `larder-core`: configuration, definitions, encodings.

use std::path::PathBuf;

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading configuration and definitions or encoding values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `feature_store.yaml` could not be read or is invalid.
    #[error("{path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong and what to do about it; names the key.
        message: String,
    },
    /// One or more problems in the repo's definitions; all of them are listed.
    #[error("{}", format_problems(.0))]
    Definitions(Vec<Problem>),
    /// A value cannot be encoded or decoded with the declared type.
    #[error("{0}")]
    Value(String),
    /// A timestamp or duration could not be parsed.
    #[error("{0}")]
    Parse(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Parquet or CSV file's schema could not be read.
    #[error("{path}: cannot read schema: {message}")]
    Schema {
        /// The data file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A protobuf message could not be decoded.
    #[error("{what}: not a valid protobuf message: {source}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The underlying error.
        source: prost::DecodeError,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// One problem found in a repo's definitions: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file holding the object (relative to the repo when possible).
    pub file: PathBuf,
    /// The line, when known.
    pub line: Option<usize>,
    /// The object, e.g. `feature view driver_hourly_stats`.
    pub object: Option<String>,
    /// The field within the object, e.g. `schema[2].dtype`.
    pub field: Option<String>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ":")?;
        if let Some(object) = &self.object {
            write!(f, " {object}")?;
            if let Some(field) = &self.field {
                write!(f, ", field `{field}`")?;
            }
            write!(f, ":")?;
        } else if let Some(field) = &self.field {
            write!(f, " field `{field}`:")?;
        }
        write!(f, " {}", self.message)
    }
}

fn format_problems(problems: &[Problem]) -> String {
    let mut out = match problems.len() {
        1 => "the repo's definitions have 1 problem:".to_string(),
        n => format!("the repo's definitions have {n} problems:"),
    };
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}
