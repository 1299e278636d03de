//! CloudWatch Logs subscription filters delivered to a function (docs/wire.md §27).
//!
//! Every [`WINDOW`] one task asks the log store what each filter has to deliver (the
//! events of its group committed after its cursor that match its pattern: PutLogEvents
//! and the function output the engine captured alike, since both are in `logs.db`),
//! turns each stream's events into CloudWatch's `{"awslogs": {"data": …}}` payloads
//! and queues them as asynchronous invocations of the destination through the one
//! [`AsyncInvoker`]: durable once queued, retried and routed like any event invoke.
//! Only then does the filter's cursor move. A crash between the two delivers that
//! window again after the restart: at least once, never lost once committed.
//!
//! Nothing here is on the invoke path or the log sink: the engine hands lines to the
//! sink as before, and this task reads what the writer committed.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use quiver_logs::{Delivery, Event, LogStore};
use quiver_model::{Chain, FunctionRef, Partition};
use serde_json::{json, Value};

use crate::event_invoke::{AsyncEvent, AsyncInvoker};
use crate::invoker::FunctionTarget;

/// How often new events are collected: one invocation carries what a stream logged in
/// about this long.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Most events one filter looks at per window (the rest waits for the next one).
const MAX_SCAN: usize = 20_000;
/// Most events in one delivered message.
pub const MAX_MESSAGE_EVENTS: usize = 10_000;
/// Most bytes of messages in one delivered message (before compression): well under
/// the 1 MB asynchronous payload limit even for incompressible lines.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The control message's text (CloudWatch's, for the destination it checks).
pub const CONTROL_TEXT: &str =
    "CWL CONTROL MESSAGE: Checking health of destination Lambda function.";

/// The function a `destinationArn` names: a full Lambda function ARN (optionally
/// qualified) of this server's region and account. Pure.
pub fn destination_function(arn: &str, p: &Partition) -> Result<FunctionTarget, String> {
    let refuse = || {
        format!(
            "Invalid destinationArn '{arn}': Quiver delivers subscription filters to Lambda functions only (arn:aws:lambda:{}:{}:function:<name>)",
            p.region, p.account
        )
    };
    if !arn.starts_with("arn:") || !arn.contains(":lambda:") {
        return Err(refuse());
    }
    let r = FunctionRef::parse(arn, "destinationArn").map_err(|_| refuse())?;
    if r.region.is_none() || r.account.is_none() {
        return Err(refuse());
    }
    if r.is_foreign(p) {
        return Err(format!(
            "Invalid destinationArn '{arn}': the function must be in this region ({}) and account ({})",
            p.region, p.account
        ));
    }
    Ok(FunctionTarget {
        name: r.name,
        qualifier: r.qualifier,
    })
}

/// base64(gzip(json)): the `awslogs.data` of a payload. Pure.
pub fn encode_data(doc: &Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(doc.to_string().as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The payloads for one stream's matching events: DATA_MESSAGE documents of at most
/// [`MAX_MESSAGE_EVENTS`] events and [`MAX_MESSAGE_BYTES`] of messages each. Pure.
pub fn data_messages(
    owner: &str,
    group: &str,
    stream: &str,
    filter: &str,
    events: &[Event],
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < events.len()
            && end - start < MAX_MESSAGE_EVENTS
            && (end == start || bytes + events[end].message.len() <= MAX_MESSAGE_BYTES)
        {
            bytes += events[end].message.len();
            end += 1;
        }
        let log_events: Vec<Value> = events[start..end]
            .iter()
            .map(|e| json!({ "id": format!("{:020}", e.id), "timestamp": e.ts, "message": e.message }))
            .collect();
        out.push(json!({
            "messageType": "DATA_MESSAGE",
            "owner": owner,
            "logGroup": group,
            "logStream": stream,
            "subscriptionFilters": [filter],
            "logEvents": log_events,
        }));
        start = end;
    }
    out
}

/// The one-off message a destination gets when a filter starts delivering to it.
pub fn control_message(now_ms: i64) -> Value {
    json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{ "id": "", "timestamp": now_ms, "message": CONTROL_TEXT }],
    })
}

/// The payload the destination function receives.
pub fn payload(doc: &Value) -> String {
    json!({ "awslogs": { "data": encode_data(doc) } }).to_string()
}

/// The delivery task. Dropping it does not stop it; call [`LogSubscriptions::shutdown`].
pub struct LogSubscriptions {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl LogSubscriptions {
    /// Starts delivering for every filter in `logs`, as `partition`'s account.
    pub fn spawn(logs: Arc<LogStore>, invoker: AsyncInvoker, partition: Partition) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(WINDOW) => {}
                    _ = stopped.wait_for(|v| *v) => return,
                }
                let l = logs.clone();
                let work = match tokio::task::spawn_blocking(move || l.subscription_work(MAX_SCAN))
                    .await
                {
                    Ok(Ok(w)) => w,
                    Ok(Err(e)) => {
                        tracing::warn!("subscription filters: cannot read new log events: {e}");
                        continue;
                    }
                    Err(_) => continue,
                };
                for d in work {
                    if *stopped.borrow() {
                        return;
                    }
                    deliver_one(&logs, &invoker, &partition, d).await;
                }
            }
        });
        LogSubscriptions {
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// Stops after the filter being delivered (what is not queued yet is delivered
    /// after a restart: its cursor did not move).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

/// Queues one filter's window and moves its cursor; on a queueing failure the cursor
/// stays and the next window tries again.
async fn deliver_one(logs: &Arc<LogStore>, invoker: &AsyncInvoker, p: &Partition, d: Delivery) {
    let target = match destination_function(&d.destination, p) {
        Ok(t) => Some(t),
        Err(e) => {
            // Checked when the filter was put; only a changed --region/--account lands here.
            tracing::warn!(filter = %d.filter_name, group = %d.group, "subscription filter skipped: {e}");
            None
        }
    };
    if let Some(target) = &target {
        let mut docs = Vec::new();
        if d.control {
            docs.push(control_message(now_ms()));
        }
        for (stream, events) in &d.streams {
            docs.extend(data_messages(
                &p.account,
                &d.group,
                stream,
                &d.filter_name,
                events,
            ));
        }
        for doc in docs {
            let ev = AsyncEvent {
                request_id: uuid::Uuid::new_v4().to_string(),
                function: target.name.clone(),
                qualifier: target.qualifier.clone(),
                invoked_arn: d.destination.clone(),
                payload: payload(&doc),
                chain: Chain::start(
                    (now_ms() / 1000) as u64,
                    ((fastrand::u64(..) as u128) << 32) | fastrand::u32(..) as u128,
                ),
            };
            if let Err(e) = invoker.enqueue(ev).await {
                tracing::warn!(filter = %d.filter_name, group = %d.group, "subscription delivery not queued, retried next window: {e}");
                return;
            }
        }
    }
    let (l, id, cursor, control) = (logs.clone(), d.filter_id, d.cursor, d.control);
    match tokio::task::spawn_blocking(move || l.advance_subscription(id, cursor, control)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(
            "subscription filter cursor not saved (events may be delivered again): {e}"
        ),
        Err(_) => {}
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn part() -> Partition {
        Partition::new("us-east-1", "000000000000")
    }

    fn ev(id: i64, msg: &str) -> Event {
        Event {
            id,
            stream: "s".into(),
            ts: 1000 + id,
            ingest: 0,
            message: msg.into(),
        }
    }

    #[test]
    fn destination_must_be_a_local_function_arn() {
        let t = destination_function("arn:aws:lambda:us-east-1:000000000000:function:b", &part())
            .unwrap();
        assert_eq!((t.name.as_str(), t.qualifier), ("b", None));
        let t = destination_function(
            "arn:aws:lambda:us-east-1:000000000000:function:b:live",
            &part(),
        )
        .unwrap();
        assert_eq!(t.qualifier.as_deref(), Some("live"));
        for bad in [
            "b",
            "000000000000:function:b",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            "arn:aws:lambda:us-west-2:000000000000:function:b",
            "arn:aws:lambda:us-east-1:111111111111:function:b",
            "arn:aws:lambda:us-east-1:000000000000:function:",
        ] {
            assert!(destination_function(bad, &part()).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_is_base64_gzip_json_in_aws_shape() {
        let docs = data_messages("000000000000", "/aws/lambda/a", "s", "f", &[ev(7, "hello")]);
        assert_eq!(docs.len(), 1);
        let p: Value = serde_json::from_str(&payload(&docs[0])).unwrap();
        let data = p["awslogs"]["data"].as_str().unwrap();
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut s)
            .unwrap();
        let doc: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            doc,
            json!({
                "messageType": "DATA_MESSAGE", "owner": "000000000000",
                "logGroup": "/aws/lambda/a", "logStream": "s", "subscriptionFilters": ["f"],
                "logEvents": [{"id": "00000000000000000007", "timestamp": 1007, "message": "hello"}],
            })
        );
    }

    #[test]
    fn messages_split_by_count_and_bytes() {
        let many: Vec<Event> = (0..(MAX_MESSAGE_EVENTS as i64 + 5))
            .map(|i| ev(i, "x"))
            .collect();
        let docs = data_messages("o", "g", "s", "f", &many);
        let sizes: Vec<usize> = docs
            .iter()
            .map(|d| d["logEvents"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![MAX_MESSAGE_EVENTS, 5]);
        let big = "y".repeat(MAX_MESSAGE_BYTES / 2 + 1);
        let docs = data_messages("o", "g", "s", "f", &[ev(1, &big), ev(2, &big), ev(3, &big)]);
        assert_eq!(docs.len(), 3);
        // One event larger than the cap still goes, alone.
        let huge = "z".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(data_messages("o", "g", "s", "f", &[ev(1, &huge)]).len(), 1);
        assert!(data_messages("o", "g", "s", "f", &[]).is_empty());
    }
}
