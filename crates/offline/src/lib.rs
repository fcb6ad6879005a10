//! `larder-offline`: the offline store. Reads a view's source files (Parquet with the Parquet
//! crate's reader, CSV with Apache DataFusion) and produces Arrow record batch streams: the latest row per entity key for
//! materialization, and point-in-time correct training sets for historical retrieval.
//!
//! DataFusion stays inside this crate: callers see [`RecordBatchStream`]s of plain Arrow batches.
//!
//! - [`OfflineStore`]: the trait; [`FileOfflineStore`]: its implementation over Parquet/CSV files.
//! - [`OfflineStore::pull_latest`]: the latest row per key, in memory bounded by the number of
//!   keys. Parquet sources are read in two passes: keys and timestamps of every row in the row
//!   groups the time range may touch, then all columns of the winning rows only. CSV sources
//!   go through a DataFusion scan (time range pushed down) into a streaming operator.
//! - [`OfflineStore::get_historical_features`]: Larder's own as-of join (not a DataFusion range
//!   join): entity rows indexed by key and time, the source's keys and timestamps streamed past
//!   them once, then (Parquet) the feature columns of the winning rows only; memory bounded by
//!   the entity rows whatever the source's size.
//! - [`OfflineStore::write_rows`]: pushed rows become new files next to the source's data.
//!
//! ```
//! use larder_core::model::{DataSource, FeatureView, Field, FileFormat, SourceKind};
//! use larder_core::ValueType;
//! use larder_offline::{FileOfflineStore, OfflineStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let repo = tempfile::tempdir().unwrap();
//! let csv = "driver_id,trips,ts\n1,10,2026-10-01T01:00:00Z\n1,12,2026-10-01T02:00:00Z\n";
//! std::fs::write(repo.path().join("trips.csv"), csv).unwrap();
//! let source = DataSource {
//!     name: "trips".into(),
//!     kind: SourceKind::File { path: "trips.csv".into(), format: FileFormat::Csv },
//!     timestamp_field: "ts".into(),
//!     created_timestamp_column: String::new(),
//!     field_mapping: Default::default(),
//!     date_partition_column: String::new(),
//!     description: String::new(),
//!     tags: Default::default(),
//!     owner: String::new(),
//! };
//! let view = FeatureView {
//!     name: "driver_trips".into(),
//!     entities: vec!["driver".into()],
//!     features: vec![Field::new("trips", ValueType::Int64)],
//!     entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
//!     ttl: std::time::Duration::ZERO,
//!     batch_source: source,
//!     stream_source: None,
//!     online: true,
//!     offline: false,
//!     description: String::new(),
//!     tags: Default::default(),
//!     owner: String::new(),
//!     materialization_intervals: vec![],
//! };
//! let store = FileOfflineStore::new(repo.path().to_path_buf());
//! let start = "2026-10-01T00:00:00Z".parse().unwrap();
//! let end = "2026-10-02T00:00:00Z".parse().unwrap();
//! let mut latest = store.pull_latest(&view, start, end).await.unwrap();
//! use futures::StreamExt;
//! let batch = latest.rows.batches.next().await.unwrap().unwrap();
//! assert_eq!(batch.num_rows(), 1); // driver 1's row at 02:00
//! # });
//! ```

pub mod error;

mod columns;
mod entity_rows;
mod file;
mod historical;
mod join;
mod keys;
mod latest;
mod parallel;
mod parquet_rows;
mod parquet_write;
mod pit_join;
mod scan;
mod source;
mod time;
mod write;

use std::fmt::Debug;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::Stream;
use larder_core::model::{DataSource, FeatureView};

pub use error::{Error, Result};
pub use file::{DEFAULT_JOIN_BUFFER_ROWS, FileOfflineStore};
pub use parquet_write::{ParallelParquetWriter, training_set_properties};

/// A shared, dynamically typed offline store.
pub type OfflineStoreRef = Arc<dyn OfflineStore>;

/// A stream of Arrow record batches that all share `schema`.
pub struct RecordBatchStream {
    /// The schema of every batch.
    pub schema: SchemaRef,
    /// The batches.
    pub batches: Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>,
}

impl Debug for RecordBatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatchStream")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The latest rows of a view in a time range, as a stream, with what is known of the input size.
#[derive(Debug)]
pub struct LatestRows {
    /// One row per entity key: the join-key columns (named as the view's entity columns), the
    /// feature columns (named as the features, source types kept), then
    /// [`EVENT_TS_COLUMN`](larder_core::model::EVENT_TS_COLUMN) and, when the source has a created
    /// column, [`CREATED_TS_COLUMN`](larder_core::model::CREATED_TS_COLUMN) (timestamp µs, UTC).
    pub rows: RecordBatchStream,
    /// Rows in the source files before filtering, when the file metadata tells (for progress bars).
    pub source_rows: Option<u64>,
}

/// Entity rows for historical retrieval: a file, or batches already in memory.
#[derive(Debug, Clone)]
pub enum EntityRows {
    /// A Parquet or CSV file (format from the extension).
    File(PathBuf),
    /// Batches in memory (all with the same schema).
    Batches(Vec<RecordBatch>),
}

/// One view's part of a historical request.
#[derive(Debug, Clone)]
pub struct ViewRequest {
    /// The view.
    pub view: FeatureView,
    /// The name features are reported under with full names (the view name or a service's alias).
    pub name_to_use: String,
    /// The features to fetch, in request order.
    pub features: Vec<String>,
    /// View join key → entity-row column (a feature service's `join_key_map`); identity when absent.
    pub join_key_map: std::collections::BTreeMap<String, String>,
}

/// A historical retrieval request.
#[derive(Debug, Clone)]
pub struct HistoricalRequest {
    /// The entity rows.
    pub entity_rows: EntityRows,
    /// The views and features, in request order.
    pub views: Vec<ViewRequest>,
    /// Name output columns `<view>__<feature>` instead of `<feature>`.
    pub full_feature_names: bool,
}

/// A backend holding the full history of every source.
#[async_trait]
pub trait OfflineStore: Send + Sync + Debug + 'static {
    /// The Arrow schema of a source (as read from its files), for validation and inference.
    async fn source_schema(&self, source: &DataSource) -> Result<SchemaRef>;

    /// Per entity key, the row of `view`'s batch source with the greatest event timestamp in
    /// `[start, end]` (both inclusive), ties broken by the greatest created timestamp;
    /// `field_mapping` applied. Memory is bounded by the number of distinct keys, not rows.
    async fn pull_latest(
        &self,
        view: &FeatureView,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<LatestRows>;

    /// A point-in-time correct training set: every entity row, in input order, with its columns
    /// first, then each requested feature as of the row's timestamp (within the view's ttl).
    async fn get_historical_features(
        &self,
        request: &HistoricalRequest,
    ) -> Result<RecordBatchStream>;

    /// Appends rows (pushed with `to: offline`) to `source`'s data as a new file next to it;
    /// existing files are never rewritten. `batch` uses the source's column names.
    async fn write_rows(&self, source: &DataSource, batch: &RecordBatch) -> Result<()>;
}
