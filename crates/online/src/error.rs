//! The error type of `larder-online`.

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in an online store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed (connection, query, I/O); `store` names it, `context` says what was being done.
    #[error("{store} online store: {context}: {source}")]
    Backend {
        /// `sqlite` or `redis`.
        store: &'static str,
        /// What Larder was doing, e.g. "writing driver_hourly_stats".
        context: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The rows to write are not usable for the view (missing column, wrong type, ...).
    #[error("view `{view}`: {message}")]
    Data {
        /// The feature view.
        view: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The store's configuration is unusable.
    #[error("online store configuration: {0}")]
    Config(String),
    /// An encoding error from `larder-core`.
    #[error(transparent)]
    Core(#[from] larder_core::Error),
}

impl Error {
    /// An [`Error::Backend`] of `store` while doing `context`.
    pub(crate) fn backend(
        store: &'static str,
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Backend {
            store,
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// An [`Error::Data`] about `view`.
    pub(crate) fn data(view: &str, message: impl Into<String>) -> Self {
        Error::Data {
            view: view.to_string(),
            message: message.into(),
        }
    }
}
