//! The embedded SQLite backend: one connection in WAL mode, synchronous=FULL, versioned
//! migrations tracked in `PRAGMA user_version`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use quiver_model::RecursiveLoop;
use quiver_model::{
    format_last_modified, Alias, AliasDraft, CodeRef, EventInvokeConfig, FunctionConfig,
    FunctionVersion, Lifecycle, StoredEventInvokeConfig, Version,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::store::*;
use crate::StoreError;

mod aliases;
mod concurrency;
mod event_configs;
mod event_rules;
mod http_apis;
mod layers;
mod lifecycle;
mod mappings;
mod provisioned;
mod recursion;
mod schedules;
mod signing;
mod sns;
mod urls;

/// Migrations in order; `user_version` = how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_event_invoke_config.sql"),
    include_str!("../migrations/0003_recursion_config.sql"),
    include_str!("../migrations/0004_code_signing_configs.sql"),
    include_str!("../migrations/0005_lifecycle.sql"),
    include_str!("../migrations/0006_provisioned_concurrency.sql"),
    include_str!("../migrations/0007_layers.sql"),
    include_str!("../migrations/0008_function_urls.sql"),
    include_str!("../migrations/0009_http_apis.sql"),
    include_str!("../migrations/0010_schedules.sql"),
    include_str!("../migrations/0011_sns.sql"),
    include_str!("../migrations/0012_event_rules.sql"),
    include_str!("../migrations/0013_function_url_invoke_mode.sql"),
    include_str!("../migrations/0014_event_source_mappings.sql"),
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// See [`Store::change_counter`]: bumped by every [`WriteGuard`] when it is dropped.
    changes: AtomicU64,
    /// How long a create, publish or update stays Pending / InProgress, in ms (see
    /// [`SqliteStore::with_settle_ms`]).
    settle_ms: AtomicU64,
    /// False only in the backend-neutral CRUD suite (writes land settled there, so that
    /// its round trips compare equal); the lifecycle has its own tests.
    transitions: bool,
}

/// The connection, taken for a write: dropping it (after the transaction committed or
/// rolled back) bumps the change counter. Bumping after a failed write as well is
/// harmless — a cache refills once — and keeps the rule simple: every write method
/// takes [`SqliteStore::write`], every read method [`SqliteStore::lock`].
struct WriteGuard<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    changes: &'a AtomicU64,
}

impl std::ops::Deref for WriteGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        // Still under the connection lock: a reader that saw the old number also
        // loaded before this write, and its cache entry is stale from now on.
        self.changes.fetch_add(1, Ordering::Release);
    }
}

const COLS: &str =
    "function_name, version, config, code_sha256, code_b64, code_size, revision_id, last_modified, lifecycle";

fn now() -> String {
    format_last_modified(time::OffsetDateTime::now_utc())
}

fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn row_to_version(row: &Row<'_>) -> rusqlite::Result<(FunctionVersion, String, String)> {
    let config: String = row.get(2)?;
    let lifecycle: String = row.get(8)?;
    let ordinal: i64 = row.get(1)?;
    let size: i64 = row.get(5)?;
    Ok((
        FunctionVersion {
            name: row.get(0)?,
            version: Version::from_ordinal(ordinal as u64),
            // decoded by the caller so a bad document becomes StoreError::Corrupt
            config: placeholder_config(),
            code: CodeRef {
                sha256_hex: row.get(3)?,
                sha256_b64: row.get(4)?,
                size: size as u64,
            },
            revision_id: row.get(6)?,
            last_modified: row.get(7)?,
            // decoded by the caller, like the config
            lifecycle: Lifecycle::Settled,
        },
        config,
        lifecycle,
    ))
}

fn placeholder_config() -> FunctionConfig {
    FunctionConfig::default()
}

fn decode(
    (mut v, config, lifecycle): (FunctionVersion, String, String),
) -> Result<FunctionVersion, StoreError> {
    v.config = serde_json::from_str(&config)
        .map_err(|e| StoreError::Corrupt(format!("config of {}:{}: {e}", v.name, v.version)))?;
    v.lifecycle = Lifecycle::parse(&lifecycle).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "lifecycle of {}:{}: {lifecycle}",
            v.name, v.version
        ))
    })?;
    Ok(v)
}

fn query_versions(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<FunctionVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, row_to_version)?;
    rows.map(|r| decode(r?)).collect()
}

fn get_version_tx(
    conn: &Connection,
    name: &str,
    version: Version,
) -> Result<Option<FunctionVersion>, StoreError> {
    let sql =
        format!("SELECT {COLS} FROM function_versions WHERE function_name = ?1 AND version = ?2");
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![name, version.ordinal() as i64], row_to_version)
        .optional()?;
    row.map(decode).transpose()
}

/// Writes `v`; an unsettled lifecycle settles at `settles_at` (epoch ms).
fn insert_version(
    tx: &Transaction<'_>,
    v: &FunctionVersion,
    settles_at: i64,
) -> Result<(), StoreError> {
    let config =
        serde_json::to_string(&v.config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        &format!("INSERT OR REPLACE INTO function_versions ({COLS}, settles_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            v.name,
            v.version.ordinal() as i64,
            config,
            v.code.sha256_hex,
            v.code.sha256_b64,
            v.code.size as i64,
            v.revision_id,
            v.last_modified,
            v.lifecycle.as_str(),
            settles_at
        ],
    )?;
    Ok(())
}

/// Publishes `latest` as the next version number unless the newest published version
/// already has the same code and configuration.
fn publish_tx(
    tx: &Transaction<'_>,
    latest: &FunctionVersion,
    description: Option<&str>,
    (lifecycle, settles_at): (Lifecycle, i64),
) -> Result<FunctionVersion, StoreError> {
    let last: i64 = tx.query_row(
        "SELECT last_version FROM functions WHERE name = ?1",
        [&latest.name],
        |r| r.get(0),
    )?;
    let newest: Option<i64> = tx
        .query_row(
            "SELECT MAX(version) FROM function_versions WHERE function_name = ?1 AND version > 0",
            [&latest.name],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if let Some(n) = newest {
        if let Some(prev) = get_version_tx(tx, &latest.name, Version::Published(n as u64))? {
            let same_config = FunctionConfig {
                description: String::new(),
                ..prev.config.clone()
            } == FunctionConfig {
                description: String::new(),
                ..latest.config.clone()
            };
            if same_config && prev.code == latest.code {
                return Ok(prev);
            }
        }
    }
    let n = last + 1;
    tx.execute(
        "UPDATE functions SET last_version = ?2 WHERE name = ?1",
        params![latest.name, n],
    )?;
    let mut v = latest.clone();
    v.version = Version::Published(n as u64);
    // The version is a frozen snapshot of $LATEST at this revision: same RevisionId.
    v.last_modified = now();
    // A new version is Pending until it settles, like a new function.
    v.lifecycle = lifecycle;
    if let Some(d) = description {
        v.config.description = d.to_string();
    }
    insert_version(tx, &v, settles_at)?;
    Ok(v)
}

fn require_function(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM functions WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    exists.map(|_| ()).ok_or(StoreError::NotFound)
}

impl SqliteStore {
    /// Opens (creating) `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            changes: AtomicU64::new(0),
            settle_ms: AtomicU64::new(0),
            transitions: true,
        })
    }

    /// The applied schema version.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let c = self.lock();
        Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied transaction (it rolls
        // back on drop), so the connection stays usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection for a write (see [`WriteGuard`]).
    fn write(&self) -> WriteGuard<'_> {
        WriteGuard {
            conn: self.lock(),
            changes: &self.changes,
        }
    }
}

/// Applies every migration above `user_version`, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current as usize > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "schema version {current} is newer than this Quiver knows ({}); upgrade Quiver",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(MIGRATIONS.len() as u32)
}

impl Store for SqliteStore {
    fn change_counter(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn create_function(&self, f: &NewFunction) -> Result<Written, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stamp = now();
        let inserted = tx.execute(
            "INSERT INTO functions (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![f.name, stamp],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists);
        }
        let settles_at = self.settles_at();
        let latest = FunctionVersion {
            name: f.name.clone(),
            version: Version::Latest,
            config: f.config.clone(),
            code: f.code.clone(),
            revision_id: new_revision(),
            last_modified: stamp,
            lifecycle: self.phase(Lifecycle::Creating),
        };
        insert_version(&tx, &latest, settles_at)?;
        for (k, v) in &f.tags {
            tx.execute(
                "INSERT INTO tags (function_name, key, value) VALUES (?1, ?2, ?3)",
                params![f.name, k, v],
            )?;
        }
        let published = if f.publish {
            Some(publish_tx(
                &tx,
                &latest,
                None,
                (self.phase(Lifecycle::Creating), settles_at),
            )?)
        } else {
            None
        };
        tx.commit()?;
        Ok(Written { latest, published })
    }

    fn get_version(
        &self,
        name: &str,
        version: Version,
    ) -> Result<Option<FunctionVersion>, StoreError> {
        self.settle_due()?;
        get_version_tx(&self.lock(), name, version)
    }

    fn get_alias(&self, name: &str, alias: &str) -> Result<Option<Alias>, StoreError> {
        self.get_alias_impl(name, alias)
    }

    fn create_alias(&self, name: &str, alias: &AliasDraft) -> Result<Alias, StoreError> {
        self.create_alias_impl(name, alias)
    }

    fn update_alias(
        &self,
        name: &str,
        alias: &AliasDraft,
        base_revision: &str,
    ) -> Result<Alias, StoreError> {
        self.update_alias_impl(name, alias, base_revision)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<bool, StoreError> {
        self.delete_alias_impl(name, alias)
    }

    fn list_aliases(
        &self,
        name: &str,
        version: Option<Version>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Alias>, StoreError> {
        self.list_aliases_impl(name, version, after, limit)
    }

    fn list_functions(
        &self,
        all_versions: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<FunctionVersion>, StoreError> {
        self.settle_due()?;
        let c = self.lock();
        let (name, ord) = after
            .map(|(n, v)| (n.as_str(), *v as i64))
            .unwrap_or(("", -1));
        let filter = if all_versions { "" } else { "version = 0 AND" };
        let sql = format!(
            "SELECT {COLS} FROM function_versions WHERE {filter} (function_name > ?1 OR (function_name = ?1 AND version > ?2)) \
             ORDER BY function_name, version LIMIT ?3"
        );
        query_versions(&c, &sql, params![name, ord, limit as i64])
    }

    fn list_versions(
        &self,
        name: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<FunctionVersion>, StoreError> {
        self.settle_due()?;
        let c = self.lock();
        require_function(&c, name)?;
        let after = after.map(|v| v as i64).unwrap_or(-1);
        let sql = format!(
            "SELECT {COLS} FROM function_versions WHERE function_name = ?1 AND version > ?2 ORDER BY version LIMIT ?3"
        );
        query_versions(&c, &sql, params![name, after, limit as i64])
    }

    fn update_latest(&self, name: &str, u: &LatestUpdate) -> Result<Written, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        lifecycle::settle_due_tx(&tx, lifecycle::now_ms())?;
        let current = get_version_tx(&tx, name, Version::Latest)?.ok_or(StoreError::NotFound)?;
        if current.lifecycle == Lifecycle::Updating {
            return Err(StoreError::UpdateInProgress);
        }
        if current.revision_id != u.base_revision {
            return Err(StoreError::RevisionMismatch {
                current: current.revision_id,
            });
        }
        let settles_at = self.settles_at();
        let latest = FunctionVersion {
            name: name.to_string(),
            version: Version::Latest,
            config: u.config.clone(),
            code: u.code.clone(),
            revision_id: new_revision(),
            last_modified: now(),
            lifecycle: self.phase(Lifecycle::Updating),
        };
        insert_version(&tx, &latest, settles_at)?;
        let published = if u.publish {
            Some(publish_tx(
                &tx,
                &latest,
                None,
                (self.phase(Lifecycle::Creating), settles_at),
            )?)
        } else {
            None
        };
        tx.commit()?;
        Ok(Written { latest, published })
    }

    fn publish_version(
        &self,
        name: &str,
        req: &PublishRequest,
    ) -> Result<FunctionVersion, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        lifecycle::settle_due_tx(&tx, lifecycle::now_ms())?;
        let latest = get_version_tx(&tx, name, Version::Latest)?.ok_or(StoreError::NotFound)?;
        if latest.lifecycle == Lifecycle::Updating {
            return Err(StoreError::UpdateInProgress);
        }
        if let Some(rev) = &req.revision_id {
            if rev != &latest.revision_id {
                return Err(StoreError::RevisionMismatch {
                    current: latest.revision_id,
                });
            }
        }
        if let Some(sha) = &req.code_sha256 {
            if sha != &latest.code.sha256_b64 {
                return Err(StoreError::CodeShaMismatch {
                    current: latest.code.sha256_b64,
                });
            }
        }
        let v = publish_tx(
            &tx,
            &latest,
            req.description.as_deref(),
            (self.phase(Lifecycle::Creating), self.settles_at()),
        )?;
        tx.commit()?;
        Ok(v)
    }

    fn delete_function(&self, name: &str) -> Result<(), StoreError> {
        let c = self.write();
        let n = c.execute("DELETE FROM functions WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn delete_version(&self, name: &str, version: u64) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let aliases: Vec<String> = aliases::all_aliases_tx(&tx, name)?
            .into_iter()
            .filter(|a| a.references(version))
            .map(|a| a.name)
            .collect();
        if !aliases.is_empty() {
            return Err(StoreError::Conflict(format!(
                "Unable to delete version because the following aliases reference it: [{}]",
                aliases.join(", ")
            )));
        }
        let n = tx.execute(
            "DELETE FROM function_versions WHERE function_name = ?1 AND version = ?2 AND version > 0",
            params![name, version as i64],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // The version's async settings go with it (a later version never reuses the number).
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
            params![name, version.to_string()],
        )?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![name, version.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let c = self.lock();
        require_function(&c, name)?;
        let mut stmt = c.prepare_cached("SELECT key, value FROM tags WHERE function_name = ?1")?;
        let rows = stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn tag(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, name)?;
        for (k, v) in tags {
            tx.execute(
                "INSERT INTO tags (function_name, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(function_name, key) DO UPDATE SET value = excluded.value",
                params![name, k, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn untag(&self, name: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, name)?;
        for k in keys {
            tx.execute(
                "DELETE FROM tags WHERE function_name = ?1 AND key = ?2",
                params![name, k],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn reserved_concurrency(&self, name: &str) -> Result<Option<u32>, StoreError> {
        concurrency::get(&self.lock(), name)
    }

    fn recursive_loop(&self, name: &str) -> Result<RecursiveLoop, StoreError> {
        recursion::get(&self.lock(), name)
    }

    fn put_recursive_loop(&self, name: &str, value: RecursiveLoop) -> Result<(), StoreError> {
        recursion::put(&self.write(), name, value)
    }

    fn put_reserved_concurrency(
        &self,
        name: &str,
        reserved: Option<u64>,
        check: &dyn Fn(u64) -> Result<(), quiver_model::ModelError>,
    ) -> Result<u64, StoreError> {
        concurrency::put(&mut self.write(), name, reserved, check)
    }

    fn total_reserved_concurrency(&self) -> Result<u64, StoreError> {
        concurrency::total(&self.lock())
    }

    fn usage(&self) -> Result<Usage, StoreError> {
        concurrency::usage(&self.lock())
    }

    fn referenced_code(&self) -> Result<HashSet<String>, StoreError> {
        let c = self.lock();
        // An image function carries no code package (its code is the image): ''.
        let mut stmt = c.prepare(
            "SELECT DISTINCT code_sha256 FROM function_versions WHERE code_sha256 != ''",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        let mut all: HashSet<String> = rows.collect::<Result<_, _>>()?;
        all.extend(layers::referenced(&c)?);
        Ok(all)
    }

    fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
        config: &EventInvokeConfig,
    ) -> Result<StoredEventInvokeConfig, StoreError> {
        self.put_event_invoke_config_impl(name, qualifier, config)
    }

    fn get_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<Option<StoredEventInvokeConfig>, StoreError> {
        self.get_event_invoke_config_impl(name, qualifier)
    }

    fn delete_event_invoke_config(&self, name: &str, qualifier: &str) -> Result<bool, StoreError> {
        self.delete_event_invoke_config_impl(name, qualifier)
    }

    fn list_event_invoke_configs(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEventInvokeConfig>, StoreError> {
        self.list_event_invoke_configs_impl(name, after, limit)
    }
}

#[cfg(test)]
mod tests;
