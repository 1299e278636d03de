//! Capture of an environment's stdout/stderr, line by line.
//!
//! Each pipe is read by a background task *and* can be drained on demand: after the
//! runtime answers an invocation the engine calls [`LogCapture::drain`], which reads
//! everything already written to the pipes without waiting. Runtimes write their
//! output before they post `/response`, so a function's last print lands in its own
//! invocation, before END/REPORT.
//!
//! Every line goes to the environment's log stream (quiver-logs) as soon as it is
//! read, stamped with the time it was read and after the environment's rate limit;
//! the same admitted lines are kept (bounded) for the Invoke Tail.

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use quiver_logs::StreamLog;
use tokio::net::unix::pipe::Receiver;

/// Longest line kept; longer output is split (Lambda splits at 256 KB; a line
/// this long is almost certainly binary noise).
const MAX_LINE: usize = 256 * 1024;

/// Bytes of captured lines kept for the Invoke Tail (which shows the last 4 KB): a
/// function printing 100 MB must not make the server hold 100 MB.
const KEEP_BYTES: usize = 64 * 1024;

/// Lines captured since the last [`LogCapture::take`], the newest [`KEEP_BYTES`].
#[derive(Default)]
struct Lines {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Lines {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > KEEP_BYTES && self.lines.len() > 1 {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
            }
        }
    }
}

struct Pipe {
    rx: Receiver,
    partial: Mutex<Vec<u8>>,
}

/// The output of one environment's runtime.
#[derive(Clone)]
pub struct LogCapture {
    pipes: Arc<Vec<Pipe>>,
    lines: Arc<Mutex<Lines>>,
    /// The environment's stream in the log store, if the server keeps logs.
    sink: Option<Arc<StreamLog>>,
}

impl LogCapture {
    /// Starts reading the given pipe read ends. Must be called inside a tokio runtime.
    pub fn start(fds: Vec<OwnedFd>, sink: Option<Arc<StreamLog>>) -> io::Result<LogCapture> {
        let mut pipes = Vec::new();
        for fd in fds {
            pipes.push(Pipe {
                rx: Receiver::from_owned_fd(fd)?,
                partial: Mutex::new(Vec::new()),
            });
        }
        let cap = LogCapture {
            pipes: Arc::new(pipes),
            lines: Arc::new(Mutex::new(Lines::default())),
            sink,
        };
        for i in 0..cap.pipes.len() {
            let me = cap.clone();
            tokio::spawn(async move { me.read_loop(i).await });
        }
        Ok(cap)
    }

    async fn read_loop(&self, i: usize) {
        loop {
            if self.pipes[i].rx.readable().await.is_err() {
                break;
            }
            match self.pump(i) {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
        self.flush_partial(i);
    }

    /// Reads what is available without blocking. Ok(false) at end of file.
    fn pump(&self, i: usize) -> io::Result<bool> {
        let pipe = &self.pipes[i];
        let mut partial = pipe.partial.lock().unwrap_or_else(|p| p.into_inner());
        let mut buf = [0u8; 16 * 1024];
        loop {
            match pipe.rx.try_read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    partial.extend_from_slice(&buf[..n]);
                    self.split_lines(&mut partial);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn split_lines(&self, partial: &mut Vec<u8>) {
        let mut start = 0;
        let mut out = Vec::new();
        while let Some(pos) = partial[start..].iter().position(|&b| b == b'\n') {
            out.push(String::from_utf8_lossy(&partial[start..start + pos]).into_owned());
            start += pos + 1;
        }
        partial.drain(..start);
        while partial.len() > MAX_LINE {
            let rest = partial.split_off(MAX_LINE);
            out.push(String::from_utf8_lossy(partial).into_owned());
            *partial = rest;
        }
        self.keep(out);
    }

    /// Stores `out` (rate limited) and keeps what was admitted for the tail. Called
    /// with the pipe's `partial` lock held, so that [`LogCapture::drain`] returns only
    /// once every line read so far is queued for the store.
    fn keep(&self, out: Vec<String>) {
        if out.is_empty() {
            return;
        }
        let kept = match &self.sink {
            Some(s) => s.output(out),
            None => out,
        };
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        for l in kept {
            lines.push(l);
        }
    }

    fn flush_partial(&self, i: usize) {
        let mut partial = self.pipes[i]
            .partial
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !partial.is_empty() {
            let line = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            self.keep(vec![line]);
        }
    }

    /// Reads everything already written to the pipes (without waiting for more) and
    /// turns a trailing unterminated line into a line of its own. A note for lines the
    /// rate limit dropped since the last admitted one comes last.
    pub fn drain(&self) {
        for i in 0..self.pipes.len() {
            let _ = self.pump(i);
            self.flush_partial(i);
        }
        if let Some(note) = self.sink.as_ref().and_then(|s| s.flush_dropped()) {
            self.lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(note);
        }
    }

    /// Takes the lines captured so far.
    pub fn take(&self) -> Vec<String> {
        let mut l = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        l.bytes = 0;
        std::mem::take(&mut l.lines).into()
    }

    /// Stores a platform line (START, END, REPORT, …) in the environment's stream, in
    /// order with the function's output.
    pub fn platform(&self, line: &str) {
        if let Some(s) = &self.sink {
            s.platform(line);
        }
    }
}
