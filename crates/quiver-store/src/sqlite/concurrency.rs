//! Reserved concurrency in SQLite: the `functions.reserved_concurrency` column (NULL =
//! no reservation), checked against the other functions' sum and written in one
//! IMMEDIATE transaction, so concurrent PutFunctionConcurrency calls are serialised by
//! SQLite's write lock and cannot over-reserve the account together.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::require_function;
use crate::StoreError;

const TOTAL: &str = "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions";

/// See [`crate::Store::put_reserved_concurrency`].
pub(super) fn put(
    conn: &mut Connection,
    name: &str,
    reserved: Option<u64>,
    check: &dyn Fn(u64) -> Result<(), quiver_model::ModelError>,
) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_function(&tx, name)?;
    let stored = match reserved {
        Some(n) => {
            // Other functions' reservations, and the provisioned concurrency of the
            // functions without one: both are carved out of the unreserved pool (this
            // function's own provisioned concurrency moves inside its reservation).
            let others: i64 = tx.query_row(
                "SELECT (SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name != ?1) \
                 + (SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency p \
                    JOIN functions f ON f.name = p.function_name \
                    WHERE f.reserved_concurrency IS NULL AND f.name != ?1)",
                [name],
                |r| r.get(0),
            )?;
            check(others.max(0) as u64)?;
            let provisioned: i64 = tx.query_row(
                "SELECT COALESCE(SUM(requested), 0) FROM provisioned_concurrency WHERE function_name = ?1",
                [name],
                |r| r.get(0),
            )?;
            quiver_model::provisioned::check_reservation_holds(n, provisioned.max(0) as u64)?;
            // The check bounds it by the account limit; a value SQLite cannot hold
            // never passes it.
            Some(i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("reservation {n}")))?)
        }
        None => None,
    };
    tx.execute(
        "UPDATE functions SET reserved_concurrency = ?2 WHERE name = ?1",
        params![name, stored],
    )?;
    let total: i64 = tx.query_row(TOTAL, [], |r| r.get(0))?;
    tx.commit()?;
    Ok(total.max(0) as u64)
}

/// See [`crate::Store::total_reserved_concurrency`].
pub(super) fn total(conn: &Connection) -> Result<u64, StoreError> {
    let total: i64 = conn.query_row(TOTAL, [], |r| r.get(0))?;
    Ok(total.max(0) as u64)
}

/// See [`crate::Store::reserved_concurrency`].
pub(super) fn get(conn: &Connection, name: &str) -> Result<Option<u32>, StoreError> {
    let v: Option<Option<i64>> = conn
        .query_row(
            "SELECT reserved_concurrency FROM functions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    v.ok_or(StoreError::NotFound).map(|o| o.map(|n| n as u32))
}

/// See [`crate::Store::usage`]: the account figures GetAccountSettings reports, next to
/// the reservation total they share a query with.
pub(super) fn usage(c: &Connection) -> Result<crate::store::Usage, StoreError> {
    let (count, reserved): (i64, i64) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(reserved_concurrency), 0) FROM functions",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let total: i64 = c.query_row(
        "SELECT COALESCE(SUM(code_size), 0) FROM function_versions",
        [],
        |r| r.get(0),
    )?;
    Ok(crate::store::Usage {
        total_code_size: total as u64,
        function_count: count as u64,
        reserved_concurrency: reserved as u64,
    })
}
