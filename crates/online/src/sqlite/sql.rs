//! The SQL Feast's SQLite online store uses: one table per view, `"<project>_<view>"`, one row per
//! (entity key, feature).

use std::cell::RefCell;
use std::rc::Rc;

use crate::memo::{self, Slot};

/// The table of `view` in `project` (Feast's `compute_table_id`, without versioning).
pub(super) fn table_name(project: &str, view: &str) -> String {
    format!("{project}_{view}")
}

/// `ident` as a double-quoted SQL identifier.
pub(super) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Feast's DDL for a view's table (without the optional `value_num` column), stored `WITHOUT ROWID`.
///
/// Feast's table has a rowid, so its rows live in one B-tree and its primary key in a second: a
/// read seeks the key's index entries, then every (key, feature) row in the table. Clustered on
/// the primary key, a key's rows are one range of one B-tree: a read seeks once per key, and the
/// file is a quarter smaller. The columns, key, index and bytes are Feast's, and Feast reads and
/// writes such a table with its own SQL (its `CREATE TABLE IF NOT EXISTS` keeps it as it is). The
/// one difference SQLite makes is that the key columns reject NULL, which neither tool writes.
/// Tables that exist already, Feast's included, are used as they are.
pub(super) fn create_table(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (entity_key BLOB, feature_name TEXT, value BLOB, \
         value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, \
         PRIMARY KEY(entity_key, feature_name)) WITHOUT ROWID",
        quote(table)
    )
}

/// Feast's index on the entity key.
pub(super) fn create_index(table: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} (entity_key)",
        quote(&format!("{table}_ek")),
        quote(table)
    )
}

/// Drops a view's table (and with it its index).
pub(super) fn drop_table(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", quote(table))
}

/// The columns of `table`, to add `value_text` to tables written before Feast had it.
pub(super) fn table_columns(table: &str) -> String {
    format!(
        "SELECT name FROM pragma_table_info({})",
        quote_literal(table)
    )
}

/// Adds the `value_text` column, as Feast does for older databases.
pub(super) fn add_value_text(table: &str) -> String {
    format!("ALTER TABLE {} ADD COLUMN value_text TEXT", quote(table))
}

/// How many tables the database still holds.
pub(super) const COUNT_TABLES: &str = "SELECT count(*) FROM sqlite_master WHERE type = 'table'";

/// Bound parameters per entity of an [`upsert`] of `features` features: the entity key, the event
/// and created seconds, then per feature its value and value text.
pub(super) fn upsert_params_per_entity(features: usize) -> usize {
    3 + 2 * features
}

/// The newer-wins upsert of `entities` entities' rows in one statement, one row per name in
/// `features` for each entity, in the order given.
///
/// Parameters are numbered: per entity ([`upsert_params_per_entity`] each, entity after entity)
/// the entity key, event seconds and created seconds, then per feature its value and value text.
/// An entity's key and times are bound once and used by all its rows, and the feature names are
/// literals, so a row binds two values instead of six (SQLite copies every bound blob and text).
///
/// A stored row is replaced when the incoming event time is at least the stored one. Stored times
/// may be integers (Feast since Nov 2024, Larder) or legacy ISO text, which is converted to seconds;
/// a stored row without a readable time is replaced.
pub(super) fn upsert(table: &str, features: &[&str], entities: usize) -> String {
    use std::fmt::Write;
    let t = quote(table);
    let names: Vec<String> = features.iter().map(|f| quote_literal(f)).collect();
    let per_entity = upsert_params_per_entity(features.len());
    let mut values = String::with_capacity(entities * features.len() * 40);
    for entity in 0..entities {
        let base = entity * per_entity;
        let (key, event, created) = (base + 1, base + 2, base + 3);
        for (f, name) in names.iter().enumerate() {
            let value = base + 4 + 2 * f;
            if !values.is_empty() {
                values.push_str(", ");
            }
            let _ = write!(
                values,
                "(?{key}, {name}, ?{value}, ?{}, NULL, ?{event}, ?{created})",
                value + 1
            );
        }
    }
    format!(
        "INSERT INTO {t} (entity_key, feature_name, value, value_text, vector_value, event_ts, created_ts) \
         VALUES {values} \
         ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, \
         value_text = excluded.value_text, vector_value = excluded.vector_value, \
         event_ts = excluded.event_ts, created_ts = excluded.created_ts \
         WHERE excluded.event_ts >= COALESCE(CASE typeof({t}.event_ts) \
         WHEN 'text' THEN unixepoch({t}.event_ts) ELSE {t}.event_ts END, -9223372036854775808)"
    )
}

/// [`select`] of one key from `project`'s `view`, built once per thread for the view it read last:
/// a server thread reads the same view request after request, and building the text (and the
/// table name in it) was 1 % of serving a 1-entity request.
pub(super) fn select_one(project: &str, view: &str) -> Rc<str> {
    thread_local! {
        /// The project and view of the last [`select_one`] on this thread, and its SQL.
        static LAST: Slot<(String, String), Rc<str>> = const { RefCell::new(None) };
    }
    memo::last_or_build(
        &LAST,
        |(p, v)| p == project && v == view,
        || {
            let sql = select(&table_name(project, view), 1).into();
            ((project.to_owned(), view.to_owned()), sql)
        },
    )
}

/// The rows of `keys` entity keys (one `?` each).
pub(super) fn select(table: &str, keys: usize) -> String {
    let mut marks = "?,".repeat(keys);
    marks.pop();
    format!(
        "SELECT entity_key, feature_name, value, event_ts FROM {} WHERE entity_key IN ({marks})",
        quote(table)
    )
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            table_name("feast_demo", "driver_hourly_stats"),
            "feast_demo_driver_hourly_stats"
        );
        assert!(
            create_index("p_v").starts_with("CREATE INDEX IF NOT EXISTS \"p_v_ek\" ON \"p_v\"")
        );
        assert!(select("p_v", 3).ends_with("IN (?,?,?)"));
        let upsert = upsert("p_v", &["a", "b'c"], 2);
        assert!(
            upsert.contains(
                "VALUES (?1, 'a', ?4, ?5, NULL, ?2, ?3), (?1, 'b''c', ?6, ?7, NULL, ?2, ?3), \
                 (?8, 'a', ?11, ?12, NULL, ?9, ?10), (?8, 'b''c', ?13, ?14, NULL, ?9, ?10) ON"
            ),
            "{upsert}"
        );
    }

    #[test]
    fn a_one_key_select_is_rebuilt_when_the_view_changes() {
        let a = select_one("p", "v");
        assert_eq!(&*a, select("p_v", 1));
        assert!(Rc::ptr_eq(&a, &select_one("p", "v")), "built once");
        assert_eq!(&*select_one("p", "w"), select("p_w", 1));
        assert_eq!(&*select_one("q", "w"), select("q_w", 1));
        assert_eq!(&*select_one("p", "v"), select("p_v", 1));
    }

    /// The plan SQLite picks for a read: one line per step.
    fn read_plan(conn: &rusqlite::Connection, table: &str) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", select(table, 2)))
            .unwrap();
        let steps = stmt
            .query_map([b"k1".as_slice(), b"k2"], |r| r.get::<_, String>(3))
            .unwrap();
        steps.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn reads_seek_the_clustered_key_once_and_feasts_tables_still_read() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute(&create_table("p_v"), []).unwrap();
        conn.execute(&create_index("p_v"), []).unwrap();
        // Feast's index is there, but the table itself is the covering one.
        let plan = read_plan(&conn, "p_v");
        assert!(plan.contains("USING PRIMARY KEY (entity_key=?)"), "{plan}");

        // A table Feast created (with a rowid) keeps its layout and is read through its index.
        let feast_ddl = create_table("p_w").replace(" WITHOUT ROWID", "");
        conn.execute(&feast_ddl, []).unwrap();
        conn.execute(&create_index("p_w"), []).unwrap();
        conn.execute(
            "INSERT INTO p_w (entity_key, feature_name, value, event_ts) VALUES (x'6b31', 'f', x'00', 1)",
            [],
        )
        .unwrap();
        let plan = read_plan(&conn, "p_w");
        assert!(plan.contains("USING INDEX p_w_ek (entity_key=?)"), "{plan}");
        let mut read = conn.prepare(&select("p_w", 2)).unwrap();
        let found = read
            .query_map([b"k1".as_slice(), b"k2"], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(found, 1);
    }
}
