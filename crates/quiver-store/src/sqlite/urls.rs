//! Function URL configs in SQLite (migration 0008): the unqualified function's config is
//! stored under qualifier `''`; the alias's existence is checked in the create's
//! IMMEDIATE transaction, and the alias delete trigger removes its config. The invoke
//! mode is a later column (migration 0013, `BUFFERED` for rows written before it).

use quiver_model::format_iso_millis;
use quiver_model::function_url::{
    AuthType, Cors, FunctionUrlChange, FunctionUrlConfig, InvokeMode,
};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{require_function, SqliteStore};
use crate::urls::UrlStore;
use crate::StoreError;

const COLS: &str =
    "function_name, qualifier, url_id, auth_type, cors, creation_time, last_modified, invoke_mode";

fn now() -> String {
    format_iso_millis(time::OffsetDateTime::now_utc())
}

type RawRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn decode(
    (name, q, id, auth, cors, created, modified, mode): RawRow,
) -> Result<FunctionUrlConfig, StoreError> {
    let corrupt = |m: String| StoreError::Corrupt(format!("function URL {id}: {m}"));
    let auth_type = match auth.as_str() {
        "NONE" => AuthType::None,
        "AWS_IAM" => AuthType::AwsIam,
        other => return Err(corrupt(format!("auth type {other}"))),
    };
    let invoke_mode =
        InvokeMode::from_name(&mode).ok_or_else(|| corrupt(format!("invoke mode {mode}")))?;
    let cors: Option<Cors> = cors
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(FunctionUrlConfig {
        url_id: id.clone(),
        function_name: name,
        qualifier: (!q.is_empty()).then_some(q),
        auth_type,
        cors,
        invoke_mode,
        creation_time: created,
        last_modified_time: modified,
    })
}

fn one(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Option<FunctionUrlConfig>, StoreError> {
    let sql = format!("SELECT {COLS} FROM function_urls WHERE {filter}");
    let row = conn.prepare_cached(&sql)?.query_row(args, raw).optional()?;
    row.map(decode).transpose()
}

fn cors_doc(cors: &Option<Cors>) -> Result<Option<String>, StoreError> {
    cors.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl UrlStore for SqliteStore {
    fn create_function_url(&self, config: &FunctionUrlConfig) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, &config.function_name)?;
        if let Some(alias) = &config.qualifier {
            let found: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM aliases WHERE function_name = ?1 AND name = ?2",
                    params![config.function_name, alias],
                    |r| r.get(0),
                )
                .optional()?;
            found.ok_or(StoreError::NotFound)?;
        }
        let q = config.qualifier.as_deref().unwrap_or("");
        let taken: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
                params![config.function_name, q],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        tx.execute(
            &format!("INSERT INTO function_urls ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                config.function_name,
                q,
                config.url_id,
                config.auth_type.as_str(),
                cors_doc(&config.cors)?,
                config.creation_time,
                config.last_modified_time,
                config.invoke_mode.as_str()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_function_url(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<FunctionUrlConfig>, StoreError> {
        let c = self.lock();
        one(
            &c,
            "function_name = ?1 AND qualifier = ?2",
            params![name, qualifier.unwrap_or("")],
        )
    }

    fn update_function_url(
        &self,
        name: &str,
        qualifier: Option<&str>,
        change: &FunctionUrlChange,
    ) -> Result<FunctionUrlConfig, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let q = qualifier.unwrap_or("");
        let mut cfg = one(
            &tx,
            "function_name = ?1 AND qualifier = ?2",
            params![name, q],
        )?
        .ok_or(StoreError::NotFound)?;
        if let Some(a) = change.auth_type {
            cfg.auth_type = a;
        }
        if change.cors.is_some() {
            cfg.cors = change.cors.clone();
        }
        if let Some(m) = change.invoke_mode {
            cfg.invoke_mode = m;
        }
        cfg.last_modified_time = now();
        tx.execute(
            "UPDATE function_urls SET auth_type = ?3, cors = ?4, last_modified = ?5, \
             invoke_mode = ?6 WHERE function_name = ?1 AND qualifier = ?2",
            params![
                name,
                q,
                cfg.auth_type.as_str(),
                cors_doc(&cfg.cors)?,
                cfg.last_modified_time,
                cfg.invoke_mode.as_str()
            ],
        )?;
        tx.commit()?;
        Ok(cfg)
    }

    fn delete_function_url(&self, name: &str, qualifier: Option<&str>) -> Result<bool, StoreError> {
        let c = self.write();
        let n = c.execute(
            "DELETE FROM function_urls WHERE function_name = ?1 AND qualifier = ?2",
            params![name, qualifier.unwrap_or("")],
        )?;
        Ok(n > 0)
    }

    fn list_function_urls(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FunctionUrlConfig>, StoreError> {
        let c = self.lock();
        require_function(&c, name)?;
        let sql = format!(
            "SELECT {COLS} FROM function_urls WHERE function_name = ?1 AND (?2 IS NULL OR qualifier > ?2) \
             ORDER BY qualifier LIMIT ?3"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![name, after, limit as i64], raw)?;
        rows.map(|r| decode(r?)).collect()
    }

    fn function_url_by_id(&self, url_id: &str) -> Result<Option<FunctionUrlConfig>, StoreError> {
        let c = self.lock();
        one(&c, "url_id = ?1", params![url_id])
    }
}
