//! Group commit: one thread owns the write connection. Jobs queue up while the previous
//! commit is being fsync'd; the thread then runs all of them (up to `max_batch`) in one
//! transaction, each in its own savepoint so one failing job does not undo the others,
//! commits once, and only then answers each caller. Under load one fsync covers many
//! sends; alone, a send costs one fsync, as it must.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::QueueError;

type Reply = Box<dyn FnOnce(Result<(), QueueError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;

/// Tuning of the writer thread.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most jobs in one transaction.
    pub max_batch: usize,
    /// After the first job, wait this long for more before committing (0: commit what
    /// has queued up; batches then form while the previous fsync runs).
    pub linger: Duration,
    /// How often expired messages of all queues are removed when the writer is idle.
    pub sweep_every: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 512,
            linger: Duration::ZERO,
            sweep_every: Duration::from_secs(30),
        }
    }
}

pub(crate) struct Writer {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        cfg: WriterConfig,
        sweep: impl Fn(&Connection) + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("quiver-queue-writer".into())
            .spawn(move || run(conn, rx, cfg, sweep))
            .expect("spawn queue writer thread");
        Self {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Runs `f` in the next transaction; returns its result once that transaction is durable.
    pub fn run<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, QueueError> + Send + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel::<Result<T, QueueError>>(1);
        let job: Job = Box::new(move |conn| {
            let r = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), QueueError>| {
                let _ = rtx.send(commit.and(r));
            })
        });
        let sender = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(QueueError::Closed)?;
        sender.send(job).map_err(|_| QueueError::Closed)?;
        rrx.recv()
            .map_err(|_| QueueError::Storage("the write transaction could not be started".into()))?
    }

    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, QueueError>,
) -> Result<T, QueueError> {
    conn.execute_batch("SAVEPOINT job")?;
    let r = f(conn);
    let end = if r.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    r
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, cfg: WriterConfig, sweep: impl Fn(&Connection)) {
    let mut last_sweep = Instant::now();
    sweep(&conn);
    loop {
        let first = match rx.recv_timeout(cfg.sweep_every) {
            Ok(j) => j,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                sweep(&conn);
                last_sweep = Instant::now();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        let linger_until = Instant::now() + cfg.linger;
        while batch.len() < cfg.max_batch {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => {
                    let left = linger_until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match rx.recv_timeout(left) {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "queue store: cannot begin a transaction");
            continue; // dropping the jobs answers their callers with an error
        }
        let replies: Vec<Reply> = batch.into_iter().map(|job| job(&conn)).collect();
        let outcome = conn.execute_batch("COMMIT").map_err(QueueError::from);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "queue store: commit failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(outcome.clone());
        }
        if last_sweep.elapsed() >= cfg.sweep_every {
            sweep(&conn);
            last_sweep = Instant::now();
        }
    }
}
