//! The SQLite side of aliases: the `aliases` table of migration 1, the routing kept as a
//! JSON document (`quiver_model::AliasRouting`) in its `routing` column.

use quiver_model::{Alias, AliasDraft, AliasRouting, Version};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{get_version_tx, new_revision, require_function, SqliteStore};
use crate::StoreError;

const ALIAS_COLS: &str = "function_name, name, function_version, description, routing, revision_id";

fn row_to_alias(row: &Row<'_>) -> rusqlite::Result<(Alias, Option<String>)> {
    let version: i64 = row.get(2)?;
    Ok((
        Alias {
            function_name: row.get(0)?,
            name: row.get(1)?,
            function_version: Version::from_ordinal(version as u64),
            description: row.get(3)?,
            // decoded by the caller so a bad document becomes StoreError::Corrupt
            routing: None,
            revision_id: row.get(5)?,
        },
        row.get(4)?,
    ))
}

fn decode((mut a, routing): (Alias, Option<String>)) -> Result<Alias, StoreError> {
    if let Some(doc) = routing {
        a.routing = Some(serde_json::from_str(&doc).map_err(|e| {
            StoreError::Corrupt(format!(
                "routing of alias {}:{}: {e}",
                a.function_name, a.name
            ))
        })?);
    }
    Ok(a)
}

fn encode_routing(r: Option<&AliasRouting>) -> Result<Option<String>, StoreError> {
    r.map(|r| serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub(super) fn get_alias_tx(
    conn: &Connection,
    name: &str,
    alias: &str,
) -> Result<Option<Alias>, StoreError> {
    let sql = format!("SELECT {ALIAS_COLS} FROM aliases WHERE function_name = ?1 AND name = ?2");
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![name, alias], row_to_alias)
        .optional()?;
    row.map(decode).transpose()
}

/// Every alias of `name`, in name order.
pub(super) fn all_aliases_tx(conn: &Connection, name: &str) -> Result<Vec<Alias>, StoreError> {
    let sql = format!("SELECT {ALIAS_COLS} FROM aliases WHERE function_name = ?1 ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([name], row_to_alias)?;
    rows.map(|r| decode(r?)).collect()
}

/// The versions an alias names must exist (the function too: Lambda reports a missing
/// function as its missing target version).
fn require_versions(conn: &Connection, name: &str, a: &AliasDraft) -> Result<(), StoreError> {
    if get_version_tx(conn, name, a.function_version)?.is_none() {
        return Err(StoreError::VersionNotFound(a.function_version));
    }
    if let Some(r) = &a.routing {
        let v = Version::Published(r.additional_version);
        if get_version_tx(conn, name, v)?.is_none() {
            return Err(StoreError::VersionNotFound(v));
        }
    }
    Ok(())
}

/// An alias with a provisioned concurrency config may not be moved (its version, or
/// the additional version of its routing) onto a version that has its own config:
/// the pair PutProvisionedConcurrencyConfig refuses (docs/wire.md §15).
fn refuse_provisioned_pair(
    conn: &Connection,
    name: &str,
    a: &AliasDraft,
) -> Result<(), StoreError> {
    let has = |qualifier: &str| -> Result<bool, StoreError> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
                params![name, qualifier],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    };
    if !has(&a.name)? {
        return Ok(());
    }
    let mut versions = vec![a.function_version];
    versions.extend(a.routing.map(|r| Version::Published(r.additional_version)));
    for v in versions {
        if let Version::Published(n) = v {
            if has(&n.to_string())? {
                return Err(StoreError::Conflict(
                    quiver_model::provisioned::ALIAS_ON_PROVISIONED_VERSION.into(),
                ));
            }
        }
    }
    Ok(())
}

fn stored(name: &str, a: &AliasDraft, revision_id: String) -> Alias {
    Alias {
        function_name: name.to_string(),
        name: a.name.clone(),
        function_version: a.function_version,
        description: a.description.clone(),
        routing: a.routing,
        revision_id,
    }
}

impl SqliteStore {
    pub(super) fn get_alias_impl(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<Alias>, StoreError> {
        get_alias_tx(&self.lock(), name, alias)
    }

    pub(super) fn create_alias_impl(
        &self,
        name: &str,
        a: &AliasDraft,
    ) -> Result<Alias, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if get_version_tx(&tx, name, a.function_version)?.is_none() {
            return Err(StoreError::VersionNotFound(a.function_version));
        }
        if get_alias_tx(&tx, name, &a.name)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        require_versions(&tx, name, a)?;
        let alias = stored(name, a, new_revision());
        tx.execute(
            &format!("INSERT INTO aliases ({ALIAS_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                name,
                alias.name,
                alias.function_version.ordinal() as i64,
                alias.description,
                encode_routing(alias.routing.as_ref())?,
                alias.revision_id
            ],
        )?;
        tx.commit()?;
        Ok(alias)
    }

    pub(super) fn update_alias_impl(
        &self,
        name: &str,
        a: &AliasDraft,
        base_revision: &str,
    ) -> Result<Alias, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = get_alias_tx(&tx, name, &a.name)?.ok_or(StoreError::NotFound)?;
        if current.revision_id != base_revision {
            return Err(StoreError::RevisionMismatch {
                current: current.revision_id,
            });
        }
        require_versions(&tx, name, a)?;
        refuse_provisioned_pair(&tx, name, a)?;
        let alias = stored(name, a, new_revision());
        tx.execute(
            "UPDATE aliases SET function_version = ?3, description = ?4, routing = ?5, revision_id = ?6 \
             WHERE function_name = ?1 AND name = ?2",
            params![
                name,
                alias.name,
                alias.function_version.ordinal() as i64,
                alias.description,
                encode_routing(alias.routing.as_ref())?,
                alias.revision_id
            ],
        )?;
        tx.commit()?;
        Ok(alias)
    }

    pub(super) fn delete_alias_impl(&self, name: &str, alias: &str) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, name)?;
        let n = tx.execute(
            "DELETE FROM aliases WHERE function_name = ?1 AND name = ?2",
            params![name, alias],
        )?;
        // Its async settings go with it: a new alias of the same name starts clean.
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
            params![name, alias],
        )?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![name, alias],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    pub(super) fn list_aliases_impl(
        &self,
        name: &str,
        version: Option<Version>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError> {
        let c = self.lock();
        require_function(&c, name)?;
        // -1 matches no version: the filter is off.
        let filter = version.map(|v| v.ordinal() as i64).unwrap_or(-1);
        let sql = format!(
            "SELECT {ALIAS_COLS} FROM aliases WHERE function_name = ?1 AND name > ?2 \
             AND (?3 = -1 OR function_version = ?3) ORDER BY name LIMIT ?4"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![name, after.unwrap_or(""), filter, limit as i64],
            row_to_alias,
        )?;
        rows.map(|r| decode(r?)).collect()
    }
}
