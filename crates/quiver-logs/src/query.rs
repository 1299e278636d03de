//! CloudWatch Logs-shaped reads and group administration. Pure data in, data out;
//! the HTTP layer (quiver-api `logs/`) only parses JSON and maps [`LogError`]s.

use rusqlite::{params, params_from_iter, Connection};

use crate::filter::FilterPattern;
use crate::store::{ensure_group, group_row, LogStore};
use crate::LogError;

/// Retention values CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Largest response GetLogEvents / FilterLogEvents return (CloudWatch: 1 MB).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Events FilterLogEvents looks at per call before it answers with a token.
const MAX_SCANNED: usize = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    pub created_ms: i64,
    pub retention_days: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub name: String,
    pub created_ms: i64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub last_ingest: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique, increasing with insertion.
    pub id: i64,
    pub stream: String,
    pub ts: i64,
    pub ingest: i64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamOrder {
    #[default]
    Name,
    LastEventTime,
}

#[derive(Debug, Clone, Default)]
pub struct StreamQuery {
    pub prefix: Option<String>,
    pub order: StreamOrder,
    pub descending: bool,
    pub limit: usize,
    pub offset: usize,
}

/// GetLogEvents. Tokens are `f/<ts>/<id>` (events after that position) and
/// `b/<ts>/<id>` (events before it).
#[derive(Debug, Clone, Default)]
pub struct GetEvents {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub from_head: bool,
    pub limit: usize,
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub forward: String,
    pub backward: String,
}

#[derive(Debug, Clone, Default)]
pub struct FilterQuery {
    pub streams: Option<Vec<String>>,
    pub stream_prefix: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub pattern: FilterPattern,
    pub limit: usize,
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilterPage {
    pub events: Vec<Event>,
    pub next_token: Option<String>,
    pub searched_streams: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Backward,
}

fn bad_token() -> LogError {
    LogError::InvalidParameter("The specified nextToken is invalid.".into())
}

fn parse_pos(s: &str) -> Result<(i64, i64), LogError> {
    let (a, b) = s.split_once('/').ok_or_else(bad_token)?;
    Ok((
        a.parse().map_err(|_| bad_token())?,
        b.parse().map_err(|_| bad_token())?,
    ))
}

fn parse_token(t: &str) -> Result<(Dir, (i64, i64)), LogError> {
    if let Some(rest) = t.strip_prefix("f/") {
        Ok((Dir::Forward, parse_pos(rest)?))
    } else if let Some(rest) = t.strip_prefix("b/") {
        Ok((Dir::Backward, parse_pos(rest)?))
    } else {
        Err(bad_token())
    }
}

pub(crate) fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        stream: r.get(1)?,
        ts: r.get(2)?,
        ingest: r.get(3)?,
        message: r.get(4)?,
    })
}

impl LogStore {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn group_id(c: &Connection, group: &str) -> Result<i64, LogError> {
        group_row(c, group)?
            .map(|g| g.0)
            .ok_or(LogError::GroupNotFound)
    }

    /// CreateLogGroup.
    pub fn create_group(&self, name: &str) -> Result<(), LogError> {
        let c = self.conn();
        if group_row(&c, name)?.is_some() {
            return Err(LogError::GroupExists);
        }
        ensure_group(&c, name, self.shared.clock.now_ms())?;
        Ok(())
    }

    /// DeleteLogGroup: the group, its streams and events.
    pub fn delete_group(&self, name: &str) -> Result<(), LogError> {
        let mut c = self.conn();
        let gid = Self::group_id(&c, name)?;
        let tx = c.transaction()?;
        let bytes: i64 = tx.query_row(
            &format!(
                "SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) + COUNT(*) * {} FROM events WHERE group_id = ?1",
                crate::store::EVENT_OVERHEAD
            ),
            [gid],
            |r| r.get(0),
        )?;
        tx.execute("DELETE FROM events WHERE group_id = ?1", [gid])?;
        tx.execute("DELETE FROM streams WHERE group_id = ?1", [gid])?;
        tx.execute(
            "DELETE FROM subscription_filters WHERE group_id = ?1",
            [gid],
        )?;
        tx.execute("DELETE FROM groups WHERE id = ?1", [gid])?;
        tx.commit()?;
        self.shared
            .total_bytes
            .fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// PutRetentionPolicy (`Some(days)`) / DeleteRetentionPolicy (`None`).
    pub fn set_retention(&self, name: &str, days: Option<i64>) -> Result<(), LogError> {
        if let Some(d) = days {
            if !RETENTION_DAYS.contains(&d) {
                return Err(LogError::InvalidParameter(format!(
                    "1 validation error detected: Value '{d}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}"
                )));
            }
        }
        let c = self.conn();
        let gid = Self::group_id(&c, name)?;
        c.execute(
            "UPDATE groups SET retention_days = ?2 WHERE id = ?1",
            params![gid, days],
        )?;
        Ok(())
    }

    /// DescribeLogGroups: groups whose name starts with `prefix`, by name, after `after`.
    pub fn groups(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<GroupInfo>, LogError> {
        let c = self.conn();
        let mut s = c.prepare_cached(
            "SELECT g.name, g.created_ms, g.retention_days,
                    (SELECT COALESCE(SUM(stored_bytes), 0) FROM streams WHERE group_id = g.id)
             FROM groups g WHERE substr(g.name, 1, length(?1)) = ?1 AND g.name > ?2 ORDER BY g.name LIMIT ?3",
        )?;
        let rows = s.query_map(params![prefix, after.unwrap_or(""), limit as i64], |r| {
            Ok(GroupInfo {
                name: r.get(0)?,
                created_ms: r.get(1)?,
                retention_days: r.get(2)?,
                stored_bytes: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// DescribeLogStreams. Returns the page and whether more follow.
    pub fn streams(
        &self,
        group: &str,
        q: &StreamQuery,
    ) -> Result<(Vec<StreamInfo>, bool), LogError> {
        let c = self.conn();
        let gid = Self::group_id(&c, group)?;
        let dir = if q.descending { "DESC" } else { "ASC" };
        let order = match q.order {
            StreamOrder::Name => format!("name {dir}"),
            StreamOrder::LastEventTime => format!("COALESCE(last_ts, 0) {dir}, name {dir}"),
        };
        let mut s = c.prepare(&format!(
            "SELECT name, created_ms, first_ts, last_ts, last_ingest, stored_bytes FROM streams
             WHERE group_id = ?1 AND substr(name, 1, length(?2)) = ?2 ORDER BY {order} LIMIT ?3 OFFSET ?4"
        ))?;
        let rows = s.query_map(
            params![
                gid,
                q.prefix.as_deref().unwrap_or(""),
                q.limit as i64 + 1,
                q.offset as i64
            ],
            |r| {
                Ok(StreamInfo {
                    name: r.get(0)?,
                    created_ms: r.get(1)?,
                    first_ts: r.get(2)?,
                    last_ts: r.get(3)?,
                    last_ingest: r.get(4)?,
                    stored_bytes: r.get(5)?,
                })
            },
        )?;
        let mut v: Vec<StreamInfo> = rows.collect::<Result<_, _>>()?;
        let more = v.len() > q.limit;
        v.truncate(q.limit);
        Ok((v, more))
    }

    /// GetLogEvents, with CloudWatch's token semantics: the forward token points after
    /// the last event returned, the backward token before the first; a page with no
    /// events returns the token it was given, which is how clients know they are done.
    pub fn get_events(
        &self,
        group: &str,
        stream: &str,
        q: &GetEvents,
    ) -> Result<EventPage, LogError> {
        let c = self.conn();
        let gid = Self::group_id(&c, group)?;
        let sid: i64 = c
            .query_row(
                "SELECT id FROM streams WHERE group_id = ?1 AND name = ?2",
                params![gid, stream],
                |r| r.get(0),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => LogError::StreamNotFound,
                e => e.into(),
            })?;
        let token = q.token.as_deref().map(parse_token).transpose()?;
        let (dir, pos) = match token {
            Some(t) => t,
            None if q.from_head => (Dir::Forward, (i64::MIN, i64::MIN)),
            None => (Dir::Backward, (i64::MAX, i64::MAX)),
        };
        let (start, end) = (q.start.unwrap_or(i64::MIN), q.end.unwrap_or(i64::MAX));
        let sql = match dir {
            Dir::Forward => "SELECT id, ?6, ts, ingest, message FROM events WHERE stream_id = ?1 AND ts >= ?2 AND ts < ?3
                             AND (ts, id) > (?4, ?5) ORDER BY ts, id LIMIT ?7",
            Dir::Backward => "SELECT id, ?6, ts, ingest, message FROM events WHERE stream_id = ?1 AND ts >= ?2 AND ts < ?3
                              AND (ts, id) < (?4, ?5) ORDER BY ts DESC, id DESC LIMIT ?7",
        };
        let mut s = c.prepare_cached(sql)?;
        let rows = s.query_map(
            params![sid, start, end, pos.0, pos.1, stream, q.limit as i64],
            event_row,
        )?;
        let mut events = Vec::new();
        let mut bytes = 0;
        for e in rows {
            let e = e?;
            bytes += e.message.len() + 26;
            if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
                break;
            }
            events.push(e);
        }
        if dir == Dir::Backward {
            events.reverse();
        }
        let (forward, backward) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (
                format!("f/{}/{}", last.ts, last.id),
                format!("b/{}/{}", first.ts, first.id),
            ),
            _ => (
                format!("f/{}/{}", pos.0, pos.1),
                format!("b/{}/{}", pos.0, pos.1),
            ),
        };
        Ok(EventPage {
            events,
            forward,
            backward,
        })
    }

    /// FilterLogEvents: events of the group (or of some streams) in time order, then
    /// insertion order, matching the pattern. Looks at a bounded number of events per
    /// call; `next_token` is set while more may match.
    pub fn filter_events(&self, group: &str, q: &FilterQuery) -> Result<FilterPage, LogError> {
        let c = self.conn();
        let gid = Self::group_id(&c, group)?;
        if q.streams.is_some() && q.stream_prefix.is_some() {
            return Err(LogError::InvalidParameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive".into(),
            ));
        }
        // The streams searched: all, named, or by prefix.
        let all: Vec<(i64, String)> = {
            let mut s =
                c.prepare_cached("SELECT id, name FROM streams WHERE group_id = ?1 ORDER BY name")?;
            let rows = s.query_map([gid], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let selected: Vec<(i64, String)> = match (&q.streams, &q.stream_prefix) {
            (Some(names), _) => all.into_iter().filter(|(_, n)| names.contains(n)).collect(),
            (None, Some(p)) => all
                .into_iter()
                .filter(|(_, n)| n.starts_with(p.as_str()))
                .collect(),
            (None, None) => all,
        };
        let searched_streams: Vec<String> = selected.iter().map(|(_, n)| n.clone()).collect();
        let filtered = q.streams.is_some() || q.stream_prefix.is_some();
        if filtered && selected.is_empty() {
            return Ok(FilterPage {
                events: Vec::new(),
                next_token: None,
                searched_streams,
            });
        }
        let mut pos = match q.token.as_deref() {
            Some(t) => parse_pos(t)?,
            None => (i64::MIN, i64::MIN),
        };
        let (start, end) = (q.start.unwrap_or(i64::MIN), q.end.unwrap_or(i64::MAX));
        let stream_cond = if filtered {
            format!(
                " AND e.stream_id IN ({})",
                selected
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        } else {
            String::new()
        };
        let chunk = q.limit.clamp(100, 5000);
        let sql = format!(
            "SELECT e.id, s.name, e.ts, e.ingest, e.message FROM events e JOIN streams s ON s.id = e.stream_id
             WHERE e.group_id = ?1 AND e.ts >= ?2 AND e.ts < ?3 AND (e.ts, e.id) > (?4, ?5){stream_cond}
             ORDER BY e.ts, e.id LIMIT ?6"
        );
        let mut s = c.prepare(&sql)?;
        let mut events = Vec::new();
        let mut scanned = 0;
        let mut bytes = 0;
        loop {
            let rows: Vec<Event> = s
                .query_map(
                    params_from_iter([gid, start, end, pos.0, pos.1, chunk as i64]),
                    event_row,
                )?
                .collect::<Result<_, _>>()?;
            let exhausted = rows.len() < chunk;
            for e in rows {
                scanned += 1;
                pos = (e.ts, e.id);
                if q.pattern.matches(&e.message) {
                    bytes += e.message.len() + 100;
                    events.push(e);
                    if events.len() >= q.limit || bytes >= MAX_RESPONSE_BYTES {
                        return Ok(FilterPage {
                            events,
                            next_token: Some(format!("{}/{}", pos.0, pos.1)),
                            searched_streams,
                        });
                    }
                }
            }
            if exhausted {
                return Ok(FilterPage {
                    events,
                    next_token: None,
                    searched_streams,
                });
            }
            if scanned >= MAX_SCANNED {
                return Ok(FilterPage {
                    events,
                    next_token: Some(format!("{}/{}", pos.0, pos.1)),
                    searched_streams,
                });
            }
        }
    }
}
