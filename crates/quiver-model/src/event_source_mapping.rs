//! Event source mappings (CreateEventSourceMapping and friends, docs/wire.md §28): the
//! stored value, the kind of source an ARN names, and every rule Lambda applies to the
//! request before a poller exists. Pure: the source's existence is checked by the API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ModelError;

/// Which service an EventSourceArn names; the limits differ per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Sqs,
    Kinesis,
    DynamoDb,
    Other,
}

impl SourceKind {
    /// `arn:aws:sqs:…`, `arn:aws:kinesis:…`, `arn:aws:dynamodb:…:table/x/stream/…`.
    pub fn of(arn: &str) -> SourceKind {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(service)) = (parts.next(), parts.next(), parts.next())
        else {
            return SourceKind::Other;
        };
        match service {
            "sqs" => SourceKind::Sqs,
            "kinesis" => SourceKind::Kinesis,
            "dynamodb" => SourceKind::DynamoDb,
            _ => SourceKind::Other,
        }
    }
}

/// The queue name of an SQS ARN (`arn:aws:sqs:<region>:<account>:<name>`).
pub fn sqs_queue_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[2] == "sqs" && !parts[5].is_empty()).then_some(parts[5])
}

/// The state Lambda reports; `Creating`/`Updating` until the supervisor acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MappingState {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
}

impl MappingState {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingState::Creating => "Creating",
            MappingState::Enabling => "Enabling",
            MappingState::Enabled => "Enabled",
            MappingState::Disabling => "Disabling",
            MappingState::Disabled => "Disabled",
            MappingState::Updating => "Updating",
            MappingState::Deleting => "Deleting",
        }
    }
}

/// One mapping as stored and rendered. `function_name`/`qualifier` name the target;
/// `enabled` is what the caller asked for, `state` what is reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSourceMapping {
    pub uuid: String,
    pub event_source_arn: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub enabled: bool,
    pub state: MappingState,
    pub state_transition_reason: String,
    /// Seconds since the epoch (Lambda's LastModified is a timestamp number).
    pub last_modified: f64,
    pub last_processing_result: String,
    pub settings: MappingSettings,
}

/// The tunables Create sets and Update changes (None = not given).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MappingSettings {
    pub batch_size: Option<u32>,
    pub maximum_batching_window_in_seconds: Option<u32>,
    pub filter_criteria: Option<Value>,
    pub function_response_types: Option<Vec<String>>,
    pub maximum_concurrency: Option<u32>,
    pub starting_position: Option<String>,
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: Option<u32>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_in_seconds: Option<i64>,
    pub on_failure_destination: Option<String>,
    pub tumbling_window_in_seconds: Option<u32>,
}

/// SQS: Lambda's default batch and the bounds (docs: BatchSize, SQS 1–10,000, 10).
pub const SQS_DEFAULT_BATCH: u32 = 10;
pub const STREAM_DEFAULT_BATCH: u32 = 100;
pub const MAX_BATCH: u32 = 10_000;
/// FIFO queues take at most 10 per batch.
pub const FIFO_MAX_BATCH: u32 = 10;
pub const MAX_WINDOW: u32 = 300;
/// ScalingConfig.MaximumConcurrency 2–1000; without one, pollers scale to this many.
pub const MIN_CONCURRENCY: u32 = 2;
pub const MAX_CONCURRENCY: u32 = 1000;
pub const DEFAULT_POLLERS: u32 = 5;

fn invalid(m: impl Into<String>) -> ModelError {
    ModelError::InvalidParameter(m.into())
}

impl MappingSettings {
    /// The batch size in effect for a source kind.
    pub fn effective_batch(&self, kind: SourceKind) -> u32 {
        self.batch_size.unwrap_or(match kind {
            SourceKind::Sqs => SQS_DEFAULT_BATCH,
            _ => STREAM_DEFAULT_BATCH,
        })
    }

    /// Fills in the defaults Lambda reports for a source kind (Create's answer shows
    /// BatchSize and MaximumBatchingWindowInSeconds even when not given).
    pub fn with_defaults(mut self, kind: SourceKind) -> Self {
        self.batch_size = Some(self.effective_batch(kind));
        if self.maximum_batching_window_in_seconds.is_none() {
            self.maximum_batching_window_in_seconds = Some(0);
        }
        if kind == SourceKind::Kinesis {
            self.parallelization_factor.get_or_insert(1);
            self.bisect_batch_on_function_error.get_or_insert(false);
            self.maximum_retry_attempts.get_or_insert(-1);
            self.maximum_record_age_in_seconds.get_or_insert(-1);
            self.tumbling_window_in_seconds.get_or_insert(0);
        }
        self
    }

    /// Lambda's rules for these settings on this source (Create: `creating`, Update
    /// otherwise; StartingPosition can only be given at creation). `fifo`: the
    /// queue's name ends in `.fifo`.
    pub fn validate(&self, kind: SourceKind, fifo: bool, creating: bool) -> Result<(), ModelError> {
        if let Some(w) = self.maximum_batching_window_in_seconds {
            if w > MAX_WINDOW {
                return Err(invalid(format!(
                    "MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW}."
                )));
            }
        }
        if let Some(b) = self.batch_size {
            if b == 0 || b > MAX_BATCH {
                return Err(invalid(format!(
                    "BatchSize must be between 1 and {MAX_BATCH} for this event source."
                )));
            }
        }
        if let Some(c) = self.maximum_concurrency {
            if !(MIN_CONCURRENCY..=MAX_CONCURRENCY).contains(&c) {
                return Err(invalid(format!(
                    "MaximumConcurrency must be between {MIN_CONCURRENCY} and {MAX_CONCURRENCY}."
                )));
            }
        }
        if let Some(types) = &self.function_response_types {
            if types.iter().any(|t| t != "ReportBatchItemFailures") {
                return Err(invalid(
                    "FunctionResponseTypes can only contain ReportBatchItemFailures.",
                ));
            }
        }
        if let Some(fc) = &self.filter_criteria {
            quiver_events::pattern::FilterCriteria::parse(fc)
                .map_err(|_| invalid("Invalid filter pattern definition."))?;
        }
        match kind {
            SourceKind::Sqs => self.validate_sqs(fifo),
            SourceKind::Kinesis => self.validate_stream(creating),
            SourceKind::DynamoDb => Err(invalid(
                "DynamoDB stream event sources are not supported: Quiver has no \
                 DynamoDB-compatible table service.",
            )),
            SourceKind::Other => Err(invalid(
                "Unrecognized event source, must be kinesis, dynamodb stream or sqs.",
            )),
        }
    }

    fn validate_sqs(&self, fifo: bool) -> Result<(), ModelError> {
        let stream_only: [(&str, bool); 7] = [
            ("StartingPosition", self.starting_position.is_some()),
            (
                "StartingPositionTimestamp",
                self.starting_position_timestamp.is_some(),
            ),
            (
                "ParallelizationFactor",
                self.parallelization_factor.is_some(),
            ),
            (
                "BisectBatchOnFunctionError",
                self.bisect_batch_on_function_error.is_some(),
            ),
            (
                "MaximumRetryAttempts",
                self.maximum_retry_attempts.is_some(),
            ),
            (
                "MaximumRecordAgeInSeconds",
                self.maximum_record_age_in_seconds.is_some(),
            ),
            (
                "TumblingWindowInSeconds",
                self.tumbling_window_in_seconds.is_some(),
            ),
        ];
        if let Some((name, _)) = stream_only.iter().find(|(_, given)| *given) {
            return Err(invalid(format!(
                "Unsupported {name} parameter for given event source."
            )));
        }
        if self.on_failure_destination.is_some() {
            return Err(invalid(
                "Unsupported DestinationConfig parameter for given event source.",
            ));
        }
        let batch = self.effective_batch(SourceKind::Sqs);
        let window = self.maximum_batching_window_in_seconds.unwrap_or(0);
        if fifo {
            if batch > FIFO_MAX_BATCH {
                return Err(invalid(format!(
                    "Batch size for FIFO queues must be between 1 and {FIFO_MAX_BATCH}."
                )));
            }
            if window > 0 {
                return Err(invalid("Batching window is not supported for FIFO queues."));
            }
        }
        if batch > 10 && window == 0 {
            return Err(invalid(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            ));
        }
        Ok(())
    }

    fn validate_stream(&self, creating: bool) -> Result<(), ModelError> {
        if creating {
            match self.starting_position.as_deref() {
                None => {
                    return Err(invalid(
                        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null",
                    ))
                }
                Some("TRIM_HORIZON" | "LATEST") => {}
                Some("AT_TIMESTAMP") if self.starting_position_timestamp.is_some() => {}
                Some("AT_TIMESTAMP") => {
                    return Err(invalid(
                        "StartingPositionTimestamp must be provided with AT_TIMESTAMP.",
                    ))
                }
                Some(other) => {
                    return Err(invalid(format!("Unsupported starting position {other}.")))
                }
            }
        } else if self.starting_position.is_some() {
            return Err(invalid(
                "StartingPosition cannot be changed after the mapping is created.",
            ));
        }
        if let Some(p) = self.parallelization_factor {
            if !(1..=10).contains(&p) {
                return Err(invalid("ParallelizationFactor must be between 1 and 10."));
            }
        }
        if let Some(r) = self.maximum_retry_attempts {
            if !(-1..=10_000).contains(&r) {
                return Err(invalid(
                    "MaximumRetryAttempts must be between -1 and 10000.",
                ));
            }
        }
        if let Some(a) = self.maximum_record_age_in_seconds {
            if a != -1 && !(60..=604_800).contains(&a) {
                return Err(invalid(
                    "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.",
                ));
            }
        }
        if let Some(t) = self.tumbling_window_in_seconds {
            if t > 900 {
                return Err(invalid(
                    "TumblingWindowInSeconds must be between 0 and 900.",
                ));
            }
        }
        if self.maximum_concurrency.is_some() {
            return Err(invalid(
                "Unsupported ScalingConfig parameter for given event source.",
            ));
        }
        Ok(())
    }

    /// Update: the members given replace the stored ones.
    pub fn merged(&self, change: &MappingSettings) -> MappingSettings {
        macro_rules! pick {
            ($($f:ident),*) => { MappingSettings { $($f: change.$f.clone().or_else(|| self.$f.clone()),)* } };
        }
        pick!(
            batch_size,
            maximum_batching_window_in_seconds,
            filter_criteria,
            function_response_types,
            maximum_concurrency,
            starting_position,
            starting_position_timestamp,
            parallelization_factor,
            bisect_batch_on_function_error,
            maximum_retry_attempts,
            maximum_record_age_in_seconds,
            on_failure_destination,
            tumbling_window_in_seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sqs(batch: Option<u32>, window: Option<u32>) -> MappingSettings {
        MappingSettings {
            batch_size: batch,
            maximum_batching_window_in_seconds: window,
            ..Default::default()
        }
    }

    #[test]
    fn kinds_from_arns() {
        assert_eq!(
            SourceKind::of("arn:aws:sqs:us-east-1:123456789012:q"),
            SourceKind::Sqs
        );
        assert_eq!(
            SourceKind::of("arn:aws:kinesis:us-east-1:123456789012:stream/s"),
            SourceKind::Kinesis
        );
        assert_eq!(
            SourceKind::of("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024"),
            SourceKind::DynamoDb
        );
        assert_eq!(
            SourceKind::of("arn:aws:kafka:us-east-1:1:cluster/x"),
            SourceKind::Other
        );
        assert_eq!(SourceKind::of("nonsense"), SourceKind::Other);
        assert_eq!(
            sqs_queue_name("arn:aws:sqs:us-east-1:123456789012:q1"),
            Some("q1")
        );
    }

    /// Lambda's documented SQS limits: BatchSize 1–10,000 (default 10); above 10 needs a
    /// batching window ≥ 1; the window is 0–300; FIFO queues take at most 10, no window.
    #[test]
    fn sqs_table() {
        let cases: &[(Option<u32>, Option<u32>, bool, bool)] = &[
            (None, None, false, true),
            (Some(1), None, false, true),
            (Some(10), None, false, true),
            (Some(11), None, false, false),
            (Some(11), Some(1), false, true),
            (Some(10_000), Some(300), false, true),
            (Some(10_001), Some(1), false, false),
            (Some(0), None, false, false),
            (Some(5), Some(301), false, false),
            (Some(10), None, true, true),
            (Some(11), Some(1), true, false),
            (Some(5), Some(1), true, false),
        ];
        for &(b, w, fifo, ok) in cases {
            assert_eq!(
                sqs(b, w).validate(SourceKind::Sqs, fifo, true).is_ok(),
                ok,
                "batch {b:?} window {w:?} fifo {fifo}"
            );
        }
        let e = sqs(Some(11), None)
            .validate(SourceKind::Sqs, false, true)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        );
    }

    #[test]
    fn stream_fields_refused_for_sqs() {
        let s = MappingSettings {
            starting_position: Some("LATEST".into()),
            ..Default::default()
        };
        let e = s.validate(SourceKind::Sqs, false, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unsupported StartingPosition parameter for given event source."
        );
    }

    #[test]
    fn concurrency_and_filters() {
        for (c, ok) in [(1, false), (2, true), (1000, true), (1001, false)] {
            let s = MappingSettings {
                maximum_concurrency: Some(c),
                ..Default::default()
            };
            assert_eq!(s.validate(SourceKind::Sqs, false, true).is_ok(), ok, "{c}");
        }
        let bad = MappingSettings {
            filter_criteria: Some(json!({"Filters": [{"Pattern": "{not json"}]})),
            ..Default::default()
        };
        assert!(bad.validate(SourceKind::Sqs, false, true).is_err());
    }

    /// Kinesis: StartingPosition required at creation, ParallelizationFactor 1–10,
    /// MaximumRetryAttempts -1..10000, MaximumRecordAgeInSeconds -1 or 60..604800.
    #[test]
    fn kinesis_table() {
        let base = MappingSettings {
            starting_position: Some("LATEST".into()),
            ..Default::default()
        };
        assert!(base.validate(SourceKind::Kinesis, false, true).is_ok());
        assert!(MappingSettings::default()
            .validate(SourceKind::Kinesis, false, true)
            .is_err());
        let with = |f: &dyn Fn(&mut MappingSettings)| {
            let mut s = base.clone();
            f(&mut s);
            s.validate(SourceKind::Kinesis, false, true).is_ok()
        };
        assert!(!with(&|s| s.parallelization_factor = Some(11)));
        assert!(with(&|s| s.parallelization_factor = Some(10)));
        assert!(!with(&|s| s.maximum_retry_attempts = Some(-2)));
        assert!(with(&|s| s.maximum_retry_attempts = Some(10_000)));
        assert!(!with(&|s| s.maximum_record_age_in_seconds = Some(59)));
        assert!(with(&|s| s.maximum_record_age_in_seconds = Some(-1)));
        assert!(with(&|s| s.maximum_record_age_in_seconds = Some(604_800)));
        assert!(with(&|s| s.batch_size = Some(10_000)));
        assert!(!with(&|s| s.batch_size = Some(10_001)));
    }

    #[test]
    fn dynamodb_refused_and_merge() {
        assert!(MappingSettings::default()
            .validate(SourceKind::DynamoDb, false, true)
            .unwrap_err()
            .to_string()
            .contains("no DynamoDB-compatible table service"));
        let a = sqs(Some(5), Some(2));
        let m = a.merged(&sqs(Some(7), None));
        assert_eq!(m.batch_size, Some(7));
        assert_eq!(m.maximum_batching_window_in_seconds, Some(2));
    }
}
