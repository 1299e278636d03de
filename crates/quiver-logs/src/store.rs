//! The durable side: one SQLite database `<data_dir>/logs.db` in WAL mode.
//!
//! Why SQLite rather than segment files: queries need three indexes (stream + time,
//! group + time, and insertion order for the budget), deletes by age and by group,
//! and crash safety — SQLite gives all of that in one file that the project already
//! compiles in. One writer thread owns the write connection and commits each batch it
//! finds queued in one transaction (`synchronous=NORMAL`: a power loss may lose the
//! last few hundred ms of logs, never corrupt the file; logs are not worth an fsync
//! per line). Reads use a second connection and never wait for the writer (WAL).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::limit::RateLimits;
use crate::sink::{Batch, Clock, LogSink, Msg, Stats};
use crate::LogError;

/// Bytes a stored event costs besides its message (row header, two index entries),
/// counted against the disk budget.
pub const EVENT_OVERHEAD: i64 = 64;
/// How long the writer waits for more events before committing a batch.
const WRITE_LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// Most events committed in one transaction.
const MAX_BATCH_EVENTS: usize = 20_000;
/// Rows deleted per statement by retention and the budget, so that neither holds the
/// write lock for long.
const DELETE_CHUNK: i64 = 5_000;

/// Settings of the log store.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The database file.
    pub path: PathBuf,
    /// Disk budget for stored events (messages plus [`EVENT_OVERHEAD`] each); the oldest
    /// events are dropped beyond it, with a warning in the server log.
    pub max_bytes: u64,
    /// How often the retention pass runs.
    pub retention_interval: Duration,
    /// See [`Clock`].
    pub clock_offset_ms: i64,
    /// Batches the writer queue holds before the sink starts dropping.
    pub queue_capacity: usize,
    /// Per-environment output limits.
    pub rate: RateLimits,
}

impl LogConfig {
    /// Defaults: 1 GB budget, retention pass every minute, 8192 queued batches.
    pub fn new(path: PathBuf) -> Self {
        LogConfig {
            path,
            max_bytes: 1024 * 1024 * 1024,
            retention_interval: Duration::from_secs(60),
            clock_offset_ms: 0,
            queue_capacity: 8192,
            rate: RateLimits::default(),
        }
    }
}

pub(crate) struct Shared {
    /// Bytes counted against the budget.
    pub total_bytes: AtomicI64,
    pub max_bytes: i64,
    pub clock: Clock,
}

/// The log store: a writer thread, a retention thread and a read connection.
pub struct LogStore {
    pub(crate) read: Mutex<Connection>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) sink: LogSink,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_retention: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

fn connect(path: &Path) -> Result<Connection, LogError> {
    let c = Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(c)
}

impl LogStore {
    /// Opens (creating) the database and starts the writer and retention threads.
    pub fn open(cfg: LogConfig) -> Result<LogStore, LogError> {
        let mut write = connect(&cfg.path)?;
        crate::schema::migrate(&mut write)?;
        let next_id = crate::schema::next_event_id(&write)?;
        let total: i64 = write.query_row(
            &format!("SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) + COUNT(*) * {EVENT_OVERHEAD} FROM events"),
            [],
            |r| r.get(0),
        )?;
        let read = connect(&cfg.path)?;
        let retention = connect(&cfg.path)?;
        let clock = Clock {
            offset_ms: cfg.clock_offset_ms,
        };
        let shared = Arc::new(Shared {
            total_bytes: AtomicI64::new(total),
            max_bytes: i64::try_from(cfg.max_bytes).unwrap_or(i64::MAX),
            clock,
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(cfg.queue_capacity.max(1));
        let stats = Arc::new(Stats::default());
        let sink = LogSink {
            tx,
            stats: stats.clone(),
            clock,
            rate: cfg.rate,
        };
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("quiver-logs-writer".into())
                    .spawn(move || {
                        writer_loop(write, rx, &shared, &stats, next_id);
                    })?,
            );
        }
        let (stop_tx, stop_rx) = std::sync::mpsc::channel();
        {
            let shared = shared.clone();
            let every = cfg.retention_interval.max(Duration::from_millis(10));
            threads.push(
                std::thread::Builder::new()
                    .name("quiver-logs-retention".into())
                    .spawn(move || loop {
                        match stop_rx.recv_timeout(every) {
                            Err(RecvTimeoutError::Timeout) => {
                                if let Err(e) = retention_pass(&retention, &shared) {
                                    tracing::warn!("log retention pass failed: {e}");
                                }
                            }
                            _ => return,
                        }
                    })?,
            );
        }
        tracing::info!(path = %cfg.path.display(), max_mb = cfg.max_bytes / (1024 * 1024), stored_bytes = total, "log store open");
        Ok(LogStore {
            read: Mutex::new(read),
            shared,
            sink,
            threads: Mutex::new(threads),
            stop_retention: Mutex::new(Some(stop_tx)),
        })
    }

    /// The sink environments write to.
    pub fn sink(&self) -> LogSink {
        self.sink.clone()
    }

    /// Bytes counted against the disk budget right now.
    pub fn stored_bytes(&self) -> i64 {
        self.shared.total_bytes.load(Ordering::Relaxed)
    }

    /// Runs one retention pass now (the background thread does this periodically).
    pub fn run_retention(&self) -> Result<u64, LogError> {
        let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
        retention_pass(&c, &self.shared)
    }

    /// Commits what is queued and stops the threads. Lines sent afterwards are dropped.
    pub fn close(&self) {
        if let Some(tx) = self
            .stop_retention
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = tx.send(());
        }
        let _ = self.sink.tx.send(Msg::Close);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for LogStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(
    mut conn: Connection,
    rx: Receiver<Msg>,
    shared: &Shared,
    stats: &Stats,
    mut next_id: i64,
) {
    loop {
        let Ok(first) = rx.recv() else { return };
        let linger_until = std::time::Instant::now() + WRITE_LINGER;
        let mut batches = Vec::new();
        let mut acks = Vec::new();
        let mut put_acks = Vec::new();
        let mut close = false;
        let mut n = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Events(b) => {
                    n += b.events.len();
                    batches.push(b);
                }
                Msg::Flush(ack) => acks.push(ack),
                Msg::Put(b, ack) => {
                    n += b.events.len();
                    batches.push(b);
                    put_acks.push(ack);
                }
                Msg::Close => {
                    close = true;
                    break;
                }
            }
            if n < MAX_BATCH_EVENTS && acks.is_empty() && put_acks.is_empty() {
                // Linger briefly so that one transaction carries many invocations'
                // lines: a commit per invoke costs more CPU than the invoke itself.
                let left = linger_until.saturating_duration_since(std::time::Instant::now());
                next = if left.is_zero() {
                    rx.try_recv().ok()
                } else {
                    rx.recv_timeout(left).ok()
                };
            } else if n < MAX_BATCH_EVENTS {
                next = rx.try_recv().ok();
            }
        }
        let mut written = true;
        if !batches.is_empty() {
            match write_batches(&mut conn, &batches, shared, &mut next_id) {
                Ok(bytes) => {
                    shared.total_bytes.fetch_add(bytes, Ordering::Relaxed);
                    stats.written_events.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    written = false;
                    tracing::error!(events = n, "could not store log events: {e}");
                }
            }
            if shared.total_bytes.load(Ordering::Relaxed) > shared.max_bytes {
                match enforce_budget(&conn, shared) {
                    Ok(evicted) => {
                        stats.evicted_events.fetch_add(evicted, Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!("could not enforce the log disk budget: {e}"),
                }
            }
        }
        for ack in acks {
            let _ = ack.send(());
        }
        for ack in put_acks {
            let _ = ack.send(written);
        }
        if close {
            return;
        }
    }
}

/// Group id, creating the group (Lambda creates `/aws/lambda/<fn>` on first output).
pub(crate) fn ensure_group(c: &Connection, name: &str, now: i64) -> Result<i64, rusqlite::Error> {
    c.execute(
        "INSERT OR IGNORE INTO groups (name, created_ms) VALUES (?1, ?2)",
        params![name, now],
    )?;
    c.query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
        r.get(0)
    })
}

/// Commits the batches in one transaction. Event ids come from `next_id` (see
/// `schema.rs` V1: never reused), which moves only when the transaction commits.
fn write_batches(
    conn: &mut Connection,
    batches: &[Batch],
    shared: &Shared,
    next_id: &mut i64,
) -> Result<i64, rusqlite::Error> {
    let now = shared.clock.now_ms();
    let mut id = *next_id;
    let tx = conn.transaction()?;
    let mut total = 0i64;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO events (id, group_id, stream_id, ts, ingest, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut upd = tx.prepare_cached(
            "UPDATE streams SET first_ts = MIN(COALESCE(first_ts, ?2), ?2), last_ts = MAX(COALESCE(last_ts, ?3), ?3),
                 last_ingest = ?4, stored_bytes = stored_bytes + ?5 WHERE id = ?1",
        )?;
        let mut ids: Vec<(&str, &str, i64, i64)> = Vec::new();
        for b in batches {
            let (gid, sid) = match ids
                .iter()
                .find(|(g, s, _, _)| *g == &*b.group && *s == &*b.stream)
            {
                Some(&(_, _, g, s)) => (g, s),
                None => {
                    let gid = ensure_group(&tx, &b.group, now)?;
                    tx.execute(
                        "INSERT OR IGNORE INTO streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)",
                        params![gid, &*b.stream, now],
                    )?;
                    let sid: i64 = tx.query_row(
                        "SELECT id FROM streams WHERE group_id = ?1 AND name = ?2",
                        params![gid, &*b.stream],
                        |r| r.get(0),
                    )?;
                    ids.push((&b.group, &b.stream, gid, sid));
                    (gid, sid)
                }
            };
            let mut bytes = 0i64;
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for (ts, msg) in &b.events {
                ins.execute(params![id, gid, sid, ts, now, msg])?;
                id += 1;
                bytes += msg.len() as i64;
                lo = lo.min(*ts);
                hi = hi.max(*ts);
            }
            upd.execute(params![sid, lo, hi, now, bytes])?;
            total += bytes + EVENT_OVERHEAD * b.events.len() as i64;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'next_event_id'",
            [id],
        )?;
    }
    tx.commit()?;
    *next_id = id;
    Ok(total)
}

/// Deletes the oldest events (by insertion) until the store is under 90% of its budget.
fn enforce_budget(c: &Connection, shared: &Shared) -> Result<u64, rusqlite::Error> {
    let target = shared.max_bytes / 10 * 9;
    let mut evicted = 0u64;
    while shared.total_bytes.load(Ordering::Relaxed) > target {
        let (n, bytes) = delete_chunk(c, "1 = 1", &[])?;
        if n == 0 {
            shared.total_bytes.store(0, Ordering::Relaxed);
            break;
        }
        evicted += n;
        shared.total_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
    tracing::warn!(
        evicted,
        max_mb = shared.max_bytes / (1024 * 1024),
        "log store reached its disk budget (--logs-max-mb): dropped the oldest events"
    );
    Ok(evicted)
}

/// Deletes up to [`DELETE_CHUNK`] of the oldest events matching `cond`; returns
/// (events, bytes counted against the budget).
fn delete_chunk(
    c: &Connection,
    cond: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<(u64, i64), rusqlite::Error> {
    let mut stmt = c.prepare_cached(&format!(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE {cond} ORDER BY id LIMIT {DELETE_CHUNK})
         RETURNING length(CAST(message AS BLOB))"
    ))?;
    let mut rows = stmt.query(args)?;
    let (mut n, mut bytes) = (0u64, 0i64);
    while let Some(r) = rows.next()? {
        n += 1;
        bytes += r.get::<_, i64>(0)? + EVENT_OVERHEAD;
    }
    Ok((n, bytes))
}

/// Deletes events older than their group's retention; returns how many.
fn retention_pass(c: &Connection, shared: &Shared) -> Result<u64, LogError> {
    let now = shared.clock.now_ms();
    let groups: Vec<(i64, i64)> = {
        let mut s =
            c.prepare("SELECT id, retention_days FROM groups WHERE retention_days IS NOT NULL")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut total = 0;
    for (gid, days) in groups {
        let cutoff = now - days * 86_400_000;
        loop {
            let (n, bytes) = delete_chunk(c, "group_id = ?1 AND ts < ?2", &[&gid, &cutoff])?;
            shared.total_bytes.fetch_sub(bytes, Ordering::Relaxed);
            total += n;
            if n < DELETE_CHUNK as u64 {
                break;
            }
        }
        // Streams whose every event expired go too (as CloudWatch's do).
        c.execute(
            "DELETE FROM streams WHERE group_id = ?1 AND COALESCE(last_ts, created_ms) < ?2",
            params![gid, cutoff],
        )?;
        // Streams that still have events: their first event moved.
        c.execute(
            "UPDATE streams SET first_ts = (SELECT MIN(ts) FROM events WHERE stream_id = streams.id)
             WHERE group_id = ?1 AND first_ts < ?2",
            params![gid, cutoff],
        )?;
    }
    if total > 0 {
        tracing::info!(deleted = total, "log retention removed expired events");
    }
    Ok(total)
}

/// The retention of a group, if it exists (used by the API to tell "no group" apart).
pub(crate) fn group_row(
    c: &Connection,
    name: &str,
) -> Result<Option<(i64, i64, Option<i64>)>, rusqlite::Error> {
    c.query_row(
        "SELECT id, created_ms, retention_days FROM groups WHERE name = ?1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}
