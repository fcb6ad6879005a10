//! `larder-online`: online stores that serve the latest feature values by entity key, in Feast's
//! storage layouts (SQLite and Redis, single node or cluster).
//!
//! Every store implements [`OnlineStore`]. Rows arrive as a [`WriteBatch`] (serialized entity keys,
//! event/created timestamps, and one [`ColumnEncoder`](larder_core::value::ColumnEncoder) per feature);
//! reads take serialized entity keys and return [`OnlineRows`]: per key, the stored row's event
//! time and the `Value` protobuf bytes of each requested feature.
//! Writes are newer-wins: a row never replaces a stored row with a later event timestamp.
//!
//! Implementations:
//! - [`SqliteOnlineStore`]: one SQLite file, a table `"<project>_<view>"` per view (Feast's `sqlite`).
//! - [`RedisOnlineStore`]: a Redis server or Redis Cluster, one hash per entity key (Feast's `redis`).
//!
//! With the `conformance` feature, [`conformance`] holds the checks every store passes.
//!
//! ```no_run
//! # async fn run(view: larder_core::model::FeatureView, rows: arrow::record_batch::RecordBatch)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use larder_core::entity_key::EntityKeyLayout;
//! use larder_online::{OnlineStore, SqliteOnlineStore, WriteBatch};
//!
//! let store = SqliteOnlineStore::open("data/online.db")?;
//! store.update("demo", std::slice::from_ref(&view), &[]).await?;
//! let layout = EntityKeyLayout::new(&view.join_keys(), 3)?;
//! let stats = store.write_batch("demo", &view, &WriteBatch::from_record_batch(&rows, &view, &layout)?).await?;
//! println!("{} written, {} skipped as older", stats.rows_written, stats.rows_skipped);
//! # Ok(())
//! # }
//! ```

pub mod batch;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
mod memo;
pub mod redis;
mod rows;
pub mod sqlite;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use larder_core::model::FeatureView;

pub use batch::WriteBatch;
pub use error::{Error, Result};
pub use redis::RedisOnlineStore;
pub use rows::{OnlineRow, OnlineRows};
pub use sqlite::SqliteOnlineStore;

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

/// A backend that stores and serves the latest feature values.
#[async_trait]
pub trait OnlineStore: Send + Sync + Debug + 'static {
    /// The store's type name as in `feature_store.yaml` (`sqlite`, `redis`).
    fn type_name(&self) -> &'static str;

    /// The name of the infrastructure object holding `view` (SQLite: the table `<project>_<view>`),
    /// for plan output; `None` when the store has no per-view object (Redis).
    fn infra_name(&self, project: &str, view: &str) -> Option<String>;

    /// Whether writes go faster when a batch's rows come sorted by serialized entity key (SQLite:
    /// its B-tree pages then fill in order). Materialization sorts small views for such stores.
    fn prefers_key_order(&self) -> bool {
        false
    }

    /// Another handle to this store, for use from the async runtime this is called on. A store
    /// whose connections are driven by a task of the runtime that opened them (Redis) opens new
    /// connections here, so that a request on this runtime never waits for another runtime's
    /// threads; `None` (the default) means this handle serves every runtime as well as a new one
    /// would.
    async fn connect_for_current_runtime(&self) -> Result<Option<OnlineStoreRef>> {
        Ok(None)
    }

    /// Creates what `keep` needs (tables, indexes) and removes the data of `delete`. Idempotent.
    async fn update(
        &self,
        project: &str,
        keep: &[FeatureView],
        delete: &[FeatureView],
    ) -> Result<()>;

    /// Removes everything the store holds for these views of `project`.
    async fn teardown(&self, project: &str, views: &[FeatureView]) -> Result<()>;

    /// Writes rows of `view`, newer-wins. SQLite writes all rows of a batch or none (one
    /// transaction); Redis writes per key, so a failed batch may be partly written (writing it again
    /// is safe).
    async fn write_batch(
        &self,
        project: &str,
        view: &FeatureView,
        batch: &WriteBatch,
    ) -> Result<WriteStats>;

    /// Reads `features` of `view` for each serialized entity key: one entry per key, in order,
    /// each with a value per feature in the order of `features`.
    async fn read(
        &self,
        project: &str,
        view: &FeatureView,
        features: &[String],
        entity_keys: &[Vec<u8>],
    ) -> Result<OnlineRows>;
}
