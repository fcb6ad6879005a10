//! [`SqliteOnlineStore`]: Feast's SQLite online store layout, one table `"<project>_<view>"` per view
//! with one row per (entity key, feature).
//!
//! Timestamps are stored as integer Unix seconds (what Feast 0.67 writes when it runs in UTC); legacy
//! ISO text timestamps are read too. Writes are newer-wins: a row never replaces a stored row with a
//! later event time (an equal one is replaced, so reruns are idempotent). rusqlite is blocking, so
//! every call runs on tokio's blocking pool with a pooled connection.

mod journal;
mod pool;
mod rows;
mod sql;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use larder_core::model::FeatureView;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior, params_from_iter};

use self::pool::{Pool, Use};
use self::rows::EncodedRows;
use self::sql::table_name;
use crate::error::{Error, Result};
use crate::{OnlineRows, OnlineStore, WriteBatch, WriteStats};

/// The store name in errors.
const STORE: &str = "sqlite";
/// Reads of at most this many keys run on the calling task instead of the blocking pool.
const INLINE_READ_KEYS: usize = 32;
/// On a single-threaded runtime (a server thread), reads of at most this many keys run on the
/// calling task. That thread has no other worker to keep its other tasks going meanwhile, but
/// a hop to the blocking pool wakes a second thread and back for every read, and on a machine
/// whose cores are all busy that cost more than the read: 100-key reads served 45 % more
/// requests/s inline, at half the p99.
const INLINE_READ_KEYS_SINGLE_THREADED: usize = 1024;
/// Entity keys per `IN (...)` list of a read.
const MAX_PARAMS: usize = 500;
/// Bound parameters per upsert statement (three per entity and two per feature row). Each
/// statement's first write to a page copies it to SQLite's statement journal, so several entities
/// share one statement: in key order they share pages, and the copying is paid once for all of them.
const MAX_WRITE_PARAMS: usize = 2_000;

/// An online store in one SQLite file, in Feast's layout.
#[derive(Debug, Clone)]
pub struct SqliteOnlineStore {
    pool: Arc<Pool>,
    /// Held by a write from its first statement to its commit, so that concurrent writes (the
    /// slices a materialization has in flight, pushes) encode their rows at once but take
    /// SQLite's single write lock one after another, in the order they asked, instead of retrying
    /// against each other's lock.
    write_turn: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteOnlineStore {
    /// Opens (creating it and its parent directories when missing) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::backend(
                    STORE,
                    format!("creating the directory {}", dir.display()),
                    e,
                )
            })?;
        }
        let pool = Pool::open(path)
            .map_err(|e| Error::backend(STORE, format!("opening {}", path.display()), e))?;
        Ok(SqliteOnlineStore {
            pool: Arc::new(pool),
            write_turn: Arc::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool; `doing` and `table` describe the
    /// call in errors.
    async fn blocking<T, F>(
        &self,
        use_: Use,
        doing: String,
        table: Option<String>,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let task = tokio::task::spawn_blocking(move || {
            pool.with(use_, f)
                .map_err(|e| sqlite_error(e, &doing, table.as_deref(), pool.path()))
        });
        task.await
            .map_err(|e| Error::backend(STORE, "a blocking SQLite task did not finish", e))?
    }

    /// Deletes the database file (and its WAL files) after closing the pooled connections.
    fn delete_file(&self) -> Result<()> {
        self.pool.reset();
        let path = self.pool.path();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::backend(
                        STORE,
                        format!("deleting {}", Path::new(&file).display()),
                        e,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl SqliteOnlineStore {
    /// The error of a failed read of `keys` keys of `project`'s `view`.
    fn read_error(
        &self,
        e: rusqlite::Error,
        project: &str,
        view: &FeatureView,
        keys: usize,
    ) -> Error {
        let table = table_name(project, &view.name);
        sqlite_error(e, &reading(keys, view), Some(&table), self.pool.path())
    }
}

/// What a read of `keys` keys of `view` is doing, for its errors.
fn reading(keys: usize, view: &FeatureView) -> String {
    let noun = if keys == 1 { "key" } else { "keys" };
    format!("reading {keys} {noun} of view {}", view.name)
}

/// Wraps a rusqlite error with what was being done; a missing table says to run `apply`.
fn sqlite_error(e: rusqlite::Error, doing: &str, table: Option<&str>, path: &Path) -> Error {
    let missing =
        matches!(&e, rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("no such table"));
    let context = match table {
        Some(t) if missing => format!(
            "{doing}: table \"{t}\" does not exist in {}: run `larder apply` to create it",
            path.display()
        ),
        _ => format!("{doing} ({})", path.display()),
    };
    Error::backend(STORE, context, e)
}

fn view_tables(project: &str, views: &[FeatureView]) -> Vec<String> {
    views.iter().map(|v| table_name(project, &v.name)).collect()
}

#[async_trait]
impl OnlineStore for SqliteOnlineStore {
    fn type_name(&self) -> &'static str {
        STORE
    }

    fn infra_name(&self, project: &str, view: &str) -> Option<String> {
        Some(table_name(project, view))
    }

    fn prefers_key_order(&self) -> bool {
        true
    }

    async fn update(
        &self,
        project: &str,
        keep: &[FeatureView],
        delete: &[FeatureView],
    ) -> Result<()> {
        let (keep, delete) = (view_tables(project, keep), view_tables(project, delete));
        let doing = format!("updating the tables of project {project}");
        self.blocking(Use::Write, doing, None, move |conn| {
            update_tables(conn, &keep, &delete)
        })
        .await
    }

    async fn teardown(&self, project: &str, views: &[FeatureView]) -> Result<()> {
        let tables = view_tables(project, views);
        let doing = format!("dropping the tables of project {project}");
        let remaining = self
            .blocking(Use::Write, doing, None, move |conn| {
                drop_tables(conn, &tables)
            })
            .await?;
        if remaining == 0 {
            self.delete_file()?;
        }
        Ok(())
    }

    async fn write_batch(
        &self,
        project: &str,
        view: &FeatureView,
        batch: &WriteBatch,
    ) -> Result<WriteStats> {
        if batch.is_empty() {
            return Ok(WriteStats::default());
        }
        let rows = EncodedRows::new(batch)?;
        let table = table_name(project, &view.name);
        let doing = format!("writing {} rows of view {}", rows.len(), view.name);
        let bulk = rows.len() * rows.features().len() >= journal::BULK_MIN_ROWS;
        let _turn = self.write_turn.lock().await;
        self.blocking(Use::Write, doing, Some(table.clone()), move |conn| {
            let rollback = bulk && journal::try_rollback_journal(conn)?;
            let written = write_rows(conn, &table, &rows);
            if rollback {
                journal::back_to_wal(conn);
            }
            written
        })
        .await
    }

    async fn read(
        &self,
        project: &str,
        view: &FeatureView,
        features: &[String],
        entity_keys: &[Vec<u8>],
    ) -> Result<OnlineRows> {
        if entity_keys.is_empty() {
            return Ok(OnlineRows::absent(features.len(), 0));
        }
        if let [key] = entity_keys {
            // The most common request, one entity: read on the calling task (a point lookup takes
            // microseconds, less than a hop to the blocking pool), with the SQL this thread built
            // the last time it read this view.
            let select = sql::select_one(project, &view.name);
            return self
                .pool
                .with(Use::Read, |conn| read_one(conn, &select, key, features))
                .map_err(|e| self.read_error(e, project, view, 1));
        }
        let table = table_name(project, &view.name);
        if entity_keys.len() <= inline_read_keys() {
            return self
                .pool
                .with(Use::Read, |conn| {
                    read_rows(conn, &table, entity_keys, features)
                })
                .map_err(|e| self.read_error(e, project, view, entity_keys.len()));
        }
        let keys = entity_keys.to_vec();
        let features = features.to_vec();
        let doing = reading(keys.len(), view);
        let t = table.clone();
        self.blocking(Use::Read, doing, Some(table), move |conn| {
            read_rows(conn, &t, &keys, &features)
        })
        .await
    }
}

/// How many keys a read may have to run on the calling task ([`INLINE_READ_KEYS`]).
fn inline_read_keys() -> usize {
    let single_threaded = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    if single_threaded {
        INLINE_READ_KEYS_SINGLE_THREADED
    } else {
        INLINE_READ_KEYS
    }
}

/// Drops `delete` and creates `keep` (adding `value_text` to older tables), in one transaction.
fn update_tables(
    conn: &mut Connection,
    keep: &[String],
    delete: &[String],
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for table in delete {
        tx.execute(&sql::drop_table(table), [])?;
    }
    for table in keep {
        tx.execute(&sql::create_table(table), [])?;
        tx.execute(&sql::create_index(table), [])?;
        let has_text = tx
            .prepare(&sql::table_columns(table))?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .iter()
            .any(|c| c == "value_text");
        if !has_text {
            tx.execute(&sql::add_value_text(table), [])?;
        }
    }
    tx.commit()
}

/// Drops `tables`; returns how many tables the database still holds.
fn drop_tables(conn: &mut Connection, tables: &[String]) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for table in tables {
        tx.execute(&sql::drop_table(table), [])?;
    }
    let remaining = tx.query_row(sql::COUNT_TABLES, [], |r| r.get(0))?;
    tx.commit()?;
    Ok(remaining)
}

/// Upserts every (row, feature) in one transaction, in the order of the primary key (entity keys in
/// order, each entity's features by name), so that every B-tree grows at its right edge and
/// neighbouring rows share pages; [`entities_per_statement`] entities per statement. An entity
/// counts as written when its feature rows changed.
fn write_rows(
    conn: &mut Connection,
    table: &str,
    rows: &EncodedRows,
) -> rusqlite::Result<WriteStats> {
    let features = rows.features();
    if features.is_empty() {
        // A view without features stores nothing: every entity counts as written.
        return Ok(WriteStats {
            rows_written: rows.len() as u64,
            ..WriteStats::default()
        });
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows.key(a).cmp(rows.key(b)));
    // Feature columns in name order: the order of their rows under one entity key.
    let mut by_name: Vec<usize> = (0..features.len()).collect();
    by_name.sort_by(|&a, &b| features[a].cmp(&features[b]));
    let names: Vec<&str> = by_name.iter().map(|&f| features[f].as_str()).collect();
    let per_statement = entities_per_statement(features.len());
    let per_entity = sql::upsert_params_per_entity(features.len());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut stats = WriteStats::default();
    // Every statement but the last has the full size: its SQL is built once.
    let full_statement = sql::upsert(table, &names, per_statement);
    for entities in order.chunks(per_statement) {
        let mut stmt = if entities.len() == per_statement {
            tx.prepare_cached(&full_statement)?
        } else {
            tx.prepare_cached(&sql::upsert(table, &names, entities.len()))?
        };
        for (e, &row) in entities.iter().enumerate() {
            let at = e * per_entity;
            stmt.raw_bind_parameter(at + 1, rows.key(row))?;
            stmt.raw_bind_parameter(at + 2, rows.event_secs(row))?;
            stmt.raw_bind_parameter(at + 3, rows.created_secs(row))?;
            for (i, &f) in by_name.iter().enumerate() {
                stmt.raw_bind_parameter(at + 4 + 2 * i, rows.value(row, f))?;
                stmt.raw_bind_parameter(at + 5 + 2 * i, rows.text(row, f))?;
            }
        }
        // An entity's feature rows share its timestamps, so they are all written or all kept.
        let written = stmt
            .raw_execute()?
            .div_ceil(features.len())
            .min(entities.len());
        stats.rows_written += written as u64;
        stats.rows_skipped += (entities.len() - written) as u64;
    }
    tx.commit()?;
    Ok(stats)
}

/// How many entities one upsert statement writes, for views of `features` features.
fn entities_per_statement(features: usize) -> usize {
    (MAX_WRITE_PARAMS / sql::upsert_params_per_entity(features)).max(1)
}

/// Reads the rows of one entity `key` with `select` (a [`sql::select`] of one key).
fn read_one(
    conn: &mut Connection,
    select: &str,
    key: &[u8],
    features: &[String],
) -> rusqlite::Result<OnlineRows> {
    let mut stmt = conn.prepare_cached(select)?;
    let mut rows = stmt.query([key])?;
    let mut out = OnlineRows::absent(features.len(), 1);
    while let Some(r) = rows.next()? {
        let name = blob(r, 1)?;
        let feature = features.iter().position(|f| f.as_bytes() == name);
        add_stored(&mut out, 0, r, feature)?;
    }
    Ok(out)
}

/// Reads the rows of `keys` in chunks and maps them back to request order.
fn read_rows(
    conn: &mut Connection,
    table: &str,
    keys: &[Vec<u8>],
    features: &[String],
) -> rusqlite::Result<OnlineRows> {
    let wanted: foldhash::HashMap<&[u8], usize> = features
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_bytes(), i))
        .collect();
    let mut first: foldhash::HashMap<&[u8], usize> =
        foldhash::HashMap::with_capacity_and_hasher(keys.len(), Default::default());
    let mut distinct = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        first.entry(key.as_slice()).or_insert_with(|| {
            distinct.push(key.as_slice());
            i
        });
    }
    let mut out = OnlineRows::absent(features.len(), keys.len());
    for chunk in distinct.chunks(MAX_PARAMS) {
        let mut stmt = conn.prepare_cached(&sql::select(table, chunk.len()))?;
        let mut rows = stmt.query(params_from_iter(chunk.iter()))?;
        while let Some(r) = rows.next()? {
            let Some(&at) = first.get(blob(r, 0)?) else {
                continue;
            };
            let feature = wanted.get(blob(r, 1)?).copied();
            add_stored(&mut out, at, r, feature)?;
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let at = first[key.as_slice()];
        if at != i {
            out.copy_key(at, i);
        }
    }
    Ok(out)
}

/// Adds a stored (entity key, feature) row `r` to key `key` of `out`: the newest event time of
/// the entity's rows, and the value when the feature is one of those requested (at `feature`).
fn add_stored(
    out: &mut OnlineRows,
    key: usize,
    r: &rusqlite::Row<'_>,
    feature: Option<usize>,
) -> rusqlite::Result<()> {
    out.found_at(key, event_micros(r.get_ref(3)?));
    if let Some(f) = feature {
        out.set_value(key, f, blob(r, 2)?);
    }
    Ok(())
}

/// Column `i` as bytes (`NULL` reads as empty: a null `Value`, or no feature name). Feature
/// names are compared as bytes: checking that they are UTF-8 first was 1.4 % of a 1-entity request.
fn blob<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        ValueRef::Null => Ok(&[]),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            "a blob".into(),
            other.data_type(),
        )),
    }
}

/// A stored event time in microseconds: integer (or real) Unix seconds, or legacy ISO text
/// (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC). Unreadable or missing times read as the epoch.
fn event_micros(value: ValueRef<'_>) -> i64 {
    match value {
        ValueRef::Integer(secs) => secs.saturating_mul(1_000_000),
        ValueRef::Real(secs) => (secs * 1e6) as i64,
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|t| larder_core::time::parse_timestamp(t).ok())
            .map_or(0, larder_core::time::to_micros),
        ValueRef::Null | ValueRef::Blob(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_read_integers_and_legacy_text() {
        assert_eq!(
            event_micros(ValueRef::Integer(1_795_518_000)),
            1_795_518_000_000_000
        );
        assert_eq!(
            event_micros(ValueRef::Text(b"2026-11-24 12:00:00.250000")),
            1_795_521_600_250_000
        );
        assert_eq!(
            event_micros(ValueRef::Text(b"2026-11-24 12:00:00")),
            1_795_521_600_000_000
        );
        assert_eq!(event_micros(ValueRef::Null), 0);
    }
}
