//! SNS subscription filter policies: the event pattern language applied either to a
//! message's attributes or to its JSON body (`FilterPolicyScope`).
//!
//! With `MessageAttributes` scope the policy is flat: each key names a message
//! attribute, and the attribute's value is matched as its `Type` says — `String` as a
//! string, `Number` as a number, `String.Array` as the elements of the JSON array its
//! value holds. Binary attributes never match. With `MessageBody` scope the policy is
//! an event pattern over the body, which must be a JSON object.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::matcher::{Field, Node};
use super::{compile, Pattern};
use crate::EventsError;

/// Which part of a message a filter policy looks at (the subscription's
/// `FilterPolicyScope` attribute; `MessageAttributes` when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterPolicyScope {
    #[default]
    MessageAttributes,
    MessageBody,
}

impl FilterPolicyScope {
    /// The scope named by the attribute's value, if it is one SNS knows.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "MessageAttributes" => Some(Self::MessageAttributes),
            "MessageBody" => Some(Self::MessageBody),
            _ => None,
        }
    }
}

/// One message attribute as published: its `DataType` and its string value (`None`
/// for binary attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsAttribute {
    pub data_type: String,
    pub string_value: Option<String>,
}

/// A compiled filter policy with its scope.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    pattern: Pattern,
    scope: FilterPolicyScope,
}

/// Compiles a subscription's FilterPolicy. Refusals read
/// `Invalid parameter: FilterPolicy: <reason>`, as SNS words them.
pub fn sns_filter_policy(
    policy_json: &str,
    scope: FilterPolicyScope,
) -> Result<FilterPolicy, EventsError> {
    let refuse = |reason: String| {
        EventsError::InvalidPattern(format!("Invalid parameter: FilterPolicy: {reason}"))
    };
    let root = compile::compile_text(policy_json).map_err(refuse)?;
    if scope == FilterPolicyScope::MessageAttributes && has_nested(&root) {
        return Err(refuse(
            "Filter policy scope MessageAttributes does not support nested filter policy".into(),
        ));
    }
    Ok(FilterPolicy {
        pattern: Pattern { root },
        scope,
    })
}

fn has_nested(node: &Node) -> bool {
    node.fields
        .iter()
        .any(|(_, f)| matches!(f, Field::Nested(_)))
        || node.any_of.iter().flatten().any(has_nested)
}

impl FilterPolicy {
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Whether a message (its body and attributes) passes the policy.
    pub fn matches(&self, body: &str, attributes: &BTreeMap<String, SnsAttribute>) -> bool {
        match self.scope {
            FilterPolicyScope::MessageAttributes => {
                self.pattern.matches(&attributes_value(attributes))
            }
            FilterPolicyScope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(v @ Value::Object(_)) => self.pattern.matches(&v),
                _ => false,
            },
        }
    }
}

/// The attributes as one JSON object the pattern can walk, each value typed as its
/// `DataType` says; attributes that cannot be read as their type are left out (as SNS
/// does, they match only `exists: false`).
fn attributes_value(attributes: &BTreeMap<String, SnsAttribute>) -> Value {
    let mut map = Map::new();
    for (name, attr) in attributes {
        let Some(text) = attr.string_value.as_deref() else {
            continue;
        };
        let base = attr.data_type.split('.').next().unwrap_or("");
        let value = match (base, attr.data_type.as_str()) {
            (_, "String.Array") => match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Array(_)) => v,
                _ => continue,
            },
            ("String", _) => Value::String(text.to_owned()),
            ("Number", _) => match serde_json::from_str::<Value>(text.trim()) {
                Ok(v @ Value::Number(_)) => v,
                _ => continue,
            },
            _ => continue,
        };
        map.insert(name.clone(), value);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(list: &[(&str, &str, &str)]) -> BTreeMap<String, SnsAttribute> {
        list.iter()
            .map(|(n, t, v)| {
                (
                    n.to_string(),
                    SnsAttribute {
                        data_type: t.to_string(),
                        string_value: Some(v.to_string()),
                    },
                )
            })
            .collect()
    }

    /// Examples from SNS's filter policy documentation.
    #[test]
    fn attribute_scope() {
        let p = sns_filter_policy(
            r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],
                "customer_interests":["rugby","football","baseball"],
                "price_usd":[{"numeric":[">=",100]}]}"#,
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap();
        let ok = attrs(&[
            ("store", "String", "example_corp"),
            ("event", "String", "order_placed"),
            (
                "customer_interests",
                "String.Array",
                r#"["soccer","rugby","hockey"]"#,
            ),
            ("price_usd", "Number", "210.75"),
        ]);
        assert!(p.matches("ignored", &ok));
        let mut cheap = ok.clone();
        cheap.get_mut("price_usd").unwrap().string_value = Some("99.5".into());
        assert!(!p.matches("", &cheap));
        let mut cancelled = ok.clone();
        cancelled.get_mut("event").unwrap().string_value = Some("order_cancelled".into());
        assert!(!p.matches("", &cancelled));
        let mut missing = ok;
        missing.remove("store");
        assert!(!p.matches("", &missing));
    }

    #[test]
    fn numbers_only_match_number_attributes() {
        let p = sns_filter_policy(r#"{"n":[5]}"#, FilterPolicyScope::MessageAttributes).unwrap();
        assert!(p.matches("", &attrs(&[("n", "Number", "5.0")])));
        assert!(!p.matches("", &attrs(&[("n", "String", "5")])));
        let absent = sns_filter_policy(
            r#"{"n":[{"exists":false}]}"#,
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap();
        assert!(absent.matches("", &BTreeMap::new()));
        assert!(!absent.matches("", &attrs(&[("n", "String", "x")])));
    }

    #[test]
    fn body_scope_and_refusals() {
        let p = sns_filter_policy(
            r#"{"order":{"total":[{"numeric":[">",10]}]}}"#,
            FilterPolicyScope::MessageBody,
        )
        .unwrap();
        assert!(p.matches(r#"{"order":{"total":11}}"#, &BTreeMap::new()));
        assert!(!p.matches(r#"{"order":{"total":9}}"#, &BTreeMap::new()));
        assert!(!p.matches("not json", &BTreeMap::new()));
        let nested =
            sns_filter_policy(r#"{"a":{"b":["c"]}}"#, FilterPolicyScope::MessageAttributes)
                .unwrap_err();
        assert_eq!(
            nested.to_string(),
            "Invalid parameter: FilterPolicy: Filter policy scope MessageAttributes does not support nested filter policy"
        );
        assert!(sns_filter_policy("[]", FilterPolicyScope::MessageBody)
            .unwrap_err()
            .to_string()
            .starts_with("Invalid parameter: FilterPolicy: "));
    }
}
