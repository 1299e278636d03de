//! One function per CloudWatch Logs operation: JSON request in, JSON response out.
//! Member names and defaults follow botocore's `logs/2014-03-28/service-2.json`.

use quiver_logs::{FilterPattern, FilterQuery, GetEvents, LogStore, StreamOrder, StreamQuery};
use quiver_model::Partition;
use serde_json::{json, Map, Value};

use super::LogsApiError;

type R = Result<Value, LogsApiError>;

pub fn dispatch(store: &LogStore, p: &Partition, op: &str, req: &Value) -> R {
    match op {
        "DescribeLogGroups" => describe_log_groups(store, p, req),
        "DescribeLogStreams" => describe_log_streams(store, p, req),
        "GetLogEvents" => get_log_events(store, req),
        "FilterLogEvents" => filter_log_events(store, req),
        "CreateLogGroup" => {
            let name = group_name(req, "logGroupName")?;
            store.create_group(&name)?;
            Ok(json!({}))
        }
        "DeleteLogGroup" => {
            store.delete_group(&group_name(req, "logGroupName")?)?;
            Ok(json!({}))
        }
        "PutRetentionPolicy" => {
            let days = int(req, "retentionInDays")?.ok_or_else(|| missing("retentionInDays"))?;
            store.set_retention(&group_name(req, "logGroupName")?, Some(days))?;
            Ok(json!({}))
        }
        "DeleteRetentionPolicy" => {
            store.set_retention(&group_name(req, "logGroupName")?, None)?;
            Ok(json!({}))
        }
        "CreateLogStream" => {
            let group = group_name(req, "logGroupName")?;
            store.create_stream(&group, &stream_name(req)?)?;
            Ok(json!({}))
        }
        "PutLogEvents" => put_log_events(store, req),
        "PutSubscriptionFilter" => super::subscriptions::put(store, req),
        "DescribeSubscriptionFilters" => super::subscriptions::describe(store, req),
        "DeleteSubscriptionFilter" => super::subscriptions::delete(store, req),
        other => Err(LogsApiError {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: "UnknownOperationException",
            message: format!("Unknown operation: Logs_20140328.{other}"),
        }),
    }
}

pub(super) fn missing(member: &str) -> LogsApiError {
    LogsApiError::invalid(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"))
}

pub(super) fn string(req: &Value, member: &str) -> Result<Option<String>, LogsApiError> {
    match req.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LogsApiError::invalid(format!("{member} must be a string"))),
    }
}

pub(super) fn int(req: &Value, member: &str) -> Result<Option<i64>, LogsApiError> {
    match req.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| LogsApiError::invalid(format!("{member} must be an integer"))),
    }
}

fn boolean(req: &Value, member: &str) -> Result<Option<bool>, LogsApiError> {
    match req.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(LogsApiError::invalid(format!("{member} must be a boolean"))),
    }
}

/// `limit` within [1, max], `default` when absent.
pub(super) fn limit(req: &Value, default: usize, max: usize) -> Result<usize, LogsApiError> {
    match int(req, "limit")? {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(LogsApiError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value {}",
            if n < 1 { "greater than or equal to 1".to_string() } else { format!("less than or equal to {max}") }
        ))),
    }
}

/// A log group name (1–512 of `[\.\-_/#A-Za-z0-9]`), also accepted as an ARN in
/// `logGroupIdentifier`.
pub(super) fn group_name(req: &Value, member: &str) -> Result<String, LogsApiError> {
    let name = match string(req, member)? {
        Some(n) => n,
        None => match string(req, "logGroupIdentifier")? {
            Some(id) => id
                .split_once(":log-group:")
                .map(|(_, n)| n.trim_end_matches(":*").to_string())
                .unwrap_or(id),
            None => return Err(missing(member)),
        },
    };
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b));
    if !ok {
        return Err(LogsApiError::invalid(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )));
    }
    Ok(name)
}

/// A log stream name: 1–512 characters, no `:` or `*` (botocore `LogStreamName`).
fn stream_name(req: &Value) -> Result<String, LogsApiError> {
    let name = string(req, "logStreamName")?.ok_or_else(|| missing("logStreamName"))?;
    if name.is_empty() || name.chars().count() > 512 || name.contains([':', '*']) {
        return Err(LogsApiError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(name)
}

/// PutLogEvents (docs/wire.md §7, §27). `sequenceToken` is accepted and ignored; the
/// answer carries a `nextSequenceToken` all the same, for clients that still read it.
fn put_log_events(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let stream = stream_name(req)?;
    let Some(list) = req.get("logEvents") else {
        return Err(missing("logEvents"));
    };
    let list = list
        .as_array()
        .ok_or_else(|| LogsApiError::invalid("logEvents must be a list"))?;
    let mut events = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let member = |m: &str| format!("logEvents.{}.member.{m}", i + 1);
        let ts = int(e, "timestamp")?.ok_or_else(|| missing(&member("timestamp")))?;
        if ts < 0 {
            return Err(LogsApiError::invalid(format!(
                "1 validation error detected: Value '{ts}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to 0",
                member("timestamp")
            )));
        }
        let message = string(e, "message")?.ok_or_else(|| missing(&member("message")))?;
        events.push((ts, message));
    }
    let check = store.put_events(&group, &stream, events)?;
    let mut out = json!({ "nextSequenceToken": format!("{:056}", check.accepted.end) });
    if check.rejected() {
        let mut info = Map::new();
        if let Some(i) = check.too_new_start {
            info.insert("tooNewLogEventStartIndex".into(), json!(i));
        }
        if let Some(i) = check.too_old_end {
            info.insert("tooOldLogEventEndIndex".into(), json!(i));
        }
        if let Some(i) = check.expired_end {
            info.insert("expiredLogEventEndIndex".into(), json!(i));
        }
        out["rejectedLogEventsInfo"] = Value::Object(info);
    }
    Ok(out)
}

fn group_arn(p: &Partition, name: &str) -> String {
    format!("arn:aws:logs:{}:{}:log-group:{name}", p.region, p.account)
}

fn describe_log_groups(store: &LogStore, p: &Partition, req: &Value) -> R {
    let prefix = string(req, "logGroupNamePrefix")?.unwrap_or_default();
    let limit = limit(req, 50, 50)?;
    let after = string(req, "nextToken")?;
    let mut groups = store.groups(&prefix, after.as_deref(), limit + 1)?;
    let more = groups.len() > limit;
    groups.truncate(limit);
    let next = more
        .then(|| groups.last().map(|g| g.name.clone()))
        .flatten();
    let list: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut o = Map::new();
            o.insert("logGroupName".into(), json!(g.name));
            o.insert("creationTime".into(), json!(g.created_ms));
            if let Some(d) = g.retention_days {
                o.insert("retentionInDays".into(), json!(d));
            }
            o.insert("metricFilterCount".into(), json!(0));
            o.insert("arn".into(), json!(format!("{}:*", group_arn(p, &g.name))));
            o.insert("storedBytes".into(), json!(g.stored_bytes));
            o.insert("logGroupClass".into(), json!("STANDARD"));
            o.insert("logGroupArn".into(), json!(group_arn(p, &g.name)));
            Value::Object(o)
        })
        .collect();
    let mut out = json!({ "logGroups": list });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

fn describe_log_streams(store: &LogStore, p: &Partition, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let prefix = string(req, "logStreamNamePrefix")?;
    let order = match string(req, "orderBy")?.as_deref() {
        None | Some("LogStreamName") => StreamOrder::Name,
        Some("LastEventTime") => StreamOrder::LastEventTime,
        Some(o) => {
            return Err(LogsApiError::invalid(format!(
                "1 validation error detected: Value '{o}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )))
        }
    };
    if order == StreamOrder::LastEventTime && prefix.is_some() {
        return Err(LogsApiError::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let offset = match string(req, "nextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix("o/")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| LogsApiError::invalid("The specified nextToken is invalid."))?,
    };
    let q = StreamQuery {
        prefix,
        order,
        descending: boolean(req, "descending")?.unwrap_or(false),
        limit: limit(req, 50, 50)?,
        offset,
    };
    let (streams, more) = store.streams(&group, &q)?;
    let list: Vec<Value> = streams
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("logStreamName".into(), json!(s.name));
            o.insert("creationTime".into(), json!(s.created_ms));
            if let Some(t) = s.first_ts {
                o.insert("firstEventTimestamp".into(), json!(t));
            }
            if let Some(t) = s.last_ts {
                o.insert("lastEventTimestamp".into(), json!(t));
            }
            if let Some(t) = s.last_ingest {
                o.insert("lastIngestionTime".into(), json!(t));
            }
            o.insert(
                "arn".into(),
                json!(format!("{}:log-stream:{}", group_arn(p, &group), s.name)),
            );
            o.insert("storedBytes".into(), json!(s.stored_bytes));
            Value::Object(o)
        })
        .collect();
    let mut out = json!({ "logStreams": list });
    if more {
        out["nextToken"] = json!(format!("o/{}", offset + q.limit));
    }
    Ok(out)
}

fn get_log_events(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let stream = string(req, "logStreamName")?.ok_or_else(|| missing("logStreamName"))?;
    let q = GetEvents {
        start: int(req, "startTime")?,
        end: int(req, "endTime")?,
        from_head: boolean(req, "startFromHead")?.unwrap_or(false),
        limit: limit(req, 10_000, 10_000)?,
        token: string(req, "nextToken")?,
    };
    let page = store.get_events(&group, &stream, &q)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| json!({ "timestamp": e.ts, "message": e.message, "ingestionTime": e.ingest }))
        .collect();
    Ok(
        json!({ "events": events, "nextForwardToken": page.forward, "nextBackwardToken": page.backward }),
    )
}

fn filter_log_events(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let streams = match req.get("logStreamNames") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| LogsApiError::invalid("logStreamNames must be strings"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(LogsApiError::invalid("logStreamNames must be a list")),
    };
    let q = FilterQuery {
        streams,
        stream_prefix: string(req, "logStreamNamePrefix")?,
        start: int(req, "startTime")?,
        end: int(req, "endTime")?,
        pattern: FilterPattern::parse(&string(req, "filterPattern")?.unwrap_or_default())?,
        limit: limit(req, 10_000, 10_000)?,
        token: string(req, "nextToken")?,
    };
    let page = store.filter_events(&group, &q)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "logStreamName": e.stream,
                "timestamp": e.ts,
                "message": e.message,
                "ingestionTime": e.ingest,
                "eventId": format!("{:020}", e.id),
            })
        })
        .collect();
    let searched: Vec<Value> = page
        .searched_streams
        .iter()
        .map(|s| json!({ "logStreamName": s, "searchedCompletely": true }))
        .collect();
    let mut out = json!({ "events": events, "searchedLogStreams": searched });
    if let Some(t) = page.next_token {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
