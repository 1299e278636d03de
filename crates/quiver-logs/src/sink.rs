//! The engine's way in: [`LogSink`] hands events to the writer thread through a
//! bounded channel with `try_send`, so the invoke path never waits for the disk; when
//! the channel is full the batch is dropped and counted. [`StreamLog`] is one
//! environment's stream: it stamps lines, applies the environment's rate limit and
//! turns the runtimes' multi-line records into single events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::limit::{RateLimiter, RateLimits};

/// Milliseconds since the epoch, shifted by a fixed offset.
///
/// The offset exists only for the hidden `--logs-clock-offset-secs` dev flag: a
/// server restarted with `+2 days` on the same data dir behaves as if it had been
/// restarted two days later, which is how the retention tests age events honestly
/// (nothing rewrites stored timestamps).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    pub offset_ms: i64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_millis() as i64 + self.offset_ms
    }
}

/// One batch of events of one stream.
pub(crate) struct Batch {
    pub group: Arc<str>,
    pub stream: Arc<str>,
    /// (timestamp ms, message)
    pub events: Vec<(i64, String)>,
}

pub(crate) enum Msg {
    Events(Batch),
    /// Answered once everything sent before it is committed.
    Flush(std::sync::mpsc::Sender<()>),
    /// Events that must be stored before the caller answers (PutLogEvents): committed
    /// with the next batch, then answered with whether the commit succeeded.
    Put(Batch, std::sync::mpsc::Sender<bool>),
    /// Commit what is queued before it, then stop.
    Close,
}

/// Counters shared by the sink and the writer.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub dropped_events: AtomicU64,
    pub written_events: AtomicU64,
    pub evicted_events: AtomicU64,
}

/// Where environments send their lines. Cheap to clone.
#[derive(Clone)]
pub struct LogSink {
    pub(crate) tx: SyncSender<Msg>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) clock: Clock,
    pub(crate) rate: RateLimits,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("clock", &self.clock)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl LogSink {
    /// The log clock (see [`Clock`]).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A handle for one environment's stream, with its own rate limiter.
    pub fn stream(&self, group: &str, stream: &str) -> StreamLog {
        StreamLog {
            sink: self.clone(),
            group: Arc::from(group),
            stream: Arc::from(stream),
            limiter: Mutex::new(RateLimiter::new(self.rate, Instant::now())),
        }
    }

    /// Queues events without waiting. Returns false (and counts them) when the writer
    /// is behind and the queue is full, or the store is closed.
    pub fn send(&self, group: &str, stream: &str, events: Vec<(i64, String)>) -> bool {
        self.send_batch(Batch {
            group: Arc::from(group),
            stream: Arc::from(stream),
            events,
        })
    }

    fn send_batch(&self, b: Batch) -> bool {
        if b.events.is_empty() {
            return true;
        }
        let n = b.events.len() as u64;
        match self.tx.try_send(Msg::Events(b)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let before = self.stats.dropped_events.fetch_add(n, Ordering::Relaxed);
                // One warning per 10k dropped, not one per batch.
                if before / 10_000 != (before + n) / 10_000 || before == 0 {
                    tracing::warn!(
                        dropped_total = before + n,
                        "log writer queue full: dropping log events"
                    );
                }
                false
            }
        }
    }

    /// Events dropped because the writer queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.stats.dropped_events.load(Ordering::Relaxed)
    }

    /// Waits until everything queued so far is committed (tests, shutdown).
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

/// One execution environment's log stream.
pub struct StreamLog {
    sink: LogSink,
    group: Arc<str>,
    stream: Arc<str>,
    limiter: Mutex<RateLimiter>,
}

impl std::fmt::Debug for StreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamLog")
            .field("group", &self.group)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl StreamLog {
    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Function output: stamps each line now, drops what exceeds the rate limit (with
    /// one note before the next admitted line), stores the rest. Returns the admitted
    /// lines as printed (notes included), for the Invoke Tail.
    pub fn output(&self, lines: Vec<String>) -> Vec<String> {
        let ts = self.sink.now_ms();
        let now = Instant::now();
        let mut kept = Vec::with_capacity(lines.len());
        let mut events = Vec::with_capacity(lines.len());
        {
            let mut lim = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
            for line in lines {
                if !lim.admit(line.len(), now) {
                    continue;
                }
                if let Some(d) = lim.take_dropped() {
                    events.push((ts, d.note()));
                    kept.push(d.note());
                }
                events.push((ts, event_message(&line)));
                kept.push(line);
            }
        }
        self.sink.send_batch(Batch {
            group: self.group.clone(),
            stream: self.stream.clone(),
            events,
        });
        kept
    }

    /// The note for lines dropped since the last admitted one, if any (stored now).
    /// The engine calls it before END so that the note lands in its invocation.
    pub fn flush_dropped(&self) -> Option<String> {
        let d = self
            .limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_dropped()?;
        let note = d.note();
        self.platform(&note);
        Some(note)
    }

    /// A platform line (START, END, REPORT, timeout and exit lines): not rate limited.
    pub fn platform(&self, line: &str) {
        let ts = self.sink.now_ms();
        self.sink.send_batch(Batch {
            group: self.group.clone(),
            stream: self.stream.clone(),
            events: vec![(ts, line.to_string())],
        });
    }
}

/// One printed line as one event. The Lambda runtimes print a log record that spans
/// several lines (a traceback, a multi-line message) with `\r` in place of its inner
/// newlines (awslambdaric's `ERROR_LOG_LINE_TERMINATE`, Node's LogPatch) precisely so
/// that it stays one event; here those become real newlines again, as on CloudWatch.
/// Plain prints were already split at `\n` by the capture.
pub fn event_message(line: &str) -> String {
    let t = line.strip_suffix('\r').unwrap_or(line);
    if t.contains('\r') {
        t.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_marked_records_become_one_multiline_event() {
        assert_eq!(
            event_message("[ERROR] boom\rTraceback:\r  File x"),
            "[ERROR] boom\nTraceback:\n  File x"
        );
        assert_eq!(event_message("plain"), "plain");
        assert_eq!(event_message("crlf line\r"), "crlf line");
    }

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let sink = LogSink {
            tx,
            stats: Arc::default(),
            clock: Clock::default(),
            rate: RateLimits::default(),
        };
        assert!(sink.send("g", "s", vec![(1, "a".into())]));
        assert!(!sink.send("g", "s", vec![(1, "b".into()), (2, "c".into())]));
        assert_eq!(sink.dropped_events(), 2);
        drop(rx);
    }

    #[test]
    fn stream_output_rate_limited_with_note() {
        let (tx, rx) = std::sync::mpsc::sync_channel(100);
        let rate = RateLimits {
            bytes_per_sec: 1.0,
            burst_bytes: 100.0,
            lines_per_sec: 0.001,
            burst_lines: 3.0,
        };
        let sink = LogSink {
            tx,
            stats: Arc::default(),
            clock: Clock::default(),
            rate,
        };
        let s = sink.stream("/aws/lambda/f", "st");
        let kept = s.output((0..5).map(|i| format!("line{i}")).collect());
        assert_eq!(kept, vec!["line0", "line1", "line2"]);
        assert_eq!(
            s.flush_dropped().as_deref(),
            Some("[quiver] dropped 2 lines (10 bytes): log rate limit")
        );
        assert_eq!(s.flush_dropped(), None);
        let mut msgs = Vec::new();
        while let Ok(Msg::Events(b)) = rx.try_recv() {
            msgs.extend(b.events.into_iter().map(|e| e.1));
        }
        assert_eq!(
            msgs,
            vec![
                "line0",
                "line1",
                "line2",
                "[quiver] dropped 2 lines (10 bytes): log rate limit"
            ]
        );
    }
}
