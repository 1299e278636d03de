//! The values that cross the [`crate::Queue`] seam. Protocol-neutral: SQS's wire names,
//! checksums and limits live in quiver-api; a future broker backend takes the same types.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Limits a queue enforces on its own (SQS's defaults and ranges).
pub mod limits {
    pub const DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
    pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;
    pub const DEFAULT_RETENTION: u32 = 345_600;
    pub const MIN_RETENTION: u32 = 60;
    pub const MAX_RETENTION: u32 = 1_209_600;
    pub const MAX_DELAY: u32 = 900;
    pub const MAX_RECEIVE_WAIT: u32 = 20;
    pub const MIN_MESSAGE_SIZE: u32 = 1_024;
    /// The SQS API's ceiling for `MaximumMessageSize` (its wire code enforces it).
    pub const MAX_MESSAGE_SIZE: u32 = 262_144;
    /// The largest message a backend stores. Above the SQS ceiling because internal
    /// queues carry more: an async event holds a payload of up to 1 MB, JSON-escaped
    /// inside its envelope (quotes and control characters grow it).
    pub const MAX_STORED_MESSAGE_SIZE: u32 = 8 * 1_048_576;
    pub const MAX_RECEIVE_BATCH: u32 = 10;
    pub const MAX_RECEIVE_COUNT: u32 = 1_000;
}

/// A queue's settings; a whole new value replaces the old one (no half updates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Seconds a received message stays hidden from other receivers.
    pub visibility_timeout: u32,
    /// Seconds a message is kept before it is removed unreceived.
    pub retention: u32,
    /// Default seconds a new message stays invisible after it is sent.
    pub delay: u32,
    /// Default long-poll wait of a receive that names none.
    pub receive_wait: u32,
    /// Largest body + message attributes in bytes.
    pub max_message_size: u32,
    /// Where messages go after too many receives.
    pub redrive: Option<Redrive>,
    /// Settings the queue stores and reports but does not act on (e.g. `Policy`).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// Set on FIFO queues (names ending `.fifo`): ordered message groups and
    /// deduplication. Fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fifo: Option<FifoConfig>,
}

/// Where a deduplication id is unique: the whole queue, or each message group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DedupScope {
    #[default]
    Queue,
    MessageGroup,
}

/// The throughput quota a FIFO queue reports (stored and reported, not enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ThroughputLimit {
    #[default]
    PerQueue,
    PerMessageGroupId,
}

/// A FIFO queue's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FifoConfig {
    /// A send without a deduplication id uses the SHA-256 of its body.
    pub content_based_dedup: bool,
    pub dedup_scope: DedupScope,
    pub throughput_limit: ThroughputLimit,
}

/// How long a deduplication id keeps a later send with the same id from being enqueued.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

impl Default for QueueConfig {
    fn default() -> Self {
        use limits::*;
        Self {
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            retention: DEFAULT_RETENTION,
            delay: 0,
            receive_wait: 0,
            max_message_size: MAX_MESSAGE_SIZE,
            redrive: None,
            extra: BTreeMap::new(),
            fifo: None,
        }
    }
}

impl QueueConfig {
    /// Checks every range; the backends refuse configs that fail it.
    pub fn validate(&self) -> Result<(), String> {
        use limits::*;
        let check = |name: &str, v: u32, lo: u32, hi: u32| {
            if v < lo || v > hi {
                Err(format!("{name} must be between {lo} and {hi}, got {v}"))
            } else {
                Ok(())
            }
        };
        check(
            "visibility timeout",
            self.visibility_timeout,
            0,
            MAX_VISIBILITY_TIMEOUT,
        )?;
        check("retention", self.retention, MIN_RETENTION, MAX_RETENTION)?;
        check("delay", self.delay, 0, MAX_DELAY)?;
        check("receive wait", self.receive_wait, 0, MAX_RECEIVE_WAIT)?;
        check(
            "maximum message size",
            self.max_message_size,
            MIN_MESSAGE_SIZE,
            MAX_STORED_MESSAGE_SIZE,
        )?;
        if let Some(r) = &self.redrive {
            check(
                "max receive count",
                r.max_receive_count,
                1,
                MAX_RECEIVE_COUNT,
            )?;
            if !is_valid_queue_name(&r.dead_letter_queue) {
                return Err(format!(
                    "dead-letter queue name {:?} is not valid",
                    r.dead_letter_queue
                ));
            }
        }
        Ok(())
    }
}

/// Dead-letter redrive: a message received `max_receive_count` times is moved to
/// `dead_letter_queue` instead of being delivered again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrive {
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// `[A-Za-z0-9_-]{1,80}`: SQS's rule for standard queue names.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `<standard name minus 5>.fifo`, at most 80 characters: SQS's rule for FIFO queue names.
pub fn is_valid_fifo_name(name: &str) -> bool {
    name.strip_suffix(".fifo")
        .is_some_and(|base| base.len() <= 75 && is_valid_name(base))
}

/// A standard or FIFO queue name.
pub fn is_valid_queue_name(name: &str) -> bool {
    is_valid_name(name) || is_valid_fifo_name(name)
}

/// A queue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub name: String,
    pub config: QueueConfig,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A typed value attached to a message (SQS message attributes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, optionally with a `.custom` suffix.
    pub data_type: String,
    pub value: AttrValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    String(String),
    Binary(#[serde(with = "b64")] Vec<u8>),
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// Where a message's trace header (the chain of requests it belongs to) is kept: among
/// its attributes, under a name no sender can give one (names starting `AWS.` are
/// refused at the edge), so it needs no column of its own and survives redrives. The
/// SQS wire shows it as the `AWSTraceHeader` system attribute, never as a message
/// attribute.
pub const TRACE_HEADER_ATTRIBUTE: &str = "AWS.TraceHeader";

/// A message's group (FIFO queues; fair standard queues), given to a send the same way
/// as the trace header: a reserved attribute, so that [`NewMessage`] keeps its shape.
/// The store keeps it in a column of its own and returns it as [`Message::group_id`].
pub const GROUP_ID_ATTRIBUTE: &str = "AWS.MessageGroupId";
/// A FIFO message's deduplication id, given like [`GROUP_ID_ATTRIBUTE`]; absent on a
/// FIFO queue with content-based deduplication, the store uses the body's SHA-256.
/// Both are moved out of the attributes when the message is stored.
pub const DEDUP_ID_ATTRIBUTE: &str = "AWS.MessageDeduplicationId";

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewMessage {
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// Seconds before it becomes visible; `None` takes the queue's delay.
    pub delay: Option<u32>,
}

/// What a send acknowledges (only once the message is durable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub id: String,
    /// FIFO queues: the message's place in its queue (20 digits, increasing).
    pub sequence_number: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    /// Names this delivery; needed to delete it or change its visibility.
    pub receipt: String,
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub sent_ms: i64,
    pub first_receive_ms: i64,
    /// Deliveries so far, this one included.
    pub receive_count: u32,
    /// The message group, if the sender gave one.
    pub group_id: Option<String>,
    /// FIFO queues: the deduplication id (given, or the body's SHA-256).
    pub dedup_id: Option<String>,
    /// FIFO queues: see [`SentMessage::sequence_number`].
    pub sequence_number: Option<String>,
}

/// One receive call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// 1..=10.
    pub max: u32,
    /// Seconds; `None` takes the queue's visibility timeout.
    pub visibility_timeout: Option<u32>,
}

/// The messages of a receive, and when the next hidden one becomes visible (so that a
/// long poll can sleep exactly that long instead of polling).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    pub messages: Vec<Message>,
    pub next_visible_in: Option<std::time::Duration>,
}

/// Approximate depth of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted or visible again.
    pub in_flight: u64,
    /// Sent with a delay that has not passed.
    pub delayed: u64,
}

/// The parts of a receipt handle. Opaque to clients: base64 of `q.seq.nonce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub queue_id: i64,
    pub seq: i64,
    pub nonce: i64,
}

impl Receipt {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}.{}.{}", self.queue_id, self.seq, self.nonce))
    }

    pub fn decode(s: &str) -> Option<Receipt> {
        if s.len() > 1024 {
            return None;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let mut it = text.split('.');
        let r = Receipt {
            queue_id: it.next()?.parse().ok()?,
            seq: it.next()?.parse().ok()?,
            nonce: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_garbage_is_refused() {
        let r = Receipt {
            queue_id: 3,
            seq: 99,
            nonce: -12345,
        };
        assert_eq!(Receipt::decode(&r.encode()), Some(r));
        for bad in [
            "",
            "abc",
            "!!",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1.2"),
            &"A".repeat(2000),
        ] {
            assert_eq!(Receipt::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_config_ranges() {
        assert!(is_valid_name("a-B_9"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(81)));
        assert!(!is_valid_name("q.fifo"));
        assert!(is_valid_fifo_name("q.fifo"));
        assert!(is_valid_fifo_name(&format!("{}.fifo", "a".repeat(75))));
        assert!(!is_valid_fifo_name(&format!("{}.fifo", "a".repeat(76))));
        assert!(!is_valid_fifo_name(".fifo"));
        assert!(!is_valid_fifo_name("q"));
        assert!(is_valid_queue_name("q") && is_valid_queue_name("q.fifo"));
        assert!(QueueConfig::default().validate().is_ok());
        let bad = QueueConfig {
            retention: 59,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("retention"));
        let big = QueueConfig {
            max_message_size: limits::MAX_STORED_MESSAGE_SIZE,
            ..Default::default()
        };
        assert!(big.validate().is_ok());
        let too_big = QueueConfig {
            max_message_size: limits::MAX_STORED_MESSAGE_SIZE + 1,
            ..Default::default()
        };
        assert!(too_big.validate().unwrap_err().contains("message size"));
        let bad = QueueConfig {
            redrive: Some(Redrive {
                dead_letter_queue: "d".into(),
                max_receive_count: 0,
            }),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
