//! Events a client writes: CreateLogStream and PutLogEvents.
//!
//! The batch rules are CloudWatch Logs' (API reference, PutLogEvents): at most 10,000
//! events and 1,048,576 bytes (each message's UTF-8 bytes plus 26), in chronological
//! order, spanning at most 24 hours. Events more than 14 days old (or older than the
//! group's retention) or more than 2 hours in the future are not an error: the rest
//! is stored and the response says which were rejected. Sequence tokens are ignored,
//! as CloudWatch has ignored them since 2023. A batch is stored before PutLogEvents
//! answers (it goes through the writer thread and waits for its commit), so what a
//! client was told is accepted is what subscription filters will deliver.

use std::ops::Range;

use rusqlite::{params, OptionalExtension};

use crate::store::{group_row, LogStore};
use crate::LogError;

/// Most events in one PutLogEvents call.
pub const MAX_PUT_EVENTS: usize = 10_000;
/// Largest batch: messages' UTF-8 bytes plus [`PUT_EVENT_OVERHEAD`] each.
pub const MAX_PUT_BYTES: usize = 1_048_576;
/// What CloudWatch adds to each message when it counts a batch.
pub const PUT_EVENT_OVERHEAD: usize = 26;
const DAY_MS: i64 = 86_400_000;
/// Oldest accepted event: 14 days before now.
const MAX_AGE_MS: i64 = 14 * DAY_MS;
/// Newest accepted event: 2 hours after now.
const MAX_FUTURE_MS: i64 = 2 * 3_600_000;
/// Widest time span of the accepted events of one batch.
const MAX_SPAN_MS: i64 = DAY_MS;

/// Which events of a batch are stored, and the rejection indexes CloudWatch reports
/// (`tooOldLogEventEndIndex` and `expiredLogEventEndIndex` exclusive,
/// `tooNewLogEventStartIndex` inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutCheck {
    pub accepted: Range<usize>,
    pub too_old_end: Option<usize>,
    pub expired_end: Option<usize>,
    pub too_new_start: Option<usize>,
}

impl PutCheck {
    /// True when some events were rejected (the response carries `rejectedLogEventsInfo`).
    pub fn rejected(&self) -> bool {
        self.too_old_end.is_some() || self.expired_end.is_some() || self.too_new_start.is_some()
    }
}

/// Checks a batch of (timestamp, message) against the rules, at `now` (ms), for a group
/// with `retention_days`. Pure.
pub fn check_batch(
    events: &[(i64, String)],
    now: i64,
    retention_days: Option<i64>,
) -> Result<PutCheck, LogError> {
    if events.is_empty() {
        return Err(LogError::InvalidParameter(
            "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    if events.len() > MAX_PUT_EVENTS {
        return Err(LogError::InvalidParameter(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {MAX_PUT_EVENTS}"
        )));
    }
    if let Some(i) = events.iter().position(|(_, m)| m.is_empty()) {
        return Err(LogError::InvalidParameter(format!(
            "1 validation error detected: Value '' at 'logEvents.{}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
            i + 1
        )));
    }
    let size: usize = events
        .iter()
        .map(|(_, m)| m.len() + PUT_EVENT_OVERHEAD)
        .sum();
    if size > MAX_PUT_BYTES {
        return Err(LogError::InvalidParameter(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_PUT_BYTES}"
        )));
    }
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(LogError::InvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        ));
    }
    // Chronological, so the too old ones are a prefix and the too new ones a suffix.
    let old_cut = now - MAX_AGE_MS;
    let too_old = events.partition_point(|(ts, _)| *ts < old_cut);
    let expired = match retention_days {
        Some(d) if now - d * DAY_MS > old_cut => {
            let cut = now - d * DAY_MS;
            events.partition_point(|(ts, _)| *ts < cut)
        }
        _ => too_old,
    };
    let too_new = events.partition_point(|(ts, _)| *ts <= now + MAX_FUTURE_MS);
    let start = too_old.max(expired);
    let accepted = start..too_new.max(start);
    if let (Some(first), Some(last)) = (
        events.get(accepted.start),
        accepted.end.checked_sub(1).and_then(|i| events.get(i)),
    ) {
        if accepted.end > accepted.start && last.0 - first.0 > MAX_SPAN_MS {
            return Err(LogError::InvalidParameter(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
                    .into(),
            ));
        }
    }
    Ok(PutCheck {
        too_old_end: (too_old > 0).then_some(too_old),
        expired_end: (expired > too_old).then_some(expired),
        too_new_start: (too_new < events.len()).then_some(too_new),
        accepted,
    })
}

impl LogStore {
    /// CreateLogStream. The group must exist (CloudWatch does not create it here).
    pub fn create_stream(&self, group: &str, stream: &str) -> Result<(), LogError> {
        let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
        let gid = group_row(&c, group)?.ok_or(LogError::GroupNotFound)?.0;
        let n = c.execute(
            "INSERT OR IGNORE INTO streams (group_id, name, created_ms) VALUES (?1, ?2, ?3)",
            params![gid, stream, self.shared.clock.now_ms()],
        )?;
        if n == 0 {
            return Err(LogError::StreamExists);
        }
        Ok(())
    }

    /// PutLogEvents: checks the batch, stores the accepted events and returns once they
    /// are committed. Blocks (call it off the async runtime).
    pub fn put_events(
        &self,
        group: &str,
        stream: &str,
        events: Vec<(i64, String)>,
    ) -> Result<PutCheck, LogError> {
        let retention = {
            let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
            let (gid, _, retention) = group_row(&c, group)?.ok_or(LogError::GroupNotFound)?;
            c.query_row(
                "SELECT id FROM streams WHERE group_id = ?1 AND name = ?2",
                params![gid, stream],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .ok_or(LogError::StreamNotFound)?;
            retention
        };
        let check = check_batch(&events, self.shared.clock.now_ms(), retention)?;
        let kept: Vec<(i64, String)> = events
            .into_iter()
            .skip(check.accepted.start)
            .take(check.accepted.len())
            .collect();
        if kept.is_empty() {
            return Ok(check);
        }
        let (ack, done) = std::sync::mpsc::channel();
        let batch = crate::sink::Batch {
            group: group.into(),
            stream: stream.into(),
            events: kept,
        };
        // Waits for room in the writer's queue: this caller needs its answer.
        self.sink
            .tx
            .send(crate::sink::Msg::Put(batch, ack))
            .map_err(|_| LogError::Closed)?;
        match done.recv() {
            Ok(true) => Ok(check),
            Ok(false) => Err(LogError::NotStored),
            Err(_) => Err(LogError::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn ev(ts: &[i64]) -> Vec<(i64, String)> {
        ts.iter().map(|t| (*t, "m".to_string())).collect()
    }

    #[test]
    fn all_in_window_accepted() {
        let c = check_batch(&ev(&[NOW - 1000, NOW, NOW + 1000]), NOW, None).unwrap();
        assert_eq!(c.accepted, 0..3);
        assert!(!c.rejected());
    }

    #[test]
    fn too_old_prefix_and_too_new_suffix_are_reported() {
        let old = NOW - MAX_AGE_MS - 1;
        let new = NOW + MAX_FUTURE_MS + 1;
        let c = check_batch(&ev(&[old, old, NOW, new]), NOW, None).unwrap();
        assert_eq!(c.accepted, 2..3);
        assert_eq!(c.too_old_end, Some(2));
        assert_eq!(c.too_new_start, Some(3));
        assert_eq!(c.expired_end, None);
        // Exactly at the limits: accepted.
        let c = check_batch(&ev(&[NOW - MAX_AGE_MS]), NOW, None).unwrap();
        assert_eq!(c.accepted, 0..1);
        let c = check_batch(&ev(&[NOW + MAX_FUTURE_MS]), NOW, None).unwrap();
        assert_eq!(c.accepted, 0..1);
        // Everything rejected.
        let c = check_batch(&ev(&[new]), NOW, None).unwrap();
        assert_eq!(c.accepted.len(), 0);
        assert_eq!(c.too_new_start, Some(0));
    }

    #[test]
    fn retention_shorter_than_14_days_expires() {
        let c = check_batch(&ev(&[NOW - 3 * DAY_MS, NOW - 1000]), NOW, Some(1)).unwrap();
        assert_eq!(c.accepted, 1..2);
        assert_eq!(c.expired_end, Some(1));
        assert_eq!(c.too_old_end, None);
    }

    #[test]
    fn batch_rules_are_errors() {
        assert!(check_batch(&[], NOW, None).is_err());
        let e = check_batch(&ev(&[NOW, NOW - 1]), NOW, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Log events in a single PutLogEvents request must be in chronological order."
        );
        assert!(check_batch(&ev(&vec![NOW; MAX_PUT_EVENTS + 1]), NOW, None).is_err());
        assert!(check_batch(&ev(&vec![NOW; MAX_PUT_EVENTS]), NOW, None).is_ok());
        // 1,048,576 bytes counted with 26 per event: exactly the limit passes.
        let exact = vec![(NOW, "x".repeat(MAX_PUT_BYTES - PUT_EVENT_OVERHEAD))];
        assert!(check_batch(&exact, NOW, None).is_ok());
        let over = vec![(NOW, "x".repeat(MAX_PUT_BYTES - PUT_EVENT_OVERHEAD + 1))];
        assert_eq!(
            check_batch(&over, NOW, None).unwrap_err().to_string(),
            "Upload too large: 1048577 bytes exceeds limit of 1048576"
        );
        let span = check_batch(&ev(&[NOW - DAY_MS - 1, NOW]), NOW, None).unwrap_err();
        assert!(span.to_string().contains("24 hours"));
        assert!(check_batch(&[(NOW, String::new())], NOW, None).is_err());
    }
}
