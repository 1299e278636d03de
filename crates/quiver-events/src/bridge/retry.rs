//! What happens after a failed delivery: another try after a delay, or the end of the
//! target's RetryPolicy (and so its dead-letter queue).

use super::RetryPolicy;

/// The longest a queued retry can wait (the durable queue's largest delay).
pub const MAX_RETRY_DELAY_S: u32 = 900;

/// The decision after one more failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again this many seconds from now.
    RetryIn(u32),
    /// Give up; the value is EventBridge's EXHAUSTED_RETRY_CONDITION.
    Exhausted(&'static str),
}

/// `failed_before`: failures before this one; `age_ms`: since the event was accepted;
/// `base_s`: the first retry's delay, doubled for each later one.
pub fn after_failure(
    policy: Option<&RetryPolicy>,
    failed_before: u32,
    age_ms: i64,
    base_s: u64,
) -> AfterFailure {
    let (max_attempts, max_age_s) = RetryPolicy::effective(policy);
    if failed_before + 1 > max_attempts {
        return AfterFailure::Exhausted("MaximumRetryAttemptsExceeded");
    }
    let delay = (base_s.max(1) << failed_before.min(10)).min(u64::from(MAX_RETRY_DELAY_S)) as u32;
    if age_ms + i64::from(delay) * 1000 > i64::from(max_age_s) * 1000 {
        return AfterFailure::Exhausted("MaximumEventAgeExceeded");
    }
    AfterFailure::RetryIn(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: Option<u32>, age: Option<u32>) -> RetryPolicy {
        RetryPolicy {
            maximum_retry_attempts: attempts,
            maximum_event_age_in_seconds: age,
        }
    }

    #[test]
    fn attempts_and_delays() {
        let p = policy(Some(2), None);
        assert_eq!(after_failure(Some(&p), 0, 0, 1), AfterFailure::RetryIn(1));
        assert_eq!(after_failure(Some(&p), 1, 0, 1), AfterFailure::RetryIn(2));
        assert_eq!(
            after_failure(Some(&p), 2, 0, 1),
            AfterFailure::Exhausted("MaximumRetryAttemptsExceeded")
        );
        let none = policy(Some(0), None);
        assert_eq!(
            after_failure(Some(&none), 0, 0, 1),
            AfterFailure::Exhausted("MaximumRetryAttemptsExceeded")
        );
        // Defaults: 185 attempts, delays capped at 15 minutes.
        assert_eq!(after_failure(None, 20, 0, 1), AfterFailure::RetryIn(900));
    }

    #[test]
    fn age() {
        let p = policy(None, Some(60));
        assert_eq!(
            after_failure(Some(&p), 0, 58_000, 1),
            AfterFailure::RetryIn(1)
        );
        assert_eq!(
            after_failure(Some(&p), 0, 59_500, 1),
            AfterFailure::Exhausted("MaximumEventAgeExceeded")
        );
        assert_eq!(
            after_failure(None, 0, 86_400_000, 1),
            AfterFailure::Exhausted("MaximumEventAgeExceeded")
        );
    }
}
