//! EventBridge's resources as values — buses, rules and their targets — with the rules
//! that decide what a valid one is and what a target receives. Stored by quiver-store,
//! carried by quiver-api, delivered by quiver-triggers.
//!
//! The serde names are EventBridge's wire names, so a stored target round-trips to
//! ListTargetsByRule unchanged.

mod names;
mod retry;
mod transform;

pub use names::{
    check_bus_name, check_rule_name, check_target_id, target_kind, TargetKind, DEFAULT_BUS,
};
pub use retry::{after_failure, AfterFailure, MAX_RETRY_DELAY_S};
pub use transform::{check_target_input, envelope, input_for_target, EntryError, PutEventsEntry};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many targets one rule may have (EventBridge's quota).
pub const MAX_TARGETS_PER_RULE: usize = 5;
/// PutEvents: entries per call and bytes of all entries together.
pub const MAX_PUT_EVENTS_ENTRIES: usize = 10;
pub const MAX_PUT_EVENTS_BYTES: usize = 256 * 1024;
/// A target's RetryPolicy when none is given: 185 attempts over 24 hours.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 185;
pub const DEFAULT_EVENT_AGE_S: u32 = 86_400;

/// An event bus (the `default` one always exists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds since the epoch.
    pub created: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// ENABLED or DISABLED: only enabled rules see events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleState {
    #[default]
    Enabled,
    Disabled,
}

impl RuleState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ENABLED" => Some(Self::Enabled),
            "DISABLED" => Some(Self::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// A rule on one bus: an event pattern or a schedule, and up to five targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub bus: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    pub state: RuleState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Where a rule sends a matched event, and in what form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformer {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_paths_map: BTreeMap<String, String>,
    pub input_template: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
}

impl RetryPolicy {
    /// Attempts after the first delivery, and the oldest age still delivered.
    pub fn effective(policy: Option<&RetryPolicy>) -> (u32, u32) {
        let p = policy.copied().unwrap_or_default();
        (
            p.maximum_retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS),
            p.maximum_event_age_in_seconds
                .unwrap_or(DEFAULT_EVENT_AGE_S),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}
