//! Message operations: send, receive (long polling), delete, change visibility, and
//! their batch forms. Every input is validated here before the queue sees it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use base64::Engine as _;
use quiver_queue::{
    limits, AttrValue, Message, MessageAttribute, NewMessage, ReceiveRequest, SentMessage,
    TRACE_HEADER_ATTRIBUTE,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::SqsError;
use super::fifo::{check_ids, ids_of, Ids};
use super::msg_attrs::{convert_attrs, convert_system_attrs, size_of, valid_chars, AttrIn};
use super::Ctx;
use quiver_queue::md5::{md5_hex, md5_of_attributes};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessage {
    queue_url: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: HashMap<String, AttrIn>,
    #[serde(default)]
    message_system_attributes: HashMap<String, AttrIn>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
}

/// A validated message, with its answer's checksums.
struct Checked {
    msg: NewMessage,
    md5_body: String,
    md5_attrs: Option<String>,
    md5_system: Option<String>,
}

fn check_message(
    body: Option<String>,
    delay: Option<i64>,
    attrs: HashMap<String, AttrIn>,
    system: HashMap<String, AttrIn>,
    max_size: u32,
    ids: Ids,
) -> Result<Checked, SqsError> {
    let body = body
        .filter(|b| !b.is_empty())
        .ok_or_else(|| SqsError::missing_parameter("MessageBody"))?;
    if !valid_chars(&body) {
        return Err(SqsError::invalid_message_contents());
    }
    let id_attrs = check_ids(ids, delay)?;
    let delay = match delay {
        Some(d) if !(0..=limits::MAX_DELAY as i64).contains(&d) => {
            return Err(SqsError::invalid_parameter(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )))
        }
        d => d.map(|d| d as u32),
    };
    let mut attributes = convert_attrs(attrs)?;
    let trace = convert_system_attrs(system)?;
    if size_of(&body, &attributes) > max_size as usize {
        return Err(SqsError::invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    let md5_attrs = md5_of_attributes(&attributes);
    let md5_system = trace.as_ref().and_then(|t| {
        md5_of_attributes(&BTreeMap::from([("AWSTraceHeader".to_string(), t.clone())]))
    });
    if let Some(t) = trace {
        attributes.insert(TRACE_HEADER_ATTRIBUTE.to_string(), t);
    }
    attributes.extend(id_attrs);
    Ok(Checked {
        md5_body: md5_hex(body.as_bytes()),
        md5_attrs,
        md5_system,
        msg: NewMessage {
            body,
            attributes,
            delay,
        },
    })
}

pub async fn send(ctx: &Ctx, r: SendMessage) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    let info = ctx.queues.get_queue(&name).await?;
    let c = check_message(
        r.message_body,
        r.delay_seconds,
        r.message_attributes,
        r.message_system_attributes,
        info.config.max_message_size,
        ids_of(&info.config, r.message_group_id, r.message_deduplication_id),
    )?;
    let sent = ctx.queues.send(&name, vec![c.msg]).await?;
    let s = sent.into_iter().next().unwrap_or(SentMessage {
        id: String::new(),
        sequence_number: None,
    });
    let mut out = json!({ "MD5OfMessageBody": c.md5_body, "MessageId": s.id });
    if let Some(n) = s.sequence_number {
        out["SequenceNumber"] = json!(n);
    }
    if let Some(m) = c.md5_attrs {
        out["MD5OfMessageAttributes"] = json!(m);
    }
    if let Some(m) = c.md5_system {
        out["MD5OfMessageSystemAttributes"] = json!(m);
    }
    Ok(out)
}

/// SQS's batch rules, checked in its order: not empty, at most 10, valid ids, distinct ids.
fn check_batch<'a>(
    ids: impl Iterator<Item = Option<&'a str>>,
    entry: &str,
) -> Result<(), SqsError> {
    let ids: Vec<Option<&str>> = ids.collect();
    if ids.is_empty() {
        return Err(SqsError::empty_batch(entry));
    }
    if ids.len() > 10 {
        return Err(SqsError::too_many_entries(ids.len()));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let id = id.ok_or_else(|| SqsError::missing_parameter(&format!("{entry}.Id")))?;
        if !quiver_queue::is_valid_name(id) {
            return Err(SqsError::invalid_batch_entry_id());
        }
        if !seen.insert(id) {
            return Err(SqsError::ids_not_distinct(id));
        }
    }
    Ok(())
}

fn failed(id: &str, e: &SqsError) -> Value {
    json!({ "Id": id, "SenderFault": !e.status.is_server_error(), "Code": e.entry_code(), "Message": e.message })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendEntry {
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: HashMap<String, AttrIn>,
    #[serde(default)]
    message_system_attributes: HashMap<String, AttrIn>,
    message_group_id: Option<String>,
    message_deduplication_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatch {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<SendEntry>,
}

pub async fn send_batch(ctx: &Ctx, r: SendMessageBatch) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    check_batch(
        r.entries.iter().map(|e| e.id.as_deref()),
        "SendMessageBatchRequestEntry",
    )?;
    let info = ctx.queues.get_queue(&name).await?;
    let total: usize = r
        .entries
        .iter()
        .map(|e| e.message_body.as_ref().map_or(0, |b| b.len()))
        .sum::<usize>()
        + r.entries
            .iter()
            .flat_map(|e| e.message_attributes.iter())
            .map(|(k, a)| {
                k.len()
                    + a.data_type.as_ref().map_or(0, |d| d.len())
                    + a.string_value.as_ref().map_or(0, |s| s.len())
                    + a.binary_value.as_ref().map_or(0, |b| b.len() * 3 / 4)
            })
            .sum::<usize>();
    if total > limits::MAX_MESSAGE_SIZE as usize {
        return Err(SqsError::batch_too_long(total));
    }
    let mut ok: Vec<(String, Checked)> = Vec::new();
    let mut failures = Vec::new();
    for e in r.entries {
        let id = e.id.unwrap_or_default();
        match check_message(
            e.message_body,
            e.delay_seconds,
            e.message_attributes,
            e.message_system_attributes,
            info.config.max_message_size,
            ids_of(&info.config, e.message_group_id, e.message_deduplication_id),
        ) {
            Ok(c) => ok.push((id, c)),
            Err(err) => failures.push(failed(&id, &err)),
        }
    }
    let mut successes = Vec::new();
    if !ok.is_empty() {
        let msgs = ok.iter().map(|(_, c)| c.msg.clone()).collect();
        let sent = ctx.queues.send(&name, msgs).await?;
        for ((id, c), s) in ok.into_iter().zip(sent) {
            let mut v = json!({ "Id": id, "MessageId": s.id, "MD5OfMessageBody": c.md5_body });
            if let Some(n) = s.sequence_number {
                v["SequenceNumber"] = json!(n);
            }
            if let Some(m) = c.md5_attrs {
                v["MD5OfMessageAttributes"] = json!(m);
            }
            if let Some(m) = c.md5_system {
                v["MD5OfMessageSystemAttributes"] = json!(m);
            }
            successes.push(v);
        }
    }
    Ok(json!({ "Successful": successes, "Failed": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessage {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
}

fn in_range(
    name: &str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
    why: &str,
) -> Result<Option<u32>, SqsError> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => Err(SqsError::invalid_parameter(format!(
            "Value {n} for parameter {name} is invalid. Reason: {why}"
        ))),
        v => Ok(v.map(|n| n as u32)),
    }
}

/// Does message attribute `name` match one of the requested names (`All`, `.*`, `prefix.*`, exact)?
fn wanted_attr(name: &str, filters: &[String]) -> bool {
    filters.iter().any(|f| {
        f == "All"
            || f == ".*"
            || f == name
            || f.strip_suffix(".*")
                .is_some_and(|p| name.starts_with(p) && name[p.len()..].starts_with('.'))
    })
}

fn render_message(ctx: &Ctx, mut m: Message, system: &[String], attr_filters: &[String]) -> Value {
    let trace = m.attributes.remove(TRACE_HEADER_ATTRIBUTE);
    let mut out = json!({
        "MessageId": m.id,
        "ReceiptHandle": m.receipt,
        "MD5OfBody": md5_hex(m.body.as_bytes()),
        "Body": m.body,
    });
    let all = system.iter().any(|s| s == "All");
    let want = |n: &str| all || system.iter().any(|s| s == n);
    let mut sys = Map::new();
    if want("SenderId") {
        sys.insert("SenderId".into(), json!(ctx.partition.account));
    }
    if want("SentTimestamp") {
        sys.insert("SentTimestamp".into(), json!(m.sent_ms.to_string()));
    }
    if want("ApproximateReceiveCount") {
        sys.insert(
            "ApproximateReceiveCount".into(),
            json!(m.receive_count.to_string()),
        );
    }
    if want("ApproximateFirstReceiveTimestamp") {
        sys.insert(
            "ApproximateFirstReceiveTimestamp".into(),
            json!(m.first_receive_ms.to_string()),
        );
    }
    let ids = [
        ("MessageGroupId", m.group_id.take()),
        ("MessageDeduplicationId", m.dedup_id.take()),
        ("SequenceNumber", m.sequence_number.take()),
    ];
    for (n, v) in ids {
        if let (true, Some(v)) = (want(n), v) {
            sys.insert(n.into(), json!(v));
        }
    }
    if let (
        true,
        Some(MessageAttribute {
            value: AttrValue::String(t),
            ..
        }),
    ) = (want("AWSTraceHeader"), trace)
    {
        sys.insert("AWSTraceHeader".into(), json!(t));
    }
    if !sys.is_empty() {
        out["Attributes"] = Value::Object(sys);
    }
    let chosen: BTreeMap<String, MessageAttribute> = m
        .attributes
        .into_iter()
        .filter(|(k, _)| wanted_attr(k, attr_filters))
        .collect();
    if let Some(md5) = md5_of_attributes(&chosen) {
        out["MD5OfMessageAttributes"] = json!(md5);
        let mut attrs = Map::new();
        for (k, a) in chosen {
            let v = match a.value {
                AttrValue::String(s) => json!({ "DataType": a.data_type, "StringValue": s }),
                AttrValue::Binary(b) => {
                    json!({ "DataType": a.data_type, "BinaryValue": B64.encode(b) })
                }
            };
            attrs.insert(k, v);
        }
        out["MessageAttributes"] = Value::Object(attrs);
    }
    out
}

pub async fn receive(ctx: &Ctx, r: ReceiveMessage) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    let max = in_range(
        "MaxNumberOfMessages",
        r.max_number_of_messages,
        1,
        10,
        "Must be between 1 and 10, if provided.",
    )?;
    let vt = in_range(
        "VisibilityTimeout",
        r.visibility_timeout,
        0,
        43_200,
        "Must be between 0 and 43200, if provided.",
    )?;
    let wait = in_range(
        "WaitTimeSeconds",
        r.wait_time_seconds,
        0,
        20,
        "Must be >= 0 and <= 20, if provided.",
    )?;
    let info = ctx.queues.get_queue(&name).await?;
    let wait = Duration::from_secs(wait.unwrap_or(info.config.receive_wait) as u64);
    let req = ReceiveRequest {
        max: max.unwrap_or(1),
        visibility_timeout: vt,
    };
    let msgs = ctx.queues.receive_wait(&name, req, wait).await?;
    let mut system = r.attribute_names;
    system.extend(r.message_system_attribute_names);
    if msgs.is_empty() {
        return Ok(json!({}));
    }
    let rendered: Vec<Value> = msgs
        .into_iter()
        .map(|m| render_message(ctx, m, &system, &r.message_attribute_names))
        .collect();
    Ok(json!({ "Messages": rendered }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessage {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

/// The one result of a single-entry batch call.
fn single(r: Vec<Result<(), quiver_queue::QueueError>>) -> Result<Value, SqsError> {
    match r.into_iter().next() {
        Some(Err(e)) => Err(e.into()),
        _ => Ok(json!({})),
    }
}

pub async fn delete(ctx: &Ctx, r: DeleteMessage) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    let h = r
        .receipt_handle
        .ok_or_else(|| SqsError::missing_parameter("ReceiptHandle"))?;
    single(ctx.queues.delete(&name, vec![h]).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatch {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<DeleteEntry>,
}

/// Builds `{Successful, Failed}` from per-entry outcomes.
fn batch_answer(ids: Vec<String>, results: Vec<Result<(), SqsError>>) -> Value {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(()) => ok.push(json!({ "Id": id })),
            Err(e) => bad.push(failed(&id, &e)),
        }
    }
    json!({ "Successful": ok, "Failed": bad })
}

pub async fn delete_batch(ctx: &Ctx, r: DeleteMessageBatch) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    check_batch(
        r.entries.iter().map(|e| e.id.as_deref()),
        "DeleteMessageBatchRequestEntry",
    )?;
    let ids: Vec<String> = r
        .entries
        .iter()
        .map(|e| e.id.clone().unwrap_or_default())
        .collect();
    let handles: Vec<String> = r
        .entries
        .into_iter()
        .map(|e| e.receipt_handle.unwrap_or_default())
        .collect();
    let results = ctx.queues.delete(&name, handles).await?;
    Ok(batch_answer(
        ids,
        results
            .into_iter()
            .map(|r| r.map_err(SqsError::from))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibility {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

fn check_timeout(v: Option<i64>) -> Result<u32, SqsError> {
    let v = v.ok_or_else(|| SqsError::missing_parameter("VisibilityTimeout"))?;
    in_range(
        "VisibilityTimeout",
        Some(v),
        0,
        43_200,
        "Must be between 0 and 43200.",
    )
    .map(|v| v.unwrap_or(0))
}

pub async fn change_visibility(ctx: &Ctx, r: ChangeVisibility) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    let h = r
        .receipt_handle
        .ok_or_else(|| SqsError::missing_parameter("ReceiptHandle"))?;
    let t = check_timeout(r.visibility_timeout)?;
    single(ctx.queues.change_visibility(&name, vec![(h, t)]).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityBatch {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<ChangeVisibilityEntry>,
}

pub async fn change_visibility_batch(
    ctx: &Ctx,
    r: ChangeVisibilityBatch,
) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    check_batch(
        r.entries.iter().map(|e| e.id.as_deref()),
        "ChangeMessageVisibilityBatchRequestEntry",
    )?;
    ctx.queues.get_queue(&name).await?;
    let mut ids = Vec::new();
    let mut results: Vec<Result<(), SqsError>> = Vec::new();
    let mut todo = Vec::new();
    let mut slots = Vec::new();
    for e in r.entries {
        ids.push(e.id.unwrap_or_default());
        match check_timeout(e.visibility_timeout) {
            Ok(t) => {
                slots.push(Some(todo.len()));
                todo.push((e.receipt_handle.unwrap_or_default(), t));
                results.push(Ok(()));
            }
            Err(err) => {
                slots.push(None);
                results.push(Err(err));
            }
        }
    }
    let done = ctx.queues.change_visibility(&name, todo).await?;
    for (i, slot) in slots.into_iter().enumerate() {
        if let Some(j) = slot {
            results[i] = done[j].clone().map_err(SqsError::from);
        }
    }
    Ok(batch_answer(ids, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_rules_in_order() {
        let ids = |v: &[&'static str]| v.iter().map(|s| Some(*s)).collect::<Vec<_>>().into_iter();
        assert_eq!(
            check_batch(ids(&[]), "E").unwrap_err().code,
            "EmptyBatchRequest"
        );
        let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert_eq!(
            check_batch(eleven.iter().map(|s| Some(s.as_str())), "E")
                .unwrap_err()
                .code,
            "TooManyEntriesInBatchRequest"
        );
        assert_eq!(
            check_batch(ids(&["a", "b c"]), "E").unwrap_err().code,
            "InvalidBatchEntryId"
        );
        assert_eq!(
            check_batch(ids(&["a", "a"]), "E").unwrap_err().code,
            "BatchEntryIdsNotDistinct"
        );
        assert!(check_batch(ids(&["a", "b"]), "E").is_ok());
    }

    fn std_ids() -> Ids {
        use quiver_queue::QueueConfig;
        ids_of(&QueueConfig::default(), None, None)
    }

    #[test]
    fn message_validation() {
        let none = HashMap::new;
        assert_eq!(
            check_message(None, None, none(), none(), 262_144, std_ids())
                .err()
                .unwrap()
                .code,
            "MissingParameter"
        );
        assert_eq!(
            check_message(
                Some("\u{1}".into()),
                None,
                none(),
                none(),
                262_144,
                std_ids()
            )
            .err()
            .unwrap()
            .code,
            "InvalidMessageContents"
        );
        assert_eq!(
            check_message(
                Some("x".into()),
                Some(901),
                none(),
                none(),
                262_144,
                std_ids()
            )
            .err()
            .unwrap()
            .code,
            "InvalidParameterValue"
        );
        assert!(check_message(
            Some("x".repeat(1025)),
            None,
            none(),
            none(),
            1024,
            std_ids()
        )
        .err()
        .unwrap()
        .message
        .contains("shorter than 1024"));
        let mut a = HashMap::new();
        a.insert(
            "n".to_string(),
            AttrIn {
                data_type: Some("Number".into()),
                string_value: Some("abc".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            check_message(Some("x".into()), None, a, none(), 262_144, std_ids())
                .err()
                .unwrap()
                .code,
            "InvalidParameterValue"
        );
        let mut a = HashMap::new();
        a.insert(
            "AWS.x".to_string(),
            AttrIn {
                data_type: Some("String".into()),
                string_value: Some("v".into()),
                ..Default::default()
            },
        );
        assert!(check_message(Some("x".into()), None, a, none(), 262_144, std_ids()).is_err());
        let mut a = HashMap::new();
        a.insert(
            "b".to_string(),
            AttrIn {
                data_type: Some("Binary.gz".into()),
                binary_value: Some(B64.encode([1, 2])),
                ..Default::default()
            },
        );
        let c = check_message(Some("x".into()), Some(0), a, none(), 262_144, std_ids())
            .ok()
            .unwrap();
        assert_eq!(c.msg.delay, Some(0));
        assert!(c.md5_attrs.is_some());
    }

    #[test]
    fn attribute_filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wanted_attr("a.b", &f(&["a.*"])));
        assert!(!wanted_attr("ab", &f(&["a.*"])));
        assert!(wanted_attr("x", &f(&["All"])));
        assert!(wanted_attr("x", &f(&["x"])));
        assert!(!wanted_attr("x", &f(&[])));
    }
}
