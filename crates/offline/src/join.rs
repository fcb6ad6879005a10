//! One view's part of a historical request: its features for every entity row, in entity order.
//!
//! The source is read with DataFusion (only the needed columns, event time within
//! `[min entity ts - ttl, max entity ts]` pushed down). Join keys on both sides are cast to one
//! type and turned into dense ids, the [`pit_join`](crate::pit_join) kernel picks one feature row
//! per entity row, and the feature columns are gathered into entity order with `take`.
//!
//! Sources estimated (from Parquet footers, or CSV size) to hold more rows than the store's
//! partition size are joined in parts: feature rows are hash-partitioned by key while they are
//! read and spilled to temporary Arrow IPC files ([`spill`](crate::spill)), entity rows are split
//! by the same hash, each part is joined on its own, and the parts' results are interleaved back
//! into entity order. Memory is then bounded by one part of the source plus the output.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::{cast, concat_batches, interleave, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::StreamExt;
use larder_core::model::FileFormat;

use crate::ViewRequest;
use crate::columns::{Projected, ViewColumns};
use crate::entity_rows::EntityTable;
use crate::error::{Result, engine};
use crate::keys::{KeyId, KeyIds, key_partitions};
use crate::latest::time_columns;
use crate::pit_join::{EntitySide, FeatureSide, NO_KEY, asof_join};
use crate::scan::{BatchStream, Scan, TimeRange, collect};
use crate::source::SourceFiles;
use crate::spill::Spill;
use crate::time::{to_utc_micros, utc_micros_type, values_or};

/// The most partitions (open spill files) one join uses.
const MAX_PARTITIONS: u32 = 256;
/// Bytes per row assumed when estimating a CSV source's rows from its size.
const CSV_BYTES_PER_ROW: u64 = 64;

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

    /// The requested features, one array per feature, aligned with the entity rows.
    /// Sources estimated above `partition_rows` rows are joined in hash partitions.
    pub(crate) async fn run(&self, partition_rows: usize) -> Result<Vec<ArrayRef>> {
        let Some((lo, hi)) = self.entity.time_bounds() else {
            let rows = self.entity.batch.num_rows();
            return Ok(self
                .columns
                .features
                .iter()
                .map(|p| new_null_array(&source_type(&self.schema, p), rows))
                .collect());
        };
        let range = TimeRange {
            start: self.ttl.map(|t| lo.saturating_sub(t)),
            end: Some(hi),
        };
        let scan = Scan {
            files: &self.files,
            schema: &self.schema,
            columns: self.columns.projection(),
            ts_column: &self.columns.ts,
            range,
        };
        let stream = scan.run().await?;
        let parts = self.partition_count(partition_rows);
        if parts <= 1 {
            let rows = concat_batches(&self.read_schema(), &collect(stream).await?)
                .map_err(engine(format!("reading source `{}`", self.files.name)))?;
            return self.join_part(&rows, None);
        }
        self.join_partitioned(stream, parts).await
    }

    /// How many partitions the source needs (1: join in memory).
    fn partition_count(&self, partition_rows: usize) -> u32 {
        if self.keys.types.is_empty() {
            return 1; // one key: partitioning by key cannot split it
        }
        let estimate = match self.files.format {
            FileFormat::Parquet => self.files.parquet_row_count().unwrap_or(0),
            FileFormat::Csv => self.files.total_bytes() / CSV_BYTES_PER_ROW,
        };
        let parts = estimate.div_ceil(partition_rows.max(1) as u64);
        u32::try_from(parts.clamp(1, u64::from(MAX_PARTITIONS))).expect("clamped")
    }

    /// The schema of the scanned rows (source types, output names).
    fn read_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .projection()
            .iter()
            .map(|p| Field::new(&p.output, source_type(&self.schema, p), true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// Joins hash partition by hash partition, then puts the results back into entity order.
    async fn join_partitioned(&self, mut stream: BatchStream, parts: u32) -> Result<Vec<ArrayRef>> {
        let key_count = self.keys.types.len();
        let mut spill = Spill::create(parts, self.read_schema())?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let keys = cast_all(&batch.columns()[..key_count], &self.keys.types)?;
            let rows = batch.num_rows();
            spill.write(
                &batch,
                &key_partitions(&self.keys.types, &keys, rows, parts)?,
            )?;
        }
        let spilled = spill.finish()?;
        let entity_rows = self.entity.batch.num_rows();
        let entity_parts = key_partitions(&self.keys.types, &self.keys.entity, entity_rows, parts)?;
        let subsets = group_by_partition(&entity_parts, parts);
        let mut results = Vec::with_capacity(parts as usize);
        for (p, subset) in subsets.iter().enumerate() {
            let rows = spilled.read(p)?;
            results.push(self.join_part(&rows, Some(subset))?);
        }
        let mut seen = vec![0usize; parts as usize];
        let positions: Vec<(usize, usize)> = entity_parts
            .iter()
            .map(|&p| {
                seen[p as usize] += 1;
                (p as usize, seen[p as usize] - 1)
            })
            .collect();
        (0..self.columns.features.len())
            .map(|c| {
                let arrays: Vec<&dyn Array> = results.iter().map(|r| r[c].as_ref()).collect();
                interleave(&arrays, &positions)
                    .map_err(engine("assembling partitioned join results"))
            })
            .collect()
    }

    /// Joins feature `rows` with the entity rows `subset` (all when `None`); one array per
    /// feature, aligned with the subset.
    fn join_part(&self, rows: &RecordBatch, subset: Option<&UInt32Array>) -> Result<Vec<ArrayRef>> {
        let key_count = self.keys.types.len();
        let mut ids = KeyIds::new(&self.keys.types)?;
        let (f_ids, f_ts, f_created) = self.feature_side(&mut ids, rows)?;
        let (e_ids, e_ts) = self.entity_side(&mut ids, subset)?;
        let features = FeatureSide {
            ids: &f_ids,
            ts: &f_ts,
            created: &f_created,
        };
        let entities = EntitySide {
            ids: &e_ids,
            ts: &e_ts,
        };
        let indices = UInt32Array::from(asof_join(features, entities, self.ttl));
        (key_count..key_count + self.columns.features.len())
            .map(|c| {
                take(rows.column(c), &indices, None).map_err(engine("gathering feature values"))
            })
            .collect()
    }

    /// Key ids (looked up in `ids`; [`NO_KEY`] when unknown or without a time) and timestamps
    /// of the entity rows `subset` (all when `None`).
    fn entity_side(
        &self,
        ids: &mut KeyIds,
        subset: Option<&UInt32Array>,
    ) -> Result<(Vec<u32>, Vec<i64>)> {
        let entity_keys = match subset {
            Some(s) => self
                .keys
                .entity
                .iter()
                .map(|k| take(k, s, None))
                .collect::<Result<Vec<_>, _>>()
                .map_err(engine("splitting entity rows"))?,
            None => self.keys.entity.clone(),
        };
        ids.load(&entity_keys)?;
        let row_of = |i: usize| subset.map_or(i, |s| s.value(i) as usize);
        let count = subset.map_or(self.entity.batch.num_rows(), |s| s.len());
        let valid = |i: usize| self.entity.ts_valid(row_of(i));
        let e_ids = (0..count)
            .map(|i| {
                if valid(i) {
                    ids.lookup(i).unwrap_or(NO_KEY)
                } else {
                    NO_KEY
                }
            })
            .collect();
        let e_ts = (0..count).map(|i| self.entity.ts[row_of(i)]).collect();
        Ok((e_ids, e_ts))
    }

    /// Key ids (assigned in `ids`), event and created timestamps of the feature rows.
    #[allow(clippy::type_complexity)]
    fn feature_side(
        &self,
        ids: &mut KeyIds,
        rows: &RecordBatch,
    ) -> Result<(Vec<u32>, Vec<i64>, Vec<i64>)> {
        let n = rows.num_columns();
        let has_created = self.columns.created.is_some();
        let ts_column = rows.column(n - 1 - usize::from(has_created));
        let ts = micros_of(ts_column);
        let created = if has_created {
            micros_of(rows.column(n - 1))
        } else {
            vec![i64::MIN; rows.num_rows()]
        };
        let ts_nulls = ts_column.logical_nulls();
        ids.load(&cast_all(
            &rows.columns()[..self.keys.types.len()],
            &self.keys.types,
        )?)?;
        let f_ids = (0..rows.num_rows())
            .map(|i| match ids.id(i) {
                KeyId::Known(id) | KeyId::New(id)
                    if ts_nulls.as_ref().is_none_or(|n| n.is_valid(i)) =>
                {
                    id
                }
                _ => NO_KEY,
            })
            .collect();
        Ok((f_ids, ts, created))
    }
}

/// The entity row indices of each partition, in entity order.
fn group_by_partition(parts_of_rows: &[u32], parts: u32) -> Vec<UInt32Array> {
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); parts as usize];
    for (i, &p) in parts_of_rows.iter().enumerate() {
        groups[p as usize].push(u32::try_from(i).expect("fewer than 2^32 entity rows"));
    }
    groups.into_iter().map(UInt32Array::from).collect()
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

    #[test]
    fn partitions_group_rows_in_order() {
        let groups = group_by_partition(&[1, 0, 1, 2], 3);
        let values: Vec<Vec<u32>> = groups.iter().map(|g| g.values().to_vec()).collect();
        assert_eq!(values, vec![vec![1], vec![0, 2], vec![3]]);
    }
}
