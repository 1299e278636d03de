//! The schema of `logs.db` and its upgrades.
//!
//! The version is SQLite's `PRAGMA user_version`. A database from before versioning
//! reads 0 and holds the base tables (groups, streams, events), which `BASE` creates
//! with `IF NOT EXISTS`, so a fresh file and an old one take the same path. Each step
//! runs in the transaction that also sets the new version: an upgrade interrupted by a
//! crash leaves the old version, never half a schema. A file from a newer Quiver is
//! refused rather than written with rules it may not follow.

use rusqlite::Connection;

use crate::LogError;

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

const BASE: &str = "
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    retention_days INTEGER
);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    first_ts INTEGER,
    last_ts INTEGER,
    last_ingest INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingest INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stream_ts ON events (stream_id, ts, id);
CREATE INDEX IF NOT EXISTS events_group_ts ON events (group_id, ts, id);
";

/// Version 1: subscription filters, and event ids that are never reused.
///
/// A filter's `cursor` is the id of the last event it has looked at; delivery reads
/// the events after it. SQLite gives a rowid table `MAX(id) + 1`, so deleting the
/// newest events (DeleteLogGroup) would hand their ids out again and a cursor past
/// them would skip the new events. The writer therefore assigns ids itself from
/// `meta.next_event_id`, committed with each batch, which only grows.
const V1: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_event_id', (SELECT COALESCE(MAX(id), 0) + 1 FROM events));
CREATE TABLE IF NOT EXISTS subscription_filters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    destination TEXT NOT NULL,
    distribution TEXT NOT NULL,
    role_arn TEXT,
    created_ms INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    control_pending INTEGER NOT NULL DEFAULT 1,
    UNIQUE (group_id, name)
);
";

/// Brings the database to [`SCHEMA_VERSION`].
pub(crate) fn migrate(c: &mut Connection) -> Result<(), LogError> {
    let found: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(LogError::Schema(format!(
            "logs.db has schema version {found}, written by a newer Quiver; this one knows up to {SCHEMA_VERSION}"
        )));
    }
    let tx = c.transaction()?;
    tx.execute_batch(BASE)?;
    if found < 1 {
        tx.execute_batch(V1)?;
        tracing::info!(from = found, to = 1, "log store schema upgraded");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// The first id the writer may give an event.
pub(crate) fn next_event_id(c: &Connection) -> Result<i64, rusqlite::Error> {
    c.query_row(
        "SELECT MAX(value, (SELECT COALESCE(MAX(id), 0) + 1 FROM events)) FROM meta WHERE key = 'next_event_id'",
        [],
        |r| r.get(0),
    )
}

/// The id of the last event committed (0 when none ever was).
pub(crate) fn last_event_id(c: &Connection) -> Result<i64, rusqlite::Error> {
    c.query_row(
        "SELECT value - 1 FROM meta WHERE key = 'next_event_id'",
        [],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unversioned_database_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(BASE).unwrap();
            c.execute_batch(
                "INSERT INTO groups (name, created_ms) VALUES ('/aws/lambda/f', 1);
                 INSERT INTO streams (group_id, name, created_ms) VALUES (1, 's', 1);
                 INSERT INTO events (group_id, stream_id, ts, ingest, message) VALUES (1, 1, 5, 5, 'a'), (1, 1, 6, 6, 'b');",
            )
            .unwrap();
        }
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(next_event_id(&c).unwrap(), 3);
        assert_eq!(last_event_id(&c).unwrap(), 2);
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
        // Idempotent.
        migrate(&mut c).unwrap();
        assert_eq!(next_event_id(&c).unwrap(), 3);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("logs.db")).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(migrate(&mut c), Err(LogError::Schema(_))));
    }
}
