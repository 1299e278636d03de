//! Provisioned concurrency (PutProvisionedConcurrencyConfig): which configs Lambda
//! accepts, what they take out of the account's concurrency, how a weighted alias
//! splits its environments between its two versions, and the status a config reports.
//!
//! A config belongs to one published version or one alias (never `$LATEST`). Its
//! environments are started ahead of time and count against the concurrency a
//! function may use: inside the function's reservation when it has one (the sum of its
//! configs may not exceed it), otherwise out of the unreserved pool, which must keep
//! its minimum (docs/wire.md §12 and §15).

use crate::concurrency::minimum_unreserved;
use crate::error::{ModelError, Violations};

/// Put on `$LATEST` or without a qualifier.
pub const UNPUBLISHED: &str =
    "Provisioned Concurrency Configs cannot be applied to unpublished function versions.";
/// Get or Delete on `$LATEST` or without a qualifier.
pub const NOT_ALIAS_OR_VERSION: &str =
    "The function resource provided must be an alias or a published version.";
/// Get of a version or alias without a config (ProvisionedConcurrencyConfigNotFoundException).
pub const NOT_FOUND: &str = "No Provisioned Concurrency Config found for this function";
/// Put on an alias whose version has its own config; also UpdateAlias moving a
/// provisioned alias (its version or its routing) onto such a version.
pub const ALIAS_ON_PROVISIONED_VERSION: &str =
    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version";
/// Put on a version an alias with a config points to.
pub const VERSION_OF_PROVISIONED_ALIAS: &str =
    "Version is pointed by a Provisioned Concurrency alias";
/// Put beyond the function's reserved concurrency.
pub const BEYOND_RESERVED: &str =
    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function";
/// `StatusReason` of a config whose environments failed to initialise.
pub const INIT_FAILURE: &str = "FUNCTION_ERROR_INIT_FAILURE";
/// Largest page of ListProvisionedConcurrencyConfigs.
pub const LIST_MAX_ITEMS: usize = 50;

/// One stored config: a function's version or alias and how many environments it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConfig {
    pub function: String,
    /// A version number or an alias name, as the config was put.
    pub qualifier: String,
    pub requested: u32,
    /// When the config was last put (Lambda's LastModified).
    pub last_modified: String,
}

/// `Status` of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Ready,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Ready => "READY",
            Status::Failed => "FAILED",
        }
    }
}

/// The status a config reports for `allocated` initialised environments out of
/// `requested`: FAILED once an environment failed to initialise (the engine stops
/// trying until the config or the function changes), READY when every requested
/// environment is there, IN_PROGRESS before.
pub fn status(requested: u32, allocated: u32, failed: bool) -> Status {
    if failed && allocated < requested {
        Status::Failed
    } else if allocated >= requested {
        Status::Ready
    } else {
        Status::InProgress
    }
}

/// The `ProvisionedConcurrentExecutions` member as sent: required, an integer ≥ 1
/// (ValidationException otherwise, worded as Lambda words shape errors).
pub fn validate_requested(value: Option<i64>) -> Result<u32, ModelError> {
    let mut v = Violations::new();
    match value {
        None => v.push(
            "null",
            "provisionedConcurrentExecutions",
            "Member must not be null",
        ),
        Some(n) if n < 1 => v.push(
            n.to_string(),
            "provisionedConcurrentExecutions",
            "Member must have value greater than or equal to 1",
        ),
        Some(_) => {}
    }
    v.into_result()?;
    // Beyond u32 is beyond every account limit: the account check refuses it.
    Ok(u32::try_from(value.unwrap_or(1)).unwrap_or(u32::MAX))
}

/// What a Put is checked against, read in the write's own transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Account {
    /// The account concurrency limit: the engine's figure, which the caller fills in
    /// (the store reads everything else and leaves this 0).
    pub limit: u64,
    /// Every function's reserved concurrency, summed.
    pub total_reserved: u64,
    /// The function's own reservation.
    pub function_reserved: Option<u64>,
    /// The function's other configs (not the one being replaced), summed.
    pub function_others: u64,
    /// The configs of functions without a reservation, this function's other configs
    /// included and the one being replaced excluded: what they already take out of
    /// the unreserved pool.
    pub unreserved_provisioned: u64,
}

/// Whether a config of `requested` may be put. Inside a reservation, the function's
/// configs together may not exceed it; without one, they come out of the unreserved
/// pool, which must keep its minimum (the same rule and wording as a reservation's,
/// naming ConcurrentExecutions as Lambda does).
pub fn check_put(a: &Account, requested: u32) -> Result<(), ModelError> {
    let requested = u64::from(requested);
    if let Some(reserved) = a.function_reserved {
        if a.function_others + requested > reserved {
            return Err(ModelError::InvalidParameter(BEYOND_RESERVED.into()));
        }
        return Ok(());
    }
    let minimum = minimum_unreserved(a.limit);
    let left = i128::from(a.limit)
        - i128::from(a.total_reserved)
        - i128::from(a.unreserved_provisioned)
        - i128::from(requested);
    if left < i128::from(minimum) {
        return Err(ModelError::InvalidParameter(format!(
            "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
        )));
    }
    Ok(())
}

/// Whether a reservation of `reserved` still holds the function's provisioned
/// concurrency (`provisioned`, every config of the function summed): provisioned
/// environments of a reserved function live inside its reservation, so Lambda refuses
/// a PutFunctionConcurrency below their sum (InvalidParameterValueException).
pub fn check_reservation_holds(reserved: u64, provisioned: u64) -> Result<(), ModelError> {
    if reserved < provisioned {
        return Err(ModelError::InvalidParameter(format!(
            "ReservedConcurrentExecutions  {reserved} should not be lower than function's total provisioned concurrency [{provisioned}]."
        )));
    }
    Ok(())
}

/// How many of an alias's `requested` environments go to its additional version when
/// that version gets `weight` of the invocations: the weight's share, rounded, and at
/// least one whenever the weight is not zero and more than one is requested, so that
/// the version actually receiving calls has a warm environment. The rest go to the
/// alias's version.
pub fn additional_share(requested: u32, weight: f64) -> u32 {
    if weight.is_nan() || weight <= 0.0 || requested == 0 {
        return 0;
    }
    let share = (f64::from(requested) * weight.min(1.0)).round() as u32;
    share.clamp(u32::from(requested > 1), requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(a: &Account, n: u32) -> String {
        match check_put(a, n) {
            Err(ModelError::InvalidParameter(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_member_is_required_and_positive() {
        assert_eq!(validate_requested(Some(3)).unwrap(), 3);
        assert_eq!(
            validate_requested(Some(0)).unwrap_err().to_string(),
            "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert_eq!(
            validate_requested(None).unwrap_err().to_string(),
            "1 validation error detected: Value null at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(validate_requested(Some(i64::MAX)).unwrap(), u32::MAX);
    }

    #[test]
    fn inside_a_reservation_the_configs_may_not_exceed_it() {
        let a = Account {
            limit: 1000,
            function_reserved: Some(5),
            function_others: 2,
            ..Account::default()
        };
        assert!(check_put(&a, 3).is_ok());
        assert_eq!(refused(&a, 4), BEYOND_RESERVED);
    }

    #[test]
    fn without_one_the_unreserved_pool_keeps_its_minimum() {
        let a = Account {
            limit: 150,
            total_reserved: 20,
            unreserved_provisioned: 10,
            ..Account::default()
        };
        assert!(check_put(&a, 20).is_ok(), "exactly 100 left");
        assert_eq!(
            refused(&a, 21),
            "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
        );
        let small = Account {
            limit: 10,
            ..Account::default()
        };
        refused(&small, 1);
    }

    #[test]
    fn a_reservation_must_hold_the_provisioned_environments() {
        assert!(check_reservation_holds(5, 5).is_ok());
        assert!(check_reservation_holds(0, 0).is_ok());
        assert_eq!(
            check_reservation_holds(2, 3).unwrap_err().to_string(),
            "ReservedConcurrentExecutions  2 should not be lower than function's total provisioned concurrency [3]."
        );
    }

    #[test]
    fn status_follows_the_allocation() {
        assert_eq!(status(2, 0, false), Status::InProgress);
        assert_eq!(status(2, 1, false), Status::InProgress);
        assert_eq!(status(2, 2, false), Status::Ready);
        assert_eq!(status(2, 1, true), Status::Failed);
        assert_eq!(status(2, 2, true), Status::Ready);
        assert_eq!(Status::Ready.as_str(), "READY");
    }

    #[test]
    fn a_weighted_alias_splits_by_weight() {
        assert_eq!(additional_share(10, 0.3), 3);
        assert_eq!(additional_share(10, 0.0), 0);
        assert_eq!(additional_share(2, 0.1), 1, "the routed version gets one");
        assert_eq!(additional_share(1, 0.1), 0, "one environment stays primary");
        assert_eq!(additional_share(4, 1.0), 4);
    }
}
