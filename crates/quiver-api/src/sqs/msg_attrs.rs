//! Message attributes as SendMessage takes them: the user's `MessageAttributes` (names,
//! types, values, SQS's character set) and the one system attribute, `AWSTraceHeader`.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use quiver_queue::{AttrValue, MessageAttribute};
use serde::Deserialize;

use super::error::SqsError;

const MAX_ATTRIBUTES: usize = 10;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AttrIn {
    pub(super) data_type: Option<String>,
    pub(super) string_value: Option<String>,
    pub(super) binary_value: Option<String>,
    pub(super) string_list_values: Option<Vec<String>>,
    pub(super) binary_list_values: Option<Vec<String>>,
}

/// `MessageSystemAttributes`: SQS takes only `AWSTraceHeader`, a String. It is kept
/// under [`quiver_queue::TRACE_HEADER_ATTRIBUTE`] and answered with its own checksum.
pub(super) fn convert_system_attrs(
    raw: HashMap<String, AttrIn>,
) -> Result<Option<MessageAttribute>, SqsError> {
    let mut trace = None;
    for (name, a) in raw {
        if name != "AWSTraceHeader" {
            return Err(SqsError::invalid_parameter(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if a.data_type.as_deref() != Some("String") {
            return Err(SqsError::invalid_parameter(
                "The message system attribute 'AWSTraceHeader' must be of type String.",
            ));
        }
        let v = a
            .string_value
            .filter(|s| !s.is_empty() && valid_chars(s))
            .ok_or_else(|| {
                SqsError::invalid_parameter(
                    "The message system attribute 'AWSTraceHeader' must contain a non-empty value.",
                )
            })?;
        trace = Some(MessageAttribute {
            data_type: "String".into(),
            value: AttrValue::String(v),
        });
    }
    Ok(trace)
}

/// SQS's allowed characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
pub(super) fn valid_chars(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

pub(super) fn check_attr_name(n: &str) -> Result<(), SqsError> {
    let lower = n.to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 256
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !n.starts_with('.')
        && !n.ends_with('.')
        && !n.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter(format!("Message attribute name '{n}' is invalid. Names may contain alphanumeric characters, hyphens, underscores and periods, up to 256 characters, not starting with AWS. or Amazon.")))
    }
}

pub(super) fn convert_attrs(
    raw: HashMap<String, AttrIn>,
) -> Result<BTreeMap<String, MessageAttribute>, SqsError> {
    if raw.len() > MAX_ATTRIBUTES {
        return Err(SqsError::invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            raw.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, a) in raw {
        check_attr_name(&name)?;
        let dt = a.data_type.filter(|d| !d.is_empty()).ok_or_else(|| {
            SqsError::invalid_parameter(format!(
                "The message attribute '{name}' must contain a non-empty message attribute type."
            ))
        })?;
        let base = dt.split('.').next().unwrap_or("");
        if dt.len() > 256 || !valid_chars(&dt) || !matches!(base, "String" | "Number" | "Binary") {
            return Err(SqsError::invalid_parameter(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        if a.string_list_values.as_ref().is_some_and(|v| !v.is_empty())
            || a.binary_list_values.as_ref().is_some_and(|v| !v.is_empty())
        {
            return Err(SqsError::invalid_parameter(format!(
                "Message attribute '{name}': list values (StringListValues, BinaryListValues) are not supported."
            )));
        }
        let empty = || {
            SqsError::invalid_parameter(format!("The message attribute '{name}' must contain a non-empty message attribute value for message attribute type '{dt}'."))
        };
        let value = if base == "Binary" {
            let b = a.binary_value.ok_or_else(empty)?;
            let bytes = B64.decode(b.as_bytes()).map_err(|_| {
                SqsError::invalid_parameter(format!(
                    "The message attribute '{name}' has an invalid binary value."
                ))
            })?;
            if bytes.is_empty() {
                return Err(empty());
            }
            AttrValue::Binary(bytes)
        } else {
            let s = a.string_value.filter(|s| !s.is_empty()).ok_or_else(empty)?;
            if !valid_chars(&s) {
                return Err(SqsError::invalid_message_contents());
            }
            if base == "Number" && (s.trim().parse::<f64>().is_err() || s.len() > 40) {
                return Err(SqsError::invalid_parameter(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            AttrValue::String(s)
        };
        out.insert(
            name,
            MessageAttribute {
                data_type: dt,
                value,
            },
        );
    }
    Ok(out)
}

pub(super) fn size_of(body: &str, attrs: &BTreeMap<String, MessageAttribute>) -> usize {
    body.len()
        + attrs
            .iter()
            .map(|(k, a)| {
                k.len()
                    + a.data_type.len()
                    + match &a.value {
                        AttrValue::String(s) => s.len(),
                        AttrValue::Binary(b) => b.len(),
                    }
            })
            .sum::<usize>()
}
