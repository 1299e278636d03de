//! The embedded backend: `streams.db`, WAL, `synchronous=FULL`. Each append is one
//! transaction committed before the call returns, so an acknowledged PutRecord(s) is on
//! disk. A PutRecords call of up to 500 records is one commit: the batch is the group.
//!
//! Per shard, `shards.next_seq` is the counter the next record gets; it is stored, not
//! derived from the records, so it keeps growing after records are trimmed and after a
//! restart.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use crate::error::StreamError;
use crate::iterator::ShardIterator;
use crate::model::{
    Appended, Clock, NewRecord, ReadBatch, Record, StartPosition, StreamInfo, StreamStatus,
    SystemClock, CREATING_MS,
};
use crate::{rules, Streams};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    shard_count INTEGER NOT NULL,
    retention_hours INTEGER NOT NULL,
    on_demand INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS shards (
    stream TEXT NOT NULL,
    idx INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (stream, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    stream TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    arrival_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, shard, seq)
) WITHOUT ROWID;
PRAGMA user_version = 1;
";

/// Trim records past retention once every this many appends (and at open).
const TRIM_EVERY: u64 = 256;

pub struct SqliteStreams {
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    notifiers: Mutex<HashMap<String, Arc<Notify>>>,
    appends: AtomicU64,
    closed: AtomicBool,
}

impl SqliteStreams {
    pub fn open(path: &Path) -> Result<Self, StreamError> {
        Self::open_with(path, Arc::new(SystemClock))
    }

    pub fn open_with(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StreamError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let s = SqliteStreams {
            conn: Mutex::new(conn),
            clock,
            notifiers: Mutex::new(HashMap::new()),
            appends: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        };
        s.trim()?;
        Ok(s)
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StreamError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StreamError::Storage("the stream store is closed".into()));
        }
        self.conn
            .lock()
            .map_err(|_| StreamError::Storage("stream store lock poisoned".into()))
    }

    /// Deletes every record older than its stream's retention.
    pub fn trim(&self) -> Result<usize, StreamError> {
        let now = self.clock.now_ms();
        let conn = self.conn()?;
        let n = conn.execute(
            "DELETE FROM records WHERE arrival_ms < ?1 - (SELECT retention_hours FROM streams \
             WHERE streams.name = records.stream) * 3600000",
            params![now],
        )?;
        if n > 0 {
            tracing::debug!(trimmed = n, "stream records past retention removed");
        }
        Ok(n)
    }

    fn info(&self, conn: &Connection, name: &str) -> Result<StreamInfo, StreamError> {
        let now = self.clock.now_ms();
        conn.query_row(
            "SELECT created_ms, shard_count, retention_hours, on_demand FROM streams WHERE name = ?1",
            params![name],
            |r| {
                let created_ms: i64 = r.get(0)?;
                Ok(StreamInfo {
                    name: name.to_string(),
                    created_ms,
                    shard_count: r.get(1)?,
                    retention_hours: r.get(2)?,
                    on_demand: r.get::<_, i64>(3)? != 0,
                    status: if now - created_ms < CREATING_MS {
                        StreamStatus::Creating
                    } else {
                        StreamStatus::Active
                    },
                })
            },
        )
        .optional()?
        .ok_or_else(|| StreamError::StreamNotFound(name.to_string()))
    }

    fn check_shard(info: &StreamInfo, shard: u32) -> Result<(), StreamError> {
        if shard < info.shard_count {
            Ok(())
        } else {
            Err(StreamError::ShardNotFound {
                stream: info.name.clone(),
                shard: rules::shard_id(shard),
            })
        }
    }

    fn next_seq(conn: &Connection, name: &str, shard: u32) -> Result<u64, StreamError> {
        let n: i64 = conn.query_row(
            "SELECT next_seq FROM shards WHERE stream = ?1 AND idx = ?2",
            params![name, shard],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

impl Streams for SqliteStreams {
    fn create_stream(
        &self,
        name: &str,
        shards: u32,
        on_demand: bool,
    ) -> Result<StreamInfo, StreamError> {
        rules::validate_name(name)?;
        if shards == 0 || shards > rules::MAX_SHARDS {
            return Err(StreamError::Invalid(format!(
                "ShardCount must be between 1 and {}",
                rules::MAX_SHARDS
            )));
        }
        let now = self.clock.now_ms();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM streams WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StreamError::InUse(name.to_string()));
        }
        tx.execute(
            "INSERT INTO streams (name, created_ms, shard_count, retention_hours, on_demand) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, now, shards, rules::MIN_RETENTION_HOURS, on_demand as i64],
        )?;
        // A stream of the same name deleted earlier may have left counters: start over.
        tx.execute("DELETE FROM shards WHERE stream = ?1", params![name])?;
        for i in 0..shards {
            tx.execute(
                "INSERT INTO shards (stream, idx, next_seq) VALUES (?1, ?2, 0)",
                params![name, i],
            )?;
        }
        tx.commit()?;
        self.info(&conn, name)
    }

    fn describe(&self, name: &str) -> Result<StreamInfo, StreamError> {
        let conn = self.conn()?;
        self.info(&conn, name)
    }

    fn list_streams(&self) -> Result<Vec<StreamInfo>, StreamError> {
        let conn = self.conn()?;
        let names: Vec<String> = conn
            .prepare("SELECT name FROM streams ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        names.iter().map(|n| self.info(&conn, n)).collect()
    }

    fn delete_stream(&self, name: &str) -> Result<(), StreamError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM streams WHERE name = ?1", params![name])?;
        if n == 0 {
            return Err(StreamError::StreamNotFound(name.to_string()));
        }
        tx.execute("DELETE FROM shards WHERE stream = ?1", params![name])?;
        tx.execute("DELETE FROM records WHERE stream = ?1", params![name])?;
        tx.commit()?;
        drop(conn);
        if let Ok(mut m) = self.notifiers.lock() {
            if let Some(n) = m.remove(name) {
                n.notify_waiters();
            }
        }
        Ok(())
    }

    fn set_retention(&self, name: &str, hours: u32) -> Result<(), StreamError> {
        rules::validate_retention(i64::from(hours))?;
        let conn = self.conn()?;
        let n = conn.execute(
            "UPDATE streams SET retention_hours = ?2 WHERE name = ?1",
            params![name, hours],
        )?;
        if n == 0 {
            return Err(StreamError::StreamNotFound(name.to_string()));
        }
        Ok(())
    }

    fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StreamError> {
        let conn = self.conn()?;
        let raw: Option<String> = conn
            .query_row(
                "SELECT tags FROM streams WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let raw = raw.ok_or_else(|| StreamError::StreamNotFound(name.to_string()))?;
        Ok(serde_json::from_str(&raw)?)
    }

    fn update_tags(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    ) -> Result<(), StreamError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let raw: Option<String> = tx
            .query_row(
                "SELECT tags FROM streams WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        let raw = raw.ok_or_else(|| StreamError::StreamNotFound(name.to_string()))?;
        let mut tags: BTreeMap<String, String> = serde_json::from_str(&raw)?;
        tags.extend(add);
        for k in remove {
            tags.remove(&k);
        }
        if tags.len() > 50 {
            return Err(StreamError::Invalid(
                "A stream cannot have more than 50 tags.".into(),
            ));
        }
        tx.execute(
            "UPDATE streams SET tags = ?2 WHERE name = ?1",
            params![name, serde_json::to_string(&tags)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn append(&self, name: &str, records: Vec<NewRecord>) -> Result<Vec<Appended>, StreamError> {
        let now = self.clock.now_ms();
        let mut out = Vec::with_capacity(records.len());
        {
            let mut conn = self.conn()?;
            let info = self.info(&conn, name)?;
            let tx = conn.transaction()?;
            let mut next: HashMap<u32, u64> = HashMap::new();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO records (stream, shard, seq, partition_key, data, arrival_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for r in &records {
                    let hash = r
                        .explicit_hash_key
                        .unwrap_or_else(|| rules::hash_key(&r.partition_key));
                    let shard = rules::shard_for(hash, info.shard_count);
                    let seq = match next.get(&shard) {
                        Some(s) => *s,
                        None => Self::next_seq(&tx, name, shard)?,
                    };
                    insert.execute(params![
                        name,
                        shard,
                        seq as i64,
                        r.partition_key,
                        r.data,
                        now
                    ])?;
                    next.insert(shard, seq + 1);
                    out.push(Appended { shard, seq });
                }
            }
            for (shard, n) in &next {
                tx.execute(
                    "UPDATE shards SET next_seq = ?3 WHERE stream = ?1 AND idx = ?2",
                    params![name, shard, *n as i64],
                )?;
            }
            tx.commit()?;
        }
        if let Some(n) = self
            .notifiers
            .lock()
            .ok()
            .and_then(|m| m.get(name).cloned())
        {
            n.notify_waiters();
        }
        if self.appends.fetch_add(1, Ordering::Relaxed) % TRIM_EVERY == TRIM_EVERY - 1 {
            self.trim()?;
        }
        Ok(out)
    }

    fn iterator(
        &self,
        name: &str,
        shard: u32,
        pos: StartPosition,
    ) -> Result<ShardIterator, StreamError> {
        let now = self.clock.now_ms();
        let conn = self.conn()?;
        let info = self.info(&conn, name)?;
        Self::check_shard(&info, shard)?;
        let tip = Self::next_seq(&conn, name, shard)?;
        let next = match pos {
            StartPosition::TrimHorizon => 0,
            StartPosition::Latest => tip,
            StartPosition::AtSequence(s) | StartPosition::AfterSequence(s) if s >= tip => {
                return Err(StreamError::Invalid(format!(
                    "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} is invalid because it did not come from this stream.",
                    rules::format_seq(s),
                    rules::shard_id(shard),
                    name
                )));
            }
            StartPosition::AtSequence(s) => s,
            StartPosition::AfterSequence(s) => s + 1,
            StartPosition::AtTimestamp(ts) => conn
                .query_row(
                    "SELECT MIN(seq) FROM records WHERE stream = ?1 AND shard = ?2 AND arrival_ms >= ?3",
                    params![name, shard, ts],
                    |r| r.get::<_, Option<i64>>(0),
                )?
                .map(|s| s as u64)
                .unwrap_or(tip),
        };
        Ok(ShardIterator {
            stream: name.to_string(),
            stream_created_ms: info.created_ms,
            shard,
            next,
            issued_ms: now,
        })
    }

    fn read(
        &self,
        name: &str,
        shard: u32,
        from: u64,
        limit: u32,
    ) -> Result<ReadBatch, StreamError> {
        let now = self.clock.now_ms();
        let conn = self.conn()?;
        let info = self.info(&conn, name)?;
        Self::check_shard(&info, shard)?;
        let cutoff = now - i64::from(info.retention_hours) * 3_600_000;
        let records: Vec<Record> = conn
            .prepare_cached(
                "SELECT seq, partition_key, data, arrival_ms FROM records WHERE stream = ?1 AND shard = ?2 AND seq >= ?3 AND arrival_ms >= ?4 ORDER BY seq LIMIT ?5",
            )?
            .query_map(params![name, shard, from as i64, cutoff, limit], |r| {
                Ok(Record {
                    seq: r.get::<_, i64>(0)? as u64,
                    partition_key: r.get(1)?,
                    data: r.get(2)?,
                    arrival_ms: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let next = records.last().map(|r| r.seq + 1).unwrap_or(from);
        let tip = Self::next_seq(&conn, name, shard)?;
        let millis_behind_latest = if next >= tip {
            0
        } else {
            conn.query_row(
                "SELECT arrival_ms FROM records WHERE stream = ?1 AND shard = ?2 AND seq >= ?3 ORDER BY seq LIMIT 1",
                params![name, shard, next as i64],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|a| (now - a).max(0))
            .unwrap_or(0)
        };
        Ok(ReadBatch {
            records,
            next,
            millis_behind_latest,
        })
    }

    fn latest_seq(&self, name: &str, shard: u32) -> Result<Option<u64>, StreamError> {
        let conn = self.conn()?;
        let info = self.info(&conn, name)?;
        Self::check_shard(&info, shard)?;
        let tip = Self::next_seq(&conn, name, shard)?;
        Ok(tip.checked_sub(1))
    }

    fn notifier(&self, name: &str) -> Arc<Notify> {
        match self.notifiers.lock() {
            Ok(mut m) => m.entry(name.to_string()).or_default().clone(),
            Err(_) => Arc::new(Notify::new()),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
