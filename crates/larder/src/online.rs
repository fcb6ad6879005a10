//! Online retrieval: resolve feature references into a read plan, then read the online store and
//! shape the answer exactly like Feast's `POST /get-online-features` response.

use std::sync::Arc;

use chrono::Utc;
use futures::future::try_join_all;
use larder_core::entity_key::{EntityKeyLayout, KeyValue};
use larder_core::model::{DUMMY_ENTITY_ID, DUMMY_ENTITY_VALUE, FeatureView};
use larder_core::proto::core as pc;
use larder_core::time::{format_rfc3339, from_micros, parse_timestamp};
use larder_core::types::ValueType;
use larder_core::value;
use larder_online::{OnlineRows, OnlineStoreRef};
use larder_registry::view::ProjectView;
use serde::Serialize;
use serde_json::{Map, Value as J};

use crate::error::{Error, Result};
use crate::materialize::key_layout;
use crate::store::FeatureStore;

/// Which features to read: explicit `view:feature` references, or a feature service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeatureSelection {
    /// `["driver_hourly_stats:conv_rate", ...]`.
    Refs(Vec<String>),
    /// A feature service's name.
    Service(String),
}

/// Feast's field statuses (`ServingService.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldStatus {
    /// The value is present and fresh.
    Present,
    /// The stored value is null.
    NullValue,
    /// No value is stored for this entity.
    NotFound,
    /// The value is older than the view's ttl (it is still returned).
    OutsideMaxAge,
}

impl FieldStatus {
    /// Every status, in declaration order: the order of [`StatusCounts`].
    pub const ALL: [FieldStatus; 4] = [
        FieldStatus::Present,
        FieldStatus::NullValue,
        FieldStatus::NotFound,
        FieldStatus::OutsideMaxAge,
    ];

    /// Feast's name of the status, as it appears in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Present => "PRESENT",
            FieldStatus::NullValue => "NULL_VALUE",
            FieldStatus::NotFound => "NOT_FOUND",
            FieldStatus::OutsideMaxAge => "OUTSIDE_MAX_AGE",
        }
    }
}

/// One column of an online response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureVector {
    /// One value per entity row.
    pub values: Vec<J>,
    /// One status per entity row.
    pub statuses: Vec<FieldStatus>,
    /// One RFC 3339 event timestamp per entity row (the epoch when not found).
    pub event_timestamps: Vec<String>,
}

/// Response metadata: the column names, in `results` order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseMetadata {
    /// Join-key columns first, then features.
    pub feature_names: Vec<String>,
}

/// The answer of an online read, serialized as Feast's HTTP server does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineResponse {
    /// Column names.
    pub metadata: ResponseMetadata,
    /// Columns, one per name.
    pub results: Vec<FeatureVector>,
}

/// One view's part of a read plan.
#[derive(Debug, Clone)]
struct ViewRead {
    view: FeatureView,
    name_to_use: String,
    features: Vec<String>,
    /// Per join key (layout order): its type and the request column that holds it.
    keys: Vec<(ValueType, String)>,
    layout: EntityKeyLayout,
    /// The response column names of `features`, in order (shared by every answer).
    output_names: Arc<[String]>,
}

/// A resolved feature selection: which views, features, key columns and output names.
/// Resolving once and reusing the plan keeps registry work off the request path.
#[derive(Debug, Clone)]
pub struct OnlineReadPlan {
    reads: Vec<ViewRead>,
    /// The request columns the plan needs (see [`OnlineReadPlan::required_entity_columns`]).
    required_columns: Vec<String>,
    /// The registry version this plan was resolved against.
    pub registry_version: String,
}

impl OnlineReadPlan {
    /// Resolves `selection` against a registry snapshot.
    pub fn resolve(
        snapshot: &pc::Registry,
        project: &str,
        selection: &FeatureSelection,
        full_feature_names: bool,
        key_version: u32,
    ) -> Result<Self> {
        let registry = ProjectView::new(snapshot, project);
        let groups = match selection {
            FeatureSelection::Refs(refs) => group_refs(refs)?
                .into_iter()
                .map(|(view, features)| {
                    Ok((
                        registry.feature_view(&view)?,
                        None,
                        features,
                        Default::default(),
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
            FeatureSelection::Service(name) => {
                let service = registry.feature_service(name)?;
                service
                    .projections
                    .into_iter()
                    .map(|p| {
                        let features = p.features.iter().map(|f| f.name.clone()).collect();
                        Ok((
                            registry.feature_view(&p.view)?,
                            p.alias.clone(),
                            features,
                            p.join_key_map,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
        };
        let reads = groups
            .into_iter()
            .map(|(view, alias, features, join_key_map)| {
                view_read(
                    view,
                    alias,
                    features,
                    &join_key_map,
                    key_version,
                    full_feature_names,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut plan = OnlineReadPlan {
            reads,
            required_columns: Vec::new(),
            registry_version: snapshot.version_id.clone(),
        };
        // Worked out once here, not on every request.
        plan.required_columns = plan
            .entity_column_types()
            .into_iter()
            .map(|(column, _)| column)
            .collect();
        plan.check_collisions()?;
        Ok(plan)
    }

    /// The output names of the features (without the join-key columns).
    pub fn feature_names(&self) -> Vec<String> {
        self.reads
            .iter()
            .flat_map(|r| r.output_names.iter().cloned())
            .collect()
    }

    fn check_collisions(&self) -> Result<()> {
        let mut seen = std::collections::HashMap::new();
        for read in &self.reads {
            for (f, name) in read.features.iter().zip(read.output_names.iter()) {
                if let Some(prev) = seen.insert(name, format!("{}:{f}", read.name_to_use)) {
                    return Err(Error::InvalidRequest(format!(
                        "feature name `{name}` is requested twice ({prev} and {}:{f}): \
                         set full_feature_names to name columns <view>__<feature>",
                        read.name_to_use
                    )));
                }
            }
        }
        Ok(())
    }

    /// The request columns this plan needs with their join keys' types.
    pub fn entity_column_types(&self) -> Vec<(String, ValueType)> {
        let mut cols: Vec<(String, ValueType)> = Vec::new();
        for (ty, col) in self.reads.iter().flat_map(|r| r.keys.iter()) {
            if col != DUMMY_ENTITY_ID && !cols.iter().any(|(c, _)| c == col) {
                cols.push((col.clone(), *ty));
            }
        }
        cols
    }

    /// The request columns this plan needs (join keys after `join_key_map`).
    pub fn required_entity_columns(&self) -> Vec<String> {
        self.required_columns.clone()
    }
}

fn view_read(
    view: FeatureView,
    alias: Option<String>,
    features: Vec<String>,
    join_key_map: &std::collections::BTreeMap<String, String>,
    key_version: u32,
    full_feature_names: bool,
) -> Result<ViewRead> {
    for f in &features {
        if view.feature(f).is_none() {
            return Err(Error::NotFound(format!(
                "feature `{f}` does not exist in feature view `{}`; its features are: {}",
                view.name,
                view.feature_names()
            )));
        }
    }
    let layout = key_layout(&view, key_version)?;
    let keys = if view.entity_columns.is_empty() {
        vec![(ValueType::String, DUMMY_ENTITY_ID.to_string())]
    } else {
        view.entity_columns
            .iter()
            .map(|c| {
                (
                    c.dtype,
                    join_key_map
                        .get(&c.name)
                        .cloned()
                        .unwrap_or_else(|| c.name.clone()),
                )
            })
            .collect()
    };
    let name_to_use = alias.unwrap_or_else(|| view.name.clone());
    let output_names = features
        .iter()
        .map(|f| {
            if full_feature_names {
                format!("{name_to_use}__{f}")
            } else {
                f.clone()
            }
        })
        .collect();
    Ok(ViewRead {
        view,
        name_to_use,
        features,
        keys,
        layout,
        output_names,
    })
}

/// Groups `view:feature` references per view, in order of first reference.
fn group_refs(refs: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for r in refs {
        let (view, feature) = r
            .split_once(':')
            .filter(|(v, f)| !v.is_empty() && !f.is_empty())
            .ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "feature reference `{r}` must look like `view:feature`"
                ))
            })?;
        match groups.iter_mut().find(|(v, _)| v == view) {
            Some((_, fs)) if fs.iter().any(|f| f == feature) => {}
            Some((_, fs)) => fs.push(feature.to_string()),
            None => groups.push((view.to_string(), vec![feature.to_string()])),
        }
    }
    if groups.is_empty() {
        return Err(Error::InvalidRequest(
            "no features requested: pass at least one `view:feature`".into(),
        ));
    }
    Ok(groups)
}

impl FeatureStore {
    /// Resolves a feature selection against the current registry.
    pub async fn online_read_plan(
        &self,
        selection: &FeatureSelection,
        full_feature_names: bool,
    ) -> Result<OnlineReadPlan> {
        let snapshot = self.snapshot().await?;
        OnlineReadPlan::resolve(
            &snapshot,
            self.project(),
            selection,
            full_feature_names,
            self.config().entity_key_serialization_version,
        )
    }

    /// Reads the online features of `plan` for the entity rows in `entities`
    /// (column name → values, all the same length; JSON values typed by each join key's type).
    pub async fn read_online(
        &self,
        plan: &OnlineReadPlan,
        entities: &Map<String, J>,
    ) -> Result<OnlineResponse> {
        self.read_online_answer(plan, entities).await?.to_response()
    }

    /// Reads like [`FeatureStore::read_online`], keeping the stored rows for
    /// [`OnlineAnswer::write_json`] (servers write the response without building it).
    pub async fn read_online_answer(
        &self,
        plan: &OnlineReadPlan,
        entities: &Map<String, J>,
    ) -> Result<OnlineAnswer> {
        let store = self.online_store().await?;
        read_online_answer(&store, self.project(), plan, entities).await
    }

    /// Resolves `selection` and reads it: `get-online-features` in one call.
    pub async fn get_online_features(
        &self,
        selection: &FeatureSelection,
        entities: &Map<String, J>,
        full_feature_names: bool,
    ) -> Result<OnlineResponse> {
        let plan = self.online_read_plan(selection, full_feature_names).await?;
        self.read_online(&plan, entities).await
    }
}

/// Reads `plan` from `store` (exposed for servers that hold the store themselves).
pub async fn read_online_with(
    store: &OnlineStoreRef,
    project: &str,
    plan: &OnlineReadPlan,
    entities: &Map<String, J>,
) -> Result<OnlineResponse> {
    read_online_answer(store, project, plan, entities)
        .await?
        .to_response()
}

/// Reads `plan` from `store` and keeps what was stored, to be shaped by
/// [`OnlineAnswer::to_response`] or written by [`OnlineAnswer::write_json`].
pub async fn read_online_answer(
    store: &OnlineStoreRef,
    project: &str,
    plan: &OnlineReadPlan,
    entities: &Map<String, J>,
) -> Result<OnlineAnswer> {
    let rows = entity_row_count(plan, entities)?;
    let key_sets = plan
        .reads
        .iter()
        .map(|read| serialize_keys(read, entities, rows))
        .collect::<Result<Vec<_>>>()?;
    let reads = plan.reads.iter().zip(&key_sets).map(|(read, keys)| {
        let store = Arc::clone(store);
        async move { store.read(project, &read.view, &read.features, keys).await }
    });
    let answers = try_join_all(reads).await?;
    let keys = entities
        .iter()
        .filter(|(name, _)| plan.required_columns.contains(name))
        .map(|(name, values)| (name.clone(), values.as_array().cloned().unwrap_or_default()))
        .collect();
    let views = plan
        .reads
        .iter()
        .zip(answers)
        .map(|(read, rows)| ViewAnswer {
            names: Arc::clone(&read.output_names),
            ttl_micros: i64::try_from(read.view.ttl.as_micros()).unwrap_or(i64::MAX),
            rows,
        })
        .collect();
    Ok(OnlineAnswer {
        keys,
        views,
        rows,
        now_micros: Utc::now().timestamp_micros(),
    })
}

/// What an online read found, before it is shaped into Feast's response: the request's join-key
/// columns, and per view the stored rows in entity order.
#[derive(Debug, Clone)]
pub struct OnlineAnswer {
    /// Join-key columns echoed back, in request order: name and values.
    keys: Vec<(String, Vec<J>)>,
    views: Vec<ViewAnswer>,
    rows: usize,
    /// The time statuses are judged at (ttl), µs.
    now_micros: i64,
}

/// One view's part of an [`OnlineAnswer`].
#[derive(Debug, Clone)]
struct ViewAnswer {
    /// Output names of the view's requested features.
    names: Arc<[String]>,
    /// The view's ttl in µs (0: forever).
    ttl_micros: i64,
    /// Per entity row, what the store holds.
    rows: OnlineRows,
}

/// One cell of the response: a feature of one entity row.
enum Cell<'a> {
    /// Nothing stored: null, `NOT_FOUND`, the epoch.
    NotFound,
    /// A stored null: null, `NULL_VALUE`, the row's event time.
    Null,
    /// A stored value, `PRESENT` or `OUTSIDE_MAX_AGE`, and the row's event time.
    Value {
        value: CellValue<'a>,
        status: FieldStatus,
    },
}

/// A stored value: a scalar read in place from the stored bytes, or (lists, bytes) the decoded
/// `Value`.
enum CellValue<'a> {
    Scalar(value::Scalar<'a>),
    Decoded(larder_core::proto::types::Value),
}

impl CellValue<'_> {
    fn to_json(&self) -> J {
        match self {
            CellValue::Scalar(s) => value::to_json(&s.to_value()),
            CellValue::Decoded(v) => value::to_json(v),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            CellValue::Scalar(s) => s.write_json(out),
            CellValue::Decoded(v) => value::write_json(v, out),
        }
    }
}

impl Cell<'_> {
    fn status(&self) -> FieldStatus {
        match self {
            Cell::NotFound => FieldStatus::NotFound,
            Cell::Null => FieldStatus::NullValue,
            Cell::Value { status, .. } => *status,
        }
    }

    /// The stored value, `None` for a null cell.
    fn value(&self) -> Option<&CellValue<'_>> {
        match self {
            Cell::Value { value, .. } => Some(value),
            Cell::NotFound | Cell::Null => None,
        }
    }

    /// The cell's event time: its row's (`row`, the epoch when the row has none), or the epoch
    /// when nothing is stored.
    fn event_time<'t>(&self, row: Option<&'t str>, epoch: &'t str) -> &'t str {
        cell_event_time(self.status(), row, epoch)
    }
}

/// The event time of a cell with `status`: the epoch when nothing is stored, else its row's
/// (`row`, the epoch when the row has none).
fn cell_event_time<'t>(status: FieldStatus, row: Option<&'t str>, epoch: &'t str) -> &'t str {
    match status {
        FieldStatus::NotFound => epoch,
        FieldStatus::Present | FieldStatus::NullValue | FieldStatus::OutsideMaxAge => {
            row.unwrap_or(epoch)
        }
    }
}

/// Per [`FieldStatus`] (in declaration order: present, null value, not found, outside max age),
/// how many feature cells of a response had it.
pub type StatusCounts = [u64; 4];

impl ViewAnswer {
    /// Feature `i` of entity row `row`.
    fn cell(&self, row: usize, i: usize, now: i64) -> Result<Cell<'_>> {
        let Some(ts) = self.rows.event_ts(row) else {
            return Ok(Cell::NotFound);
        };
        Ok(match self.rows.value(row, i) {
            None => Cell::NotFound,
            Some([]) => Cell::Null,
            Some(bytes) => {
                let value = match value::scalar(bytes) {
                    Some(s) if s.is_null() => return Ok(Cell::Null),
                    Some(s) => CellValue::Scalar(s),
                    None => {
                        let decoded = value::decode(bytes)?;
                        if value::is_null(&decoded) {
                            return Ok(Cell::Null);
                        }
                        CellValue::Decoded(decoded)
                    }
                };
                let stale = self.ttl_micros > 0 && now - ts > self.ttl_micros;
                Cell::Value {
                    value,
                    status: if stale {
                        FieldStatus::OutsideMaxAge
                    } else {
                        FieldStatus::Present
                    },
                }
            }
        })
    }

    /// Each row's event time in RFC 3339, formatted once for all of the view's features.
    fn row_timestamps(&self) -> Vec<Option<String>> {
        (0..self.rows.len())
            .map(|row| {
                self.rows
                    .event_ts(row)
                    .map(|ts| format_rfc3339(from_micros(ts)))
            })
            .collect()
    }
}

impl OnlineAnswer {
    /// Column names: join keys first, then features.
    fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(name, _)| name.as_str()).chain(
            self.views
                .iter()
                .flat_map(|v| v.names.iter().map(String::as_str)),
        )
    }

    /// Feast's response as a value.
    pub fn to_response(&self) -> Result<OnlineResponse> {
        let mut results: Vec<FeatureVector> = self
            .keys
            .iter()
            .map(|(_, values)| FeatureVector {
                values: values.clone(),
                statuses: vec![FieldStatus::Present; self.rows],
                event_timestamps: vec![EPOCH.to_string(); self.rows],
            })
            .collect();
        for view in &self.views {
            let timestamps = view.row_timestamps();
            for i in 0..view.names.len() {
                let mut column = FeatureVector {
                    values: Vec::with_capacity(self.rows),
                    statuses: Vec::with_capacity(self.rows),
                    event_timestamps: Vec::with_capacity(self.rows),
                };
                for (row, ts) in timestamps.iter().enumerate() {
                    let cell = view.cell(row, i, self.now_micros)?;
                    column.statuses.push(cell.status());
                    column
                        .values
                        .push(cell.value().map_or(J::Null, CellValue::to_json));
                    let ts = cell.event_time(ts.as_deref(), EPOCH);
                    column.event_timestamps.push(ts.to_string());
                }
                results.push(column);
            }
        }
        Ok(OnlineResponse {
            metadata: ResponseMetadata {
                feature_names: self.feature_names().map(str::to_string).collect(),
            },
            results,
        })
    }

    /// Writes Feast's response JSON to `out`, byte for byte what `serde_json` writes of
    /// [`OnlineAnswer::to_response`], straight from the stored bytes; returns how many feature
    /// cells had each status.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<StatusCounts> {
        fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
            serde_json::to_writer(&mut *out, v).expect("JSON serializes into memory");
        }
        fn list<T>(
            out: &mut Vec<u8>,
            items: impl IntoIterator<Item = T>,
            mut each: impl FnMut(&mut Vec<u8>, T),
        ) {
            out.push(b'[');
            for (k, item) in items.into_iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                each(out, item);
            }
            out.push(b']');
        }
        fn status_json(out: &mut Vec<u8>, status: FieldStatus) {
            out.push(b'"');
            out.extend_from_slice(status.as_str().as_bytes());
            out.push(b'"');
        }
        let mut counts: StatusCounts = [0; 4];
        out.extend_from_slice(b"{\"metadata\":{\"feature_names\":");
        list(out, self.feature_names(), json);
        out.extend_from_slice(b"},\"results\":[");
        for (k, (_, values)) in self.keys.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"values\":");
            json(out, values);
            out.extend_from_slice(b",\"statuses\":");
            list(out, 0..self.rows, |out, _| {
                status_json(out, FieldStatus::Present)
            });
            out.extend_from_slice(b",\"event_timestamps\":");
            list(out, 0..self.rows, |out, _| {
                out.extend_from_slice(QUOTED_EPOCH.as_bytes())
            });
            out.push(b'}');
        }
        let mut first = self.keys.is_empty();
        // One column's statuses, reused by every column; a cell's event time follows from its
        // status (the epoch when nothing is stored, else its row's time).
        let mut statuses: Vec<FieldStatus> = Vec::with_capacity(self.rows);
        for view in &self.views {
            let timestamps = view.row_timestamps();
            for i in 0..view.names.len() {
                if !first {
                    out.push(b',');
                }
                first = false;
                statuses.clear();
                out.extend_from_slice(b"{\"values\":[");
                for row in 0..self.rows {
                    if row > 0 {
                        out.push(b',');
                    }
                    let cell = view.cell(row, i, self.now_micros)?;
                    let status = cell.status();
                    counts[status as usize] += 1;
                    statuses.push(status);
                    match cell.value() {
                        Some(value) => value.write_json(out),
                        None => out.extend_from_slice(b"null"),
                    }
                }
                out.extend_from_slice(b"],\"statuses\":");
                list(out, statuses.iter().copied(), status_json);
                out.extend_from_slice(b",\"event_timestamps\":");
                list(
                    out,
                    statuses.iter().zip(&timestamps),
                    |out, (status, ts)| {
                        out.push(b'"');
                        let time = cell_event_time(*status, ts.as_deref(), EPOCH);
                        out.extend_from_slice(time.as_bytes());
                        out.push(b'"');
                    },
                );
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"]}");
        Ok(counts)
    }
}

const EPOCH: &str = "1970-01-01T00:00:00Z";
/// [`EPOCH`] as a JSON string.
const QUOTED_EPOCH: &str = "\"1970-01-01T00:00:00Z\"";

fn entity_row_count(plan: &OnlineReadPlan, entities: &Map<String, J>) -> Result<usize> {
    let mut rows: Option<(usize, &str)> = None;
    for column in &plan.required_columns {
        let values = entities.get(column).ok_or_else(|| {
            let given: Vec<&str> = entities.keys().map(String::as_str).collect();
            Error::InvalidRequest(format!(
                "entity column `{column}` is missing from the request (it has: {}); the requested features need it",
                if given.is_empty() { "nothing".to_string() } else { given.join(", ") }
            ))
        })?;
        let n = values
            .as_array()
            .ok_or_else(|| {
                Error::InvalidRequest(format!("entity column `{column}` must be a list of values"))
            })?
            .len();
        match rows {
            Some((m, other)) if m != n => {
                return Err(Error::InvalidRequest(format!(
                    "entity columns have different lengths: `{other}` has {m} values, `{column}` has {n}"
                )));
            }
            _ => {
                rows = Some((
                    n,
                    entities
                        .get_key_value(column)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(""),
                ))
            }
        }
    }
    Ok(rows.map(|(n, _)| n).unwrap_or(1))
}

fn serialize_keys(read: &ViewRead, entities: &Map<String, J>, rows: usize) -> Result<Vec<Vec<u8>>> {
    let columns: Vec<Option<&Vec<J>>> = read
        .keys
        .iter()
        .map(|(_, col)| entities.get(col).and_then(J::as_array))
        .collect();
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut values = Vec::with_capacity(read.keys.len());
        for ((ty, col), column) in read.keys.iter().zip(&columns) {
            let v = match column {
                Some(c) => json_key(&c[row], *ty, col, row)?,
                None if col == DUMMY_ENTITY_ID => OwnedKey::Str(DUMMY_ENTITY_VALUE.to_string()),
                None => {
                    return Err(Error::InvalidRequest(format!(
                        "entity column `{col}` is missing"
                    )));
                }
            };
            values.push(v);
        }
        let borrowed: Vec<KeyValue<'_>> = values.iter().map(OwnedKey::borrow).collect();
        out.push(read.layout.serialize(&borrowed));
    }
    Ok(out)
}

enum OwnedKey {
    Str(String),
    Bytes(Vec<u8>),
    Int32(i32),
    Int64(i64),
    Ts(i64),
}

impl OwnedKey {
    fn borrow(&self) -> KeyValue<'_> {
        match self {
            OwnedKey::Str(s) => KeyValue::Str(s),
            OwnedKey::Bytes(b) => KeyValue::Bytes(b),
            OwnedKey::Int32(v) => KeyValue::Int32(*v),
            OwnedKey::Int64(v) => KeyValue::Int64(*v),
            OwnedKey::Ts(v) => KeyValue::UnixTimestamp(*v),
        }
    }
}

/// Converts a JSON entity value to the join key's declared type.
fn json_key(v: &J, ty: ValueType, column: &str, row: usize) -> Result<OwnedKey> {
    let bad = |want: &str| {
        Error::InvalidRequest(format!(
            "entity column `{column}` value #{row} is {v}, but the join key is {} ({want})",
            ty.proto_name()
        ))
    };
    Ok(match ty {
        ValueType::Int64 | ValueType::Unknown => OwnedKey::Int64(
            v.as_i64()
                .or_else(|| integral(v))
                .ok_or_else(|| bad("an integer"))?,
        ),
        ValueType::Int32 => {
            let n = v
                .as_i64()
                .or_else(|| integral(v))
                .ok_or_else(|| bad("an integer"))?;
            OwnedKey::Int32(i32::try_from(n).map_err(|_| bad("a 32-bit integer"))?)
        }
        ValueType::String => OwnedKey::Str(v.as_str().ok_or_else(|| bad("a string"))?.to_string()),
        ValueType::Bytes => OwnedKey::Bytes(
            v.as_str()
                .ok_or_else(|| bad("a string"))?
                .as_bytes()
                .to_vec(),
        ),
        ValueType::UnixTimestamp => OwnedKey::Ts(match v {
            J::String(s) => parse_timestamp(s)
                .map_err(|_| bad("a timestamp"))?
                .timestamp(),
            _ => v
                .as_i64()
                .ok_or_else(|| bad("seconds since the epoch or an ISO timestamp"))?,
        }),
        other => {
            return Err(Error::InvalidRequest(format!(
                "entity column `{column}` has type {other}, which cannot be an entity key"
            )));
        }
    })
}

fn integral(v: &J) -> Option<i64> {
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| f as i64)
}

#[cfg(test)]
mod tests {
    use larder_core::proto::types::{self as pt, value::Val};
    use larder_online::OnlineRow;

    use super::*;

    fn stored(v: Val) -> Option<Vec<u8>> {
        Some(value::encode(&pt::Value { val: Some(v) }))
    }

    /// Two views, every status, NaN, a string that needs escaping, a missing row and feature.
    fn answer() -> OnlineAnswer {
        const HOUR: i64 = 3_600_000_000;
        let now = 1_790_899_200_000_000;
        let fresh = OnlineRow {
            event_ts_micros: now - HOUR,
            values: vec![
                stored(Val::DoubleVal(0.25)),
                stored(Val::StringVal("say \"hi\"\n".into())),
                Some(Vec::new()),
            ],
        };
        let stale = OnlineRow {
            event_ts_micros: now - 3 * HOUR,
            values: vec![
                stored(Val::DoubleVal(f64::NAN)),
                None,
                stored(Val::FloatVal(0.1)),
            ],
        };
        OnlineAnswer {
            keys: vec![(
                "driver_id".into(),
                vec![J::from(1001), J::from(1002), J::from(7)],
            )],
            views: vec![
                ViewAnswer {
                    names: Arc::from(vec!["conv_rate".into(), "city".into(), "rating".into()]),
                    ttl_micros: 2 * HOUR,
                    rows: OnlineRows::from_rows(3, [Some(fresh), Some(stale), None]),
                },
                ViewAnswer {
                    names: Arc::from(vec!["trips".to_string()]),
                    ttl_micros: 0,
                    rows: OnlineRows::from_rows(
                        1,
                        [
                            None,
                            Some(OnlineRow {
                                event_ts_micros: 0,
                                values: vec![stored(Val::Int64Val(-3))],
                            }),
                            None,
                        ],
                    ),
                },
            ],
            rows: 3,
            now_micros: now,
        }
    }

    #[test]
    fn status_names_are_the_serialized_ones() {
        for (i, status) in FieldStatus::ALL.into_iter().enumerate() {
            assert_eq!(status as usize, i, "ALL is in declaration order");
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                J::from(status.as_str())
            );
        }
    }

    #[test]
    fn written_json_is_the_serialized_response() {
        let answer = answer();
        let mut written = Vec::new();
        let counts = answer.write_json(&mut written).unwrap();
        let response = answer.to_response().unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
        // present: 0.25, the string, -3; null: rating of 1001; not found: city of 1002, the
        // rows of 1007 and trips of 1001 and 7; outside max age: NaN and 0.1 of 1002.
        assert_eq!(counts, [3, 1, 6, 2]);
        let statuses: Vec<FieldStatus> = response.results[1..]
            .iter()
            .flat_map(|c| c.statuses.iter().copied())
            .collect();
        for (i, status) in [
            FieldStatus::Present,
            FieldStatus::NullValue,
            FieldStatus::NotFound,
            FieldStatus::OutsideMaxAge,
        ]
        .into_iter()
        .enumerate()
        {
            let n = statuses.iter().filter(|s| **s == status).count() as u64;
            assert_eq!(counts[i], n, "{status:?}");
        }
    }
}
