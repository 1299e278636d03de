//! Queue attributes: SQS's string map ⇄ [`QueueConfig`]. Pure; the handlers check that a
//! dead-letter target exists.

use std::collections::{BTreeMap, HashMap};

use quiver_model::Partition;
use quiver_queue::{
    limits, DedupScope, Depth, FifoConfig, QueueConfig, QueueInfo, Redrive, ThroughputLimit,
};

use super::error::SqsError;

/// Stored and reported verbatim; not acted on.
const PASSTHROUGH: &[&str] = &[
    "Policy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];
/// Only FIFO queues take these.
const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];
/// Everything GetQueueAttributes knows.
pub const READABLE: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

fn unknown(name: &str) -> SqsError {
    SqsError::invalid_attribute_name(format!("Unknown Attribute {name}."))
}

fn boolean(name: &str, v: &str) -> Result<bool, SqsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::invalid_attribute_value(name)),
    }
}

/// Whether CreateQueue's attributes ask for a FIFO queue (`FifoQueue=true`).
pub fn wants_fifo(attrs: &HashMap<String, String>) -> Result<bool, SqsError> {
    attrs
        .get("FifoQueue")
        .map_or(Ok(false), |v| boolean("FifoQueue", v))
}

fn number(name: &str, v: &str, lo: u32, hi: u32) -> Result<u32, SqsError> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| SqsError::invalid_attribute_value(name))
}

/// The queue name an SQS ARN of this partition names.
pub fn name_from_arn(p: &Partition, arn: &str) -> Option<String> {
    let prefix = format!("arn:aws:sqs:{}:{}:", p.region, p.account);
    arn.strip_prefix(&prefix)
        .filter(|n| quiver_queue::is_valid_queue_name(n))
        .map(str::to_string)
}

pub fn queue_arn(p: &Partition, name: &str) -> String {
    format!("arn:aws:sqs:{}:{}:{name}", p.region, p.account)
}

fn parse_redrive(p: &Partition, v: &str) -> Result<Option<Redrive>, SqsError> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        SqsError::invalid_parameter(format!(
            "Value {v} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let j: serde_json::Value =
        serde_json::from_str(v).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let obj = j
        .as_object()
        .ok_or_else(|| bad("Redrive policy is not a valid JSON map."))?;
    let arn = obj
        .get("deadLetterTargetArn")
        .and_then(|a| a.as_str())
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match obj.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        None => {
            return Err(bad(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        _ => None,
    }
    .filter(|n| (1..=limits::MAX_RECEIVE_COUNT as u64).contains(n))
    .ok_or_else(|| bad("Invalid value for maxReceiveCount: must be an integer from 1 to 1000."))?;
    let dlq = name_from_arn(p, arn).ok_or_else(|| bad("Dead letter target does not exist."))?;
    Ok(Some(Redrive {
        dead_letter_queue: dlq,
        max_receive_count: count as u32,
    }))
}

/// `base` with `attrs` applied; a new value, `base` is untouched. `FifoQueue` is taken
/// only when `creating` (it cannot change later), and FIFO-only attributes only on a
/// FIFO queue.
pub fn apply(
    p: &Partition,
    base: &QueueConfig,
    attrs: &HashMap<String, String>,
    creating: bool,
) -> Result<QueueConfig, SqsError> {
    let mut c = base.clone();
    if let Some(v) = attrs.get("FifoQueue") {
        if !creating {
            return Err(unknown("FifoQueue"));
        }
        if boolean("FifoQueue", v)? {
            c.fifo.get_or_insert_with(FifoConfig::default);
        } else {
            c.fifo = None;
        }
    }
    let mut names: Vec<&String> = attrs.keys().collect();
    names.sort();
    for name in names {
        let v = &attrs[name];
        match name.as_str() {
            "VisibilityTimeout" => {
                c.visibility_timeout = number(name, v, 0, limits::MAX_VISIBILITY_TIMEOUT)?
            }
            "MessageRetentionPeriod" => {
                c.retention = number(name, v, limits::MIN_RETENTION, limits::MAX_RETENTION)?
            }
            "DelaySeconds" => c.delay = number(name, v, 0, limits::MAX_DELAY)?,
            "ReceiveMessageWaitTimeSeconds" => {
                c.receive_wait = number(name, v, 0, limits::MAX_RECEIVE_WAIT)?
            }
            "MaximumMessageSize" => {
                c.max_message_size =
                    number(name, v, limits::MIN_MESSAGE_SIZE, limits::MAX_MESSAGE_SIZE)?
            }
            "RedrivePolicy" => c.redrive = parse_redrive(p, v)?,
            "FifoQueue" => {}
            n if FIFO_ONLY.contains(&n) => {
                let f = c.fifo.as_mut().ok_or_else(|| unknown(name))?;
                match n {
                    "ContentBasedDeduplication" => f.content_based_dedup = boolean(name, v)?,
                    "DeduplicationScope" => {
                        f.dedup_scope = match v.as_str() {
                            "queue" => DedupScope::Queue,
                            "messageGroup" => DedupScope::MessageGroup,
                            _ => return Err(SqsError::invalid_attribute_value(name)),
                        }
                    }
                    _ => {
                        f.throughput_limit = match v.as_str() {
                            "perQueue" => ThroughputLimit::PerQueue,
                            "perMessageGroupId" => ThroughputLimit::PerMessageGroupId,
                            _ => return Err(SqsError::invalid_attribute_value(name)),
                        }
                    }
                }
            }
            n if PASSTHROUGH.contains(&n) => {
                if v.len() > 20_480 {
                    return Err(SqsError::invalid_attribute_value(name));
                }
                c.extra.insert(name.clone(), v.clone());
            }
            _ => return Err(unknown(name)),
        }
    }
    if let Some(f) = &c.fifo {
        if f.throughput_limit == ThroughputLimit::PerMessageGroupId
            && f.dedup_scope != DedupScope::MessageGroup
        {
            return Err(SqsError::invalid_parameter(
                "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup",
            ));
        }
    }
    Ok(c)
}

/// The first attribute whose value differs between two configs (for QueueNameExists).
pub fn first_difference(a: &QueueConfig, b: &QueueConfig) -> &'static str {
    if a.visibility_timeout != b.visibility_timeout {
        "VisibilityTimeout"
    } else if a.retention != b.retention {
        "MessageRetentionPeriod"
    } else if a.delay != b.delay {
        "DelaySeconds"
    } else if a.receive_wait != b.receive_wait {
        "ReceiveMessageWaitTimeSeconds"
    } else if a.max_message_size != b.max_message_size {
        "MaximumMessageSize"
    } else if a.redrive != b.redrive {
        "RedrivePolicy"
    } else if a.fifo.is_some() != b.fifo.is_some() {
        "FifoQueue"
    } else if a.fifo.map(|f| f.content_based_dedup) != b.fifo.map(|f| f.content_based_dedup) {
        "ContentBasedDeduplication"
    } else if a.fifo.map(|f| f.dedup_scope) != b.fifo.map(|f| f.dedup_scope) {
        "DeduplicationScope"
    } else if a.fifo != b.fifo {
        "FifoThroughputLimit"
    } else {
        "Policy"
    }
}

/// Checks requested names; `All` selects everything.
pub fn check_names(names: &[String]) -> Result<(), SqsError> {
    for n in names {
        if !READABLE.contains(&n.as_str()) {
            return Err(SqsError::invalid_attribute_name(format!(
                "Unknown Attribute {n}."
            )));
        }
    }
    Ok(())
}

/// The attributes GetQueueAttributes returns for `names`.
pub fn render(
    p: &Partition,
    q: &QueueInfo,
    depth: Depth,
    names: &[String],
) -> BTreeMap<String, String> {
    let all = names.iter().any(|n| n == "All");
    let want = |n: &str| all || names.iter().any(|x| x == n);
    let c = &q.config;
    let mut out = BTreeMap::new();
    let mut put = |n: &str, v: String| {
        if want(n) {
            out.insert(n.to_string(), v);
        }
    };
    put("QueueArn", queue_arn(p, &q.name));
    put("ApproximateNumberOfMessages", depth.visible.to_string());
    put(
        "ApproximateNumberOfMessagesNotVisible",
        depth.in_flight.to_string(),
    );
    put(
        "ApproximateNumberOfMessagesDelayed",
        depth.delayed.to_string(),
    );
    put("CreatedTimestamp", (q.created_ms / 1000).to_string());
    put("LastModifiedTimestamp", (q.modified_ms / 1000).to_string());
    put("VisibilityTimeout", c.visibility_timeout.to_string());
    put("MaximumMessageSize", c.max_message_size.to_string());
    put("MessageRetentionPeriod", c.retention.to_string());
    put("DelaySeconds", c.delay.to_string());
    put("ReceiveMessageWaitTimeSeconds", c.receive_wait.to_string());
    if let Some(r) = &c.redrive {
        put(
            "RedrivePolicy",
            serde_json::json!({"deadLetterTargetArn": queue_arn(p, &r.dead_letter_queue), "maxReceiveCount": r.max_receive_count})
                .to_string(),
        );
    }
    if let Some(f) = &c.fifo {
        put("FifoQueue", "true".into());
        put(
            "ContentBasedDeduplication",
            f.content_based_dedup.to_string(),
        );
        put(
            "DeduplicationScope",
            match f.dedup_scope {
                DedupScope::Queue => "queue",
                DedupScope::MessageGroup => "messageGroup",
            }
            .into(),
        );
        put(
            "FifoThroughputLimit",
            match f.throughput_limit {
                ThroughputLimit::PerQueue => "perQueue",
                ThroughputLimit::PerMessageGroupId => "perMessageGroupId",
            }
            .into(),
        );
    }
    for (k, v) in &c.extra {
        put(k, v.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Partition {
        Partition::new("us-east-1", "000000000000")
    }

    fn m(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fifo_attributes() {
        let base = QueueConfig::default();
        let c = apply(
            &p(),
            &base,
            &m(&[
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "true"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ]),
            true,
        )
        .unwrap();
        let f = c.fifo.unwrap();
        assert!(f.content_based_dedup);
        assert_eq!(f.dedup_scope, DedupScope::MessageGroup);
        assert_eq!(f.throughput_limit, ThroughputLimit::PerMessageGroupId);
        let bad = apply(
            &p(),
            &base,
            &m(&[
                ("FifoQueue", "true"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ]),
            true,
        )
        .unwrap_err();
        assert!(bad
            .message
            .contains("perMessageGroupId value is allowed only"));
        assert_eq!(
            apply(&p(), &c, &m(&[("FifoQueue", "true")]), false)
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );
        for (k, v) in [
            ("DeduplicationScope", "group"),
            ("ContentBasedDeduplication", "yes"),
        ] {
            assert_eq!(
                apply(&p(), &c, &m(&[(k, v)]), false).unwrap_err().code,
                "InvalidAttributeValue"
            );
        }
    }

    #[test]
    fn apply_parses_ranges_and_redrive() {
        let base = QueueConfig::default();
        let c = apply(
            &p(),
            &base,
            &m(&[
                ("VisibilityTimeout", "5"),
                ("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(c.visibility_timeout, 5);
        assert_eq!(
            c.redrive,
            Some(Redrive {
                dead_letter_queue: "dlq".into(),
                max_receive_count: 3
            })
        );
        assert_eq!(base, QueueConfig::default());
        for (k, v) in [
            ("VisibilityTimeout", "43201"),
            ("DelaySeconds", "-1"),
            ("MessageRetentionPeriod", "x"),
        ] {
            assert_eq!(
                apply(&p(), &base, &m(&[(k, v)]), true).unwrap_err().code,
                "InvalidAttributeValue",
                "{k}={v}"
            );
        }
        assert_eq!(
            apply(&p(), &base, &m(&[("Bogus", "1")]), true)
                .unwrap_err()
                .code,
            "InvalidAttributeName"
        );
        assert_eq!(
            apply(
                &p(),
                &base,
                &m(&[("ContentBasedDeduplication", "true")]),
                true
            )
            .unwrap_err()
            .code,
            "InvalidAttributeName",
            "FIFO-only attributes on a standard queue"
        );
        let wrong_account = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:111111111111:dlq","maxReceiveCount":3}"#;
        assert_eq!(
            apply(&p(), &base, &m(&[("RedrivePolicy", wrong_account)]), true)
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
        let no_count = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#;
        assert!(apply(&p(), &base, &m(&[("RedrivePolicy", no_count)]), true)
            .unwrap_err()
            .message
            .contains("maxReceiveCount"));
    }
}
