//! Asynchronous invocation settings: Lambda's `FunctionEventInvokeConfig` (retries, maximum
//! event age, on-success / on-failure destinations, stored per qualifier) and the function's
//! `DeadLetterConfig` target (part of the version's configuration).
//!
//! Quiver can deliver only to what it hosts itself: SQS-compatible queues and functions.
//! Every other kind of ARN (SNS, EventBridge, S3) is refused at configuration time with a
//! message saying so, instead of failing later in the dispatcher.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Violations};

/// Lambda's defaults when a qualifier has no EventInvokeConfig.
pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 2;
pub const DEFAULT_MAXIMUM_EVENT_AGE_S: u32 = 21_600;
pub const RETRY_ATTEMPTS_MAX: i64 = 2;
pub const EVENT_AGE_MIN_S: i64 = 60;
pub const EVENT_AGE_MAX_S: i64 = 21_600;
/// Length limit of `OnSuccess.Destination` / `OnFailure.Destination`.
pub const DESTINATION_MAX: usize = 350;
/// `DestinationArn` pattern as quoted in Lambda's ValidationException.
pub const DESTINATION_PATTERN: &str =
    r"^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)";
/// `ResourceArn` pattern (DeadLetterConfig.TargetArn).
pub const RESOURCE_ARN_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()";

static DESTINATION_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{DESTINATION_PATTERN})$")).expect("static regex"));
static RESOURCE_ARN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{RESOURCE_ARN_PATTERN})$")).expect("static regex"));
static SQS_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-zA-Z-]*:sqs:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):([a-zA-Z0-9_-]{1,80}(?:\.fifo)?)$")
        .expect("static regex")
});
static SNS_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws[a-zA-Z-]*:sns:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):([A-Za-z0-9_-]{1,256})$",
    )
    .expect("static regex")
});
static FUNCTION_ARN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):function:([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$",
    )
    .expect("static regex")
});

/// Where an asynchronous invocation record (or a dead letter) goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An SQS-compatible queue of this server: `arn:aws:sqs:<region>:<account>:<name>`.
    Queue {
        arn: String,
        region: String,
        account: String,
        name: String,
    },
    /// An SNS-compatible topic of this server: `arn:aws:sns:<region>:<account>:<name>`.
    Topic {
        arn: String,
        region: String,
        account: String,
        name: String,
    },
    /// A function: `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
    Function {
        arn: String,
        region: String,
        account: String,
        name: String,
        qualifier: Option<String>,
    },
}

impl Destination {
    /// Parses a destination ARN Quiver can deliver to; None for every other ARN.
    pub fn parse(arn: &str) -> Option<Self> {
        if let Some(c) = SQS_ARN_RE.captures(arn) {
            return Some(Destination::Queue {
                arn: arn.to_string(),
                region: c[1].to_string(),
                account: c[2].to_string(),
                name: c[3].to_string(),
            });
        }
        if let Some(c) = SNS_ARN_RE.captures(arn) {
            return Some(Destination::Topic {
                arn: arn.to_string(),
                region: c[1].to_string(),
                account: c[2].to_string(),
                name: c[3].to_string(),
            });
        }
        FUNCTION_ARN_RE
            .captures(arn)
            .map(|c| Destination::Function {
                arn: arn.to_string(),
                region: c[1].to_string(),
                account: c[2].to_string(),
                name: c[3].to_string(),
                qualifier: c.get(4).map(|q| q.as_str().to_string()),
            })
    }

    pub fn arn(&self) -> &str {
        match self {
            Destination::Queue { arn, .. }
            | Destination::Topic { arn, .. }
            | Destination::Function { arn, .. } => arn,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationInput {
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfigInput {
    pub on_success: Option<DestinationInput>,
    pub on_failure: Option<DestinationInput>,
}

/// The body of Put/UpdateFunctionEventInvokeConfig as sent on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigInput {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfigInput>,
}

/// A validated EventInvokeConfig as stored for one qualifier. Members the caller never set
/// stay None (and are left out of responses, as Lambda does); [`EventInvokeConfig::effective`]
/// fills in the defaults the dispatcher applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_in_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

/// One stored EventInvokeConfig with its key and modification time.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEventInvokeConfig {
    pub function_name: String,
    /// The qualifier string as given (`$LATEST`, a version number or an alias name).
    pub qualifier: String,
    pub config: EventInvokeConfig,
    /// Epoch seconds with a fraction: Lambda writes this member as a JSON number.
    pub last_modified: f64,
}

/// What the async dispatcher applies to one invocation: the qualifier's EventInvokeConfig
/// with Lambda's defaults filled in, plus the executed version's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveInvokeConfig {
    /// Retries after the first attempt on a function error (0–2).
    pub maximum_retry_attempts: u32,
    /// Events older than this are dropped (sent to on-failure / DLQ) instead of run.
    pub maximum_event_age_in_seconds: u32,
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
    /// `DeadLetterConfig.TargetArn` of the executed version (a queue or topic), if any.
    pub dead_letter_queue: Option<Destination>,
}

impl Default for EffectiveInvokeConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds: DEFAULT_MAXIMUM_EVENT_AGE_S,
            on_success: None,
            on_failure: None,
            dead_letter_queue: None,
        }
    }
}

fn check_range(v: &mut Violations, value: Option<i64>, member: &str, min: i64, max: i64) {
    if let Some(x) = value {
        if x < min {
            v.push(
                x.to_string(),
                member,
                format!("Member must have value greater than or equal to {min}"),
            );
        } else if x > max {
            v.push(
                x.to_string(),
                member,
                format!("Member must have value less than or equal to {max}"),
            );
        }
    }
}

fn check_destination_shape(v: &mut Violations, d: Option<&DestinationInput>, member: &str) {
    let Some(arn) = d.and_then(|d| d.destination.as_deref()) else {
        return;
    };
    if arn.chars().count() > DESTINATION_MAX {
        v.push(
            arn,
            member,
            format!("Member must have length less than or equal to {DESTINATION_MAX}"),
        );
    } else if !DESTINATION_RE.is_match(arn) {
        v.push(
            arn,
            member,
            format!("Member must satisfy regular expression pattern: {DESTINATION_PATTERN}"),
        );
    }
}

/// Shape constraints: ValidationException, every violation at once.
fn check_shapes(input: &EventInvokeConfigInput) -> Result<(), ModelError> {
    let mut v = Violations::new();
    check_range(
        &mut v,
        input.maximum_retry_attempts,
        "maximumRetryAttempts",
        0,
        RETRY_ATTEMPTS_MAX,
    );
    check_range(
        &mut v,
        input.maximum_event_age_in_seconds,
        "maximumEventAgeInSeconds",
        EVENT_AGE_MIN_S,
        EVENT_AGE_MAX_S,
    );
    if let Some(d) = &input.destination_config {
        check_destination_shape(
            &mut v,
            d.on_success.as_ref(),
            "destinationConfig.onSuccess.destination",
        );
        check_destination_shape(
            &mut v,
            d.on_failure.as_ref(),
            "destinationConfig.onFailure.destination",
        );
    }
    v.into_result()
}

/// A destination Quiver can deliver to, or InvalidParameterValueException. `""` clears.
fn check_destination(arn: Option<&str>, function_name: &str) -> Result<Option<String>, ModelError> {
    let Some(arn) = arn.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    match Destination::parse(arn) {
        Some(Destination::Function { name, .. }) if name == function_name => {
            Err(ModelError::InvalidParameter("You can't specify the function as a destination for itself.".into()))
        }
        Some(_) => Ok(Some(arn.to_string())),
        None => Err(ModelError::InvalidParameter(format!(
            "The destination ARN {arn} is invalid: Quiver supports SQS queues (arn:aws:sqs:<region>:<account>:<queue>), SNS topics (arn:aws:sns:<region>:<account>:<topic>) and Lambda functions (arn:aws:lambda:<region>:<account>:function:<name>) as destinations."
        ))),
    }
}

impl EventInvokeConfig {
    /// PutFunctionEventInvokeConfig: the result holds exactly what `input` gives; members left
    /// out are gone. `function_name` is the function being configured (it cannot be its own
    /// destination).
    pub fn put(input: &EventInvokeConfigInput, function_name: &str) -> Result<Self, ModelError> {
        Self::default().merged(input, function_name)
    }

    /// UpdateFunctionEventInvokeConfig: members present in `input` replace ours, the rest stay.
    /// A `DestinationConfig` given replaces each of OnSuccess / OnFailure it names.
    pub fn update(
        &self,
        input: &EventInvokeConfigInput,
        function_name: &str,
    ) -> Result<Self, ModelError> {
        self.merged(input, function_name)
    }

    fn merged(
        &self,
        input: &EventInvokeConfigInput,
        function_name: &str,
    ) -> Result<Self, ModelError> {
        check_shapes(input)?;
        if input.maximum_retry_attempts.is_none()
            && input.maximum_event_age_in_seconds.is_none()
            && input.destination_config.is_none()
        {
            return Err(ModelError::InvalidParameter(
                "You must specify at least one of error handling or destination setting.".into(),
            ));
        }
        let mut c = self.clone();
        // Ranges were checked above: the casts cannot truncate.
        if let Some(n) = input.maximum_retry_attempts {
            c.maximum_retry_attempts = Some(n as u32);
        }
        if let Some(n) = input.maximum_event_age_in_seconds {
            c.maximum_event_age_in_seconds = Some(n as u32);
        }
        if let Some(d) = &input.destination_config {
            if let Some(s) = &d.on_success {
                c.on_success = check_destination(s.destination.as_deref(), function_name)?;
            }
            if let Some(f) = &d.on_failure {
                c.on_failure = check_destination(f.destination.as_deref(), function_name)?;
            }
        }
        Ok(c)
    }

    /// What the dispatcher applies: this config (None = the qualifier has none) with
    /// Lambda's defaults (2 retries, 6 hours, no destinations) filled in. `dead_letter_target`
    /// is the executed version's `FunctionConfig::dead_letter_target`.
    pub fn effective(
        config: Option<&Self>,
        dead_letter_target: Option<&str>,
    ) -> EffectiveInvokeConfig {
        let d = EffectiveInvokeConfig::default();
        let c = config.cloned().unwrap_or_default();
        EffectiveInvokeConfig {
            maximum_retry_attempts: c.maximum_retry_attempts.unwrap_or(d.maximum_retry_attempts),
            maximum_event_age_in_seconds: c
                .maximum_event_age_in_seconds
                .unwrap_or(d.maximum_event_age_in_seconds),
            on_success: c.on_success.as_deref().and_then(Destination::parse),
            on_failure: c.on_failure.as_deref().and_then(Destination::parse),
            dead_letter_queue: dead_letter_target.and_then(Destination::parse),
        }
    }
}

/// Validates `DeadLetterConfig.TargetArn`: an SQS queue or SNS topic ARN, or `""` to clear (→ None).
pub fn dead_letter_target(arn: Option<&str>) -> Result<Option<String>, ModelError> {
    let Some(arn) = arn.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let mut v = Violations::new();
    if arn.chars().count() > 256 {
        v.push(
            arn,
            "deadLetterConfig.targetArn",
            "Member must have length less than or equal to 256",
        );
    } else if !RESOURCE_ARN_RE.is_match(arn) {
        v.push(
            arn,
            "deadLetterConfig.targetArn",
            format!("Member must satisfy regular expression pattern: {RESOURCE_ARN_PATTERN}"),
        );
    }
    v.into_result()?;
    match Destination::parse(arn) {
        Some(Destination::Queue { .. } | Destination::Topic { .. }) => Ok(Some(arn.to_string())),
        _ => Err(ModelError::InvalidParameter(format!(
            "The provided target ARN {arn} is not supported as a dead-letter queue: Quiver supports SQS queues (arn:aws:sqs:<region>:<account>:<queue>) and SNS topics (arn:aws:sns:<region>:<account>:<topic>) as DeadLetterConfig targets."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "arn:aws:sqs:us-east-1:000000000000:failures";
    const F: &str = "arn:aws:lambda:us-east-1:000000000000:function:other:prod";

    fn input(json: &str) -> EventInvokeConfigInput {
        serde_json::from_str(json).unwrap()
    }

    fn put(json: &str) -> Result<EventInvokeConfig, ModelError> {
        EventInvokeConfig::put(&input(json), "f")
    }

    #[test]
    fn destinations_parse_queues_and_functions_only() {
        assert_eq!(
            Destination::parse(Q),
            Some(Destination::Queue {
                arn: Q.into(),
                region: "us-east-1".into(),
                account: "000000000000".into(),
                name: "failures".into()
            })
        );
        match Destination::parse(F) {
            Some(Destination::Function {
                name, qualifier, ..
            }) => assert_eq!(
                (name.as_str(), qualifier.as_deref()),
                ("other", Some("prod"))
            ),
            other => panic!("{other:?}"),
        }
        assert!(Destination::parse("arn:aws:lambda:us-east-1:000000000000:function:f").is_some());
        assert!(Destination::parse("arn:aws:sqs:us-east-1:000000000000:q.fifo").is_some());
        assert!(matches!(
            Destination::parse("arn:aws:sns:us-east-1:000000000000:topic"),
            Some(Destination::Topic { ref name, .. }) if name == "topic"
        ));
        for bad in [
            "arn:aws:sns:us-east-1:000000000000:a.b",
            "arn:aws:events:us-east-1:000000000000:event-bus/default",
            "arn:aws:s3:::bucket",
            "arn:aws:sqs:us-east-1:000000000000:",
            "arn:aws:sqs:us-east-1:123:q",
            "arn:aws:lambda:us-east-1:000000000000:layer:l:1",
        ] {
            assert_eq!(Destination::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges_are_shape_errors_at_both_ends() {
        for (body, needle) in [
            (r#"{"MaximumRetryAttempts":3}"#, "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"),
            (r#"{"MaximumRetryAttempts":-1}"#, "greater than or equal to 0"),
            (r#"{"MaximumEventAgeInSeconds":59}"#, "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"),
            (r#"{"MaximumEventAgeInSeconds":21601}"#, "less than or equal to 21600"),
        ] {
            match put(body) {
                Err(ModelError::Validation(v)) => assert!(crate::error::format_violations(&v).contains(needle), "{body}: {v:?}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let ok = put(r#"{"MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60}"#).unwrap();
        assert_eq!(
            (ok.maximum_retry_attempts, ok.maximum_event_age_in_seconds),
            (Some(0), Some(60))
        );
        assert!(put(r#"{"MaximumRetryAttempts":2,"MaximumEventAgeInSeconds":21600}"#).is_ok());
        let two = put(r#"{"MaximumRetryAttempts":9,"MaximumEventAgeInSeconds":1}"#)
            .unwrap_err()
            .to_string();
        assert!(two.starts_with("2 validation errors detected"), "{two}");
    }

    #[test]
    fn unsupported_destinations_say_what_is_supported() {
        let body = r#"{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:events:us-east-1:000000000000:event-bus/b"}}}"#;
        match put(body) {
            Err(ModelError::InvalidParameter(m)) => {
                assert!(
                    m.contains("arn:aws:events:us-east-1:000000000000:event-bus/b"),
                    "{m}"
                );
                assert!(
                    m.contains("Quiver supports SQS queues") && m.contains("Lambda functions"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        // not an ARN at all: the model's pattern
        let body = r#"{"DestinationConfig":{"OnSuccess":{"Destination":"queue"}}}"#;
        assert!(matches!(put(body), Err(ModelError::Validation(_))));
        let body = r#"{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:lambda:us-east-1:000000000000:function:f"}}}"#;
        assert_eq!(
            put(body).unwrap_err(),
            ModelError::InvalidParameter(
                "You can't specify the function as a destination for itself.".into()
            )
        );
        let nothing = put("{}").unwrap_err();
        assert!(matches!(nothing, ModelError::InvalidParameter(m) if m.contains("at least one")));
    }

    #[test]
    fn put_replaces_and_update_merges() {
        let body = format!(
            r#"{{"MaximumRetryAttempts":1,"DestinationConfig":{{"OnSuccess":{{"Destination":"{F}"}},"OnFailure":{{"Destination":"{Q}"}}}}}}"#
        );
        let full = put(&body).unwrap();
        assert_eq!(full.on_success.as_deref(), Some(F));
        assert_eq!(full.on_failure.as_deref(), Some(Q));
        // update: only the age changes
        let u = full
            .update(&input(r#"{"MaximumEventAgeInSeconds":120}"#), "f")
            .unwrap();
        assert_eq!(
            u,
            EventInvokeConfig {
                maximum_event_age_in_seconds: Some(120),
                ..full.clone()
            }
        );
        // update of one destination keeps the other; "" clears
        let u2 = u
            .update(
                &input(r#"{"DestinationConfig":{"OnSuccess":{"Destination":""}}}"#),
                "f",
            )
            .unwrap();
        assert_eq!(
            (u2.on_success.as_deref(), u2.on_failure.as_deref()),
            (None, Some(Q))
        );
        // put again: everything left out is gone
        let p = EventInvokeConfig::put(&input(r#"{"MaximumEventAgeInSeconds":300}"#), "f").unwrap();
        assert_eq!(
            p,
            EventInvokeConfig {
                maximum_event_age_in_seconds: Some(300),
                ..Default::default()
            }
        );
        // a failed update leaves the original untouched (new value or nothing)
        assert!(full
            .update(&input(r#"{"MaximumRetryAttempts":5}"#), "f")
            .is_err());
        assert_eq!(full.maximum_retry_attempts, Some(1));
    }

    #[test]
    fn effective_fills_lambdas_defaults() {
        let d = EventInvokeConfig::effective(None, None);
        assert_eq!(
            (d.maximum_retry_attempts, d.maximum_event_age_in_seconds),
            (2, 21600)
        );
        assert!(d.on_success.is_none() && d.on_failure.is_none() && d.dead_letter_queue.is_none());
        let c = EventInvokeConfig {
            maximum_retry_attempts: Some(0),
            on_failure: Some(Q.into()),
            ..Default::default()
        };
        let e = EventInvokeConfig::effective(Some(&c), Some(Q));
        assert_eq!(
            (e.maximum_retry_attempts, e.maximum_event_age_in_seconds),
            (0, 21600)
        );
        assert_eq!(e.on_failure.as_ref().map(Destination::arn), Some(Q));
        assert!(
            matches!(e.dead_letter_queue, Some(Destination::Queue { ref name, .. }) if name == "failures")
        );
    }

    #[test]
    fn dead_letter_target_is_an_sqs_queue_or_cleared() {
        assert_eq!(dead_letter_target(Some(Q)).unwrap().as_deref(), Some(Q));
        assert_eq!(dead_letter_target(Some("")).unwrap(), None);
        assert_eq!(dead_letter_target(None).unwrap(), None);
        let topic = "arn:aws:sns:us-east-1:000000000000:topic";
        assert_eq!(
            dead_letter_target(Some(topic)).unwrap().as_deref(),
            Some(topic)
        );
        match dead_letter_target(Some("arn:aws:events:us-east-1:000000000000:event-bus/b")) {
            Err(ModelError::InvalidParameter(m)) => {
                assert!(m.contains("Quiver supports SQS queues"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            dead_letter_target(Some(F)),
            Err(ModelError::InvalidParameter(_))
        ));
        assert!(matches!(
            dead_letter_target(Some("not an arn")),
            Err(ModelError::Validation(_))
        ));
    }
}
