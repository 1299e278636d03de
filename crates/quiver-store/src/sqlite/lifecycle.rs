//! Function lifecycle in SQLite (migration 5, [`quiver_model::Lifecycle`]): the
//! `function_versions.lifecycle` and `settles_at` columns, and the rule that the first
//! store access after a deadline settles every due row (docs/wire.md §13).

use std::sync::atomic::Ordering;

use quiver_model::Lifecycle;
use rusqlite::{params, Connection, OptionalExtension};

use super::{new_revision, SqliteStore};
use crate::StoreError;

pub(super) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Settles every version whose deadline has passed: Pending → Active, InProgress →
/// Successful, each with a new RevisionId (Lambda changes it on every transition).
pub(super) fn settle_due_tx(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    let due: Vec<(String, i64)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT function_name, version FROM function_versions WHERE lifecycle <> 'Settled' AND settles_at <= ?1",
        )?;
        let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (name, version) in &due {
        conn.execute(
            "UPDATE function_versions SET lifecycle = 'Settled', revision_id = ?3 WHERE function_name = ?1 AND version = ?2",
            params![name, version, new_revision()],
        )?;
    }
    Ok(due.len())
}

impl SqliteStore {
    /// How long a create or publish stays `Pending` and an update `InProgress`. Quiver's
    /// code tree is ready before it answers, so the default is 0: the answer itself says
    /// Pending / InProgress and the first store access after it sees the settled state
    /// (botocore's waiters succeed on their first poll). A wider window lets tests
    /// observe the in-progress phase (`quiver serve --update-settle-ms`).
    pub fn with_settle_ms(self, ms: u64) -> Self {
        self.settle_ms.store(ms, Ordering::Relaxed);
        self
    }

    /// A store whose writes land settled (the shared CRUD suite).
    #[cfg(test)]
    pub(crate) fn without_transitions(mut self) -> Self {
        self.transitions = false;
        self
    }

    /// The lifecycle a write starts in: `l`, or settled without transitions.
    pub(super) fn phase(&self, l: Lifecycle) -> Lifecycle {
        if self.transitions {
            l
        } else {
            Lifecycle::Settled
        }
    }

    pub(super) fn settles_at(&self) -> i64 {
        now_ms() + self.settle_ms.load(Ordering::Relaxed) as i64
    }

    /// Applies due transitions before a read. The check takes only the read lock; the
    /// write (which bumps the change counter, so cached resolutions reload) happens only
    /// when something is due.
    pub(super) fn settle_due(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let any: Option<i64> = self
            .lock()
            .prepare_cached(
                "SELECT 1 FROM function_versions WHERE lifecycle <> 'Settled' AND settles_at <= ?1 LIMIT 1",
            )?
            .query_row([now], |r| r.get(0))
            .optional()?;
        if any.is_some() {
            settle_due_tx(&self.write(), now)?;
        }
        Ok(())
    }
}
