//! Push and write-to-online-store: rows sent as JSON columns (Feast's `df`, column → list of
//! values), typed by the views they are for, validated as a whole, then written to the online
//! and/or the offline store.
//!
//! Every view's rows are converted (and their online write batches built) before anything is
//! written, so a bad column or value fails the whole request and nothing is half-applied.
//!
//! JSON values by declared type: integers for `Int32`/`Int64` (integral floats accepted), numbers
//! or `"NaN"`/`"Infinity"`/`"-Infinity"` for floats, booleans, strings; `Bytes` as a string (its
//! UTF-8 bytes, as the online read path takes `Bytes` join keys) or an array of 0–255 integers;
//! timestamps as ISO 8601 strings (no zone = UTC) or seconds since the epoch; lists as arrays.
//! `null` is a null value (not allowed in join keys, event timestamps or inside lists).

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    ListArray, StringArray, TimestampMicrosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{Field as ArrowField, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use larder_core::model::{CREATED_TS_COLUMN, DataSource, EVENT_TS_COLUMN, FeatureView, SourceKind};
use larder_core::proto::core as pc;
use larder_core::time::{from_micros, parse_timestamp};
use larder_core::types::ValueType;
use larder_online::{WriteBatch, WriteStats};
use larder_registry::view::ProjectView;
use serde_json::{Map, Value as J};

use crate::error::{Error, Result};
use crate::materialize::key_layout;
use crate::store::FeatureStore;

/// Where pushed rows go (Feast's `PushMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    /// The online store only (Feast's default).
    #[default]
    Online,
    /// The offline store only.
    Offline,
    /// Both stores.
    OnlineAndOffline,
}

impl PushMode {
    /// Whether rows go to the online store.
    pub fn online(self) -> bool {
        matches!(self, PushMode::Online | PushMode::OnlineAndOffline)
    }

    /// Whether rows go to the offline store.
    pub fn offline(self) -> bool {
        matches!(self, PushMode::Offline | PushMode::OnlineAndOffline)
    }

    /// `online`, `offline` or `online_and_offline`, as in Feast's HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            PushMode::Online => "online",
            PushMode::Offline => "offline",
            PushMode::OnlineAndOffline => "online_and_offline",
        }
    }
}

impl FromStr for PushMode {
    type Err = Error;

    /// Parses `online`, `offline` or `online_and_offline` (any case, as Feast's `PushMode[...]`).
    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "online" => Ok(PushMode::Online),
            "offline" => Ok(PushMode::Offline),
            "online_and_offline" => Ok(PushMode::OnlineAndOffline),
            _ => Err(Error::InvalidRequest(format!(
                "`{text}` is not a push mode: use online, offline or online_and_offline"
            ))),
        }
    }
}

/// What one push (or write-to-online-store) wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushReport {
    /// The rows in the request.
    pub rows: usize,
    /// One entry per view the rows were for.
    pub views: Vec<PushedView>,
    /// The batch sources rows were appended to (offline pushes).
    pub offline_sources: Vec<String>,
}

/// What a push did for one view.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedView {
    /// The view.
    pub view: String,
    /// The online write, when rows went online (`None` for offline-only pushes and offline views).
    pub online: Option<WriteStats>,
    /// The newest event timestamp among the rows, if any.
    pub max_event_ts: Option<DateTime<Utc>>,
}

/// Rows ready to write: everything converted and validated, nothing written yet.
struct PreparedPush {
    rows: usize,
    online: Vec<(FeatureView, Option<WriteBatch>, Option<DateTime<Utc>>)>,
    offline: Vec<(DataSource, RecordBatch)>,
}

impl FeatureStore {
    /// Pushes `df` to every feature view whose stream source is the push source
    /// `push_source_name`, into the stores `to` names (Feast's `FeatureStore.push`).
    pub async fn push(
        &self,
        push_source_name: &str,
        df: &Map<String, J>,
        to: PushMode,
    ) -> Result<PushReport> {
        let snapshot = self.snapshot().await?;
        self.push_with_snapshot(&snapshot, push_source_name, df, to)
            .await
    }

    /// [`FeatureStore::push`] against a registry snapshot the caller already holds (a server's).
    pub async fn push_with_snapshot(
        &self,
        snapshot: &pc::Registry,
        push_source_name: &str,
        df: &Map<String, J>,
        to: PushMode,
    ) -> Result<PushReport> {
        let views = push_views(snapshot, self.project(), push_source_name)?;
        let mut prepared = prepare(
            &views,
            df,
            to,
            self.config().entity_key_serialization_version,
        )?;
        if to.offline() {
            prepared.offline = self.offline_batches(&views, df).await?;
        }
        self.write_prepared(prepared).await
    }

    /// Writes `df` to the online store for the feature view `feature_view_name`
    /// (Feast's `FeatureStore.write_to_online_store`).
    pub async fn write_to_online_store(
        &self,
        feature_view_name: &str,
        df: &Map<String, J>,
    ) -> Result<PushReport> {
        let snapshot = self.snapshot().await?;
        self.write_to_online_store_with_snapshot(&snapshot, feature_view_name, df)
            .await
    }

    /// [`FeatureStore::write_to_online_store`] against a registry snapshot the caller holds.
    pub async fn write_to_online_store_with_snapshot(
        &self,
        snapshot: &pc::Registry,
        feature_view_name: &str,
        df: &Map<String, J>,
    ) -> Result<PushReport> {
        let view = ProjectView::new(snapshot, self.project()).feature_view(feature_view_name)?;
        if !view.online {
            return Err(Error::InvalidRequest(format!(
                "feature view `{feature_view_name}` is not served online (online: false), so it has no \
                 online data to write to; set online: true and apply"
            )));
        }
        let prepared = prepare(
            &[view],
            df,
            PushMode::Online,
            self.config().entity_key_serialization_version,
        )?;
        self.write_prepared(prepared).await
    }

    /// The rows for each distinct batch source of `views`, shaped by the source's files when it
    /// has any (so every column they hold must be in `df`).
    async fn offline_batches(
        &self,
        views: &[FeatureView],
        df: &Map<String, J>,
    ) -> Result<Vec<(DataSource, RecordBatch)>> {
        let store = self.offline_store().await?;
        let pushed_at = Utc::now();
        let mut batches = Vec::new();
        for (source, group) in views_by_batch_source(views) {
            // A source without files yet has no schema to follow; the views' columns then make it.
            let schema = store.source_schema(source).await.ok();
            batches.push((
                source.clone(),
                offline_batch(source, &group, df, schema.as_deref(), pushed_at)?,
            ));
        }
        Ok(batches)
    }

    async fn write_prepared(&self, prepared: PreparedPush) -> Result<PushReport> {
        let mut report = PushReport {
            rows: prepared.rows,
            ..Default::default()
        };
        let needs_online = prepared.online.iter().any(|(_, batch, _)| batch.is_some());
        let online = if needs_online {
            Some(self.online_store().await?)
        } else {
            None
        };
        let offline = if prepared.offline.is_empty() {
            None
        } else {
            Some(self.offline_store().await?)
        };
        for (view, batch, max_event_ts) in &prepared.online {
            let stats = match (&online, batch) {
                (Some(store), Some(batch)) if !batch.is_empty() => {
                    Some(store.write_batch(self.project(), view, batch).await?)
                }
                (_, Some(_)) => Some(WriteStats::default()),
                _ => None,
            };
            report.views.push(PushedView {
                view: view.name.clone(),
                online: stats,
                max_event_ts: *max_event_ts,
            });
        }
        if let Some(store) = &offline {
            for (source, batch) in &prepared.offline {
                if batch.num_rows() > 0 {
                    store.write_rows(source, batch).await?;
                }
                report.offline_sources.push(source.name.clone());
            }
        }
        Ok(report)
    }
}

/// The feature views fed by the push source `name`; an error when no such push source exists.
fn push_views(snapshot: &pc::Registry, project: &str, name: &str) -> Result<Vec<FeatureView>> {
    let registry = ProjectView::new(snapshot, project);
    let is_push = |s: &DataSource| s.name == name && matches!(s.kind, SourceKind::Push { .. });
    let views: Vec<FeatureView> = registry
        .feature_views()
        .into_iter()
        .filter(|v| v.stream_source.as_ref().is_some_and(is_push))
        .collect();
    if views.is_empty() && !registry.data_sources().iter().any(is_push) {
        let available: Vec<String> = registry
            .data_sources()
            .into_iter()
            .filter(|s| matches!(s.kind, SourceKind::Push { .. }))
            .map(|s| s.name)
            .collect();
        return Err(Error::PushSourceNotFound(format!(
            "push source `{name}` does not exist in project `{project}`; available push sources: {}",
            if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            }
        )));
    }
    Ok(views)
}

/// Converts `df` for every view and builds the online write batches, so any error surfaces
/// before the first write.
fn prepare(
    views: &[FeatureView],
    df: &Map<String, J>,
    to: PushMode,
    key_version: u32,
) -> Result<PreparedPush> {
    let mut prepared = PreparedPush {
        rows: 0,
        online: Vec::new(),
        offline: Vec::new(),
    };
    for view in views {
        let batch = view_batch(view, df)?;
        prepared.rows = batch.num_rows();
        let max_event_ts = max_timestamp(&batch, EVENT_TS_COLUMN);
        let write = if to.online() && view.online {
            let layout = key_layout(view, key_version)?;
            Some(WriteBatch::from_record_batch(&batch, view, &layout)?)
        } else {
            None
        };
        prepared.online.push((view.clone(), write, max_event_ts));
    }
    Ok(prepared)
}

/// Views grouped by batch source name, in first-seen order.
fn views_by_batch_source(views: &[FeatureView]) -> Vec<(&DataSource, Vec<&FeatureView>)> {
    let mut groups: Vec<(&DataSource, Vec<&FeatureView>)> = Vec::new();
    for view in views {
        let source = view.batch_source.batch();
        match groups.iter_mut().find(|(s, _)| s.name == source.name) {
            Some((_, group)) => group.push(view),
            None => groups.push((source, vec![view])),
        }
    }
    groups
}

fn max_timestamp(batch: &RecordBatch, column: &str) -> Option<DateTime<Utc>> {
    let array = batch.column_by_name(column)?;
    let array = array.as_any().downcast_ref::<TimestampMicrosecondArray>()?;
    arrow::compute::max(array).map(from_micros)
}

/// One column of the output: its output name, the `df` column it is read from, and its type.
struct ColumnSpec<'a> {
    output: String,
    input: &'a str,
    values: &'a [J],
    dtype: ValueType,
}

/// The rows of `df` for `view`, named as online writes expect: the join keys, the features,
/// [`EVENT_TS_COLUMN`] and (when given) [`CREATED_TS_COLUMN`], each typed as declared.
///
/// Columns are found by their view name or by their source column name (`field_mapping`);
/// extra columns are ignored.
pub fn view_batch(view: &FeatureView, df: &Map<String, J>) -> Result<RecordBatch> {
    let source = view.batch_source.batch();
    let mut specs = Vec::new();
    for field in view.entity_columns.iter().chain(&view.features) {
        let (input, values) = require_column(df, source, &field.name, &view.name)?;
        specs.push(ColumnSpec {
            output: field.name.clone(),
            input,
            values,
            dtype: field.dtype,
        });
    }
    push_timestamp_specs(view, source, df, &mut specs, |kind| match kind {
        TimestampKind::Event => EVENT_TS_COLUMN.to_string(),
        TimestampKind::Created => CREATED_TS_COLUMN.to_string(),
    })?;
    build_batch(&specs, &view.name)
}

/// The rows of `df` for appending to `source` (the views' batch source), named by the source's
/// own columns: every join key and feature of `views` (first declaration wins), the timestamp
/// field and the created timestamp column (the push time `pushed_at` when `df` has none).
///
/// With the `schema` of the source's files, every other column they hold must be in `df` too
/// (typed by the file's type), so the appended rows match the files.
pub fn offline_batch(
    source: &DataSource,
    views: &[&FeatureView],
    df: &Map<String, J>,
    schema: Option<&Schema>,
    pushed_at: DateTime<Utc>,
) -> Result<RecordBatch> {
    let mut specs: Vec<ColumnSpec<'_>> = Vec::new();
    for view in views {
        for field in view.entity_columns.iter().chain(&view.features) {
            let output = source.source_column(&field.name).to_string();
            if specs.iter().any(|s| s.output == output) {
                continue;
            }
            let (input, values) = require_column(df, source, &field.name, &view.name)?;
            specs.push(ColumnSpec {
                output,
                input,
                values,
                dtype: field.dtype,
            });
        }
    }
    let names = views
        .iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let view = views
        .first()
        .ok_or_else(|| Error::InvalidRequest("no feature view to push to".into()))?;
    push_timestamp_specs(view, source, df, &mut specs, |kind| match kind {
        TimestampKind::Event => source.timestamp_field.clone(),
        TimestampKind::Created => source.created_timestamp_column.clone(),
    })?;
    if let Some(schema) = schema {
        push_other_source_columns(source, schema, df, &mut specs)?;
    }
    with_created_column(source, build_batch(&specs, &names)?, pushed_at)
}

/// Adds the columns of the source's files that are neither join keys, features nor timestamps.
fn push_other_source_columns<'a>(
    source: &DataSource,
    schema: &Schema,
    df: &'a Map<String, J>,
    specs: &mut Vec<ColumnSpec<'a>>,
) -> Result<()> {
    for field in schema.fields() {
        let name = field.name().as_str();
        if name == source.created_timestamp_column || specs.iter().any(|s| s.output == name) {
            continue;
        }
        let (input, values) = df.get_key_value(name).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "column `{name}` of source `{}` is missing from df: rows pushed to the offline store \
                 must carry every column of the source's files",
                source.name
            ))
        })?;
        let values = values.as_array().ok_or_else(|| {
            Error::InvalidRequest(format!(
                "df column `{name}` must be a list of values, not {values}"
            ))
        })?;
        let dtype = ValueType::from_arrow(field.data_type()).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "column `{name}` of source `{}` has type {}, which pushes cannot write",
                source.name,
                field.data_type()
            ))
        })?;
        specs.push(ColumnSpec {
            output: name.to_string(),
            input,
            values,
            dtype,
        });
    }
    Ok(())
}

/// Adds the source's created timestamp column, set to `pushed_at`, when `batch` lacks it.
fn with_created_column(
    source: &DataSource,
    batch: RecordBatch,
    pushed_at: DateTime<Utc>,
) -> Result<RecordBatch> {
    let created = source.created_timestamp_column.as_str();
    if created.is_empty() || batch.column_by_name(created).is_some() {
        return Ok(batch);
    }
    let values = vec![pushed_at.timestamp_micros(); batch.num_rows()];
    let array: ArrayRef = Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"));
    let mut fields: Vec<ArrowField> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(ArrowField::new(created, array.data_type().clone(), true));
    let mut columns = batch.columns().to_vec();
    columns.push(array);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::InvalidRequest(format!("rows for source `{}`: {e}", source.name)))
}

#[derive(Clone, Copy)]
enum TimestampKind {
    Event,
    Created,
}

/// Adds the event timestamp column (required) and the created timestamp column (when the source
/// has one and `df` holds it), with output names from `name`.
fn push_timestamp_specs<'a>(
    view: &FeatureView,
    source: &DataSource,
    df: &'a Map<String, J>,
    specs: &mut Vec<ColumnSpec<'a>>,
    name: impl Fn(TimestampKind) -> String,
) -> Result<()> {
    let event = event_timestamp_field(view, source)?;
    let (input, values) = require_column(df, source, event, &view.name)?;
    specs.push(ColumnSpec {
        output: name(TimestampKind::Event),
        input,
        values,
        dtype: ValueType::UnixTimestamp,
    });
    let created = source.created_timestamp_column.as_str();
    if !created.is_empty()
        && let Some((input, values)) = find_column(df, source, created)?
    {
        let output = name(TimestampKind::Created);
        specs.push(ColumnSpec {
            output,
            input,
            values,
            dtype: ValueType::UnixTimestamp,
        });
    }
    Ok(())
}

/// The event timestamp column of pushed rows: the batch source's `timestamp_field`, else the
/// stream (push) source's.
fn event_timestamp_field<'a>(view: &'a FeatureView, source: &'a DataSource) -> Result<&'a str> {
    let stream = view
        .stream_source
        .as_ref()
        .map(|s| s.timestamp_field.as_str())
        .unwrap_or_default();
    match (source.timestamp_field.as_str(), stream) {
        ("", "") => Err(Error::InvalidRequest(format!(
            "feature view `{}`: its source `{}` has no timestamp_field, so pushed rows cannot be timed; \
             set timestamp_field on the source",
            view.name, source.name
        ))),
        ("", s) => Ok(s),
        (t, _) => Ok(t),
    }
}

/// The `df` column holding `name` (the column `name`, else its source column per
/// `field_mapping`), `Ok(None)` when there is none, an error when it is not a list.
fn find_column<'a>(
    df: &'a Map<String, J>,
    source: &DataSource,
    name: &str,
) -> Result<Option<(&'a str, &'a [J])>> {
    let mapped = source.field_mapping.get(name).map(String::as_str);
    let Some((key, value)) = [name, source.source_column(name)]
        .into_iter()
        .chain(mapped)
        .find_map(|n| df.get_key_value(n))
    else {
        return Ok(None);
    };
    match value.as_array() {
        Some(values) => Ok(Some((key.as_str(), values.as_slice()))),
        None => Err(Error::InvalidRequest(format!(
            "df column `{key}` must be a list of values, not {value}"
        ))),
    }
}

/// The `df` column holding `name`, which `view` needs.
fn require_column<'a>(
    df: &'a Map<String, J>,
    source: &DataSource,
    name: &str,
    view: &str,
) -> Result<(&'a str, &'a [J])> {
    find_column(df, source, name)?.ok_or_else(|| missing_column(df, name, view))
}

fn missing_column(df: &Map<String, J>, column: &str, view: &str) -> Error {
    let given: Vec<&str> = df.keys().map(String::as_str).collect();
    Error::InvalidRequest(format!(
        "column `{column}` is missing from df: feature view `{view}` needs it (df has: {})",
        if given.is_empty() {
            "no columns".to_string()
        } else {
            given.join(", ")
        }
    ))
}

/// Checks the columns are lists of equal length, converts them and assembles the batch.
fn build_batch(specs: &[ColumnSpec<'_>], views: &str) -> Result<RecordBatch> {
    check_lengths(specs)?;
    let mut fields = Vec::with_capacity(specs.len());
    let mut arrays = Vec::with_capacity(specs.len());
    for spec in specs {
        let array = column_array(spec.values, spec.dtype, spec.input)?;
        fields.push(ArrowField::new(
            spec.output.clone(),
            array.data_type().clone(),
            true,
        ));
        arrays.push(array);
    }
    let rows = specs.first().map_or(0, |s| s.values.len());
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
        .map_err(|e| Error::InvalidRequest(format!("rows for {views}: {e}")))
}

fn check_lengths(specs: &[ColumnSpec<'_>]) -> Result<()> {
    let mut iter = specs.iter();
    let Some(first) = iter.next() else {
        return Ok(());
    };
    if let Some(other) = iter.find(|s| s.values.len() != first.values.len()) {
        return Err(Error::InvalidRequest(format!(
            "df columns must be lists of the same length: `{}` has {} values but `{}` has {}",
            first.input,
            first.values.len(),
            other.input,
            other.values.len()
        )));
    }
    Ok(())
}

/// Converts one JSON column (a list of values) to an Arrow array of `dtype`'s Arrow type.
pub fn column_array(values: &[J], dtype: ValueType, column: &str) -> Result<ArrayRef> {
    let cells: Vec<(usize, &J)> = values.iter().enumerate().collect();
    match dtype.element() {
        Some(element) => list_array(&cells, element, column),
        None => scalar_array(&cells, dtype, column),
    }
}

/// A scalar array from `(row, value)` cells; `row` is the `df` row, for messages.
fn scalar_array(cells: &[(usize, &J)], dtype: ValueType, column: &str) -> Result<ArrayRef> {
    Ok(match dtype {
        ValueType::Int32 => Arc::new(Int32Array::from(convert(
            cells,
            column,
            "a 32-bit integer",
            |v| integer(v).and_then(|n| i32::try_from(n).ok()),
        )?)),
        ValueType::Int64 | ValueType::Unknown => Arc::new(Int64Array::from(convert(
            cells,
            column,
            "an integer",
            integer,
        )?)),
        ValueType::Float => Arc::new(Float32Array::from(convert(
            cells,
            column,
            "a number",
            |v| float(v).map(|f| f as f32),
        )?)),
        ValueType::Double => Arc::new(Float64Array::from(convert(
            cells, column, "a number", float,
        )?)),
        ValueType::Bool => Arc::new(BooleanArray::from(convert(
            cells,
            column,
            "true or false",
            J::as_bool,
        )?)),
        ValueType::String => Arc::new(StringArray::from(convert(
            cells,
            column,
            "a string",
            J::as_str,
        )?)),
        ValueType::Bytes => Arc::new(BinaryArray::from_iter(convert(
            cells,
            column,
            "a string or a list of byte values (0-255)",
            bytes,
        )?)),
        ValueType::UnixTimestamp => Arc::new(
            TimestampMicrosecondArray::from(convert(
                cells,
                column,
                "an ISO 8601 timestamp or seconds since the epoch",
                timestamp_micros,
            )?)
            .with_timezone("UTC"),
        ),
        ValueType::Null => Arc::new(arrow::array::NullArray::new(cells.len())),
        other => {
            return Err(Error::InvalidRequest(format!(
                "column `{column}` has type {other}, which Larder cannot write yet"
            )));
        }
    })
}

/// A list array: each cell is a JSON array (or null) of `element` values.
fn list_array(cells: &[(usize, &J)], element: ValueType, column: &str) -> Result<ArrayRef> {
    let mut offsets: Vec<i32> = Vec::with_capacity(cells.len() + 1);
    offsets.push(0);
    let mut validity = Vec::with_capacity(cells.len());
    let mut flat: Vec<(usize, &J)> = Vec::new();
    for &(row, value) in cells {
        match value {
            J::Null => validity.push(false),
            J::Array(items) => {
                if items.iter().any(J::is_null) {
                    return Err(Error::InvalidRequest(format!(
                        "column `{column}` row {row}: a list holds a null, which Feast's list values \
                         cannot represent; drop or fill nulls inside lists"
                    )));
                }
                flat.extend(items.iter().map(|item| (row, item)));
                validity.push(true);
            }
            other => {
                return Err(bad_cell(
                    column,
                    row,
                    other,
                    &format!("a list of {element} values"),
                ));
            }
        }
        let end = i32::try_from(flat.len()).map_err(|_| {
            Error::InvalidRequest(format!("column `{column}`: too many list elements"))
        })?;
        offsets.push(end);
    }
    let values = scalar_array(&flat, element, column)?;
    let field = Arc::new(ArrowField::new_list_field(values.data_type().clone(), true));
    let list = ListArray::try_new(
        field,
        OffsetBuffer::new(offsets.into()),
        values,
        Some(NullBuffer::from(validity)),
    )
    .map_err(|e| Error::InvalidRequest(format!("column `{column}`: {e}")))?;
    Ok(Arc::new(list))
}

/// Converts every cell with `parse`; `null` is a null, anything `parse` rejects is an error
/// naming the column, the row and what was expected.
fn convert<'a, T>(
    cells: &[(usize, &'a J)],
    column: &str,
    want: &str,
    parse: impl Fn(&'a J) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    cells
        .iter()
        .map(|&(row, v)| match v {
            J::Null => Ok(None),
            v => parse(v)
                .map(Some)
                .ok_or_else(|| bad_cell(column, row, v, want)),
        })
        .collect()
}

fn bad_cell(column: &str, row: usize, value: &J, want: &str) -> Error {
    let mut shown = value.to_string();
    if shown.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    Error::InvalidRequest(format!(
        "column `{column}` row {row}: {shown} is not {want}"
    ))
}

fn integer(v: &J) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

fn float(v: &J) -> Option<f64> {
    match v {
        J::Number(n) => n.as_f64(),
        J::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn bytes(v: &J) -> Option<Vec<u8>> {
    match v {
        J::String(s) => Some(s.as_bytes().to_vec()),
        J::Array(items) => items
            .iter()
            .map(|i| i.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => None,
    }
}

/// Seconds since the epoch beyond which a number is taken for a mistake (milliseconds or
/// nanoseconds sent as seconds): the year 5138.
const MAX_EPOCH_SECONDS: f64 = 1.0e11;

fn timestamp_micros(v: &J) -> Option<i64> {
    match v {
        J::String(s) => parse_timestamp(s).ok().map(|t| t.timestamp_micros()),
        J::Number(n) => {
            if let Some(secs) = n.as_i64() {
                return (secs.unsigned_abs() as f64 <= MAX_EPOCH_SECONDS).then(|| secs * 1_000_000);
            }
            let secs = n.as_f64()?;
            (secs.is_finite() && secs.abs() <= MAX_EPOCH_SECONDS)
                .then(|| (secs * 1e6).round() as i64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arrow::array::AsArray;
    use arrow::datatypes::{Float32Type, Int64Type, TimestampMicrosecondType};
    use larder_core::model::{Field, FileFormat, Tags};
    use serde_json::json;

    use super::*;

    fn file_source(created: &str) -> DataSource {
        DataSource {
            name: "driver_stats".into(),
            kind: SourceKind::File {
                path: "data/driver_stats.parquet".into(),
                format: FileFormat::Parquet,
            },
            timestamp_field: "event_timestamp".into(),
            created_timestamp_column: created.into(),
            field_mapping: Tags::new(),
            date_partition_column: String::new(),
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
        }
    }

    fn push_view(features: Vec<Field>) -> FeatureView {
        let batch = file_source("created");
        let push = DataSource {
            name: "driver_push".into(),
            kind: SourceKind::Push {
                batch_source: Box::new(batch.clone()),
            },
            timestamp_field: String::new(),
            created_timestamp_column: String::new(),
            ..batch.clone()
        };
        FeatureView {
            name: "driver_stats_fresh".into(),
            entities: vec!["driver".into()],
            features,
            entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
            ttl: Duration::from_secs(86_400),
            batch_source: batch,
            stream_source: Some(push),
            online: true,
            offline: false,
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
            materialization_intervals: vec![],
        }
    }

    fn view() -> FeatureView {
        push_view(vec![
            Field::new("conv_rate", ValueType::Float),
            Field::new("trips", ValueType::Int64),
            Field::new("city", ValueType::String),
        ])
    }

    fn df(value: J) -> Map<String, J> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn converts_typed_columns_and_timestamps() {
        let df = df(json!({
            "driver_id": [1001, 1002],
            "conv_rate": [0.5, null],
            "trips": [3, 4.0],
            "city": ["Delhi", null],
            "event_timestamp": ["2026-11-24T12:00:00", 1795521600.5],
            "unused": ["ignored", "too"],
        }));
        let batch = view_batch(&view(), &df).unwrap();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["driver_id", "conv_rate", "trips", "city", EVENT_TS_COLUMN]
        );
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(
            batch.column(0).as_primitive::<Int64Type>().values(),
            &[1001, 1002]
        );
        let conv = batch.column(1).as_primitive::<Float32Type>();
        assert_eq!(conv.value(0), 0.5);
        assert!(conv.is_null(1));
        assert_eq!(
            batch.column(2).as_primitive::<Int64Type>().values(),
            &[3, 4]
        );
        assert!(batch.column(3).as_string::<i32>().is_null(1));
        let ts = batch.column(4).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_795_521_600_000_000);
        assert_eq!(ts.value(1), 1_795_521_600_500_000);
        assert_eq!(
            batch.schema().field(4).data_type(),
            &ValueType::UnixTimestamp.to_arrow().unwrap()
        );
        assert_eq!(
            max_timestamp(&batch, EVENT_TS_COLUMN)
                .unwrap()
                .timestamp_micros(),
            1_795_521_600_500_000
        );
    }

    #[test]
    fn created_column_is_optional_and_zones_are_honoured() {
        let mut d = df(json!({
            "driver_id": [1], "conv_rate": [1], "trips": [1], "city": ["x"],
            "event_timestamp": ["2026-11-24T14:00:00+02:00"],
        }));
        let batch = view_batch(&view(), &d).unwrap();
        assert!(batch.column_by_name(CREATED_TS_COLUMN).is_none());
        let ts = batch
            .column_by_name(EVENT_TS_COLUMN)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_795_521_600_000_000);
        d.insert("created".into(), json!(["2026-11-24 12:00:01"]));
        let batch = view_batch(&view(), &d).unwrap();
        let created = batch
            .column_by_name(CREATED_TS_COLUMN)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        assert_eq!(created.value(0), 1_795_521_601_000_000);
    }

    #[test]
    fn missing_feature_column_names_column_and_view() {
        let d =
            df(json!({"driver_id": [1], "conv_rate": [1.0], "event_timestamp": ["2026-11-24"]}));
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert!(
            err.contains("`trips`") && err.contains("`driver_stats_fresh`"),
            "{err}"
        );
        let d = df(json!({"driver_id": [1], "conv_rate": [1.0], "trips": [1], "city": ["a"]}));
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert!(err.contains("`event_timestamp`"), "{err}");
    }

    #[test]
    fn wrong_types_name_column_and_row() {
        let d = df(json!({
            "driver_id": [1, 2, 3], "conv_rate": [1.0, 2.0, "fast"], "trips": [1, 2, 3],
            "city": ["a", "b", "c"], "event_timestamp": ["2026-11-24", "2026-11-24", "2026-11-24"],
        }));
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert_eq!(err, "column `conv_rate` row 2: \"fast\" is not a number");
        let d = df(json!({
            "driver_id": [1], "conv_rate": [1.0], "trips": [1.5], "city": ["a"], "event_timestamp": ["2026-11-24"],
        }));
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert!(
            err.contains("`trips` row 0") && err.contains("integer"),
            "{err}"
        );
        let d = df(json!({
            "driver_id": [1], "conv_rate": [1.0], "trips": [1], "city": [7], "event_timestamp": ["yesterday"],
        }));
        assert!(
            view_batch(&view(), &d)
                .unwrap_err()
                .to_string()
                .contains("`city` row 0")
        );
    }

    #[test]
    fn rejects_bad_timestamps_and_unequal_lengths() {
        let base = json!({"driver_id": [1], "conv_rate": [1.0], "trips": [1], "city": ["a"]});
        let mut d = df(base.clone());
        d.insert("event_timestamp".into(), json!([1795521600000_i64]));
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert!(
            err.contains("`event_timestamp` row 0") && err.contains("seconds since the epoch"),
            "{err}"
        );
        d.insert(
            "event_timestamp".into(),
            json!(["2026-11-24", "2026-11-25"]),
        );
        let err = view_batch(&view(), &d).unwrap_err().to_string();
        assert!(err.contains("same length"), "{err}");
    }

    #[test]
    fn lists_bytes_and_bools() {
        let v = push_view(vec![
            Field::new("scores", ValueType::DoubleList),
            Field::new("tags", ValueType::StringList),
            Field::new("blob", ValueType::Bytes),
            Field::new("active", ValueType::Bool),
        ]);
        let d = df(json!({
            "driver_id": [1, 2], "scores": [[1.5, "NaN"], null], "tags": [[], ["a", "b"]],
            "blob": ["hi", [0, 255]], "active": [true, null], "event_timestamp": [0, 1],
        }));
        let batch = view_batch(&v, &d).unwrap();
        let scores = batch.column_by_name("scores").unwrap().as_list::<i32>();
        assert_eq!(scores.value_length(0), 2);
        assert!(scores.is_null(1));
        assert_eq!(
            batch.schema().field_with_name("tags").unwrap().data_type(),
            &ValueType::StringList.to_arrow().unwrap()
        );
        let blob = batch.column_by_name("blob").unwrap().as_binary::<i32>();
        assert_eq!(blob.value(0), b"hi");
        assert_eq!(blob.value(1), &[0, 255]);
        let d = df(json!({
            "driver_id": [1], "scores": [[1.0, null]], "tags": [[]], "blob": ["x"], "active": [true],
            "event_timestamp": [0],
        }));
        let err = view_batch(&v, &d).unwrap_err().to_string();
        assert!(
            err.contains("`scores` row 0") && err.contains("null"),
            "{err}"
        );
    }

    #[test]
    fn source_column_names_and_offline_batches() {
        let mut v = view();
        v.batch_source
            .field_mapping
            .insert("trip_count".into(), "trips".into());
        let d = df(json!({
            "driver_id": [1], "conv_rate": [0.25], "trip_count": [9], "city": ["a"],
            "event_timestamp": ["2026-11-24"], "created": ["2026-11-24"],
        }));
        let online = view_batch(&v, &d).unwrap();
        assert_eq!(
            online
                .column_by_name("trips")
                .unwrap()
                .as_primitive::<Int64Type>()
                .value(0),
            9
        );
        let offline = offline_batch(&v.batch_source, &[&v], &d, None, Utc::now()).unwrap();
        let schema = offline.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "driver_id",
                "conv_rate",
                "trip_count",
                "city",
                "event_timestamp",
                "created"
            ]
        );
    }

    #[test]
    fn offline_batches_merge_views_of_one_source() {
        let a = view();
        let mut b = push_view(vec![
            Field::new("rating", ValueType::Double),
            Field::new("city", ValueType::String),
        ]);
        b.name = "other".into();
        let d = df(json!({
            "driver_id": [1], "conv_rate": [0.25], "trips": [9], "city": ["a"], "rating": [4.5],
            "event_timestamp": ["2026-11-24"],
        }));
        let views = [a, b];
        let groups = views_by_batch_source(&views);
        assert_eq!(groups.len(), 1);
        let pushed_at = DateTime::from_timestamp(1_795_521_600, 0).unwrap();
        let batch = offline_batch(groups[0].0, &groups[0].1, &d, None, pushed_at).unwrap();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "driver_id",
                "conv_rate",
                "trips",
                "city",
                "rating",
                "event_timestamp",
                "created"
            ]
        );
        let created = batch
            .column_by_name("created")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        assert_eq!(
            created.value(0),
            1_795_521_600_000_000,
            "the push time fills a missing created column"
        );
    }

    #[test]
    fn offline_batches_follow_the_source_files() {
        let v = view();
        let schema = Schema::new(vec![
            ArrowField::new("driver_id", arrow::datatypes::DataType::Int64, true),
            ArrowField::new("notes", arrow::datatypes::DataType::Utf8, true),
            ArrowField::new(
                "created",
                ValueType::UnixTimestamp.to_arrow().unwrap(),
                true,
            ),
        ]);
        let mut d = df(json!({
            "driver_id": [1], "conv_rate": [0.5], "trips": [2], "city": ["a"], "event_timestamp": ["2026-11-24"],
        }));
        let err = offline_batch(&v.batch_source, &[&v], &d, Some(&schema), Utc::now())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`notes`") && err.contains("`driver_stats`"),
            "{err}"
        );
        d.insert("notes".into(), json!(["hello"]));
        let batch = offline_batch(&v.batch_source, &[&v], &d, Some(&schema), Utc::now()).unwrap();
        assert_eq!(
            batch
                .column_by_name("notes")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "hello"
        );
        assert!(batch.column_by_name("created").is_some());
    }

    #[test]
    fn push_modes_parse_like_feast() {
        assert_eq!(
            "online_and_offline".parse::<PushMode>().unwrap(),
            PushMode::OnlineAndOffline
        );
        assert_eq!("OFFLINE".parse::<PushMode>().unwrap(), PushMode::Offline);
        assert!(
            "both"
                .parse::<PushMode>()
                .unwrap_err()
                .to_string()
                .contains("online_and_offline")
        );
        assert!(PushMode::OnlineAndOffline.online() && PushMode::OnlineAndOffline.offline());
        assert!(!PushMode::Offline.online());
    }
}
