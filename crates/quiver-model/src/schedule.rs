//! EventBridge Scheduler's resources as stored values: schedules and schedule groups.
//! Pure; the expressions themselves are `quiver-events`' (`schedule/`), the wire is
//! `quiver-api`'s `scheduler/`. docs/wire.md §25.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The group every account has and a request without `GroupName` means; it cannot be
/// deleted.
pub const DEFAULT_GROUP: &str = "default";

/// Names of schedules and groups: 1-64 of `[0-9a-zA-Z-_.]` (the service model's
/// `Name` and `ScheduleGroupName`).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Where a fire goes and how its delivery is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleTarget {
    pub arn: String,
    pub role_arn: String,
    /// The payload (for a function, JSON); None delivers `{}`.
    pub input: Option<String>,
    /// RetryPolicy.MaximumEventAgeInSeconds (60-86400; Scheduler's default 86400).
    pub maximum_event_age_in_seconds: Option<u32>,
    /// RetryPolicy.MaximumRetryAttempts (0-185; Scheduler's default 185).
    pub maximum_retry_attempts: Option<u32>,
    /// DeadLetterConfig.Arn: an SQS queue.
    pub dead_letter_arn: Option<String>,
    /// SqsParameters.MessageGroupId (FIFO queues).
    pub sqs_message_group_id: Option<String>,
}

/// One schedule. Instants are milliseconds since the epoch (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub group: String,
    pub name: String,
    pub expression: String,
    /// ScheduleExpressionTimezone; None means UTC.
    pub timezone: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// FlexibleTimeWindow: None for Mode OFF, the MaximumWindowInMinutes for FLEXIBLE.
    pub flexible_window_minutes: Option<u32>,
    pub target: ScheduleTarget,
    pub start_date_ms: Option<i64>,
    pub end_date_ms: Option<i64>,
    /// ActionAfterCompletion DELETE: a one-time schedule removes itself once fired.
    pub delete_after_completion: bool,
    pub kms_key_arn: Option<String>,
    /// The ClientToken of the create: a retry of that create (same token) succeeds
    /// instead of conflicting with the schedule it made.
    #[serde(default)]
    pub client_token: Option<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl Schedule {
    /// `arn:<partition>:scheduler:<region>:<account>:schedule/<group>/<name>`.
    pub fn arn(&self, partition: &str, region: &str, account: &str) -> String {
        format!(
            "arn:{partition}:scheduler:{region}:{account}:schedule/{}/{}",
            self.group, self.name
        )
    }
}

/// A schedule group with its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleGroup {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// The ClientToken of the create (see [`Schedule::client_token`]).
    #[serde(default)]
    pub client_token: Option<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl ScheduleGroup {
    /// `arn:<partition>:scheduler:<region>:<account>:schedule-group/<name>`.
    pub fn arn(&self, partition: &str, region: &str, account: &str) -> String {
        format!(
            "arn:{partition}:scheduler:{region}:{account}:schedule-group/{}",
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_service_model() {
        assert!(valid_name("default"));
        assert!(valid_name("my.schedule-1_a"));
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(!valid_name("has space"));
        assert!(!valid_name("slash/no"));
    }
}
