//! One SQS poller: long-polls the queue (woken by its notifier), gathers a batch per
//! BatchSize and MaximumBatchingWindowInSeconds, drops records the FilterCriteria
//! refuses, invokes the function synchronously and deletes what succeeded.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use quiver_events::pattern::FilterCriteria;
use quiver_model::Chain;
use quiver_queue::md5::{md5_hex, md5_of_attributes};
use quiver_queue::{AttrValue, Message, MessageAttribute, ReceiveRequest, TRACE_HEADER_ATTRIBUTE};
use serde_json::{json, Value};

use super::batch::{fifo_retained, read_batch_failures, BatchOutcome};
use super::{Shared, Stats};
use crate::{FunctionTarget, Invocation, Source};

/// What one poller needs, fixed for its lifetime (a changed mapping restarts it).
pub(super) struct PollerConfig {
    pub uuid: String,
    pub queue: String,
    pub queue_arn: String,
    pub region: String,
    pub account: String,
    pub target: FunctionTarget,
    pub invoked_arn: String,
    pub batch_size: u32,
    pub window: Duration,
    pub filter: FilterCriteria,
    pub report_failures: bool,
}

/// The longest a receive waits, as SQS's long poll (then it simply polls again).
const LONG_POLL: Duration = Duration::from_secs(20);

/// One record of Lambda's SQS event.
pub fn record(m: &Message, queue_arn: &str, region: &str, sender: &str) -> Value {
    let user: BTreeMap<String, &MessageAttribute> = m
        .attributes
        .iter()
        .filter(|(k, _)| k.as_str() != TRACE_HEADER_ATTRIBUTE)
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let mut attributes = json!({
        "ApproximateReceiveCount": m.receive_count.to_string(),
        "SentTimestamp": m.sent_ms.to_string(),
        "SenderId": sender,
        "ApproximateFirstReceiveTimestamp": m.first_receive_ms.to_string(),
    });
    if let Some(MessageAttribute {
        value: AttrValue::String(t),
        ..
    }) = m.attributes.get(TRACE_HEADER_ATTRIBUTE)
    {
        attributes["AWSTraceHeader"] = json!(t);
    }
    // FIFO queues' system attributes, as Lambda's SQS event carries them.
    for (name, v) in [
        ("SequenceNumber", &m.sequence_number),
        ("MessageGroupId", &m.group_id),
        ("MessageDeduplicationId", &m.dedup_id),
    ] {
        if let Some(v) = v {
            attributes[name] = json!(v);
        }
    }
    let mut message_attributes = serde_json::Map::new();
    for (name, a) in &user {
        let v = match &a.value {
            AttrValue::String(s) => json!({
                "stringValue": s, "stringListValues": [], "binaryListValues": [],
                "dataType": a.data_type,
            }),
            AttrValue::Binary(b) => json!({
                "binaryValue": base64::engine::general_purpose::STANDARD.encode(b),
                "stringListValues": [], "binaryListValues": [], "dataType": a.data_type,
            }),
        };
        message_attributes.insert(name.clone(), v);
    }
    json!({
        "messageId": m.id,
        "receiptHandle": m.receipt,
        "body": m.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": md5_hex(m.body.as_bytes()),
        "md5OfMessageAttributes": md5_of_attributes(&user),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

/// Runs until aborted by the supervisor.
pub(super) async fn run(shared: Arc<Shared>, cfg: Arc<PollerConfig>, stats: Arc<Stats>) {
    loop {
        let batch = match gather(&shared, &cfg).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(mapping = %cfg.uuid, error = %e, "event source mapping receive failed");
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        deliver(&shared, &cfg, &stats, batch).await;
    }
}

async fn gather(
    shared: &Shared,
    cfg: &PollerConfig,
) -> Result<Vec<Message>, quiver_queue::QueueError> {
    let req = |n: u32| ReceiveRequest {
        max: n.clamp(1, 10),
        visibility_timeout: None,
    };
    let mut batch = shared
        .queues
        .receive_wait(&cfg.queue, req(cfg.batch_size), LONG_POLL)
        .await?;
    if batch.is_empty() || cfg.window.is_zero() {
        return Ok(batch);
    }
    let deadline = tokio::time::Instant::now() + cfg.window;
    while (batch.len() as u32) < cfg.batch_size {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let want = cfg.batch_size - batch.len() as u32;
        let more = shared
            .queues
            .receive_wait(&cfg.queue, req(want), left)
            .await?;
        batch.extend(more);
    }
    Ok(batch)
}

async fn deliver(shared: &Shared, cfg: &PollerConfig, stats: &Stats, batch: Vec<Message>) {
    let mut records = Vec::with_capacity(batch.len());
    let mut dropped = Vec::new();
    for m in &batch {
        let r = record(m, &cfg.queue_arn, &cfg.region, &cfg.account);
        if cfg.filter.matches_record(&r) {
            records.push((m, r));
        } else {
            dropped.push(m.receipt.clone());
        }
    }
    if !dropped.is_empty() {
        let _ = shared.queues.delete(&cfg.queue, dropped).await;
    }
    if records.is_empty() {
        return;
    }
    let ids: Vec<String> = records.iter().map(|(m, _)| m.id.clone()).collect();
    let event = json!({ "Records": records.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>() });
    let now = time::OffsetDateTime::now_utc();
    let call = Invocation {
        target: cfg.target.clone(),
        invoked_arn: cfg.invoked_arn.clone(),
        payload: Bytes::from(event.to_string()),
        request_id: uuid::Uuid::new_v4().to_string(),
        client_context: None,
        want_log_tail: false,
        source: Source::Event,
        chain: Chain::start(now.unix_timestamp().max(0) as u64, fastrand::u128(..)),
    };
    stats.batches.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(mapping = %cfg.uuid, records = ids.len(), "event source mapping batch");
    let outcome = match shared.invoker.invoke(call).await {
        Ok(r) if r.function_error.is_none() => {
            if cfg.report_failures {
                read_batch_failures(&r.payload, &ids)
            } else {
                BatchOutcome::AllSucceeded
            }
        }
        Ok(_) => BatchOutcome::AllFailed,
        Err(e) => {
            tracing::warn!(mapping = %cfg.uuid, error = %e, "event source mapping invoke failed");
            BatchOutcome::AllFailed
        }
    };
    let result = match &outcome {
        BatchOutcome::AllSucceeded => "OK",
        _ => "PROBLEM: Function call failed",
    };
    shared.set_result(&cfg.uuid, result);
    let keep: Vec<String> = match outcome {
        BatchOutcome::AllSucceeded => Vec::new(),
        // On a FIFO queue the rest of a failed record's group stays too: deleting it
        // would let later messages of the group overtake the one to be retried.
        BatchOutcome::Partial(f) => {
            let groups: Vec<(String, Option<String>)> = records
                .iter()
                .map(|(m, _)| (m.id.clone(), m.group_id.clone()))
                .collect();
            fifo_retained(&groups, &f)
        }
        BatchOutcome::AllFailed => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(mapping = %cfg.uuid, records = ids.len(), "event source mapping batch failed");
            return;
        }
    };
    if !keep.is_empty() {
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
    let done: Vec<String> = records
        .iter()
        .filter(|(m, _)| !keep.contains(&m.id))
        .map(|(m, _)| m.receipt.clone())
        .collect();
    if !done.is_empty() {
        if let Err(e) = shared.queues.delete(&cfg.queue, done).await {
            tracing::warn!(mapping = %cfg.uuid, error = %e, "event source mapping delete failed");
        }
    }
}
