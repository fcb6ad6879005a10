//! [`WriteBatch`]: rows of one view prepared for an online write.
//!
//! [`WriteBatch::from_record_batch`] checks the columns once per batch, serializes every row's entity
//! key into one [`BinaryArray`] (through one reused scratch buffer), normalizes the timestamps to
//! microseconds UTC and prepares one [`ColumnEncoder`] per feature.

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use larder_core::ValueType;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::{
    CREATED_TS_COLUMN, DUMMY_ENTITY_ID, DUMMY_ENTITY_VALUE, EVENT_TS_COLUMN, FeatureView, Field,
};
use larder_core::value::ColumnEncoder;

use crate::error::{Error, Result};

/// Rows of one feature view ready to be written: the serialized entity key of each row, its event
/// and created timestamps, and an encoder per feature that produces the row's `Value` bytes.
#[derive(Debug)]
pub struct WriteBatch {
    /// Serialized entity keys (Feast's `serialize_entity_key`), one per row, no nulls.
    pub entity_keys: BinaryArray,
    /// Event timestamps, microseconds UTC, no nulls.
    pub event_timestamps: TimestampMicrosecondArray,
    /// Created timestamps, when the source has a created column.
    pub created_timestamps: Option<TimestampMicrosecondArray>,
    /// `(feature name, encoder)` for every feature of the view, in the view's order.
    pub features: Vec<(String, ColumnEncoder)>,
}

impl WriteBatch {
    /// The serialized entity key of each row of `batch` (as in [`WriteBatch::entity_keys`]), without
    /// preparing the rest: for ordering rows by key before they are written.
    pub fn entity_keys_of(
        batch: &RecordBatch,
        view: &FeatureView,
        layout: &EntityKeyLayout,
    ) -> Result<BinaryArray> {
        serialize_keys(batch, view, layout)
    }

    /// Prepares the rows of `batch` for writing `view`.
    ///
    /// `batch` holds the view's join-key columns (named and typed as `view.entity_columns`), one column
    /// per feature, [`EVENT_TS_COLUMN`] and optionally [`CREATED_TS_COLUMN`]; extra columns are
    /// ignored. `layout` is the view's key layout: its join keys, or [`DUMMY_ENTITY_ID`] for views
    /// without entities (whose key value is [`DUMMY_ENTITY_VALUE`] in every row).
    ///
    /// Fails with [`Error::Data`] naming the view, column and row when a column is missing or has an
    /// unusable type, or a join key or event timestamp is null.
    pub fn from_record_batch(
        batch: &RecordBatch,
        view: &FeatureView,
        layout: &EntityKeyLayout,
    ) -> Result<WriteBatch> {
        let entity_keys = serialize_keys(batch, view, layout)?;
        let event_timestamps =
            timestamp_column(batch, view, EVENT_TS_COLUMN)?.ok_or_else(|| {
                missing_column(
                    batch,
                    view,
                    EVENT_TS_COLUMN,
                    "the event timestamp of each row",
                )
            })?;
        if let Some(row) = first_null(&event_timestamps) {
            return Err(Error::data(
                &view.name,
                format!(
                    "column `{EVENT_TS_COLUMN}` (event timestamp) is null in row {row}: \
                     drop rows without an event timestamp before writing"
                ),
            ));
        }
        let created_timestamps = timestamp_column(batch, view, CREATED_TS_COLUMN)?;
        let features = view
            .features
            .iter()
            .map(|f| Ok((f.name.clone(), feature_encoder(batch, view, f)?)))
            .collect::<Result<_>>()?;
        Ok(WriteBatch {
            entity_keys,
            event_timestamps,
            created_timestamps,
            features,
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.entity_keys.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.entity_keys.is_empty()
    }
}

/// The join keys of `view`'s entity keys: its join keys, or [`DUMMY_ENTITY_ID`] when it has none
/// (as the façade builds the view's [`EntityKeyLayout`]).
pub(crate) fn view_join_keys(view: &FeatureView) -> Vec<String> {
    match view.join_keys() {
        keys if keys.is_empty() => vec![DUMMY_ENTITY_ID.to_string()],
        keys => keys,
    }
}

/// One join-key column, converted once to the type its key values are serialized as.
enum KeyColumn {
    Int32(Int32Array),
    Int64(Int64Array),
    Str(StringArray),
    Bytes(BinaryArray),
    /// `UNIX_TIMESTAMP` keys, in seconds.
    Seconds(Int64Array),
    /// The constant key of views without entities.
    Constant(&'static str),
}

impl KeyColumn {
    /// The key value of `row`, or `None` when it is null.
    fn value(&self, row: usize) -> Option<KeyValue<'_>> {
        let valid = |a: &dyn Array| a.is_valid(row);
        Some(match self {
            KeyColumn::Int32(a) if valid(a) => KeyValue::Int32(a.value(row)),
            KeyColumn::Int64(a) if valid(a) => KeyValue::Int64(a.value(row)),
            KeyColumn::Str(a) if valid(a) => KeyValue::Str(a.value(row)),
            KeyColumn::Bytes(a) if valid(a) => KeyValue::Bytes(a.value(row)),
            KeyColumn::Seconds(a) if valid(a) => KeyValue::UnixTimestamp(a.value(row)),
            KeyColumn::Constant(s) => KeyValue::Str(s),
            _ => return None,
        })
    }
}

/// Serializes every row's entity key with `layout` into one array, through one scratch buffer.
fn serialize_keys(
    batch: &RecordBatch,
    view: &FeatureView,
    layout: &EntityKeyLayout,
) -> Result<BinaryArray> {
    let columns = layout
        .join_keys()
        .iter()
        .map(|name| Ok((name.as_str(), key_column(batch, view, name)?)))
        .collect::<Result<Vec<_>>>()?;
    let rows = batch.num_rows();
    let per_row = layout.prefix().len() + 16 * columns.len();
    let mut builder = BinaryBuilder::with_capacity(rows, rows * per_row);
    let mut scratch = Vec::with_capacity(per_row);
    let mut values = Vec::with_capacity(columns.len());
    for row in 0..rows {
        values.clear();
        for (name, column) in &columns {
            values.push(column.value(row).ok_or_else(|| null_key(view, name, row))?);
        }
        scratch.clear();
        layout.serialize_into(&values, &mut scratch);
        builder.append_value(&scratch);
    }
    Ok(builder.finish())
}

fn null_key(view: &FeatureView, column: &str, row: usize) -> Error {
    Error::data(
        &view.name,
        format!(
            "join key column `{column}` is null in row {row}: entity keys cannot be null; \
             drop or fill those rows before writing"
        ),
    )
}

/// The key column `name`, converted to the type of its declared `dtype` (inferred from the Arrow
/// type when the view does not declare it).
fn key_column(batch: &RecordBatch, view: &FeatureView, name: &str) -> Result<KeyColumn> {
    if name == DUMMY_ENTITY_ID && view.entity_columns.is_empty() {
        return Ok(KeyColumn::Constant(DUMMY_ENTITY_VALUE));
    }
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| missing_column(batch, view, name, "a join key of the view"))?;
    let declared = view
        .entity_columns
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.dtype);
    let dtype = match declared {
        Some(t) if t != ValueType::Unknown => t,
        _ => infer_key_type(array.data_type()),
    };
    convert_key(array, dtype).map_err(|why| {
        Error::data(
            &view.name,
            format!(
                "join key column `{name}` has type {} in the rows to write, which cannot hold \
                 {dtype} entity keys: {why}",
                array.data_type()
            ),
        )
    })
}

/// The key type Feast infers from a column's type when the entity does not declare one.
fn infer_key_type(data_type: &DataType) -> ValueType {
    match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            ValueType::Int32
        }
        DataType::Timestamp(..) => ValueType::UnixTimestamp,
        other => ValueType::from_arrow(other).unwrap_or(ValueType::Unknown),
    }
}

/// Converts `array` to the [`KeyColumn`] of `dtype`, or says why it cannot.
fn convert_key(array: &ArrayRef, dtype: ValueType) -> std::result::Result<KeyColumn, String> {
    let dt = array.data_type();
    let cast = |to: &DataType| {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        cast_with_options(array, to, &options).map_err(|e| e.to_string())
    };
    match dtype {
        ValueType::Int64 if dt.is_integer() => Ok(KeyColumn::Int64(
            cast(&DataType::Int64)?.as_primitive().clone(),
        )),
        ValueType::Int32 if dt.is_integer() => Ok(KeyColumn::Int32(
            cast(&DataType::Int32)?.as_primitive().clone(),
        )),
        ValueType::String
            if matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            Ok(KeyColumn::Str(
                cast(&DataType::Utf8)?.as_string::<i32>().clone(),
            ))
        }
        ValueType::Bytes
            if matches!(
                dt,
                DataType::Binary
                    | DataType::LargeBinary
                    | DataType::BinaryView
                    | DataType::FixedSizeBinary(_)
            ) =>
        {
            Ok(KeyColumn::Bytes(
                cast(&DataType::Binary)?.as_binary::<i32>().clone(),
            ))
        }
        ValueType::UnixTimestamp if matches!(dt, DataType::Timestamp(..)) => {
            let seconds = cast(&DataType::Timestamp(TimeUnit::Second, None))?;
            let seconds = cast_with_options(&seconds, &DataType::Int64, &CastOptions::default())
                .map_err(|e| e.to_string())?;
            Ok(KeyColumn::Seconds(
                seconds.as_primitive::<Int64Type>().clone(),
            ))
        }
        ValueType::UnixTimestamp if dt == &DataType::Int64 => Ok(KeyColumn::Seconds(
            array.as_primitive::<Int64Type>().clone(),
        )),
        t if !t.is_valid_entity_key() => Err(format!(
            "Feast entity keys can only be String, Bytes, Int32, Int64 or UnixTimestamp, not {t}"
        )),
        _ => Err("use an integer, string, binary or timestamp column as the key declares".into()),
    }
}

/// The timestamp column `name` as microseconds UTC, or `None` when the batch has no such column.
fn timestamp_column(
    batch: &RecordBatch,
    view: &FeatureView,
    name: &str,
) -> Result<Option<TimestampMicrosecondArray>> {
    let Some(array) = batch.column_by_name(name) else {
        return Ok(None);
    };
    if !matches!(array.data_type(), DataType::Timestamp(..)) {
        return Err(Error::data(
            &view.name,
            format!(
                "column `{name}` has type {}, but it must be a timestamp (any unit; no zone means UTC)",
                array.data_type()
            ),
        ));
    }
    let micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let cast = cast_with_options(
        array,
        &micros,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .map_err(|e| {
        Error::data(
            &view.name,
            format!("column `{name}`: cannot convert to microseconds: {e}"),
        )
    })?;
    Ok(Some(cast.as_primitive().clone()))
}

fn first_null(array: &dyn Array) -> Option<usize> {
    if array.null_count() == 0 {
        return None;
    }
    (0..array.len()).find(|&i| array.is_null(i))
}

fn feature_encoder(
    batch: &RecordBatch,
    view: &FeatureView,
    feature: &Field,
) -> Result<ColumnEncoder> {
    let array = batch
        .column_by_name(&feature.name)
        .ok_or_else(|| missing_column(batch, view, &feature.name, "a feature of the view"))?;
    ColumnEncoder::new(array, feature.dtype, &feature.name)
        .map_err(|e| Error::data(&view.name, e.to_string()))
}

fn missing_column(batch: &RecordBatch, view: &FeatureView, column: &str, what: &str) -> Error {
    let schema = batch.schema();
    let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    Error::data(
        &view.name,
        format!(
            "column `{column}` ({what}) is missing from the rows to write, which have: {}",
            have.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Float64Array, LargeStringArray, StringViewArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    use arrow::datatypes::{Field as ArrowField, Schema};
    use larder_core::model::{DataSource, FileFormat, SourceKind, Tags};

    use super::*;

    fn view(keys: &[(&str, ValueType)]) -> FeatureView {
        FeatureView {
            name: "v".into(),
            entities: if keys.is_empty() {
                vec!["__dummy".into()]
            } else {
                vec!["e".into()]
            },
            features: vec![Field::new("f", ValueType::Double)],
            entity_columns: keys.iter().map(|(n, t)| Field::new(*n, *t)).collect(),
            ttl: std::time::Duration::ZERO,
            batch_source: DataSource {
                name: "s".into(),
                kind: SourceKind::File {
                    path: "x.parquet".into(),
                    format: FileFormat::Parquet,
                },
                timestamp_field: "ts".into(),
                created_timestamp_column: String::new(),
                field_mapping: Tags::new(),
                date_partition_column: String::new(),
                description: String::new(),
                tags: Tags::new(),
                owner: String::new(),
            },
            stream_source: None,
            online: true,
            offline: false,
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
            materialization_intervals: vec![],
        }
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<ArrowField> = columns
            .iter()
            .map(|(n, a)| ArrowField::new(*n, a.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    }

    fn ts(values: Vec<i64>) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
    }

    fn f(values: Vec<f64>) -> ArrayRef {
        Arc::new(Float64Array::from(values))
    }

    fn layout(keys: &[&str]) -> EntityKeyLayout {
        EntityKeyLayout::new(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(), 3).unwrap()
    }

    #[test]
    fn int32_data_serializes_as_declared_int64() {
        let v = view(&[("driver_id", ValueType::Int64)]);
        let b = batch(vec![
            (
                "driver_id",
                Arc::new(Int32Array::from(vec![1001, 7])) as ArrayRef,
            ),
            ("f", f(vec![1.0, 2.0])),
            (EVENT_TS_COLUMN, ts(vec![1, 2])),
        ]);
        let l = layout(&["driver_id"]);
        let w = WriteBatch::from_record_batch(&b, &v, &l).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            w.entity_keys.value(0),
            l.serialize(&[KeyValue::Int64(1001)]).as_slice()
        );
        assert_eq!(
            w.entity_keys.value(1),
            l.serialize(&[KeyValue::Int64(7)]).as_slice()
        );
        assert!(w.created_timestamps.is_none());
        assert_eq!(w.features.len(), 1);
    }

    #[test]
    fn string_flavours_and_timestamps_convert() {
        let v = view(&[
            ("a", ValueType::String),
            ("b", ValueType::String),
            ("t", ValueType::UnixTimestamp),
        ]);
        let b = batch(vec![
            ("a", Arc::new(LargeStringArray::from(vec!["x"])) as ArrayRef),
            ("b", Arc::new(StringViewArray::from(vec!["y"])) as ArrayRef),
            (
                "t",
                Arc::new(TimestampSecondArray::from(vec![1_700_000_000])) as ArrayRef,
            ),
            ("f", f(vec![1.0])),
            (
                EVENT_TS_COLUMN,
                Arc::new(TimestampNanosecondArray::from(vec![1_500_000_999])) as ArrayRef,
            ),
            (CREATED_TS_COLUMN, ts(vec![5])),
        ]);
        let l = layout(&["a", "b", "t"]);
        let w = WriteBatch::from_record_batch(&b, &v, &l).unwrap();
        let want = l.serialize(&[
            KeyValue::Str("x"),
            KeyValue::Str("y"),
            KeyValue::UnixTimestamp(1_700_000_000),
        ]);
        assert_eq!(w.entity_keys.value(0), want.as_slice());
        assert_eq!(w.event_timestamps.value(0), 1_500_000);
        assert_eq!(w.event_timestamps.timezone(), Some("UTC"));
        assert_eq!(w.created_timestamps.unwrap().value(0), 5);
    }

    #[test]
    fn entity_less_views_use_the_dummy_key() {
        let v = view(&[]);
        let b = batch(vec![
            ("f", f(vec![1.0, 2.0])),
            (EVENT_TS_COLUMN, ts(vec![1, 2])),
        ]);
        let l = layout(&[DUMMY_ENTITY_ID]);
        let w = WriteBatch::from_record_batch(&b, &v, &l).unwrap();
        let want = l.serialize(&[KeyValue::Str("")]);
        assert_eq!(w.entity_keys.value(0), want.as_slice());
        assert_eq!(w.entity_keys.value(1), want.as_slice());
        assert_eq!(view_join_keys(&v), vec![DUMMY_ENTITY_ID.to_string()]);
    }

    #[test]
    fn errors_name_view_column_and_row() {
        let v = view(&[("driver_id", ValueType::Int64)]);
        let l = layout(&["driver_id"]);
        let no_key = batch(vec![("f", f(vec![1.0])), (EVENT_TS_COLUMN, ts(vec![1]))]);
        let e = WriteBatch::from_record_batch(&no_key, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("view `v`") && e.contains("`driver_id`") && e.contains("missing"),
            "{e}"
        );

        let null_key = batch(vec![
            (
                "driver_id",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            ("f", f(vec![1.0, 2.0])),
            (EVENT_TS_COLUMN, ts(vec![1, 2])),
        ]);
        let e = WriteBatch::from_record_batch(&null_key, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`driver_id` is null in row 1"), "{e}");

        let null_ts = batch(vec![
            (
                "driver_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("f", f(vec![1.0, 2.0])),
            (
                EVENT_TS_COLUMN,
                Arc::new(TimestampMicrosecondArray::from(vec![None, Some(1)])) as ArrayRef,
            ),
        ]);
        let e = WriteBatch::from_record_batch(&null_ts, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains(EVENT_TS_COLUMN) && e.contains("row 0"), "{e}");

        let wrong = batch(vec![
            ("driver_id", f(vec![1.0])),
            ("f", f(vec![1.0])),
            (EVENT_TS_COLUMN, ts(vec![1])),
        ]);
        let e = WriteBatch::from_record_batch(&wrong, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`driver_id`") && e.contains("Float64"), "{e}");

        let no_feature = batch(vec![
            ("driver_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            (EVENT_TS_COLUMN, ts(vec![1])),
        ]);
        let e = WriteBatch::from_record_batch(&no_feature, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`f`") && e.contains("feature"), "{e}");

        let ts_not_ts = batch(vec![
            ("driver_id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("f", f(vec![1.0])),
            (
                EVENT_TS_COLUMN,
                Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            ),
        ]);
        let e = WriteBatch::from_record_batch(&ts_not_ts, &v, &l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be a timestamp"), "{e}");
    }

    #[test]
    fn int32_keys_reject_overflow() {
        let v = view(&[("k", ValueType::Int32)]);
        let b = batch(vec![
            ("k", Arc::new(Int64Array::from(vec![i64::MAX])) as ArrayRef),
            ("f", f(vec![1.0])),
            (EVENT_TS_COLUMN, ts(vec![1])),
        ]);
        let e = WriteBatch::from_record_batch(&b, &v, &layout(&["k"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`k`") && e.contains("Int32"), "{e}");
    }
}
