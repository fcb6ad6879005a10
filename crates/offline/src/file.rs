//! [`FileOfflineStore`]: the offline store over Parquet and CSV file sources (Feast's `file`,
//! `dask` and `duckdb` offline stores), read with Apache DataFusion.

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use larder_core::model::{DataSource, FeatureView};

use crate::error::Result;
use crate::source::SourceFiles;
use crate::{HistoricalRequest, LatestRows, OfflineStore, RecordBatchStream};

/// An offline store reading file sources: a Parquet file, a directory of Parquet files, or CSV
/// files with a header row. Relative source paths resolve against the repo.
///
/// Rows pushed with [`OfflineStore::write_rows`] are appended as new files: inside the source's
/// directory, or, for a single-file source `x.parquet`, in the sibling directory `x.parquet.d/`,
/// which every read of the source includes. Existing files are never rewritten.
#[derive(Debug, Clone)]
pub struct FileOfflineStore {
    repo_path: PathBuf,
    join_buffer_rows: usize,
}

/// The default of [`FileOfflineStore::with_join_buffer_rows`].
pub const DEFAULT_JOIN_BUFFER_ROWS: usize = 256 * 1024;

impl FileOfflineStore {
    /// A store for the repo at `repo_path`.
    pub fn new(repo_path: PathBuf) -> Self {
        FileOfflineStore {
            repo_path,
            join_buffer_rows: DEFAULT_JOIN_BUFFER_ROWS,
        }
    }

    /// Sets how many source rows' feature values the point-in-time join of a CSV source may hold
    /// beyond twice the entity rows (default [`DEFAULT_JOIN_BUFFER_ROWS`]). The join streams the
    /// source once; rows that may still be an entity row's answer are kept, and the kept rows are
    /// compacted to exactly those whenever this slack is used up. Smaller: less memory, more
    /// compactions. (A Parquet source's feature values are read only once the answers are known.)
    pub fn with_join_buffer_rows(mut self, rows: usize) -> Self {
        self.join_buffer_rows = rows.max(1);
        self
    }

    /// The repo the store resolves relative source paths against.
    pub fn repo_path(&self) -> &Path {
        &self.repo_path
    }

    /// Like [`OfflineStore::write_rows`], returning the file written (`None` for an empty batch).
    pub async fn write_rows_to_file(
        &self,
        source: &DataSource,
        batch: &RecordBatch,
    ) -> Result<Option<PathBuf>> {
        crate::write::write_rows(&self.repo_path, source, batch).await
    }
}

#[async_trait]
impl OfflineStore for FileOfflineStore {
    async fn source_schema(&self, source: &DataSource) -> Result<SchemaRef> {
        let files = SourceFiles::resolve(source, &self.repo_path)?;
        let s = source.batch();
        files.schema(&[
            s.source_column(&s.timestamp_field),
            s.source_column(&s.created_timestamp_column),
        ])
    }

    async fn pull_latest(
        &self,
        view: &FeatureView,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<LatestRows> {
        crate::latest::pull_latest(&self.repo_path, view, start, end).await
    }

    async fn get_historical_features(
        &self,
        request: &HistoricalRequest,
    ) -> Result<RecordBatchStream> {
        crate::historical::get_historical_features(&self.repo_path, request, self.join_buffer_rows)
            .await
    }

    async fn write_rows(&self, source: &DataSource, batch: &RecordBatch) -> Result<()> {
        self.write_rows_to_file(source, batch).await.map(|_| ())
    }
}
