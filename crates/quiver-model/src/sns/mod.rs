//! SNS-compatible topics: the resources a client sees (topics, subscriptions), their
//! ARNs, names, attributes and every refusal, worded as SNS words them (docs/wire.md §26).
//! Pure: the store keeps these values, the API parses and renders them, the delivery
//! module in quiver-triggers sends them.
//!
//! - [`attrs`]: topic and subscription attributes (what may be set, defaults rendered).
//! - [`message`]: Publish's inputs (size, subject, structure, message attributes) and the
//!   notification bodies SNS sends (JSON envelope, Lambda event record).

pub mod attrs;
pub mod message;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::arn::Partition;

/// Largest message, attributes included (256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// Entries of one PublishBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Tags per topic.
pub const MAX_TAGS: usize = 50;
/// Topics per ListTopics page, subscriptions per ListSubscriptions page.
pub const TOPICS_PAGE: usize = 100;
pub const SUBSCRIPTIONS_PAGE: usize = 100;
/// What Subscribe answers for a subscription that still waits for its confirmation.
pub const PENDING_ARN: &str = "pending confirmation";
/// What the list operations show in place of a pending subscription's ARN.
pub const PENDING_LIST_ARN: &str = "PendingConfirmation";

/// An SNS refusal: the query protocol's error code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SnsError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl SnsError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        SnsError {
            code,
            status,
            message: message.into(),
        }
    }
    /// `InvalidParameter` (400): SNS's message is always `Invalid parameter: <what>`.
    pub fn invalid(what: impl std::fmt::Display) -> Self {
        Self::new(
            "InvalidParameter",
            400,
            format!("Invalid parameter: {what}"),
        )
    }
    /// `InvalidParameterValue` (400), with the message as given.
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", 400, message)
    }
    pub fn topic_not_found() -> Self {
        Self::new("NotFound", 404, "Topic does not exist")
    }
    pub fn subscription_not_found() -> Self {
        Self::new("NotFound", 404, "Subscription does not exist")
    }
    pub fn resource_not_found() -> Self {
        Self::new("ResourceNotFound", 404, "Resource does not exist")
    }
}

static TOPIC_NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]{1,256}$").expect("static regex"));
static TOPIC_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws[a-zA-Z-]*:sns:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):([A-Za-z0-9_.-]{1,256})$",
    )
    .expect("static regex")
});
static SUB_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(arn:aws[a-zA-Z-]*:sns:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}:[A-Za-z0-9_.-]{1,256}):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
    .expect("static regex")
});
static SQS_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-zA-Z-]*:sqs:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}:([a-zA-Z0-9_-]{1,80})$")
        .expect("static regex")
});
static LAMBDA_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}:function:([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$",
    )
    .expect("static regex")
});

/// Checks CreateTopic's `Name`. FIFO topics (`.fifo`) are refused: ordering and
/// deduplication are not built (docs/wire.md §26).
pub fn check_topic_name(name: Option<&str>) -> Result<&str, SnsError> {
    let name = name.ok_or_else(|| SnsError::invalid("Topic Name"))?;
    if name.ends_with(".fifo") {
        return Err(fifo_refused());
    }
    if !TOPIC_NAME_RE.is_match(name) {
        return Err(SnsError::invalid("Topic Name"));
    }
    Ok(name)
}

/// The refusal of FIFO topics.
pub fn fifo_refused() -> SnsError {
    SnsError::invalid("Attributes Reason: FIFO topics are not supported by this server")
}

/// `arn:aws:sns:<region>:<account>:<name>`.
pub fn topic_arn(p: &Partition, name: &str) -> String {
    format!("arn:aws:sns:{}:{}:{name}", p.region, p.account)
}

/// The topic name a `TopicArn` (or `TargetArn`, `ResourceArn`) of this server names;
/// `InvalidParameter: <member>` when it is no topic ARN or another region's,
/// NotFound for another account's.
pub fn topic_name_of(p: &Partition, arn: Option<&str>, member: &str) -> Result<String, SnsError> {
    let arn = arn.ok_or_else(|| SnsError::invalid(member))?;
    let c = TOPIC_ARN_RE
        .captures(arn)
        .ok_or_else(|| SnsError::invalid(member))?;
    // SNS answers a topic of another region as a bad ARN for this endpoint.
    if c[1] != p.region {
        return Err(SnsError::invalid(member));
    }
    if c[2] != p.account {
        return Err(SnsError::topic_not_found());
    }
    Ok(c[3].to_string())
}

/// The topic ARN a subscription ARN belongs to; `InvalidParameter: SubscriptionArn`
/// when it is not one.
pub fn topic_of_subscription(arn: Option<&str>) -> Result<String, SnsError> {
    let arn = arn.ok_or_else(|| SnsError::invalid("SubscriptionArn"))?;
    SUB_ARN_RE
        .captures(arn)
        .map(|c| c[1].to_string())
        .ok_or_else(|| SnsError::invalid("SubscriptionArn"))
}

/// The delivery protocols this server sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Lambda,
    Sqs,
    Http,
    Https,
}

impl Protocol {
    /// Subscribe's `Protocol`; SNS's other protocols (email, sms, application,
    /// firehose) are refused with SNS's own wording for an unknown one.
    pub fn parse(s: Option<&str>) -> Result<Self, SnsError> {
        let s = s.ok_or_else(|| SnsError::invalid("Protocol"))?;
        match s {
            "lambda" => Ok(Protocol::Lambda),
            "sqs" => Ok(Protocol::Sqs),
            "http" => Ok(Protocol::Http),
            "https" => Ok(Protocol::Https),
            other => Err(SnsError::invalid(format!(
                "Amazon SNS does not support this protocol string: {other}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Lambda => "lambda",
            Protocol::Sqs => "sqs",
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }
    /// HTTP endpoints must confirm before they get notifications.
    pub fn needs_confirmation(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https)
    }
}

/// Checks an endpoint for its protocol, as Subscribe does.
pub fn check_endpoint(protocol: Protocol, endpoint: Option<&str>) -> Result<String, SnsError> {
    let e = endpoint.unwrap_or("");
    let ok = match protocol {
        Protocol::Lambda => LAMBDA_ARN_RE.is_match(e),
        Protocol::Sqs => SQS_ARN_RE.is_match(e),
        Protocol::Http => e.len() > 7 && e[..7].eq_ignore_ascii_case("http://"),
        Protocol::Https => e.len() > 8 && e[..8].eq_ignore_ascii_case("https://"),
    };
    if ok {
        return Ok(e.to_string());
    }
    Err(match protocol {
        Protocol::Lambda => SnsError::invalid("Lambda endpoint ARN"),
        Protocol::Sqs => SnsError::invalid("SQS endpoint ARN"),
        _ => SnsError::invalid("Endpoint must match the specified protocol"),
    })
}

/// The queue name of an `sqs` endpoint (an SQS ARN).
pub fn sqs_queue_name(arn: &str) -> Option<String> {
    SQS_ARN_RE.captures(arn).map(|c| c[1].to_string())
}

/// Function name and qualifier of a `lambda` endpoint.
pub fn lambda_target(arn: &str) -> Option<(String, Option<String>)> {
    LAMBDA_ARN_RE
        .captures(arn)
        .map(|c| (c[1].to_string(), c.get(2).map(|q| q.as_str().to_string())))
}

/// A topic as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub arn: String,
    /// The attributes the caller set (DisplayName, Policy, DeliveryPolicy, …); the
    /// computed ones are rendered by [`attrs::topic_attributes`].
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Subscriptions removed so far (GetTopicAttributes' SubscriptionsDeleted).
    #[serde(default)]
    pub subscriptions_deleted: u64,
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Topic ARN + `:` + a UUID.
    pub arn: String,
    pub topic_arn: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub owner: String,
    /// RawMessageDelivery, FilterPolicy, FilterPolicyScope, RedrivePolicy, DeliveryPolicy.
    pub attributes: BTreeMap<String, String>,
    /// Waiting for ConfirmSubscription (http/https only).
    pub pending: bool,
    /// The token its SubscriptionConfirmation carried (http/https only).
    pub token: Option<String>,
}

impl Subscription {
    /// RawMessageDelivery is `true`.
    pub fn raw(&self) -> bool {
        self.attributes
            .get("RawMessageDelivery")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    /// The SQS queue named by RedrivePolicy's deadLetterTargetArn, if any.
    pub fn dead_letter_queue(&self) -> Option<String> {
        let policy = self.attributes.get("RedrivePolicy")?;
        let v: serde_json::Value = serde_json::from_str(policy).ok()?;
        sqs_queue_name(v.get("deadLetterTargetArn")?.as_str()?)
    }
    /// The ARN list operations show: `PendingConfirmation` until confirmed.
    pub fn listed_arn(&self) -> &str {
        if self.pending {
            PENDING_LIST_ARN
        } else {
            &self.arn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Partition {
        Partition::new("us-east-1", "000000000000")
    }

    #[test]
    fn topic_names_and_arns() {
        assert_eq!(check_topic_name(Some("a-b_C9")).unwrap(), "a-b_C9");
        for bad in ["", "a.b", "a b", &"x".repeat(257)] {
            assert_eq!(
                check_topic_name(Some(bad)).unwrap_err().message,
                "Invalid parameter: Topic Name"
            );
        }
        assert!(check_topic_name(Some("t.fifo")).is_err());
        let arn = topic_arn(&p(), "t1");
        assert_eq!(arn, "arn:aws:sns:us-east-1:000000000000:t1");
        assert_eq!(topic_name_of(&p(), Some(&arn), "TopicArn").unwrap(), "t1");
        assert_eq!(
            topic_name_of(&p(), Some("nope"), "TopicArn")
                .unwrap_err()
                .message,
            "Invalid parameter: TopicArn"
        );
        assert_eq!(
            topic_name_of(
                &p(),
                Some("arn:aws:sns:us-east-1:111111111111:t"),
                "TopicArn"
            )
            .unwrap_err()
            .code,
            "NotFound"
        );
    }

    #[test]
    fn subscription_arns_and_endpoints() {
        let sub = "arn:aws:sns:us-east-1:000000000000:t1:0d2b3c1e-1111-4222-8333-444455556666";
        assert_eq!(
            topic_of_subscription(Some(sub)).unwrap(),
            "arn:aws:sns:us-east-1:000000000000:t1"
        );
        assert!(topic_of_subscription(Some("arn:aws:sns:us-east-1:000000000000:t1")).is_err());
        assert_eq!(
            Protocol::parse(Some("email")).unwrap_err().message,
            "Invalid parameter: Amazon SNS does not support this protocol string: email"
        );
        let q = "arn:aws:sqs:us-east-1:000000000000:q1";
        assert_eq!(check_endpoint(Protocol::Sqs, Some(q)).unwrap(), q);
        assert_eq!(sqs_queue_name(q).as_deref(), Some("q1"));
        assert_eq!(
            check_endpoint(Protocol::Sqs, Some("q1"))
                .unwrap_err()
                .message,
            "Invalid parameter: SQS endpoint ARN"
        );
        let f = "arn:aws:lambda:us-east-1:000000000000:function:f:live";
        assert!(check_endpoint(Protocol::Lambda, Some(f)).is_ok());
        assert_eq!(
            lambda_target(f),
            Some(("f".to_string(), Some("live".to_string())))
        );
        assert!(check_endpoint(Protocol::Http, Some("http://127.0.0.1:9/x")).is_ok());
        assert_eq!(
            check_endpoint(Protocol::Https, Some("http://127.0.0.1/"))
                .unwrap_err()
                .message,
            "Invalid parameter: Endpoint must match the specified protocol"
        );
    }
}
