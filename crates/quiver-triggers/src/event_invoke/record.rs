//! The JSON that travels: the queued event, and Lambda's invocation record delivered
//! to destinations. Pure.

use quiver_model::Chain;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One queued asynchronous event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub request_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub invoked_arn: String,
    /// The event JSON as the caller sent it.
    pub payload: String,
    /// When it was first accepted (epoch ms): MaximumEventAgeInSeconds counts from here.
    pub first_ms: i64,
    /// Function invocations that ended in a function error so far.
    pub attempts: u32,
    /// The chain of requests (docs/wire.md §18). Envelopes written before chains
    /// existed read as a fresh chain at depth 1.
    #[serde(default)]
    pub chain_root: String,
    #[serde(default = "first_in_chain")]
    pub depth: u32,
}

fn first_in_chain() -> u32 {
    1
}

impl QueuedEvent {
    /// The chain this event's invocation belongs to.
    pub fn chain(&self) -> Chain {
        Chain {
            root: self.chain_root.clone(),
            depth: self.depth,
        }
    }
}

/// Why a record is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
    /// Stopped by recursive loop detection (docs/wire.md §18).
    RecursiveInvocation,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
            Condition::RecursiveInvocation => "RecursiveInvocationDetected",
        }
    }
}

/// The last invocation's outcome, when there was one.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub executed_version: String,
    pub function_error: Option<String>,
    pub payload: Vec<u8>,
}

/// A JSON value for a payload: parsed if it is JSON, else a string (as Lambda does).
fn json_or_string(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Lambda's invocation record (docs/wire.md §2.4).
pub fn invocation_record(
    ev: &QueuedEvent,
    function_arn: &str,
    condition: Condition,
    invoke_count: u32,
    outcome: Option<&Outcome>,
    timestamp: &str,
) -> Value {
    let mut rec = serde_json::json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": ev.request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": json_or_string(ev.payload.as_bytes()),
    });
    if let Some(o) = outcome {
        let mut ctx = serde_json::json!({"statusCode": 200, "executedVersion": o.executed_version});
        if let Some(fe) = &o.function_error {
            ctx["functionError"] = Value::String(fe.clone());
        }
        rec["responseContext"] = ctx;
        rec["responsePayload"] = json_or_string(&o.payload);
    }
    rec
}

/// The `ErrorMessage` attribute of a dead-letter message: the function's error message
/// (or the reason the event was dropped), at most 1 KB.
pub fn dlq_error_message(condition: Condition, outcome: Option<&Outcome>) -> String {
    let msg = match (condition, outcome) {
        (_, Some(o)) => serde_json::from_slice::<Value>(&o.payload)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&o.payload).into_owned()),
        (Condition::EventAgeExceeded, None) => {
            "Event age exceeded the maximum event age".to_string()
        }
        (Condition::RecursiveInvocation, None) => {
            "Recursive invocation detected: the chain of requests went past 16 invocations"
                .to_string()
        }
        _ => "Function invocation failed".to_string(),
    };
    let mut end = msg.len().min(1024);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    msg[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> QueuedEvent {
        QueuedEvent {
            request_id: "r1".into(),
            function: "f".into(),
            qualifier: None,
            invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            payload: r#"{"a":1}"#.into(),
            first_ms: 0,
            attempts: 0,
            chain_root: "1-00000000-000000000000000000000000".into(),
            depth: 1,
        }
    }

    #[test]
    fn envelopes_keep_their_chain_and_old_ones_still_read() {
        let mut e = ev();
        e.depth = 7;
        let back: QueuedEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let old = r#"{"request_id":"r","function":"f","qualifier":null,"invoked_arn":"a","payload":"{}","first_ms":1,"attempts":0}"#;
        let old: QueuedEvent = serde_json::from_str(old).unwrap();
        assert_eq!((old.depth, old.chain_root.as_str()), (1, ""));
    }

    #[test]
    fn failure_record_has_lambdas_shape() {
        let o = Outcome {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: br#"{"errorMessage":"boom","errorType":"ValueError"}"#.to_vec(),
        };
        let r = invocation_record(
            &ev(),
            "arn:x:f:$LATEST",
            Condition::RetriesExhausted,
            3,
            Some(&o),
            "2026-01-01T00:00:00.000Z",
        );
        assert_eq!(r["version"], "1.0");
        assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(r["requestPayload"]["a"], 1);
        assert_eq!(r["responseContext"]["statusCode"], 200);
        assert_eq!(r["responseContext"]["functionError"], "Unhandled");
        assert_eq!(r["responsePayload"]["errorMessage"], "boom");
        assert_eq!(
            dlq_error_message(Condition::RetriesExhausted, Some(&o)),
            "boom"
        );
    }

    #[test]
    fn age_exceeded_record_has_no_response() {
        let r = invocation_record(&ev(), "arn", Condition::EventAgeExceeded, 0, None, "t");
        assert!(r.get("responseContext").is_none());
        assert_eq!(r["requestContext"]["condition"], "EventAgeExceeded");
        assert!(dlq_error_message(Condition::EventAgeExceeded, None).contains("age"));
    }

    #[test]
    fn success_record_has_no_function_error() {
        let o = Outcome {
            executed_version: "1".into(),
            function_error: None,
            payload: b"\"ok\"".to_vec(),
        };
        let r = invocation_record(&ev(), "arn", Condition::Success, 1, Some(&o), "t");
        assert!(r["responseContext"].get("functionError").is_none());
        assert_eq!(r["responsePayload"], "ok");
    }

    #[test]
    fn dlq_message_is_cut_at_1kb() {
        let o = Outcome {
            executed_version: "1".into(),
            function_error: None,
            payload: "é".repeat(2000).into_bytes(),
        };
        assert!(dlq_error_message(Condition::RetriesExhausted, Some(&o)).len() <= 1024);
    }
}
