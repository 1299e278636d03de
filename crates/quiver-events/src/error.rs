//! The one error type of event routing's rules.

/// Why a pattern or a schedule expression is refused. The message is the wording the
/// service gives its caller (the API maps each variant to that service's error code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// An event pattern or filter policy the service would refuse.
    #[error("{0}")]
    InvalidPattern(String),
    /// A `rate(...)`, `cron(...)` or `at(...)` expression (or its time zone) refused.
    #[error("{0}")]
    InvalidSchedule(String),
}
