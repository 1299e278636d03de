//! Topic and subscription attributes: which names may be set, how values are checked,
//! and the full set GetTopicAttributes / GetSubscriptionAttributes render (the stored
//! ones plus SNS's computed and default ones).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{fifo_refused, Protocol, SnsError, Subscription, Topic};

/// Topic attributes a caller may set. KmsMasterKeyId is kept and shown but nothing is
/// encrypted with it (there is no KMS here); Policy is kept and shown, not enforced.
pub const TOPIC_SETTABLE: &[&str] = &[
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
];

/// Subscription attributes a caller may set.
pub const SUBSCRIPTION_SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
];

/// The delivery policy SNS reports for a topic that has none of its own.
pub fn default_delivery_policy() -> Value {
    json!({"http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3,
            "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
            "backoffFunction": "linear"
        },
        "disableSubscriptionOverrides": false,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}
    }})
}

/// The access policy of a new topic, as SNS writes it.
pub fn default_policy(arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

fn json_object(name: &str, value: &str) -> Result<(), SnsError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(SnsError::invalid(format!(
            "{name}: failed to parse JSON. Expected a JSON object"
        ))),
    }
}

/// Checks one topic attribute for CreateTopic (`creating`) or SetTopicAttributes.
pub fn check_topic_attribute(name: &str, value: &str, creating: bool) -> Result<(), SnsError> {
    match name {
        "FifoTopic" if creating => {
            if value.eq_ignore_ascii_case("true") {
                Err(fifo_refused())
            } else if value.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                Err(SnsError::invalid(
                    "Attributes Reason: FifoTopic: Invalid value [".to_string() + value + "]",
                ))
            }
        }
        "DisplayName" if value.chars().count() > 100 => Err(SnsError::invalid("DisplayName")),
        "Policy" => json_object("Policy", value),
        "DeliveryPolicy" => json_object("DeliveryPolicy", value),
        "SignatureVersion" if !matches!(value, "1" | "2") => Err(SnsError::invalid(
            "Attributes Reason: SignatureVersion: Invalid value [".to_string()
                + value
                + "]. Must be 1 or 2.",
        )),
        "TracingConfig" if !matches!(value, "PassThrough" | "Active") => Err(SnsError::invalid(
            "Attributes Reason: TracingConfig: Invalid value [".to_string() + value + "]",
        )),
        n if TOPIC_SETTABLE.contains(&n) => Ok(()),
        _ if creating => Err(SnsError::invalid(format!(
            "Attributes Reason: Unknown attribute [{name}]"
        ))),
        _ => Err(SnsError::invalid("AttributeName")),
    }
}

/// What GetTopicAttributes shows: stored attributes over SNS's defaults, and counts.
pub fn topic_attributes(
    t: &Topic,
    account: &str,
    confirmed: usize,
    pending: usize,
    deleted: usize,
) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("TopicArn".into(), t.arn.clone());
    a.insert("Owner".into(), account.to_string());
    a.insert("DisplayName".into(), String::new());
    a.insert("Policy".into(), default_policy(&t.arn, account));
    a.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
    a.insert("SubscriptionsPending".into(), pending.to_string());
    a.insert("SubscriptionsDeleted".into(), deleted.to_string());
    let effective = t
        .attributes
        .get("DeliveryPolicy")
        .cloned()
        .unwrap_or_else(|| default_delivery_policy().to_string());
    a.insert("EffectiveDeliveryPolicy".into(), effective);
    for (k, v) in &t.attributes {
        if k != "FifoTopic" {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

/// Checks one subscription attribute (Subscribe's `Attributes` or
/// SetSubscriptionAttributes) for a subscription of `protocol`.
pub fn check_subscription_attribute(
    protocol: Protocol,
    name: &str,
    value: &str,
    setting: bool,
) -> Result<(), SnsError> {
    match name {
        "RawMessageDelivery" => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return Err(SnsError::invalid(format!(
                    "Attributes Reason: RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                )));
            }
            if protocol == Protocol::Lambda && value.eq_ignore_ascii_case("true") {
                return Err(SnsError::invalid(
                    "Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.",
                ));
            }
            Ok(())
        }
        "FilterPolicy" => {
            if value.is_empty() {
                return Ok(());
            }
            match serde_json::from_str::<Value>(value) {
                // The policy's own rules are the pattern engine's; the scope's extra
                // refusal (no nesting for MessageAttributes) is checked on delivery.
                Ok(Value::Object(_)) => quiver_events::pattern::sns_filter_policy(
                    value,
                    quiver_events::pattern::FilterPolicyScope::MessageBody,
                )
                .map(|_| ())
                .map_err(|e| {
                    let text = e.to_string();
                    let reason = text.strip_prefix("Invalid parameter: ").unwrap_or(&text);
                    SnsError::invalid(reason)
                }),
                _ => Err(SnsError::invalid("FilterPolicy: failed to parse JSON.")),
            }
        }
        "FilterPolicyScope" => match value {
            "MessageAttributes" | "MessageBody" => Ok(()),
            _ => Err(SnsError::invalid(format!(
                "Attributes Reason: FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
            ))),
        },
        "RedrivePolicy" => {
            if value.is_empty() {
                return Ok(());
            }
            let v: Value = serde_json::from_str(value)
                .map_err(|_| SnsError::invalid("RedrivePolicy: failed to parse JSON."))?;
            let target = v.get("deadLetterTargetArn").and_then(Value::as_str);
            match target {
                Some(t) if super::sqs_queue_name(t).is_some() => Ok(()),
                Some(_) => Err(SnsError::invalid("RedrivePolicy: Invalid deadLetterTargetArn")),
                None => Err(SnsError::invalid("RedrivePolicy: deadLetterTargetArn is missing")),
            }
        }
        "DeliveryPolicy" => json_object("DeliveryPolicy", value),
        _ if setting => Err(SnsError::invalid("AttributeName")),
        _ => Err(SnsError::invalid(format!(
            "Attributes Reason: Unknown attribute [{name}]"
        ))),
    }
}

/// Applies one attribute to a subscription's stored set (an empty FilterPolicy or
/// RedrivePolicy removes it; a FilterPolicy brings the default scope with it).
pub fn set_subscription_attribute(s: &mut Subscription, name: &str, value: &str) {
    let a = &mut s.attributes;
    if value.is_empty() && matches!(name, "FilterPolicy" | "RedrivePolicy" | "DeliveryPolicy") {
        a.remove(name);
        if name == "FilterPolicy" {
            a.remove("FilterPolicyScope");
        }
        return;
    }
    let value = if name == "RawMessageDelivery" {
        value.to_ascii_lowercase()
    } else {
        value.to_string()
    };
    a.insert(name.to_string(), value);
    if name == "FilterPolicy" && !a.contains_key("FilterPolicyScope") {
        a.insert("FilterPolicyScope".into(), "MessageAttributes".into());
    }
}

/// What GetSubscriptionAttributes shows.
pub fn subscription_attributes(s: &Subscription) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("SubscriptionArn".into(), s.arn.clone());
    a.insert("TopicArn".into(), s.topic_arn.clone());
    a.insert("Owner".into(), s.owner.clone());
    a.insert("Protocol".into(), s.protocol.as_str().into());
    a.insert("Endpoint".into(), s.endpoint.clone());
    a.insert("PendingConfirmation".into(), s.pending.to_string());
    a.insert(
        "ConfirmationWasAuthenticated".into(),
        (!s.pending).to_string(),
    );
    a.insert("RawMessageDelivery".into(), s.raw().to_string());
    if s.protocol.needs_confirmation() {
        let effective = s
            .attributes
            .get("DeliveryPolicy")
            .cloned()
            .unwrap_or_else(|| default_delivery_policy().to_string());
        a.insert("EffectiveDeliveryPolicy".into(), effective);
    }
    for (k, v) in &s.attributes {
        if k != "RawMessageDelivery" {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_attribute_rules() {
        assert!(check_topic_attribute("DisplayName", "d", false).is_ok());
        assert!(check_topic_attribute("KmsMasterKeyId", "alias/aws/sns", true).is_ok());
        assert_eq!(
            check_topic_attribute("Nope", "x", false)
                .unwrap_err()
                .message,
            "Invalid parameter: AttributeName"
        );
        assert!(check_topic_attribute("Policy", "[]", false).is_err());
        assert!(check_topic_attribute("FifoTopic", "true", true).is_err());
        assert!(check_topic_attribute("FifoTopic", "false", true).is_ok());
        assert!(check_topic_attribute("FifoTopic", "false", false).is_err());
    }

    #[test]
    fn subscription_attribute_rules() {
        let e = check_subscription_attribute(Protocol::Sqs, "RawMessageDelivery", "yes", true)
            .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [yes]. Must be true or false."
        );
        assert!(
            check_subscription_attribute(Protocol::Lambda, "RawMessageDelivery", "true", true)
                .is_err()
        );
        assert!(check_subscription_attribute(Protocol::Sqs, "FilterPolicy", "{", true).is_err());
        assert!(check_subscription_attribute(
            Protocol::Sqs,
            "RedrivePolicy",
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#,
            true
        )
        .is_ok());
        assert_eq!(
            check_subscription_attribute(Protocol::Sqs, "Bogus", "1", true)
                .unwrap_err()
                .message,
            "Invalid parameter: AttributeName"
        );
    }
}
