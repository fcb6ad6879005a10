//! The latest row per entity key in a time range (materialization's read path), in memory bounded
//! by the number of distinct keys, not rows.
//!
//! - Parquet sources: two passes ([`parquet_rows`](crate::parquet_rows)). The keys and timestamps
//!   of every row are read in one partition per core, each ranked per key by [`LatestPositions`]
//!   (which holds one rank per key and no column values); the partitions' ranks are merged, and
//!   all columns are then read for the winning rows only. At 10M rows of 100k keys that decodes
//!   the feature columns of 1 % of the rows.
//! - CSV sources: a DataFusion scan with the range pushed down, feeding [`LatestByKey`], a
//!   streaming operator that keeps the batches holding winners and compacts them.
//!
//! Per key the winner is the row with the greatest event timestamp, then the greatest created
//! timestamp (null created sorts first); on a full tie the row read last wins (files in path
//! order, rows in file order: rows pushed later win). Rows with a null join key identify no entity
//! and are skipped.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use arrow::error::ArrowError;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use larder_core::model::{CREATED_TS_COLUMN, EVENT_TS_COLUMN, FeatureView};
use tokio::task::JoinSet;

use crate::columns::{Projected, ViewColumns};
use crate::error::{Error, Result, engine};
use crate::keys::{KeyId, KeyIds};
use crate::parquet_rows::{ParquetRows, READ_AHEAD_BATCHES};
use crate::pit_join::Rank;
use crate::scan::{BatchStream, SCAN_BATCH_ROWS, Scan, TimeRange, partitions_per_core};
use crate::source::SourceFiles;
use crate::time::{micros, to_utc_micros, to_utc_micros_ref, utc_micros_type};
use crate::{LatestRows, RecordBatchStream};

/// Rows per output batch.
pub(crate) const OUTPUT_BATCH_ROWS: usize = 64 * 1024;
/// Retained rows allowed beyond twice the number of keys before retained batches are compacted.
const COMPACT_SLACK_ROWS: usize = 16 * 1024;

/// Reads the latest row per key of `view`'s batch source with event time in `[start, end]`.
pub(crate) async fn pull_latest(
    repo: &Path,
    view: &FeatureView,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<LatestRows> {
    if start > end {
        return Err(Error::Request(format!(
            "feature view `{}`: the start {start} is after the end {end}; swap them",
            view.name
        )));
    }
    let files = SourceFiles::resolve(view.batch_source.batch(), repo)?;
    let schema = files.schema(&time_columns(view))?;
    let columns = ViewColumns::resolve(view, None, &files, &schema)?;
    let projection = columns.projection();
    let range = TimeRange {
        start: Some(micros(start)),
        end: Some(micros(end)),
    };
    let scan = Scan {
        files: &files,
        schema: &schema,
        columns: projection.clone(),
        ts_column: &columns.ts,
        range,
    };
    let out_schema = output_schema(&schema, &projection);
    if let Some(rows) = ParquetRows::plan(&files, &schema, &columns.ts, range)? {
        return pull_latest_late(rows, &columns, range, out_schema).await;
    }
    // One partition: the winners of two partitions would be folded a second time, and each
    // partition's reader holds a whole row group in memory, which costs more memory than the
    // second core saves time here.
    let input = scan.run_partitioned(1).await?.pop().expect("one partition");
    let operator = LatestByKey::new(out_schema, columns.keys.len(), columns.created.is_some())?;
    Ok(LatestRows {
        rows: operator.into_stream(input),
        source_rows: files.parquet_row_count(),
    })
}

/// [`pull_latest`] of a Parquet source, in two passes: the keys and timestamps of every row,
/// read in one partition per core and ranked per key there ([`LatestPositions`]); then all
/// columns of the winning rows only, streamed in read order.
async fn pull_latest_late(
    rows: ParquetRows,
    columns: &ViewColumns,
    range: TimeRange,
    out_schema: SchemaRef,
) -> Result<LatestRows> {
    let source_rows = Some(rows.file_rows());
    let key_types: Vec<DataType> = out_schema.fields()[..columns.keys.len()]
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let has_created = columns.created.is_some();
    let partitions = rows.read_all(
        &columns.rank_projection(),
        partitions_per_core(),
        SCAN_BATCH_ROWS,
        READ_AHEAD_BATCHES,
    )?;
    let mut tasks = JoinSet::new();
    for (p, (first, mut stream)) in partitions.into_iter().enumerate() {
        let mut ranks = LatestPositions::new(&key_types, has_created, range)?;
        tasks.spawn(async move {
            let mut position = first;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                ranks.push(&batch, position)?;
                position += batch.num_rows() as u64;
            }
            Ok::<_, Error>((p, ranks))
        });
    }
    let mut parts = Vec::with_capacity(tasks.len());
    while let Some(done) = tasks.join_next().await {
        parts.push(done.map_err(engine("ranking a partition of the source"))??);
    }
    parts.sort_by_key(|(p, _)| *p);
    let mut parts = parts.into_iter().map(|(_, part)| part);
    let winners = match parts.next() {
        Some(mut all) => {
            for part in parts {
                all.merge(part);
            }
            all.into_winners()
        }
        None => Vec::new(),
    };
    let streams = rows.read_selected(
        &columns.projection(),
        &winners,
        partitions_per_core(),
        OUTPUT_BATCH_ROWS,
    )?;
    let schema = out_schema.clone();
    let batches = futures::stream::iter(streams)
        .flatten()
        .map(move |batch| normalize(&schema, has_created, batch?))
        .boxed();
    Ok(LatestRows {
        rows: RecordBatchStream {
            schema: out_schema,
            batches,
        },
        source_rows,
    })
}

/// Per entity key, the position of its latest row in the range: the first pass of
/// [`pull_latest_late`]. Fed batches of the key columns, the event timestamp and optionally the
/// created timestamp, each with the position of its first row. Memory: the distinct keys.
#[derive(Debug)]
struct LatestPositions {
    keys: KeyIds,
    key_count: usize,
    has_created: bool,
    range: TimeRange,
    /// Per key id: the best row's rank (event ts, created ts, position).
    best: Vec<Rank>,
    null_keys: u64,
    /// The key ids of the batch being pushed (kept to reuse its allocation).
    row_ids: Vec<KeyId>,
}

/// A rank below every row's (a key's best before any of its rows is seen).
const NO_RANK: Rank = Rank {
    ts: i64::MIN,
    created: i64::MIN,
    seq: 0,
};

impl LatestPositions {
    fn new(key_types: &[DataType], has_created: bool, range: TimeRange) -> Result<Self> {
        Ok(LatestPositions {
            keys: KeyIds::new(key_types)?,
            key_count: key_types.len(),
            has_created,
            range,
            best: Vec::new(),
            null_keys: 0,
            row_ids: Vec::new(),
        })
    }

    /// Ranks the rows of `batch`, the first at position `first`.
    fn push(&mut self, batch: &RecordBatch, first: u64) -> Result<()> {
        let rows = batch.num_rows();
        let not_timestamp = |column: &ArrayRef| {
            engine("ranking the latest rows")(ArrowError::SchemaError(format!(
                "a timestamp column has type {}",
                column.data_type()
            )))
        };
        let ts_column = batch.column(self.key_count);
        let ts = to_utc_micros(ts_column).ok_or_else(|| not_timestamp(ts_column))?;
        let created = match self.has_created {
            true => {
                let c = batch.column(self.key_count + 1);
                Some(to_utc_micros(c).ok_or_else(|| not_timestamp(c))?)
            }
            false => None,
        };
        // Rows without an event time in the range rank nowhere.
        let (start, end) = (
            self.range.start.unwrap_or(i64::MIN),
            self.range.end.unwrap_or(i64::MAX),
        );
        let times = ts.values();
        let in_range = NullBuffer::new(BooleanBuffer::collect_bool(rows, |i| {
            ts.is_valid(i) && (start..=end).contains(&times[i])
        }));
        self.keys.load(&batch.columns()[..self.key_count])?;
        let mut ids = std::mem::take(&mut self.row_ids);
        self.keys.ids(rows, Some(&in_range), &mut ids);
        for (i, &id) in ids.iter().enumerate() {
            let rank = || Rank {
                ts: times[i],
                created: created.as_ref().map_or(i64::MIN, |c| {
                    if c.is_null(i) { i64::MIN } else { c.value(i) }
                }),
                seq: first + i as u64,
            };
            match id {
                KeyId::Null => self.null_keys += u64::from(in_range.is_valid(i)),
                KeyId::New(_) => self.best.push(rank()),
                KeyId::Known(k) => {
                    let rank = rank();
                    let best = &mut self.best[k as usize];
                    if rank > *best {
                        *best = rank;
                    }
                }
            }
        }
        self.row_ids = ids;
        Ok(())
    }

    /// Folds in the ranks of another part of the source.
    fn merge(&mut self, other: LatestPositions) {
        let ids = self.keys.absorb(other.keys);
        self.best.resize(self.keys.len(), NO_RANK);
        for (their, rank) in other.best.into_iter().enumerate() {
            let best = &mut self.best[ids[their] as usize];
            if rank > *best {
                *best = rank;
            }
        }
        self.null_keys += other.null_keys;
    }

    /// The positions of the winning rows, ascending.
    fn into_winners(self) -> Vec<u64> {
        if self.null_keys > 0 {
            tracing::warn!(
                rows = self.null_keys,
                "skipped rows whose join key is null: they identify no entity"
            );
        }
        let mut winners: Vec<u64> = self.best.iter().map(|r| r.seq).collect();
        winners.sort_unstable();
        winners
    }
}

/// `batch` (keys, features, event ts[, created ts]) with the output `schema`: timestamps
/// converted to µs UTC.
fn normalize(schema: &SchemaRef, has_created: bool, batch: RecordBatch) -> Result<RecordBatch> {
    let n = batch.num_columns();
    let first_ts = n - 1 - usize::from(has_created);
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    for column in &mut columns[first_ts..] {
        *column = to_utc_micros_ref(column).ok_or_else(|| {
            let e = ArrowError::SchemaError(format!(
                "a timestamp column has type {}",
                column.data_type()
            ));
            engine("reading the latest rows")(e)
        })?;
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(engine("assembling the latest rows"))
}

/// The source's time columns as named in its files (for CSV type inference).
pub(crate) fn time_columns(view: &FeatureView) -> Vec<&str> {
    let s = view.batch_source.batch();
    [
        s.source_column(&s.timestamp_field),
        s.source_column(&s.created_timestamp_column),
    ]
    .into_iter()
    .filter(|c| !c.is_empty())
    .collect()
}

/// The output schema: projected columns with their source types, timestamps as µs UTC.
pub(crate) fn output_schema(source: &Schema, projection: &[Projected]) -> SchemaRef {
    let fields: Vec<Field> = projection
        .iter()
        .map(|p| {
            let data_type = if p.output == EVENT_TS_COLUMN || p.output == CREATED_TS_COLUMN {
                utc_micros_type()
            } else {
                source
                    .field_with_name(&p.source)
                    .map_or(DataType::Null, |f| f.data_type().clone())
            };
            Field::new(&p.output, data_type, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The streaming latest-row-per-key operator.
///
/// Input batches hold the key columns first, then features, the event timestamp and optionally
/// the created timestamp (last). Winning rows are referenced by (batch, row); a batch is dropped
/// when no key references it any more, and retained batches are compacted with
/// [`interleave`] when they hold more than about twice as many rows as there are keys, so memory
/// stays near `distinct keys × row width`.
#[derive(Debug)]
pub(crate) struct LatestByKey {
    schema: SchemaRef,
    key_count: usize,
    has_created: bool,
    keys: KeyIds,
    /// Per key: the best (event, created) timestamps so far.
    best: Vec<(i64, i64)>,
    /// Per key: the (retained batch, row) of the best row.
    winner: Vec<(u32, u32)>,
    /// Batches holding at least one winning row (`None` once none does).
    retained: Vec<Option<RecordBatch>>,
    /// Per retained batch: how many keys point into it.
    refs: Vec<u32>,
    retained_rows: usize,
    /// Retained rows allowed beyond twice the number of keys before compacting.
    slack: usize,
    null_keys: u64,
    /// The key ids of the batch being pushed (kept to reuse its allocation).
    row_ids: Vec<KeyId>,
}

impl LatestByKey {
    /// An operator producing batches of `schema` (keys, features, event ts[, created ts], with
    /// timestamps as µs UTC); the first `key_count` columns are the key.
    pub(crate) fn new(schema: SchemaRef, key_count: usize, has_created: bool) -> Result<Self> {
        let key_types: Vec<_> = schema.fields()[..key_count]
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(LatestByKey {
            schema,
            key_count,
            has_created,
            keys: KeyIds::new(&key_types)?,
            best: Vec::new(),
            winner: Vec::new(),
            retained: Vec::new(),
            refs: Vec::new(),
            retained_rows: 0,
            slack: COMPACT_SLACK_ROWS,
            null_keys: 0,
            row_ids: Vec::new(),
        })
    }

    /// A stream that consumes `input` when first polled, then yields the winners.
    pub(crate) fn into_stream(self, input: BatchStream) -> RecordBatchStream {
        let schema = self.schema.clone();
        let batches = futures::stream::once(self.run(input))
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten()
            .boxed();
        RecordBatchStream { schema, batches }
    }

    /// Consumes `input` and returns the winning rows in batches of [`OUTPUT_BATCH_ROWS`].
    pub(crate) async fn run(mut self, mut input: BatchStream) -> Result<Vec<RecordBatch>> {
        while let Some(batch) = input.next().await {
            self.push(batch?)?;
        }
        self.finish()
    }

    /// Folds one batch into the per-key winners.
    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let batch = normalize(&self.schema, self.has_created, batch)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let b = u32::try_from(self.retained.len()).expect("fewer than 2^32 batches");
        self.keys.load(&batch.columns()[..self.key_count])?;
        let n = batch.num_columns();
        let ts_col = batch.column(n - 1 - usize::from(self.has_created)).clone();
        let ts = ts_col.as_primitive::<TimestampMicrosecondType>();
        let created = self.has_created.then(|| {
            batch
                .column(n - 1)
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
        });
        self.retained_rows += batch.num_rows();
        self.retained.push(Some(batch));
        self.refs.push(0);
        let mut ids = std::mem::take(&mut self.row_ids);
        self.keys.ids(ts.len(), ts.nulls(), &mut ids);
        for (i, &id) in ids.iter().enumerate() {
            if ts.is_null(i) {
                continue;
            }
            let c =
                created.as_ref().map_or(
                    i64::MIN,
                    |c| if c.is_null(i) { i64::MIN } else { c.value(i) },
                );
            self.offer(b, i, id, (ts.value(i), c));
        }
        self.row_ids = ids;
        if self.refs[b as usize] == 0 {
            self.release(b);
        }
        if self.retained_rows > 2 * self.best.len() + self.slack {
            self.compact()?;
        }
        Ok(())
    }

    /// Row `i` of retained batch `b`, of key `id`, with timestamps `candidate`, competes for its
    /// key.
    fn offer(&mut self, b: u32, i: usize, id: KeyId, candidate: (i64, i64)) {
        let row = u32::try_from(i).expect("batch rows fit in u32");
        match id {
            KeyId::Null => self.null_keys += 1,
            KeyId::New(_) => {
                self.best.push(candidate);
                self.winner.push((b, row));
                self.refs[b as usize] += 1;
            }
            KeyId::Known(id) => {
                let k = id as usize;
                if candidate >= self.best[k] {
                    let (old, _) = self.winner[k];
                    self.refs[old as usize] -= 1;
                    if self.refs[old as usize] == 0 && old != b {
                        self.release(old);
                    }
                    self.best[k] = candidate;
                    self.winner[k] = (b, row);
                    self.refs[b as usize] += 1;
                }
            }
        }
    }

    /// Drops retained batch `b` (no key points into it).
    fn release(&mut self, b: u32) {
        if let Some(batch) = self.retained[b as usize].take() {
            self.retained_rows -= batch.num_rows();
        }
    }

    /// Brings the retained rows back under 1.5 times the number of keys: batches at least two
    /// thirds of whose rows are winners stay as they are, and the winners in the other batches are
    /// gathered into one new batch. A winner is copied again only once its batch has become
    /// sparse, so each row is copied a few times, not at every compaction.
    fn compact(&mut self) -> Result<()> {
        let sparse: Vec<usize> = (0..self.retained.len())
            .filter(|&b| {
                self.retained[b]
                    .as_ref()
                    .is_some_and(|batch| 3 * (self.refs[b] as usize) < 2 * batch.num_rows())
            })
            .collect();
        if !sparse.is_empty() {
            self.gather_winners(&sparse)?;
        }
        Ok(())
    }

    /// Replaces the retained batches with one batch holding exactly the winners, in key order.
    fn compact_all(&mut self) -> Result<()> {
        let live: Vec<usize> = (0..self.retained.len())
            .filter(|&b| self.retained[b].is_some())
            .collect();
        if !live.is_empty() && !self.is_compact(&live) {
            self.gather_winners(&live)?;
        }
        Ok(())
    }

    /// Moves the winners held in retained batches `from` into one new batch (in key order) and
    /// drops those batches.
    fn gather_winners(&mut self, from: &[usize]) -> Result<()> {
        let mut position = vec![usize::MAX; self.retained.len()];
        for (p, &b) in from.iter().enumerate() {
            position[b] = p;
        }
        let movers: Vec<usize> = (0..self.winner.len())
            .filter(|&k| position[self.winner[k].0 as usize] != usize::MAX)
            .collect();
        let indices: Vec<(usize, usize)> = movers
            .iter()
            .map(|&k| {
                let (b, r) = self.winner[k];
                (position[b as usize], r as usize)
            })
            .collect();
        let batches: Vec<&RecordBatch> = from
            .iter()
            .filter_map(|&b| self.retained[b].as_ref())
            .collect();
        let gathered = gather(&self.schema, &batches, &indices)?;
        for &b in from {
            self.refs[b] = 0;
            self.release(b as u32);
        }
        let nb = u32::try_from(self.retained.len()).expect("fewer than 2^32 batches");
        for (row, &k) in movers.iter().enumerate() {
            self.winner[k] = (nb, row as u32);
        }
        self.retained_rows += gathered.num_rows();
        self.retained.push(Some(gathered));
        self.refs
            .push(u32::try_from(movers.len()).expect("fewer than 2^32 keys"));
        Ok(())
    }

    /// Whether the one live batch holds exactly the winners, in key order.
    fn is_compact(&self, live: &[usize]) -> bool {
        let [only] = live else { return false };
        let rows = self.retained[*only]
            .as_ref()
            .map_or(0, RecordBatch::num_rows);
        rows == self.winner.len()
            && self
                .winner
                .iter()
                .enumerate()
                .all(|(k, w)| *w == (*only as u32, k as u32))
    }

    /// The winners, one row per key in first-seen order, in batches of [`OUTPUT_BATCH_ROWS`].
    pub(crate) fn finish(mut self) -> Result<Vec<RecordBatch>> {
        if self.null_keys > 0 {
            tracing::warn!(
                rows = self.null_keys,
                "skipped rows whose join key is null: they identify no entity"
            );
        }
        self.compact_all()?;
        let Some(all) = self.retained.iter_mut().find_map(Option::take) else {
            return Ok(Vec::new());
        };
        let total = all.num_rows();
        Ok((0..total)
            .step_by(OUTPUT_BATCH_ROWS)
            .map(|o| all.slice(o, OUTPUT_BATCH_ROWS.min(total - o)))
            .collect())
    }
}

/// The rows at `indices` ((batch, row) pairs) of `batches`, as one batch of `schema`.
fn gather(
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    indices: &[(usize, usize)],
) -> Result<RecordBatch> {
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            interleave(&arrays, indices)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine("compacting the latest rows"))?;
    RecordBatch::try_new(schema.clone(), columns).map_err(engine("compacting the latest rows"))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, TimestampMicrosecondArray};
    use proptest::prelude::*;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new(EVENT_TS_COLUMN, utc_micros_type(), true),
            Field::new(CREATED_TS_COLUMN, utc_micros_type(), true),
        ]))
    }

    /// Rows (key, ts, created) in read order; the value is the row's position.
    fn batches(rows: &[(Option<i64>, i64, Option<i64>)], size: usize) -> Vec<RecordBatch> {
        rows.chunks(size.max(1))
            .enumerate()
            .map(|(c, chunk)| {
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from_iter(chunk.iter().map(|r| r.0))),
                    Arc::new(Int64Array::from_iter_values(
                        (0..chunk.len()).map(|i| (c * size + i) as i64),
                    )),
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(chunk.iter().map(|r| r.1))
                            .with_timezone("UTC"),
                    ),
                    Arc::new(
                        TimestampMicrosecondArray::from_iter(chunk.iter().map(|r| r.2))
                            .with_timezone("UTC"),
                    ),
                ];
                RecordBatch::try_new(schema(), columns).unwrap()
            })
            .collect()
    }

    /// Per key (in first-seen order): the position of the row with the greatest (ts, created, position).
    fn reference(rows: &[(Option<i64>, i64, Option<i64>)]) -> Vec<(i64, i64)> {
        let mut order: Vec<i64> = Vec::new();
        let mut best: std::collections::HashMap<i64, (i64, i64, usize)> = Default::default();
        for (i, &(k, ts, c)) in rows.iter().enumerate() {
            let Some(k) = k else { continue };
            let candidate = (ts, c.unwrap_or(i64::MIN), i);
            match best.get_mut(&k) {
                Some(b) => *b = (*b).max(candidate),
                None => {
                    order.push(k);
                    best.insert(k, candidate);
                }
            }
        }
        order.iter().map(|k| (*k, best[k].2 as i64)).collect()
    }

    fn run(rows: &[(Option<i64>, i64, Option<i64>)], size: usize, slack: usize) -> Vec<(i64, i64)> {
        let mut op = LatestByKey::new(schema(), 1, true).unwrap();
        op.slack = slack;
        for b in batches(rows, size) {
            op.push(b).unwrap();
            assert!(
                op.retained_rows <= 2 * op.best.len() + slack,
                "memory stays bounded by keys"
            );
        }
        let out = op.finish().unwrap();
        out.iter()
            .flat_map(|b| {
                let k = b
                    .column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .clone();
                let v = b
                    .column(1)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .clone();
                (0..b.num_rows()).map(move |i| (k.value(i), v.value(i)))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn matches_the_reference_with_any_batching_and_compaction(
            rows in prop::collection::vec((prop::option::weighted(0.95, 0i64..8), 0i64..5, prop::option::of(0i64..3)), 0..120),
            size in 1usize..20,
            slack in 0usize..8,
        ) {
            prop_assert_eq!(run(&rows, size, slack), reference(&rows));
        }
    }

    #[test]
    fn output_comes_in_bounded_batches() {
        let rows: Vec<_> = (0..(OUTPUT_BATCH_ROWS as i64 + 10))
            .map(|k| (Some(k), 0, None))
            .collect();
        let mut op = LatestByKey::new(schema(), 1, true).unwrap();
        for b in batches(&rows, 8192) {
            op.push(b).unwrap();
        }
        let sizes: Vec<usize> = op
            .finish()
            .unwrap()
            .iter()
            .map(RecordBatch::num_rows)
            .collect();
        assert_eq!(sizes, [OUTPUT_BATCH_ROWS, 10]);
    }
}
