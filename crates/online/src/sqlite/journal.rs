//! Bulk writes with a rollback journal instead of the WAL, when no other connection has the file
//! open.
//!
//! The store runs in WAL mode so that readers never wait for a writer. But in WAL mode every page a
//! write touches is written twice: into the WAL, then by the checkpoint into the database file. A
//! large write into a table that grows (a first materialization) only appends new pages, and a
//! rollback journal journals none of those: the pages are written once. So a large write first
//! tries to switch the file to a rollback journal and switches it back to WAL after its commit.
//!
//! The switch needs the only connection to the file: in WAL mode every open connection, in this
//! process or another (a Feast or Larder server), holds a shared lock on it for as long as it is
//! open. The attempt does not wait: when anyone else has the file open, the write stays in WAL mode
//! and nobody is blocked. A reader that opens the file during a bulk write reads it in rollback
//! mode and waits, within its busy timeout, until the write commits.

use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::pool::BUSY_TIMEOUT;

/// Online rows (entity × feature) from which a write tries the rollback journal.
pub(super) const BULK_MIN_ROWS: usize = 16_384;

/// Switches `conn`'s file to a rollback journal if no other connection has it open; returns
/// whether it did.
pub(super) fn try_rollback_journal(conn: &Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(Duration::ZERO)?;
    let mode = conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let switched = match mode {
        Ok(mode) => mode.eq_ignore_ascii_case("delete"),
        Err(e) if is_busy(&e) => false,
        Err(e) => return Err(e),
    };
    if switched {
        // With a rollback journal, `NORMAL` can leave a corrupt file after a power loss at the
        // wrong moment; `FULL` cannot, and costs little here: the journal holds only the few
        // pages that existed before the write.
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    Ok(switched)
}

/// Switches `conn`'s file back to WAL after a bulk write. Waits (up to the busy timeout) for
/// readers that opened the file meanwhile; if it still cannot, the file stays in rollback mode,
/// which every SQLite reads, until the next connection of this store opens it.
pub(super) fn back_to_wal(conn: &Connection) {
    let file = conn.path().unwrap_or("the SQLite online store");
    if let Err(e) = conn.pragma_update(None, "synchronous", "NORMAL") {
        tracing::warn!(error = %e, "could not set synchronous=NORMAL on {file} after a bulk write");
    }
    let stays = |why: &str| {
        tracing::warn!(
            "{file} stays in rollback-journal mode after a bulk write ({why}): its rows are \
             written and readable, readers wait while a write commits, and the store switches it \
             back to WAL the next time it opens the file (or run `PRAGMA journal_mode=WAL` on it)"
        );
    };
    match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
        Ok(mode) if mode.eq_ignore_ascii_case("wal") => {}
        Ok(mode) => stays(&format!("SQLite kept journal mode {mode}")),
        Err(e) => stays(&e.to_string()),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(conn: &Connection) -> String {
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    }

    fn wal_connection(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        conn
    }

    #[test]
    fn switches_only_when_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.db");
        let writer = wal_connection(&path);
        writer.execute("CREATE TABLE t (x)", []).unwrap();
        assert!(try_rollback_journal(&writer).unwrap());
        assert_eq!(mode(&writer), "delete");
        back_to_wal(&writer);
        assert_eq!(mode(&writer), "wal");

        // Another connection holding the file open (idle, not in a transaction) keeps it in WAL
        // mode, and the attempt returns at once.
        let reader = wal_connection(&path);
        reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
            .unwrap();
        let started = std::time::Instant::now();
        assert!(!try_rollback_journal(&writer).unwrap());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(mode(&writer), "wal");
        drop(reader);
        assert!(try_rollback_journal(&writer).unwrap());
        back_to_wal(&writer);
    }
}
