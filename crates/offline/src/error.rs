//! The error type of `larder-offline`.

use std::path::PathBuf;

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the offline store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A source or entity file is missing a column the request needs, or has it with the wrong type.
    #[error("{file}: {message}")]
    Column {
        /// The file.
        file: PathBuf,
        /// What is wrong (names the view and column) and what to do.
        message: String,
    },
    /// A source or entity file is missing, unreadable or not in the expected format.
    #[error("{file}: {message}")]
    File {
        /// The file or directory.
        file: PathBuf,
        /// What is wrong (names the source or view) and what to do.
        message: String,
    },
    /// The request itself is wrong (unknown feature, name collision, ...).
    #[error("{0}")]
    Request(String),
    /// A source kind this store cannot read.
    #[error("source `{source_name}`: {message}")]
    UnsupportedSource {
        /// The source.
        source_name: String,
        /// Why, and what to do.
        message: String,
    },
    /// DataFusion, Arrow, Parquet or I/O failed; `context` says what was being done.
    #[error("{context}: {source}")]
    Engine {
        /// What Larder was doing.
        context: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An error from `larder-core`.
    #[error(transparent)]
    Core(#[from] larder_core::Error),
}

/// Wraps a lower-level error (DataFusion, Arrow, Parquet, I/O) with what Larder was doing.
pub(crate) fn engine<E>(context: impl Into<String>) -> impl FnOnce(E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let context = context.into();
    move |source| Error::Engine {
        context,
        source: Box::new(source),
    }
}
