//! Per-environment rate limit on function output (a tenant must not be able to flood
//! the platform's disk or its writer; Firecracker rate-limits guest logs likewise).
//!
//! Two token buckets, bytes and lines, refilled continuously. A line is admitted only
//! if both buckets hold enough; otherwise it is dropped and counted, and the next
//! admitted line (or the next [`RateLimiter::take_dropped`], which the engine calls
//! before END) is preceded by one note saying how much was lost.

use std::time::Instant;

/// Rates and bursts of one environment's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Sustained bytes per second.
    pub bytes_per_sec: f64,
    /// Bytes that may arrive at once.
    pub burst_bytes: f64,
    /// Sustained lines per second.
    pub lines_per_sec: f64,
    /// Lines that may arrive at once.
    pub burst_lines: f64,
}

impl Default for RateLimits {
    /// 1 MB/s and 10k lines/s, with a burst of 5 MB / 50k lines so that a function that
    /// prints a large report once is not cut.
    fn default() -> Self {
        RateLimits {
            bytes_per_sec: 1024.0 * 1024.0,
            burst_bytes: 5.0 * 1024.0 * 1024.0,
            lines_per_sec: 10_000.0,
            burst_lines: 50_000.0,
        }
    }
}

/// Lines and bytes dropped since the last note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub lines: u64,
    pub bytes: u64,
}

impl Dropped {
    /// `[quiver] dropped N lines (M bytes): log rate limit`
    pub fn note(&self) -> String {
        format!(
            "[quiver] dropped {} lines ({} bytes): log rate limit",
            self.lines, self.bytes
        )
    }
}

/// Token buckets for one environment.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    bytes: f64,
    lines: f64,
    last: Instant,
    dropped: Dropped,
}

impl RateLimiter {
    /// Full buckets at `now`.
    pub fn new(limits: RateLimits, now: Instant) -> Self {
        RateLimiter {
            limits,
            bytes: limits.burst_bytes,
            lines: limits.burst_lines,
            last: now,
            dropped: Dropped::default(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.bytes = (self.bytes + dt * self.limits.bytes_per_sec).min(self.limits.burst_bytes);
        self.lines = (self.lines + dt * self.limits.lines_per_sec).min(self.limits.burst_lines);
    }

    /// Whether a line of `len` bytes may be kept. Dropped lines are counted.
    pub fn admit(&mut self, len: usize, now: Instant) -> bool {
        self.refill(now);
        let cost = len as f64 + 1.0;
        if self.bytes >= cost && self.lines >= 1.0 {
            self.bytes -= cost;
            self.lines -= 1.0;
            true
        } else {
            self.dropped.lines += 1;
            self.dropped.bytes += len as u64;
            false
        }
    }

    /// What was dropped since the last call, if anything (then resets the count).
    pub fn take_dropped(&mut self) -> Option<Dropped> {
        (self.dropped.lines > 0).then(|| std::mem::take(&mut self.dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn small() -> RateLimits {
        RateLimits {
            bytes_per_sec: 1000.0,
            burst_bytes: 1000.0,
            lines_per_sec: 10.0,
            burst_lines: 10.0,
        }
    }

    #[test]
    fn burst_then_drop_then_refill() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(small(), t0);
        for _ in 0..10 {
            assert!(l.admit(9, t0));
        }
        assert!(
            !l.admit(9, t0),
            "11th line in the same instant exceeds 10 lines"
        );
        assert!(!l.admit(5, t0));
        assert_eq!(
            l.take_dropped(),
            Some(Dropped {
                lines: 2,
                bytes: 14
            })
        );
        assert_eq!(l.take_dropped(), None, "the count resets");
        // 100 ms later one line's worth of tokens is back.
        assert!(l.admit(9, t0 + Duration::from_millis(100)));
        assert!(!l.admit(9, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn byte_budget_limits_long_lines() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(small(), t0);
        assert!(l.admit(600, t0));
        assert!(!l.admit(600, t0), "only 399 bytes left");
        assert!(l.admit(300, t0));
        // Refill is capped at the burst.
        let later = t0 + Duration::from_secs(100);
        assert!(l.admit(998, later));
        assert!(!l.admit(1, later));
    }

    #[test]
    fn note_text() {
        assert_eq!(
            Dropped {
                lines: 3,
                bytes: 120
            }
            .note(),
            "[quiver] dropped 3 lines (120 bytes): log rate limit"
        );
    }
}
