//! Subscription filters: stored with the group they belong to (`logs.db`), and the
//! reads delivery makes.
//!
//! Why here rather than in the function store: a filter's position (`cursor`, the id
//! of the last event it has looked at) is a position in this database's event ids,
//! and DeleteLogGroup must take the group's filters with it; both are one transaction
//! here and would be two databases otherwise. Delivery (quiver-triggers'
//! `log_subscription`) asks for [`LogStore::subscription_work`], hands what matched to
//! the asynchronous invoker (durable once queued) and only then moves the cursor with
//! [`LogStore::advance_subscription`]: at least once, across restarts.

use rusqlite::{params, Connection, OptionalExtension};

use crate::filter::FilterPattern;
use crate::query::Event;
use crate::store::{group_row, LogStore};
use crate::LogError;

/// Subscription filters a log group may have (CloudWatch: two).
pub const MAX_FILTERS_PER_GROUP: usize = 2;

/// A stored subscription filter, as DescribeSubscriptionFilters shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub name: String,
    pub group: String,
    pub pattern: String,
    pub destination: String,
    pub distribution: String,
    pub role_arn: Option<String>,
    pub created_ms: i64,
}

/// What one filter has to deliver: the matching events after its cursor, by stream.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub filter_id: i64,
    pub filter_name: String,
    pub group: String,
    pub destination: String,
    /// The filter was created (or its destination changed) and the destination has
    /// not had its CONTROL_MESSAGE yet.
    pub control: bool,
    /// Where the cursor goes once this is delivered.
    pub cursor: i64,
    /// Matching events, per stream in order of first appearance, each in id order.
    pub streams: Vec<(String, Vec<Event>)>,
}

/// A filter as delivery reads it: id, group id, group, name, pattern, destination,
/// cursor, control pending.
type FilterRow = (i64, i64, String, String, String, String, i64, bool);

impl LogStore {
    fn conn_(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// PutSubscriptionFilter: creates the filter, or updates the one of that name.
    /// The pattern must parse. A new filter starts after the last event stored now
    /// (CloudWatch delivers what is ingested after the filter exists). Returns whether
    /// it was created.
    pub fn put_subscription_filter(&self, f: &SubscriptionFilter) -> Result<bool, LogError> {
        FilterPattern::parse(&f.pattern)?;
        let mut c = self.conn_();
        let gid = group_row(&c, &f.group)?.ok_or(LogError::GroupNotFound)?.0;
        let tx = c.transaction()?;
        let existing: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, destination FROM subscription_filters WHERE group_id = ?1 AND name = ?2",
                params![gid, f.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let created = match existing {
            Some((id, dest)) => {
                tx.execute(
                    "UPDATE subscription_filters SET pattern = ?2, destination = ?3, distribution = ?4,
                         role_arn = ?5, control_pending = control_pending OR ?6 WHERE id = ?1",
                    params![
                        id,
                        f.pattern,
                        f.destination,
                        f.distribution,
                        f.role_arn,
                        dest != f.destination
                    ],
                )?;
                false
            }
            None => {
                let n: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM subscription_filters WHERE group_id = ?1",
                    [gid],
                    |r| r.get(0),
                )?;
                if n as usize >= MAX_FILTERS_PER_GROUP {
                    return Err(LogError::LimitExceeded("Resource limit exceeded.".into()));
                }
                let cursor = crate::schema::last_event_id(&tx)?;
                tx.execute(
                    "INSERT INTO subscription_filters (group_id, name, pattern, destination, distribution, role_arn, created_ms, cursor)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        gid,
                        f.name,
                        f.pattern,
                        f.destination,
                        f.distribution,
                        f.role_arn,
                        self.shared.clock.now_ms(),
                        cursor
                    ],
                )?;
                true
            }
        };
        tx.commit()?;
        Ok(created)
    }

    /// DescribeSubscriptionFilters: by name, names starting with `prefix`, after `after`.
    /// Returns the page and whether more follow.
    pub fn subscription_filters(
        &self,
        group: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<SubscriptionFilter>, bool), LogError> {
        let c = self.conn_();
        let gid = group_row(&c, group)?.ok_or(LogError::GroupNotFound)?.0;
        let mut s = c.prepare_cached(
            "SELECT name, pattern, destination, distribution, role_arn, created_ms FROM subscription_filters
             WHERE group_id = ?1 AND substr(name, 1, length(?2)) = ?2 AND name > ?3 ORDER BY name LIMIT ?4",
        )?;
        let rows = s.query_map(
            params![gid, prefix, after.unwrap_or(""), limit as i64 + 1],
            |r| {
                Ok(SubscriptionFilter {
                    name: r.get(0)?,
                    group: group.to_string(),
                    pattern: r.get(1)?,
                    destination: r.get(2)?,
                    distribution: r.get(3)?,
                    role_arn: r.get(4)?,
                    created_ms: r.get(5)?,
                })
            },
        )?;
        let mut v: Vec<SubscriptionFilter> = rows.collect::<Result<_, _>>()?;
        let more = v.len() > limit;
        v.truncate(limit);
        Ok((v, more))
    }

    /// DeleteSubscriptionFilter.
    pub fn delete_subscription_filter(&self, group: &str, name: &str) -> Result<(), LogError> {
        let c = self.conn_();
        let gid = group_row(&c, group)?.ok_or(LogError::GroupNotFound)?.0;
        let n = c.execute(
            "DELETE FROM subscription_filters WHERE group_id = ?1 AND name = ?2",
            params![gid, name],
        )?;
        if n == 0 {
            return Err(LogError::FilterNotFound);
        }
        Ok(())
    }

    /// What every filter has to deliver now: each filter looks at up to `max_events`
    /// events of its group after its cursor (events committed up to now; ids grow in
    /// commit order, so nothing later can appear behind the cursor).
    pub fn subscription_work(&self, max_events: usize) -> Result<Vec<Delivery>, LogError> {
        let c = self.conn_();
        let hi = crate::schema::last_event_id(&c)?;
        let filters: Vec<FilterRow> = {
            let mut s = c.prepare_cached(
                "SELECT f.id, f.group_id, g.name, f.name, f.pattern, f.destination, f.cursor, f.control_pending
                 FROM subscription_filters f JOIN groups g ON g.id = f.group_id ORDER BY f.id",
            )?;
            let rows = s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        // `+e.group_id`: read by rowid range (the new events only), not the group index.
        let mut s = c.prepare_cached(
            "SELECT e.id, s.name, e.ts, e.ingest, e.message FROM events e JOIN streams s ON s.id = e.stream_id
             WHERE e.id > ?1 AND e.id <= ?2 AND +e.group_id = ?3 ORDER BY e.id LIMIT ?4",
        )?;
        for (id, gid, group, name, pattern, destination, cursor, control) in filters {
            if cursor >= hi && !control {
                continue;
            }
            // A pattern that no longer parses (stored by an older build) matches nothing.
            let pattern = FilterPattern::parse(&pattern).ok();
            let rows: Vec<Event> = s
                .query_map(
                    params![cursor, hi, gid, max_events as i64],
                    crate::query::event_row,
                )?
                .collect::<Result<_, _>>()?;
            let next = if rows.len() >= max_events {
                rows.last().map_or(hi, |e| e.id)
            } else {
                hi
            };
            let mut streams: Vec<(String, Vec<Event>)> = Vec::new();
            for e in rows {
                if !pattern.as_ref().is_some_and(|p| p.matches(&e.message)) {
                    continue;
                }
                match streams.iter_mut().find(|(n, _)| *n == e.stream) {
                    Some((_, v)) => v.push(e),
                    None => streams.push((e.stream.clone(), vec![e])),
                }
            }
            out.push(Delivery {
                filter_id: id,
                filter_name: name,
                group,
                destination,
                control,
                cursor: next.max(cursor),
                streams,
            });
        }
        Ok(out)
    }

    /// Records that a filter's delivery up to `cursor` is queued (and its control
    /// message, if `control_sent`). A cursor never moves back.
    pub fn advance_subscription(
        &self,
        filter_id: i64,
        cursor: i64,
        control_sent: bool,
    ) -> Result<(), LogError> {
        let c = self.conn_();
        c.execute(
            "UPDATE subscription_filters SET cursor = MAX(cursor, ?2),
                 control_pending = CASE WHEN ?3 THEN 0 ELSE control_pending END WHERE id = ?1",
            params![filter_id, cursor, control_sent],
        )?;
        Ok(())
    }
}
