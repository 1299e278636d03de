//! Reserved concurrency (PutFunctionConcurrency): how a reservation is carved out of the
//! account's concurrency limit, and which reservations the account refuses.
//!
//! The account limit (the server's `--max-concurrency`, Lambda's ConcurrentExecutions)
//! is split into what functions reserve and the unreserved pool every other function
//! shares. Lambda keeps the unreserved pool at a minimum of 100 so that functions
//! without a reservation can always run; on an account whose whole limit is below 100
//! the minimum is the limit itself, so nothing but 0 can be reserved (Lambda answers
//! "minimum value of [10]" on an account limited to 10). docs/wire.md §12.

use crate::error::{ModelError, Violations};

/// The unreserved pool Lambda always leaves to functions without a reservation.
pub const UNRESERVED_MINIMUM: u64 = 100;

/// The smallest the unreserved pool may become on an account of `limit`.
pub fn minimum_unreserved(limit: u64) -> u64 {
    limit.min(UNRESERVED_MINIMUM)
}

/// The unreserved pool: the account limit less every reservation (never negative,
/// even if a restart lowered the limit under what was reserved before).
pub fn unreserved(limit: u64, total_reserved: u64) -> u64 {
    limit.saturating_sub(total_reserved)
}

/// The `ReservedConcurrentExecutions` member as sent: required, an integer ≥ 0
/// (ValidationException otherwise, worded as Lambda words shape errors).
pub fn validate_reserved(value: Option<i64>) -> Result<u64, ModelError> {
    let mut v = Violations::new();
    match value {
        None => v.push(
            "null",
            "reservedConcurrentExecutions",
            "Member must not be null",
        ),
        Some(n) if n < 0 => v.push(
            n.to_string(),
            "reservedConcurrentExecutions",
            "Member must have value greater than or equal to 0",
        ),
        Some(_) => {}
    }
    v.into_result()?;
    Ok(value.unwrap_or_default() as u64)
}

/// Whether a function may reserve `requested` when the other functions of the account
/// reserve `reserved_by_others` in all (the function's own current reservation is
/// replaced, so it does not count). Lambda refuses with InvalidParameterValueException
/// and the same message whether the request exceeds the account limit itself or only
/// eats into the unreserved minimum.
pub fn check_reservation(
    limit: u64,
    reserved_by_others: u64,
    requested: u64,
) -> Result<(), ModelError> {
    let minimum = minimum_unreserved(limit);
    let left = i128::from(limit) - i128::from(reserved_by_others) - i128::from(requested);
    if left < i128::from(minimum) {
        return Err(ModelError::InvalidParameter(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(limit: u64, others: u64, requested: u64) -> String {
        match check_reservation(limit, others, requested) {
            Err(ModelError::InvalidParameter(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_reservation_must_leave_100_unreserved() {
        assert!(check_reservation(1000, 0, 900).is_ok(), "exactly 100 left");
        assert_eq!(
            refused(1000, 0, 901),
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."
        );
        // --max-concurrency 150: 60 leaves 90, 50 leaves exactly 100.
        refused(150, 0, 60);
        assert!(check_reservation(150, 0, 50).is_ok());
        // Other functions' reservations count, the function's own does not (it is
        // replaced): the caller passes only the others'.
        assert!(check_reservation(150, 30, 20).is_ok());
        refused(150, 30, 21);
    }

    #[test]
    fn beyond_the_account_limit_is_the_same_refusal() {
        refused(1000, 0, 1001);
        refused(1000, 0, u64::from(u32::MAX) + 7);
        refused(1000, 950, 0);
    }

    #[test]
    fn zero_is_always_allowed_and_small_accounts_keep_their_whole_limit() {
        assert!(check_reservation(1000, 900, 0).is_ok());
        assert_eq!(minimum_unreserved(10), 10);
        assert!(check_reservation(10, 0, 0).is_ok());
        assert_eq!(
            refused(10, 0, 1),
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10]."
        );
    }

    #[test]
    fn the_unreserved_pool_is_carved_out_of_the_limit() {
        assert_eq!(unreserved(1000, 0), 1000);
        assert_eq!(unreserved(110, 5), 105);
        assert_eq!(unreserved(100, 250), 0, "never negative");
    }

    #[test]
    fn the_member_is_required_and_not_negative() {
        assert_eq!(validate_reserved(Some(0)).unwrap(), 0);
        assert_eq!(validate_reserved(Some(7)).unwrap(), 7);
        assert_eq!(
            validate_reserved(Some(-1)).unwrap_err().to_string(),
            "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"
        );
        assert_eq!(
            validate_reserved(None).unwrap_err().to_string(),
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null"
        );
    }
}
