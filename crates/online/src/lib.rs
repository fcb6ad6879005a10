//! `larder-online`: online stores that serve the latest feature values by entity key, in Feast's
//! storage layouts (SQLite and Redis, single node or cluster).
//!
//! Every store implements [`OnlineStore`]. Rows arrive as a [`WriteBatch`] (serialized entity keys,
//! event/created timestamps, and one [`ColumnEncoder`](larder_core::value::ColumnEncoder) per feature);
//! reads take serialized entity keys and return `Value` protobuf bytes per requested feature.
//! Writes are newer-wins: a row never replaces a stored row with a later event timestamp.

pub mod batch;
pub mod error;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use larder_core::model::FeatureView;

pub use batch::WriteBatch;
pub use error::{Error, Result};

/// A shared, dynamically typed online store.
pub type OnlineStoreRef = Arc<dyn OnlineStore>;

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Rows (entity keys) written.
    pub rows_written: u64,
    /// Rows skipped because the store already held a newer (or equally new) value.
    pub rows_skipped: u64,
}

/// The stored values of one entity key in one view.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    /// The event timestamp of the stored row, microseconds since the epoch (SQLite keeps whole seconds).
    pub event_ts_micros: i64,
    /// Per requested feature, in request order: the serialized `Value` (empty = stored null),
    /// or `None` when the store has no value for that feature.
    pub values: Vec<Option<Vec<u8>>>,
}

/// A backend that stores and serves the latest feature values.
#[async_trait]
pub trait OnlineStore: Send + Sync + Debug + 'static {
    /// The store's type name as in `feature_store.yaml` (`sqlite`, `redis`).
    fn type_name(&self) -> &'static str;

    /// The name of the infrastructure object holding `view` (SQLite: the table `<project>_<view>`),
    /// for plan output; `None` when the store has no per-view object (Redis).
    fn infra_name(&self, project: &str, view: &str) -> Option<String>;

    /// Creates what `keep` needs (tables, indexes) and removes the data of `delete`. Idempotent.
    async fn update(&self, project: &str, keep: &[FeatureView], delete: &[FeatureView]) -> Result<()>;

    /// Removes everything the store holds for these views of `project`.
    async fn teardown(&self, project: &str, views: &[FeatureView]) -> Result<()>;

    /// Writes rows of `view`, newer-wins. All rows of a batch are written, or none on error.
    async fn write_batch(&self, project: &str, view: &FeatureView, batch: &WriteBatch) -> Result<WriteStats>;

    /// Reads `features` of `view` for each serialized entity key; `None` for keys with no row.
    /// The result has one entry per key, in order.
    async fn read(
        &self,
        project: &str,
        view: &FeatureView,
        features: &[String],
        entity_keys: &[Vec<u8>],
    ) -> Result<Vec<Option<OnlineRow>>>;
}
