//! Recursive loop detection in SQLite (migration 3): the `functions.recursive_loop`
//! column, so the setting lives and dies with the function.

use quiver_model::RecursiveLoop;
use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

/// See [`crate::Store::recursive_loop`].
pub(super) fn get(conn: &Connection, name: &str) -> Result<RecursiveLoop, StoreError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT recursive_loop FROM functions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    let stored = stored.ok_or(StoreError::NotFound)?;
    RecursiveLoop::from_stored(&stored)
        .ok_or_else(|| StoreError::Corrupt(format!("recursive_loop of {name}: {stored:?}")))
}

/// See [`crate::Store::put_recursive_loop`]: one UPDATE, so no transaction is needed.
pub(super) fn put(conn: &Connection, name: &str, value: RecursiveLoop) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE functions SET recursive_loop = ?2 WHERE name = ?1",
        params![name, value.as_str()],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
