//! The embedded backend: `queues.db` (WAL, `synchronous=FULL`), writes through the
//! group-commit [`writer`], reads (depth, lookups) on a second connection, which WAL
//! lets run beside the writer.

mod deliver;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

pub use writer::WriterConfig;

use crate::clock::{Clock, SystemClock};
use crate::error::QueueError;
use crate::model::{
    Depth, NewMessage, QueueConfig, QueueInfo, Receipt, ReceiveRequest, Received, SentMessage,
};
use crate::{BatchResult, Queue};
use deliver::{receive_tx, send_tx};
use writer::Writer;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    config      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id         INTEGER NOT NULL,
    id               TEXT NOT NULL,
    body             TEXT NOT NULL,
    attributes       TEXT,
    sent_ms          INTEGER NOT NULL,
    visible_ms       INTEGER NOT NULL,
    expires_ms       INTEGER NOT NULL,
    receive_count    INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    nonce            INTEGER
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages(queue_id, visible_ms);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages(expires_ms);
PRAGMA user_version = 1;
";

/// Version 2: FIFO queues. Messages carry their group and deduplication id; the
/// deduplication window lives in a table of its own, so it survives a restart and
/// outlives the messages it names (a duplicate of a deleted message is still refused).
const SCHEMA_V2: &str = "
ALTER TABLE messages ADD COLUMN group_id TEXT;
ALTER TABLE messages ADD COLUMN dedup_id TEXT;
CREATE TABLE dedup (
    queue_id   INTEGER NOT NULL,
    scope      TEXT NOT NULL,
    dedup_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, scope, dedup_id)
);
CREATE INDEX dedup_expiry ON dedup(expires_ms);
PRAGMA user_version = 2;
";

/// The newest schema this build writes.
const SCHEMA_VERSION: u32 = 2;

/// Brings `conn`'s schema to [`SCHEMA_VERSION`], one version at a time, each step in one
/// transaction (a crash mid-way leaves the previous version whole).
fn migrate(conn: &Connection, path: &Path) -> Result<(), QueueError> {
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(QueueError::Storage(format!(
            "{} has schema version {version}, newer than this build understands ({SCHEMA_VERSION})",
            path.display()
        )));
    }
    if version < 1 {
        conn.execute_batch(&format!("BEGIN; {SCHEMA} COMMIT;"))?;
    }
    if version < 2 {
        conn.execute_batch(&format!("BEGIN; {SCHEMA_V2} COMMIT;"))?;
    }
    Ok(())
}

/// Queues in one SQLite file.
pub struct SqliteQueues {
    writer: Writer,
    reader: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    notifiers: Mutex<HashMap<String, Arc<Notify>>>,
}

fn open_conn(path: &Path) -> Result<Connection, QueueError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

impl SqliteQueues {
    /// Opens (creating if needed) the store at `path` with the real clock.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        Self::open_with(path, Arc::new(SystemClock), WriterConfig::default())
    }

    pub fn open_with(
        path: &Path,
        clock: Arc<dyn Clock>,
        cfg: WriterConfig,
    ) -> Result<Self, QueueError> {
        let wconn = open_conn(path)?;
        migrate(&wconn, path)?;
        let reader = open_conn(path)?;
        let sweep_clock = clock.clone();
        let writer = Writer::start(wconn, cfg, move |c| {
            let now = sweep_clock.now_ms();
            if let Err(e) = c.execute("DELETE FROM dedup WHERE expires_ms <= ?1", [now]) {
                tracing::warn!(error = %e, "queue deduplication sweep failed");
            }
            match c.execute("DELETE FROM messages WHERE expires_ms <= ?1", [now]) {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "expired queue messages removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "queue retention sweep failed"),
            }
        });
        Ok(Self {
            writer,
            reader: Mutex::new(reader),
            clock,
            notifiers: Mutex::new(HashMap::new()),
        })
    }

    fn wake(&self, queue: &str) {
        self.notifier(queue).notify_waiters();
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        let c = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&c)
    }
}

struct Row {
    id: i64,
    info: QueueInfo,
}

fn load_queue(c: &Connection, name: &str) -> Result<Row, QueueError> {
    c.query_row(
        "SELECT id, config, created_ms, modified_ms FROM queues WHERE name = ?1",
        [name],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )
    .optional()?
    .ok_or_else(|| QueueError::QueueNotFound(name.to_string()))
    .and_then(|(id, config, created_ms, modified_ms)| {
        Ok(Row {
            id,
            info: QueueInfo {
                name: name.to_string(),
                config: serde_json::from_str(&config)?,
                created_ms,
                modified_ms,
            },
        })
    })
}

fn message_size(m: &NewMessage) -> usize {
    m.body.len()
        + m.attributes
            .iter()
            .map(|(k, a)| {
                k.len()
                    + a.data_type.len()
                    + match &a.value {
                        crate::AttrValue::String(s) => s.len(),
                        crate::AttrValue::Binary(b) => b.len(),
                    }
            })
            .sum::<usize>()
}

fn new_nonce() -> i64 {
    uuid::Uuid::new_v4().as_u64_pair().0 as i64
}

/// Decodes a receipt and checks it belongs to queue `qid`.
fn receipt_for(qid: i64, s: &str) -> Result<Receipt, QueueError> {
    Receipt::decode(s)
        .filter(|r| r.queue_id == qid)
        .ok_or_else(|| QueueError::InvalidReceipt(s.to_string()))
}

impl Queue for SqliteQueues {
    fn create_queue(
        &self,
        name: &str,
        config: QueueConfig,
    ) -> Result<(QueueInfo, bool), QueueError> {
        let fifo_name = crate::is_valid_fifo_name(name);
        if !(crate::is_valid_name(name) || fifo_name) || fifo_name != config.fifo.is_some() {
            return Err(QueueError::Invalid(format!(
                "queue name {name:?} is not valid"
            )));
        }
        config.validate().map_err(QueueError::Invalid)?;
        let now = self.clock.now_ms();
        let name = name.to_string();
        self.writer.run(move |c| match load_queue(c, &name) {
            Ok(row) => Ok((row.info, false)),
            Err(QueueError::QueueNotFound(_)) => {
                c.execute(
                    "INSERT INTO queues (name, config, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?3)",
                    params![name, serde_json::to_string(&config)?, now],
                )?;
                Ok((QueueInfo { name, config, created_ms: now, modified_ms: now }, true))
            }
            Err(e) => Err(e),
        })
    }

    fn get_queue(&self, name: &str) -> Result<QueueInfo, QueueError> {
        self.read(|c| load_queue(c, name).map(|r| r.info))
    }

    fn list_queues(&self, prefix: &str) -> Result<Vec<QueueInfo>, QueueError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT name, config, created_ms, modified_ms FROM queues ORDER BY name",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, config, created_ms, modified_ms) = row?;
                if name.starts_with(prefix) {
                    out.push(QueueInfo {
                        name,
                        config: serde_json::from_str(&config)?,
                        created_ms,
                        modified_ms,
                    });
                }
            }
            Ok(out)
        })
    }

    fn set_config(&self, name: &str, config: QueueConfig) -> Result<QueueInfo, QueueError> {
        config.validate().map_err(QueueError::Invalid)?;
        let now = self.clock.now_ms();
        let name = name.to_string();
        self.writer.run(move |c| {
            let row = load_queue(c, &name)?;
            if row.info.config.fifo.is_some() != config.fifo.is_some() {
                return Err(QueueError::Invalid("FifoQueue cannot be changed".into()));
            }
            c.execute(
                "UPDATE queues SET config = ?1, modified_ms = ?2 WHERE id = ?3",
                params![serde_json::to_string(&config)?, now, row.id],
            )?;
            Ok(QueueInfo {
                config,
                modified_ms: now,
                ..row.info
            })
        })
    }

    fn delete_queue(&self, name: &str) -> Result<(), QueueError> {
        let n = name.to_string();
        self.writer.run(move |c| {
            let row = load_queue(c, &n)?;
            c.execute("DELETE FROM messages WHERE queue_id = ?1", [row.id])?;
            c.execute("DELETE FROM dedup WHERE queue_id = ?1", [row.id])?;
            c.execute("DELETE FROM queues WHERE id = ?1", [row.id])?;
            Ok(())
        })?;
        // Wake long polls so they notice the queue is gone.
        if let Some(n) = self
            .notifiers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
        {
            n.notify_waiters();
        }
        Ok(())
    }

    fn send(&self, queue: &str, messages: Vec<NewMessage>) -> Result<Vec<SentMessage>, QueueError> {
        let now = self.clock.now_ms();
        let name = queue.to_string();
        let sent = self.writer.run(move |c| send_tx(c, &name, messages, now))?;
        // Delayed messages wake pollers too: they then sleep until the delay ends
        // (`next_visible_in`) instead of until their deadline.
        self.wake(queue);
        Ok(sent)
    }

    fn receive(&self, queue: &str, req: ReceiveRequest) -> Result<Received, QueueError> {
        if req.max == 0 || req.max > crate::limits::MAX_RECEIVE_BATCH {
            return Err(QueueError::Invalid(format!(
                "max messages must be between 1 and 10, got {}",
                req.max
            )));
        }
        let now = self.clock.now_ms();
        let name = queue.to_string();
        let (received, moved_to) = self.writer.run(move |c| receive_tx(c, &name, req, now))?;
        if let Some(dlq) = moved_to {
            self.wake(&dlq);
        }
        Ok(received)
    }

    fn delete(&self, queue: &str, receipts: &[String]) -> Result<BatchResult, QueueError> {
        let name = queue.to_string();
        let receipts = receipts.to_vec();
        let out = self.writer.run(move |c| {
            let qid = load_queue(c, &name)?.id;
            let mut del = c.prepare_cached(
                "DELETE FROM messages WHERE seq = ?1 AND queue_id = ?2 AND nonce = ?3",
            )?;
            let mut out = Vec::with_capacity(receipts.len());
            for s in &receipts {
                out.push(match receipt_for(qid, s) {
                    Ok(r) => del
                        .execute(params![r.seq, qid, r.nonce])
                        .map(|_| ())
                        .map_err(QueueError::from),
                    Err(e) => Err(e),
                });
            }
            Ok(out)
        })?;
        // On a FIFO queue deleting a group's head opens the group: long polls look again.
        self.wake(queue);
        Ok(out)
    }

    fn change_visibility(
        &self,
        queue: &str,
        changes: &[(String, u32)],
    ) -> Result<BatchResult, QueueError> {
        let now = self.clock.now_ms();
        let name = queue.to_string();
        let changes = changes.to_vec();
        let (out, woke) = self.writer.run(move |c| {
            let qid = load_queue(c, &name)?.id;
            let mut out = Vec::with_capacity(changes.len());
            let mut woke = false;
            for (s, secs) in &changes {
                out.push((|| {
                    if *secs > crate::limits::MAX_VISIBILITY_TIMEOUT {
                        return Err(QueueError::Invalid(format!("visibility timeout {secs} is over 43200")));
                    }
                    let r = receipt_for(qid, s)?;
                    let cur: Option<(Option<i64>, i64)> = c
                        .query_row("SELECT nonce, visible_ms FROM messages WHERE seq = ?1 AND queue_id = ?2", params![r.seq, qid], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })
                        .optional()?;
                    match cur {
                        None => Err(QueueError::MessageNotFound(s.clone())),
                        Some((nonce, visible)) if nonce != Some(r.nonce) || visible <= now => {
                            Err(QueueError::MessageNotInFlight(s.clone()))
                        }
                        Some(_) => {
                            c.execute("UPDATE messages SET visible_ms = ?1 WHERE seq = ?2", params![now + *secs as i64 * 1000, r.seq])?;
                            woke |= *secs == 0;
                            Ok(())
                        }
                    }
                })());
            }
            Ok((out, woke))
        })?;
        if woke {
            self.wake(queue);
        }
        Ok(out)
    }

    fn purge(&self, queue: &str) -> Result<u64, QueueError> {
        let name = queue.to_string();
        self.writer.run(move |c| {
            let qid = load_queue(c, &name)?.id;
            Ok(c.execute("DELETE FROM messages WHERE queue_id = ?1", [qid])? as u64)
        })
    }

    fn depth(&self, queue: &str) -> Result<Depth, QueueError> {
        let now = self.clock.now_ms();
        self.read(|c| {
            let qid = load_queue(c, queue)?.id;
            let (v, f, d): (i64, i64, i64) = c.query_row(
                "SELECT
                    COALESCE(SUM(visible_ms <= ?2), 0),
                    COALESCE(SUM(visible_ms > ?2 AND nonce IS NOT NULL), 0),
                    COALESCE(SUM(visible_ms > ?2 AND nonce IS NULL), 0)
                 FROM messages WHERE queue_id = ?1 AND expires_ms > ?2",
                params![qid, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(Depth {
                visible: v as u64,
                in_flight: f as u64,
                delayed: d as u64,
            })
        })
    }

    fn notifier(&self, queue: &str) -> Arc<Notify> {
        self.notifiers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(queue.to_string())
            .or_default()
            .clone()
    }

    fn close(&self) {
        self.writer.close();
    }
}

impl Drop for SqliteQueues {
    fn drop(&mut self) {
        self.writer.close();
    }
}

#[cfg(test)]
mod fifo_tests;
#[cfg(test)]
mod tests;
