//! PutEvents: each entry checked and turned into its envelope, the accepted ones made
//! durable in one write, and an answer per entry (EventId, or ErrorCode/ErrorMessage).

use quiver_events::bridge::{
    envelope, PutEventsEntry, DEFAULT_BUS, MAX_PUT_EVENTS_BYTES, MAX_PUT_EVENTS_ENTRIES,
};
use quiver_store::EventRuleStore;
use serde_json::{json, Value};

use super::{missing, EventsApiError};
use crate::state::AppState;

fn opt(entry: &Value, member: &str) -> Option<String> {
    entry.get(member).and_then(Value::as_str).map(str::to_owned)
}

/// An entry's size as EventBridge counts it: Source, DetailType, Detail, Resources
/// and the Time member's 14 bytes.
fn entry_size(e: &PutEventsEntry) -> usize {
    e.source.as_ref().map_or(0, String::len)
        + e.detail_type.as_ref().map_or(0, String::len)
        + e.detail.as_ref().map_or(0, String::len)
        + e.resources.iter().map(String::len).sum::<usize>()
        + if e.time.is_some() { 14 } else { 0 }
}

pub(super) async fn put_events(state: &AppState, req: &Value) -> Result<Value, EventsApiError> {
    let entries = match req.get("Entries") {
        Some(Value::Array(e)) => e,
        _ => return Err(missing("Entries")),
    };
    if entries.is_empty() || entries.len() > MAX_PUT_EVENTS_ENTRIES {
        return Err(EventsApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1",
            entries.len()
        )));
    }
    let parsed: Vec<PutEventsEntry> = entries
        .iter()
        .map(|e| PutEventsEntry {
            source: opt(e, "Source"),
            detail_type: opt(e, "DetailType"),
            detail: opt(e, "Detail"),
            resources: e
                .get("Resources")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            event_bus_name: opt(e, "EventBusName"),
            time: e.get("Time").and_then(|t| match t {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => n.as_f64().and_then(|secs| {
                    time::OffsetDateTime::from_unix_timestamp(secs as i64)
                        .ok()
                        .map(iso_seconds)
                }),
                _ => None,
            }),
        })
        .collect();
    let total: usize = parsed.iter().map(entry_size).sum();
    if total > MAX_PUT_EVENTS_BYTES {
        return Err(EventsApiError::validation(
            "Total size of the entries in the request is over the limit.",
        ));
    }
    let p = state.partition.clone();
    let now = iso_seconds(time::OffsetDateTime::now_utc());
    let store = state.store.clone();
    let buses: Vec<String> = parsed
        .iter()
        .map(|e| {
            let name = e
                .event_bus_name
                .clone()
                .unwrap_or_else(|| DEFAULT_BUS.to_string());
            match name.split_once(":event-bus/") {
                Some((_, n)) if name.starts_with("arn:") => n.to_string(),
                _ => name,
            }
        })
        .collect();
    let known: Vec<bool> = {
        let buses = buses.clone();
        tokio::task::spawn_blocking(move || {
            buses
                .iter()
                .map(|b| matches!(EventRuleStore::get_event_bus(&*store, b), Ok(Some(_))))
                .collect()
        })
        .await
        .map_err(|e| EventsApiError::new("InternalException", e.to_string()))?
    };
    let mut results = Vec::with_capacity(parsed.len());
    // Accepted envelopes grouped by bus, written before any EventId is answered.
    let mut by_bus: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, entry) in parsed.iter().enumerate() {
        if !known[i] {
            results.push(json!({"ErrorCode": "ResourceNotFoundException", "ErrorMessage": format!("Event bus {} does not exist.", buses[i])}));
            continue;
        }
        let id = uuid::Uuid::new_v4().to_string();
        match envelope(entry, &id, &p.account, &p.region, &now) {
            Ok(ev) => {
                match by_bus.iter_mut().find(|(b, _)| *b == buses[i]) {
                    Some((_, list)) => list.push(ev),
                    None => by_bus.push((buses[i].clone(), vec![ev])),
                }
                results.push(json!({"EventId": id}));
            }
            Err(e) => results.push(json!({"ErrorCode": e.code, "ErrorMessage": e.message})),
        }
    }
    if !by_bus.is_empty() {
        let Some(bridge) = state.eventbridge.clone() else {
            return Err(EventsApiError::new(
                "InternalException",
                "This Quiver server delivers no events.",
            ));
        };
        for (bus, events) in by_bus {
            bridge.put(&bus, events).await.map_err(|e| {
                EventsApiError::new(
                    "InternalException",
                    format!("could not accept the events: {e}"),
                )
            })?;
        }
    }
    let failed = results
        .iter()
        .filter(|r| r.get("ErrorCode").is_some())
        .count();
    Ok(json!({"FailedEntryCount": failed, "Entries": results}))
}

fn iso_seconds(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}
