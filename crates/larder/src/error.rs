//! The error type of the `larder` façade: its own failures plus those of every layer below.

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the feature store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration or definitions (`feature_store.yaml`, YAML definitions, encodings).
    #[error(transparent)]
    Core(#[from] larder_core::Error),
    /// The registry.
    #[error(transparent)]
    Registry(#[from] larder_registry::Error),
    /// The online store.
    #[error(transparent)]
    Online(#[from] larder_online::Error),
    /// The offline store.
    #[error(transparent)]
    Offline(#[from] larder_offline::Error),
    /// A feature view, feature service or feature that the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed: wrong value types, missing entity columns, bad time range.
    #[error("{0}")]
    InvalidRequest(String),
    /// The configured backend is not implemented in Larder yet.
    #[error("{0}")]
    Unsupported(String),
    /// A push names a push source that does not exist in the project (Feast answers 422).
    #[error("{0}")]
    PushSourceNotFound(String),
    /// A materialization of this view is already running in this process.
    #[error("feature view `{0}` is already being materialized; wait for that job to finish")]
    AlreadyMaterializing(String),
    /// Materializing one view failed; its interval was not recorded, so rerunning is safe.
    #[error("materializing feature view `{view}` from {source_location} failed: {error}")]
    Materialize {
        /// The view.
        view: String,
        /// Where its rows come from (a file path, or the source's name).
        source_location: String,
        /// What went wrong.
        error: Box<Error>,
    },
    /// A background task failed to run to completion.
    #[error("internal task failed: {0}")]
    Task(String),
}
