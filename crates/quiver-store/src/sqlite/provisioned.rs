//! Provisioned concurrency configs in SQLite (migration 6): one row per version or
//! alias. A Put checks, in one IMMEDIATE transaction, that the qualifier exists, that
//! no alias/version pair would both be provisioned, and the account's figures, so two
//! Puts can never both pass against the same totals.

use quiver_model::provisioned::{
    Account, ProvisionedConfig, ALIAS_ON_PROVISIONED_VERSION, UNPUBLISHED,
    VERSION_OF_PROVISIONED_ALIAS,
};
use quiver_model::{ModelError, Qualifier};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{now, require_function, SqliteStore};
use crate::provisioned::ProvisionedStore;
use crate::StoreError;

const COLS: &str = "function_name, qualifier, requested, last_modified";

fn row(r: &Row<'_>) -> rusqlite::Result<ProvisionedConfig> {
    let requested: i64 = r.get(2)?;
    Ok(ProvisionedConfig {
        function: r.get(0)?,
        qualifier: r.get(1)?,
        requested: u32::try_from(requested).unwrap_or(u32::MAX),
        last_modified: r.get(3)?,
    })
}

/// What `qualifier` designates: a published version, or an alias with the version it
/// points to. [`StoreError::NotFound`] when it does not exist.
enum Designated {
    Version(u64),
    Alias { version: u64 },
}

fn designated(conn: &Connection, name: &str, qualifier: &str) -> Result<Designated, StoreError> {
    require_function(conn, name)?;
    match Qualifier::classify(qualifier) {
        Qualifier::Latest => Err(StoreError::Invalid(ModelError::InvalidParameter(
            UNPUBLISHED.into(),
        ))),
        Qualifier::Version(n) => {
            let found: Option<i64> = conn
                .query_row(
                    "SELECT 1 FROM function_versions WHERE function_name = ?1 AND version = ?2 AND version > 0",
                    params![name, n as i64],
                    |r| r.get(0),
                )
                .optional()?;
            found
                .map(|_| Designated::Version(n))
                .ok_or(StoreError::NotFound)
        }
        Qualifier::Alias(a) => {
            let version: Option<i64> = conn
                .query_row(
                    "SELECT function_version FROM aliases WHERE function_name = ?1 AND name = ?2",
                    params![name, a],
                    |r| r.get(0),
                )
                .optional()?;
            version
                .map(|v| Designated::Alias {
                    version: v.max(0) as u64,
                })
                .ok_or(StoreError::NotFound)
        }
    }
}

fn sum(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(sql, args, |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

impl ProvisionedStore for SqliteStore {
    fn put_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        requested: u32,
        check: &dyn Fn(&Account) -> Result<(), ModelError>,
    ) -> Result<ProvisionedConfig, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match designated(&tx, name, qualifier)? {
            Designated::Alias { version } => {
                let version_configured: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
                        params![name, version.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if version_configured.is_some() {
                    return Err(StoreError::Conflict(ALIAS_ON_PROVISIONED_VERSION.into()));
                }
            }
            Designated::Version(n) => {
                let aliases = sum(
                    &tx,
                    "SELECT COUNT(*) FROM aliases a JOIN provisioned_concurrency p \
                     ON p.function_name = a.function_name AND p.qualifier = a.name \
                     WHERE a.function_name = ?1 AND a.function_version = ?2",
                    params![name, n as i64],
                )?;
                if aliases > 0 {
                    return Err(StoreError::Conflict(VERSION_OF_PROVISIONED_ALIAS.into()));
                }
            }
        }
        let function_reserved: Option<i64> = tx.query_row(
            "SELECT reserved_concurrency FROM functions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?;
        let account = Account {
            limit: 0,
            total_reserved: sum(
                &tx,
                "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions",
                [],
            )?,
            function_reserved: function_reserved.map(|n| n.max(0) as u64),
            function_others: sum(
                &tx,
                "SELECT COALESCE(SUM(requested), 0) FROM provisioned_concurrency \
                 WHERE function_name = ?1 AND qualifier != ?2",
                params![name, qualifier],
            )?,
            unreserved_provisioned: sum(
                &tx,
                "SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency p \
                 JOIN functions f ON f.name = p.function_name \
                 WHERE f.reserved_concurrency IS NULL AND NOT (p.function_name = ?1 AND p.qualifier = ?2)",
                params![name, qualifier],
            )?,
        };
        check(&account)?;
        let config = ProvisionedConfig {
            function: name.to_string(),
            qualifier: qualifier.to_string(),
            requested,
            last_modified: now(),
        };
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO provisioned_concurrency ({COLS}) VALUES (?1, ?2, ?3, ?4)"
            ),
            params![name, qualifier, i64::from(requested), config.last_modified],
        )?;
        tx.commit()?;
        Ok(config)
    }

    fn get_provisioned(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<Option<ProvisionedConfig>, StoreError> {
        let c = self.lock();
        designated(&c, name, qualifier)?;
        Ok(c.query_row(
            &format!(
                "SELECT {COLS} FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2"
            ),
            params![name, qualifier],
            row,
        )
        .optional()?)
    }

    fn delete_provisioned(&self, name: &str, qualifier: &str) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        designated(&tx, name, qualifier)?;
        let n = tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![name, qualifier],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn list_provisioned(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ProvisionedConfig>, StoreError> {
        let c = self.lock();
        require_function(&c, name)?;
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {COLS} FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier > ?2 \
             ORDER BY qualifier LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![name, after.unwrap_or(""), limit as i64], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn all_provisioned(&self) -> Result<Vec<ProvisionedConfig>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {COLS} FROM provisioned_concurrency ORDER BY function_name, qualifier"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unreserved_provisioned_total(&self) -> Result<u64, StoreError> {
        sum(
            &self.lock(),
            "SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency p \
             JOIN functions f ON f.name = p.function_name WHERE f.reserved_concurrency IS NULL",
            [],
        )
    }
}
