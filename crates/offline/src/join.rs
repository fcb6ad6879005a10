//! One view's part of a historical request: its features for every entity row, in entity order.
//!
//! The entity rows are indexed by key and time ([`EntityIndex`]); the source's rows with event
//! time within `[min entity ts - ttl, max entity ts]` are then read once, one partition per core,
//! and each is offered to the index as it streams past (see [`pit_join`](crate::pit_join)). Join
//! keys on both sides are cast to one type and turned into dense ids; rows of keys no entity row
//! asks for are dropped at once.
//!
//! A Parquet source is read in two passes ([`parquet_rows`](crate::parquet_rows)): the offers
//! need only keys and timestamps, a row's location being its position; the feature columns are
//! then read for the winning positions only, each once however many entity rows it answers, and
//! taken into entity order. No feature value is held before it is known to be needed.
//!
//! A CSV source is read once with DataFusion. Feature values are kept only for batches that hold a standing offer, and the kept batches are
//! compacted to exactly the standing offers whenever they hold more than twice as many rows as
//! there are offers plus a fixed slack ([`FileOfflineStore::with_join_buffer_rows`]). Memory is
//! therefore bounded by the entity rows and that slack, however large the source is; nothing is
//! sorted but the entity rows, and nothing is spilled.
//!
//! [`FileOfflineStore::with_join_buffer_rows`]: crate::FileOfflineStore::with_join_buffer_rows

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::{cast, concat, interleave, interleave_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{StreamExt, TryStreamExt};
use tokio::task::JoinSet;

use crate::ViewRequest;
use crate::columns::{Projected, ViewColumns};
use crate::entity_rows::EntityTable;
use crate::error::{Error, Result, engine};
use crate::keys::{KeyId, KeyIds};
use crate::latest::{OUTPUT_BATCH_ROWS, time_columns};
use crate::parquet_rows::ParquetRows;
use crate::pit_join::{Candidate, EntityIndex, Location, NO_KEY, OfferScratch, Offers, Rank};
use crate::scan::{self, BatchStream, SCAN_BATCH_ROWS, Scan, TimeRange};
use crate::source::SourceFiles;
use crate::time::{to_utc_micros, utc_micros_type, values_or};

/// Batches of keys and times each first-pass reader decodes ahead (about 200 KB each), enough
/// to keep the readers busy while the entity rows are indexed. 128 kept them busy through all of
/// the 80 ms that 1M entity rows take, but cost 35-50 MB of peak RSS at 100k × 10M for no time
/// that could be told from the noise.
const FIRST_PASS_READ_AHEAD: usize = 32;

/// Rows' read order is `partition << PARTITION_SHIFT | row within the partition`.
const PARTITION_SHIFT: u32 = 44;

/// One view's join, with everything checked up front.
#[derive(Debug)]
pub(crate) struct ViewJoin<'a> {
    entity: &'a EntityTable,
    files: SourceFiles,
    schema: SchemaRef,
    columns: ViewColumns,
    keys: KeyColumns,
    ttl: Option<i64>,
}

impl<'a> ViewJoin<'a> {
    /// Resolves the view's source, columns and join keys against the entity rows.
    pub(crate) fn prepare(
        repo: &Path,
        entity: &'a EntityTable,
        request: &ViewRequest,
    ) -> Result<Self> {
        let view = &request.view;
        let files = SourceFiles::resolve(view.batch_source.batch(), repo)?;
        let schema = files.schema(&time_columns(view))?;
        let columns = ViewColumns::resolve(view, Some(&request.features), &files, &schema)?;
        let keys = KeyColumns::resolve(entity, request, &columns, &files, &schema)?;
        let ttl =
            (!view.ttl.is_zero()).then(|| i64::try_from(view.ttl.as_micros()).unwrap_or(i64::MAX));
        Ok(ViewJoin {
            entity,
            files,
            schema,
            columns,
            keys,
            ttl,
        })
    }

    /// The requested features, one array per feature, aligned with the entity rows. Feature
    /// values of up to `buffer_rows` source rows beyond twice the entity rows are held at once.
    pub(crate) async fn run(&self, buffer_rows: usize) -> Result<Vec<ArrayRef>> {
        let features = self.feature_schema();
        let Some((lo, hi)) = self.entity.time_bounds() else {
            return Ok(self.all_null(&features));
        };
        let range = TimeRange {
            start: self.ttl.map(|t| lo.saturating_sub(t)),
            end: Some(hi),
        };
        let rows = ParquetRows::plan(&self.files, &self.schema, &self.columns.ts, range)?;
        // A Parquet source's first pass starts now: its reader threads decode keys and times
        // while the entity rows are indexed on this one.
        let first_pass = match &rows {
            Some(rows) => Some(rows.read_all(
                &self.columns.rank_projection(),
                scan::partitions_per_core(),
                SCAN_BATCH_ROWS,
                FIRST_PASS_READ_AHEAD,
            )?),
            None => None,
        };
        let mut ids = KeyIds::new(&self.keys.types)?;
        let entity_ids = self.entity_ids(&mut ids)?;
        let index = Arc::new(EntityIndex::new(&entity_ids, &self.entity.ts, ids.len()));
        drop(entity_ids);
        if let (Some(rows), Some(streams)) = (&rows, first_pass) {
            return self.run_late(rows, streams, &ids, &index).await;
        }
        let parts = self
            .offer_source(range, &ids, &index, &features, buffer_rows)
            .await?;
        let mut parts = parts.into_iter();
        let Some(mut merged) = parts.next() else {
            return Ok(self.all_null(&features));
        };
        for part in parts {
            let base = merged.kept.next_batch();
            merged.offers.merge(part.offers, |l| {
                let (b, row) = unpack(l);
                location(base + b as u32, row)
            });
            merged.kept.batches.extend(part.kept.batches);
        }
        merged.kept.gather(&index.resolve(&merged.offers, self.ttl))
    }

    /// [`ViewJoin::run`] over a Parquet source, in two passes: the keys and timestamps of every
    /// candidate row, read in one partition per core (`streams`), are offered to `index` (a row's location
    /// is its position); then the feature columns of the winning rows only, each once however
    /// many entity rows it answers.
    async fn run_late(
        &self,
        rows: &ParquetRows,
        streams: Vec<(u64, BatchStream)>,
        ids: &KeyIds,
        index: &Arc<EntityIndex>,
    ) -> Result<Vec<ArrayRef>> {
        let mut tasks = JoinSet::new();
        for (first, mut stream) in streams {
            let reader = self.candidate_reader(ids)?;
            let index = Arc::clone(index);
            tasks.spawn(async move {
                // The offers (32 bytes an entity row) are filled in on the partition's own thread.
                let mut part = PartitionOffers {
                    reader,
                    offers: index.offers(),
                    index,
                    candidates: Vec::new(),
                    scratch: OfferScratch::default(),
                };
                let mut position = first;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    part.push(&batch, position)?;
                    position += batch.num_rows() as u64;
                }
                part.offer_pending();
                Ok::<_, Error>(part.offers)
            });
        }
        // A location is a position in every partition alike, so the partitions' offers are
        // resolved together as they are, in any order, without merging them first.
        let mut sets = Vec::with_capacity(tasks.len());
        while let Some(done) = tasks.join_next().await {
            sets.push(done.map_err(engine("joining a partition of the source"))??);
        }
        if sets.is_empty() {
            return Ok(self.all_null(&self.feature_schema()));
        }
        let locations = index.resolve_sets(&sets, self.ttl);
        drop(sets);
        let (positions, take_indices) = distinct_positions(&locations, rows.positions());
        drop(locations);
        let streams = rows.read_selected(
            &self.columns.features,
            &positions,
            scan::partitions_per_core(),
            OUTPUT_BATCH_ROWS,
        )?;
        let batches: Vec<RecordBatch> = futures::stream::iter(streams)
            .flatten()
            .try_collect()
            .await?;
        take_columns(&self.feature_schema(), batches, &take_indices)
    }

    /// Reads the source's rows in `range` and offers them to `index`: each partition of the
    /// source is decoded and offered on its own task, with its own offers and kept rows, and a
    /// row's place in read order is (partition, row within it). The partitions, in read order.
    async fn offer_source(
        &self,
        range: TimeRange,
        ids: &KeyIds,
        index: &Arc<EntityIndex>,
        features: &SchemaRef,
        buffer_rows: usize,
    ) -> Result<Vec<PartitionJoin>> {
        let scan = Scan {
            files: &self.files,
            schema: &self.schema,
            columns: self.columns.projection(),
            ts_column: &self.columns.ts,
            range,
        };
        let mut tasks = JoinSet::new();
        let streams = scan.run_partitioned(scan::partitions_per_core()).await?;
        for (p, mut stream) in streams.into_iter().enumerate() {
            let mut part = PartitionJoin {
                reader: self.candidate_reader(ids)?,
                offers: index.offers(),
                index: Arc::clone(index),
                kept: KeptRows::new(features.clone(), buffer_rows),
                feature_columns: self.feature_columns(),
                next_seq: (p as u64) << PARTITION_SHIFT,
                candidates: Vec::new(),
                scratch: OfferScratch::default(),
            };
            tasks.spawn(async move {
                while let Some(batch) = stream.next().await {
                    part.push(&batch?)?;
                }
                Ok::<_, Error>((p, part))
            });
        }
        let mut parts = Vec::with_capacity(tasks.len());
        while let Some(done) = tasks.join_next().await {
            parts.push(done.map_err(engine("joining a partition of the source"))??);
        }
        parts.sort_by_key(|(p, _)| *p);
        Ok(parts.into_iter().map(|(_, part)| part).collect())
    }

    /// A reader of the source's rows as candidates, with its own fork of `ids`.
    fn candidate_reader(&self, ids: &KeyIds) -> Result<CandidateReader> {
        Ok(CandidateReader {
            ids: ids.fork()?,
            key_types: self.keys.types.clone(),
            has_created: self.columns.created.is_some(),
            row_ids: Vec::new(),
        })
    }

    /// Null features for every entity row.
    fn all_null(&self, features: &Schema) -> Vec<ArrayRef> {
        let rows = self.entity.batch.num_rows();
        features
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), rows))
            .collect()
    }

    /// The positions of the feature columns in a scanned batch (after the key columns).
    fn feature_columns(&self) -> Vec<usize> {
        let keys = self.keys.types.len();
        (keys..keys + self.columns.features.len()).collect()
    }

    /// The requested features' fields (source types, output names).
    fn feature_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .features
            .iter()
            .map(|p| Field::new(&p.output, source_type(&self.schema, p), true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// Key ids of the entity rows, assigned in `ids`; [`NO_KEY`] for rows without a time or
    /// with a null key column.
    fn entity_ids(&self, ids: &mut KeyIds) -> Result<Vec<u32>> {
        ids.load(&self.keys.entity)?;
        let mut row_ids = Vec::new();
        let rows = self.entity.batch.num_rows();
        ids.ids(rows, self.entity.ts_nulls.as_ref(), &mut row_ids);
        Ok(row_ids
            .into_iter()
            .map(|id| match id {
                KeyId::Known(id) | KeyId::New(id) => id,
                KeyId::Null => NO_KEY,
            })
            .collect())
    }
}

/// One partition of the source being offered to the entity index, on its own task.
#[derive(Debug)]
struct PartitionJoin {
    reader: CandidateReader,
    index: Arc<EntityIndex>,
    offers: Offers,
    kept: KeptRows,
    /// The positions of the feature columns in a scanned batch.
    feature_columns: Vec<usize>,
    /// The read-order number of the next row.
    next_seq: u64,
    /// The current batch's rows to offer, and scratch space for offering them (reused).
    candidates: Vec<Candidate>,
    scratch: OfferScratch,
}

impl PartitionJoin {
    /// Offers each row of a scanned `batch` to the entity index, and keeps its feature values
    /// when some offer stands.
    fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let ts_column = batch.num_columns() - 1 - usize::from(self.reader.has_created);
        let b = self.kept.next_batch();
        self.candidates.clear();
        self.reader.read(
            batch,
            ts_column,
            self.next_seq,
            |i| location(b, i),
            &mut self.candidates,
        )?;
        let stands = self
            .offers
            .offer_all(&self.index, &self.candidates, &mut self.scratch);
        self.next_seq += batch.num_rows() as u64;
        if stands {
            let values = batch
                .project(&self.feature_columns)
                .map_err(engine("keeping feature values"))?;
            self.kept.push(values, &mut self.offers)?;
        }
        Ok(())
    }
}

/// One partition of a Parquet source's keys and timestamps being offered to the entity index
/// (the first pass of [`ViewJoin::run_late`]): a row's location is its position.
#[derive(Debug)]
struct PartitionOffers {
    reader: CandidateReader,
    index: Arc<EntityIndex>,
    offers: Offers,
    /// The rows gathered to be offered ([`EntityIndex::rows_to_gather`]), and scratch space
    /// for offering them (reused).
    candidates: Vec<Candidate>,
    scratch: OfferScratch,
}

impl PartitionOffers {
    /// Gathers each row of `batch` (keys, event ts[, created ts]), the first at position
    /// `first`, to be offered; the gathered rows are offered once there are enough of them.
    fn push(&mut self, batch: &RecordBatch, first: u64) -> Result<()> {
        let ts_column = self.reader.key_types.len();
        self.reader.read(
            batch,
            ts_column,
            first,
            |i| first + i as u64,
            &mut self.candidates,
        )?;
        if self.candidates.len() >= self.index.rows_to_gather() {
            self.offer_pending();
        }
        Ok(())
    }

    /// Offers the rows gathered so far.
    fn offer_pending(&mut self) {
        self.offers
            .offer_grouped(&self.index, &mut self.candidates, &mut self.scratch);
    }
}

/// Reads a partition's scanned batches as candidates for the entity index: key ids looked up
/// (rows of keys no entity row asks for are dropped), event and created times read.
#[derive(Debug)]
struct CandidateReader {
    ids: KeyIds,
    key_types: Vec<DataType>,
    has_created: bool,
    /// The current batch's key ids (reused).
    row_ids: Vec<u32>,
}

impl CandidateReader {
    /// Appends to `out` a candidate for each row of `batch` with a known key and an event time.
    /// The key columns come first, the event time is column `ts_column` and the created time,
    /// if any, follows it; row `i` is `first_seq + i` in read order and kept at `location(i)`.
    fn read(
        &mut self,
        batch: &RecordBatch,
        ts_column: usize,
        first_seq: u64,
        location: impl Fn(usize) -> Location,
        out: &mut Vec<Candidate>,
    ) -> Result<()> {
        let ts_array = batch.column(ts_column);
        let ts = micros_of(ts_array);
        let created = self
            .has_created
            .then(|| micros_of(batch.column(ts_column + 1)));
        let ts_nulls = ts_array.logical_nulls();
        let keys = self.key_types.len();
        self.ids
            .load(&cast_all(&batch.columns()[..keys], &self.key_types)?)?;
        self.ids.lookup_all(ts.len(), NO_KEY, &mut self.row_ids);
        for (i, (&ts, &id)) in ts.iter().zip(&self.row_ids).enumerate() {
            if id == NO_KEY || ts_nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                continue;
            }
            let rank = Rank {
                ts,
                created: created.as_ref().map_or(i64::MIN, |c| c[i]),
                seq: first_seq + i as u64,
            };
            out.push(Candidate {
                id,
                rank,
                location: location(i),
            });
        }
        Ok(())
    }
}

/// The distinct positions among `locations` (all below `total`), ascending, and for each
/// location the index of its position among them (null where there is none). A bitmap over the
/// positions, counted per word, does it in linear time without sorting.
fn distinct_positions(locations: &[Option<Location>], total: u64) -> (Vec<u64>, UInt32Array) {
    let words = usize::try_from(total.div_ceil(64)).expect("positions fit in memory");
    let mut bits = vec![0u64; words];
    for &l in locations.iter().flatten() {
        bits[(l / 64) as usize] |= 1 << (l % 64);
    }
    let mut before = Vec::with_capacity(words);
    let mut positions = Vec::new();
    for (w, &word) in bits.iter().enumerate() {
        before.push(u32::try_from(positions.len()).expect("fewer than 2^32 winners"));
        let mut rest = word;
        while rest != 0 {
            positions.push(w as u64 * 64 + u64::from(rest.trailing_zeros()));
            rest &= rest - 1;
        }
    }
    let indices = locations
        .iter()
        .map(|l| {
            l.map(|l| {
                let (w, bit) = ((l / 64) as usize, l % 64);
                before[w] + (bits[w] & ((1u64 << bit) - 1)).count_ones()
            })
        })
        .collect();
    (positions, indices)
}

/// Per field of `schema`: the rows of `batches` (concatenated) at `indices`, null where the
/// index is; the columns are taken on every core. Each column of `batches` is freed as soon as
/// it is taken, so the values read and the values taken are not all held at once.
fn take_columns(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    indices: &UInt32Array,
) -> Result<Vec<ArrayRef>> {
    let columns = schema.fields().len();
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(batches.len()); columns];
    for batch in batches {
        for (c, array) in batch.columns().iter().enumerate() {
            parts[c].push(Arc::clone(array));
        }
    }
    let parts: Vec<Mutex<Vec<ArrayRef>>> = parts.into_iter().map(Mutex::new).collect();
    let column = |c: usize| -> Result<ArrayRef, arrow::error::ArrowError> {
        let field = schema.field(c);
        let parts = std::mem::take(&mut *parts[c].lock().expect("unpoisoned"));
        let all = match parts.as_slice() {
            [] => new_null_array(field.data_type(), 0),
            [one] => Arc::clone(one),
            _ => concat(&parts.iter().map(|a| a.as_ref()).collect::<Vec<_>>())?,
        };
        drop(parts);
        take(all.as_ref(), indices, None)
    };
    crate::parallel::map_on_every_core(columns, column)
        .into_iter()
        .map(|array| array.map_err(engine("assembling feature values")))
        .collect()
}

/// Feature values of the scanned batches that hold standing offers.
#[derive(Debug)]
struct KeptRows {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    rows: usize,
    /// Rows allowed beyond twice the standing offers before compacting.
    slack: usize,
}

impl KeptRows {
    fn new(schema: SchemaRef, slack: usize) -> Self {
        KeptRows {
            schema,
            batches: Vec::new(),
            rows: 0,
            slack,
        }
    }

    /// The number the next kept batch gets.
    fn next_batch(&self) -> u32 {
        u32::try_from(self.batches.len()).expect("fewer than 2^32 kept batches")
    }

    /// Keeps `batch`, compacting when too many rows are kept.
    fn push(&mut self, batch: RecordBatch, offers: &mut Offers) -> Result<()> {
        self.rows += batch.num_rows();
        self.batches.push(batch);
        if self.rows > (2 * offers.standing_count()).saturating_add(self.slack) {
            self.compact(offers)?;
        }
        Ok(())
    }

    /// Replaces the kept batches with one holding exactly the standing offers' rows.
    fn compact(&mut self, offers: &mut Offers) -> Result<()> {
        let indices: Vec<(usize, usize)> = offers.standing().map(unpack).collect();
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        let merged = interleave_record_batch(&batches, &indices)
            .map_err(engine("compacting kept feature rows"))?;
        offers.relocate_standing(|k, _| location(0, k));
        self.rows = merged.num_rows();
        self.batches = vec![merged];
        Ok(())
    }

    /// One array per feature: the row at each location, null where there is none.
    fn gather(mut self, locations: &[Option<Location>]) -> Result<Vec<ArrayRef>> {
        let nulls: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 1))
            .collect();
        let null_row = RecordBatch::try_new(self.schema.clone(), nulls)
            .map_err(engine("assembling feature values"))?;
        self.batches.push(null_row);
        let none = (self.batches.len() - 1, 0);
        let indices: Vec<(usize, usize)> =
            locations.iter().map(|l| l.map_or(none, unpack)).collect();
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        let columns = self.schema.fields().len();
        let column = |c: usize| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            interleave(&arrays, &indices)
        };
        // The columns are independent: they are gathered on every core.
        crate::parallel::map_on_every_core(columns, column)
            .into_iter()
            .map(|array| array.map_err(engine("assembling feature values")))
            .collect()
    }
}

/// Row `row` of kept batch `b`, packed in a [`Location`].
fn location(b: u32, row: usize) -> Location {
    (u64::from(b) << 32) | u64::from(u32::try_from(row).expect("batch rows fit in u32"))
}

/// The (batch, row) of a [`Location`].
fn unpack(l: Location) -> (usize, usize) {
    ((l >> 32) as usize, (l & u64::from(u32::MAX)) as usize)
}

/// The type of projected column `p` in the source.
fn source_type(schema: &Schema, p: &Projected) -> DataType {
    schema
        .field_with_name(&p.source)
        .map_or(DataType::Null, |f| f.data_type().clone())
}

/// A timestamp column's values in µs (`i64::MIN` where null).
fn micros_of(array: &ArrayRef) -> Vec<i64> {
    match to_utc_micros(array) {
        Some(m) => values_or(&m, i64::MIN),
        None => vec![i64::MIN; array.len()],
    }
}

/// Casts each array to its type.
fn cast_all(arrays: &[ArrayRef], types: &[DataType]) -> Result<Vec<ArrayRef>> {
    arrays
        .iter()
        .zip(types)
        .map(|(a, t)| {
            if a.data_type() == t {
                Ok(a.clone())
            } else {
                cast(a, t).map_err(engine("casting join keys"))
            }
        })
        .collect()
}

/// The entity rows' join-key columns for one view, cast to the types shared with the source.
#[derive(Debug)]
struct KeyColumns {
    /// One type per join key, shared by both sides.
    types: Vec<DataType>,
    /// The entity rows' key columns, cast to `types`.
    entity: Vec<ArrayRef>,
}

impl KeyColumns {
    /// Finds the view's join keys (through `join_key_map`) among the entity columns and checks
    /// that each can be compared with the source's column.
    fn resolve(
        entity: &EntityTable,
        request: &ViewRequest,
        columns: &ViewColumns,
        files: &SourceFiles,
        schema: &Schema,
    ) -> Result<Self> {
        let view = &request.view.name;
        let mut types = Vec::with_capacity(columns.keys.len());
        let mut arrays = Vec::with_capacity(columns.keys.len());
        for key in &columns.keys {
            let entity_name = request.join_key_map.get(&key.output).unwrap_or(&key.output);
            let fix = "Add it, or map the view's join key to an entity column with join_key_map";
            let array = entity.column(entity_name, view, fix)?;
            let source_type = source_type(schema, key);
            let Some(common) = common_key_type(array.data_type(), &source_type) else {
                return Err(entity.origin.error(format!(
                    "feature view `{view}`: join key `{}` is {} in the entity rows (column `{entity_name}`) but \
                     {source_type} in source `{}` ({}, column `{}`); give the entity column the source's type",
                    key.output,
                    array.data_type(),
                    files.name,
                    files.first().display(),
                    key.source
                )));
            };
            arrays.push(cast(array, &common).map_err(|e| {
                entity.origin.error(format!(
                    "feature view `{view}`: column `{entity_name}` cannot be read as {common}: {e}"
                ))
            })?);
            types.push(common);
        }
        Ok(KeyColumns {
            types,
            entity: arrays,
        })
    }
}

/// One type both join-key columns can be cast to without changing which values are equal:
/// the same type, all strings (`Utf8`), all binaries, all integers (`Int64`), all timestamps.
fn common_key_type(a: &DataType, b: &DataType) -> Option<DataType> {
    let (a, b) = (normalized_key_type(a), normalized_key_type(b));
    if a == b {
        Some(a)
    } else if a.is_integer() && b.is_integer() {
        Some(DataType::Int64)
    } else {
        None
    }
}

fn normalized_key_type(t: &DataType) -> DataType {
    match t {
        DataType::Dictionary(_, value) => normalized_key_type(value),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Timestamp(..) => utc_micros_type(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_are_unified_only_when_equality_is_kept() {
        assert_eq!(
            common_key_type(&DataType::Int32, &DataType::Int64),
            Some(DataType::Int64)
        );
        assert_eq!(
            common_key_type(&DataType::Utf8View, &DataType::LargeUtf8),
            Some(DataType::Utf8)
        );
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(
            common_key_type(&dict, &DataType::Utf8),
            Some(DataType::Utf8)
        );
        assert_eq!(common_key_type(&DataType::Utf8, &DataType::Int64), None);
        assert_eq!(common_key_type(&DataType::Float64, &DataType::Int64), None);
    }
}
