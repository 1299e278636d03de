//! Capture of an environment's stdout/stderr, line by line.
//!
//! Each pipe is read by a background task *and* can be drained on demand: after the
//! runtime answers an invocation the engine calls [`LogCapture::drain`], which reads
//! everything already written to the pipes without waiting. Runtimes write their
//! output before they post `/response`, so a function's last print lands in its own
//! invocation, before END/REPORT.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe::Receiver;

/// Longest line kept; longer output is split (Lambda splits at 256 KB; a line
/// this long is almost certainly binary noise).
const MAX_LINE: usize = 256 * 1024;

/// Lines captured since the last [`LogCapture::take`].
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
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
}

impl LogCapture {
    /// Starts reading the given pipe read ends. Must be called inside a tokio runtime.
    pub fn start(fds: Vec<OwnedFd>) -> io::Result<LogCapture> {
        let mut pipes = Vec::new();
        for fd in fds {
            pipes.push(Pipe { rx: Receiver::from_owned_fd(fd)?, partial: Mutex::new(Vec::new()) });
        }
        let cap = LogCapture { pipes: Arc::new(pipes), lines: Arc::new(Mutex::new(Lines::default())) };
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
        if !out.is_empty() {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            lines.lines.extend(out);
        }
    }

    fn flush_partial(&self, i: usize) {
        let mut partial = self.pipes[i].partial.lock().unwrap_or_else(|p| p.into_inner());
        if !partial.is_empty() {
            let line = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            self.lines.lock().unwrap_or_else(|p| p.into_inner()).lines.push(line);
        }
    }

    /// Reads everything already written to the pipes (without waiting for more) and
    /// turns a trailing unterminated line into a line of its own.
    pub fn drain(&self) {
        for i in 0..self.pipes.len() {
            let _ = self.pump(i);
            self.flush_partial(i);
        }
    }

    /// Takes the lines captured so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.lines.lock().unwrap_or_else(|p| p.into_inner()).lines)
    }
}
