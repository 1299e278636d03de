//! Publish's inputs and the bodies SNS delivers: the JSON envelope (SQS, HTTP), the
//! Lambda event record and the SubscriptionConfirmation.
//!
//! SNS signs each body with an RSA key behind `SigningCertURL`; this server has no such
//! key, so `Signature` is the base64 SHA-256 digest of SNS's string to sign: present and
//! stable, but a client that verifies signatures will refuse it (docs/wire.md §26).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Protocol, SnsError, MAX_MESSAGE_BYTES};

/// Message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// One message attribute as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttr {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttr {
    /// The `Value` of the envelope: the string, or the binary as base64.
    pub fn rendered_value(&self) -> String {
        match &self.binary_value {
            Some(b) if self.data_type.starts_with("Binary") => {
                base64::engine::general_purpose::STANDARD.encode(b)
            }
            _ => self.string_value.clone().unwrap_or_default(),
        }
    }
    /// Bytes counted against the message size (name, type and value).
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

fn check_attribute_name(name: &str) -> Result<(), SnsError> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(SnsError::invalid_value(format!(
            "The message attribute name '{name}' is invalid. It can only include alphanumeric characters, hyphens, underscores, or dots, may not start or end with a dot, hold two dots in a row, or start with AWS. or Amazon."
        )))
    }
}

/// Checks Publish's `MessageAttributes` as SNS does.
pub fn check_attributes(attrs: &BTreeMap<String, MessageAttr>) -> Result<(), SnsError> {
    if attrs.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(SnsError::invalid_value(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attrs.len()
        )));
    }
    for (name, a) in attrs {
        check_attribute_name(name)?;
        let base = a.data_type.split('.').next().unwrap_or("");
        let custom_ok =
            a.data_type.len() <= 256 && (a.data_type == base || a.data_type.len() > base.len() + 1);
        if !matches!(base, "String" | "Number" | "Binary") || !custom_ok {
            return Err(SnsError::invalid_value(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let empty = match base {
            "Binary" => a.binary_value.as_ref().is_none_or(Vec::is_empty),
            _ => a.string_value.as_ref().is_none_or(String::is_empty),
        };
        if empty {
            return Err(SnsError::invalid_value(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            )));
        }
        if base == "Number" {
            let v = a.string_value.as_deref().unwrap_or("");
            if v.parse::<f64>().map_or(true, |f| !f.is_finite()) {
                return Err(SnsError::invalid_value(format!(
                    "Could not cast message attribute '{name}' value to number."
                )));
            }
        }
        if a.data_type == "String.Array" {
            let v = a.string_value.as_deref().unwrap_or("");
            if !matches!(serde_json::from_str::<Value>(v), Ok(Value::Array(_))) {
                return Err(SnsError::invalid_value(format!(
                    "The message attribute '{name}' with type 'String.Array' must use field 'String'."
                )));
            }
        }
    }
    Ok(())
}

/// Checks a message for Publish: present and non-empty, within 256 KiB with its
/// attributes, a valid Subject, and for `MessageStructure=json` a JSON object with a
/// string `default`. Returns the per-protocol bodies (`None` key = every protocol).
pub fn check_message(
    message: Option<&str>,
    subject: Option<&str>,
    structure: Option<&str>,
    attrs: &BTreeMap<String, MessageAttr>,
) -> Result<Bodies, SnsError> {
    let message = match message {
        Some(m) if !m.is_empty() => m,
        _ => return Err(SnsError::invalid("Empty message")),
    };
    let size = message.len() + attrs.iter().map(|(n, a)| a.size(n)).sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(SnsError::invalid("Message too long"));
    }
    if let Some(s) = subject {
        let ok = !s.is_empty()
            && s.chars().count() < 100
            && s.chars().all(|c| !c.is_control() && c.is_ascii())
            && !s.starts_with(' ');
        if !ok {
            return Err(SnsError::invalid("Subject"));
        }
    }
    check_attributes(attrs)?;
    match structure {
        None | Some("") => Ok(Bodies {
            default: message.to_string(),
            per_protocol: BTreeMap::new(),
        }),
        Some("json") => {
            let v: Value = serde_json::from_str(message).map_err(|_| {
                SnsError::invalid("Message Structure - JSON message body failed to parse")
            })?;
            let Value::Object(map) = v else {
                return Err(SnsError::invalid(
                    "Message Structure - JSON message body failed to parse",
                ));
            };
            let Some(Value::String(default)) = map.get("default") else {
                return Err(SnsError::invalid(
                    "Message Structure - No default entry in JSON message body",
                ));
            };
            let mut per_protocol = BTreeMap::new();
            for (k, v) in &map {
                if k != "default" {
                    if let Value::String(s) = v {
                        per_protocol.insert(k.clone(), s.clone());
                    }
                }
            }
            Ok(Bodies {
                default: default.clone(),
                per_protocol,
            })
        }
        Some(_) => Err(SnsError::invalid("MessageStructure")),
    }
}

/// A message's body per protocol (`MessageStructure=json`), else one body for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bodies {
    pub default: String,
    pub per_protocol: BTreeMap<String, String>,
}

impl Bodies {
    pub fn for_protocol(&self, p: Protocol) -> &str {
        self.per_protocol
            .get(p.as_str())
            .map_or(self.default.as_str(), String::as_str)
    }
}

/// One published message, as each subscription receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    /// ISO 8601 with milliseconds, UTC.
    pub timestamp: String,
    pub attributes: BTreeMap<String, MessageAttr>,
}

/// Where a delivered body points its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub signing_cert_url: String,
    pub unsubscribe_url: String,
}

fn digest(parts: &[(&str, &str)]) -> String {
    let mut h = Sha256::new();
    for (k, v) in parts {
        h.update(k.as_bytes());
        h.update(b"\n");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

fn signature(n: &Notification) -> String {
    let mut parts = vec![
        ("Message", n.message.as_str()),
        ("MessageId", &n.message_id),
    ];
    if let Some(s) = &n.subject {
        parts.push(("Subject", s));
    }
    parts.extend([
        ("Timestamp", n.timestamp.as_str()),
        ("TopicArn", &n.topic_arn),
        ("Type", "Notification"),
    ]);
    digest(&parts)
}

fn attributes_json(n: &Notification) -> Map<String, Value> {
    n.attributes
        .iter()
        .map(|(k, a)| {
            let ty = a.data_type.split('.').next().unwrap_or("String");
            let ty = if a.data_type == "String.Array" {
                "String.Array"
            } else {
                ty
            };
            (k.clone(), json!({"Type": ty, "Value": a.rendered_value()}))
        })
        .collect()
}

/// The JSON envelope an SQS queue or an HTTP endpoint receives (not raw).
pub fn envelope(n: &Notification, links: &Links) -> Value {
    let mut m = Map::new();
    m.insert("Type".into(), json!("Notification"));
    m.insert("MessageId".into(), json!(n.message_id));
    m.insert("TopicArn".into(), json!(n.topic_arn));
    if let Some(s) = &n.subject {
        m.insert("Subject".into(), json!(s));
    }
    m.insert("Message".into(), json!(n.message));
    m.insert("Timestamp".into(), json!(n.timestamp));
    m.insert("SignatureVersion".into(), json!("1"));
    m.insert("Signature".into(), json!(signature(n)));
    m.insert("SigningCertURL".into(), json!(links.signing_cert_url));
    m.insert("UnsubscribeURL".into(), json!(links.unsubscribe_url));
    let attrs = attributes_json(n);
    if !attrs.is_empty() {
        m.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(m)
}

/// The event a subscribed function receives (`Records` of one, `aws:sns`).
pub fn lambda_event(n: &Notification, subscription_arn: &str, links: &Links) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": n.message_id,
            "TopicArn": n.topic_arn,
            "Subject": n.subject,
            "Message": n.message,
            "Timestamp": n.timestamp,
            "SignatureVersion": "1",
            "Signature": signature(n),
            "SigningCertUrl": links.signing_cert_url,
            "UnsubscribeUrl": links.unsubscribe_url,
            "MessageAttributes": attributes_json(n),
        }
    }]})
}

/// The SubscriptionConfirmation an HTTP endpoint receives first.
pub fn confirmation(
    message_id: &str,
    token: &str,
    topic_arn: &str,
    subscribe_url: &str,
    timestamp: &str,
    signing_cert_url: &str,
) -> Value {
    let message = format!(
        "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
    );
    let sig = digest(&[
        ("Message", &message),
        ("MessageId", message_id),
        ("SubscribeURL", subscribe_url),
        ("Timestamp", timestamp),
        ("Token", token),
        ("TopicArn", topic_arn),
        ("Type", "SubscriptionConfirmation"),
    ]);
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": message,
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": sig,
        "SigningCertURL": signing_cert_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> MessageAttr {
        MessageAttr {
            data_type: "String".into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }

    #[test]
    fn messages_are_checked() {
        let none = BTreeMap::new();
        assert_eq!(
            check_message(None, None, None, &none).unwrap_err().message,
            "Invalid parameter: Empty message"
        );
        let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            check_message(Some(&big), None, None, &none)
                .unwrap_err()
                .message,
            "Invalid parameter: Message too long"
        );
        assert!(check_message(Some(&big[1..]), None, None, &none).is_ok());
        assert_eq!(
            check_message(Some(r#"{"sqs":"q"}"#), None, Some("json"), &none)
                .unwrap_err()
                .message,
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        );
        let b = check_message(
            Some(r#"{"default":"d","sqs":"q"}"#),
            None,
            Some("json"),
            &none,
        )
        .unwrap();
        assert_eq!(b.for_protocol(Protocol::Sqs), "q");
        assert_eq!(b.for_protocol(Protocol::Lambda), "d");
        assert!(check_message(Some("m"), Some(""), None, &none).is_err());
    }

    #[test]
    fn attributes_are_checked() {
        let mut a = BTreeMap::new();
        a.insert("ok".to_string(), s("v"));
        assert!(check_attributes(&a).is_ok());
        a.insert(
            "n".to_string(),
            MessageAttr {
                data_type: "Number".into(),
                string_value: Some("abc".into()),
                binary_value: None,
            },
        );
        assert_eq!(
            check_attributes(&a).unwrap_err().message,
            "Could not cast message attribute 'n' value to number."
        );
        let mut b = BTreeMap::new();
        b.insert(
            "t".to_string(),
            MessageAttr {
                data_type: "Blob".into(),
                string_value: Some("x".into()),
                binary_value: None,
            },
        );
        assert_eq!(
            check_attributes(&b).unwrap_err().code,
            "InvalidParameterValue"
        );
        let mut c = BTreeMap::new();
        c.insert("AWS.x".to_string(), s("v"));
        assert!(check_attributes(&c).is_err());
    }

    #[test]
    fn envelope_and_event_shapes() {
        let mut attributes = BTreeMap::new();
        attributes.insert("k".to_string(), s("v"));
        let n = Notification {
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
            subject: None,
            message: "hello".into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            attributes,
        };
        let links = Links {
            signing_cert_url: "c".into(),
            unsubscribe_url: "u".into(),
        };
        let e = envelope(&n, &links);
        assert_eq!(e["Type"], "Notification");
        assert!(e.get("Subject").is_none());
        assert_eq!(
            e["MessageAttributes"]["k"],
            json!({"Type": "String", "Value": "v"})
        );
        assert_eq!(e["UnsubscribeURL"], "u");
        let ev = lambda_event(&n, "sub", &links);
        let r = &ev["Records"][0];
        assert_eq!(r["EventSource"], "aws:sns");
        assert_eq!(r["EventSubscriptionArn"], "sub");
        assert_eq!(r["Sns"]["Subject"], Value::Null);
        assert_eq!(r["Sns"]["UnsubscribeUrl"], "u");
        assert_eq!(r["Sns"]["Signature"], e["Signature"]);
    }
}
