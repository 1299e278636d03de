//! The SQLite side of EventInvokeConfigs (migration 2): one row per function and
//! qualifier string, the config as a JSON document.

use quiver_model::{EventInvokeConfig, StoredEventInvokeConfig};
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::{require_function, SqliteStore};
use crate::StoreError;

fn epoch_now() -> f64 {
    // Millisecond precision, like Lambda's `1569284520.333`.
    let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    ms as f64 / 1000.0
}

fn row_to_event_config(row: &Row<'_>) -> rusqlite::Result<(StoredEventInvokeConfig, String)> {
    Ok((
        StoredEventInvokeConfig {
            function_name: row.get(0)?,
            qualifier: row.get(1)?,
            config: EventInvokeConfig::default(),
            last_modified: row.get(3)?,
        },
        row.get(2)?,
    ))
}

fn decode_event_config(
    (mut s, config): (StoredEventInvokeConfig, String),
) -> Result<StoredEventInvokeConfig, StoreError> {
    s.config = serde_json::from_str(&config).map_err(|e| {
        StoreError::Corrupt(format!(
            "event invoke config of {}:{}: {e}",
            s.function_name, s.qualifier
        ))
    })?;
    Ok(s)
}

const EIC_COLS: &str = "function_name, qualifier, config, last_modified";

impl SqliteStore {
    pub(super) fn put_event_invoke_config_impl(
        &self,
        name: &str,
        qualifier: &str,
        config: &EventInvokeConfig,
    ) -> Result<StoredEventInvokeConfig, StoreError> {
        let doc = serde_json::to_string(config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let stored = StoredEventInvokeConfig {
            function_name: name.to_string(),
            qualifier: qualifier.to_string(),
            config: config.clone(),
            last_modified: epoch_now(),
        };
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, name)?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO event_invoke_configs ({EIC_COLS}) VALUES (?1, ?2, ?3, ?4)"
            ),
            params![name, qualifier, doc, stored.last_modified],
        )?;
        tx.commit()?;
        Ok(stored)
    }

    pub(super) fn get_event_invoke_config_impl(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<Option<StoredEventInvokeConfig>, StoreError> {
        let c = self.lock();
        let sql = format!("SELECT {EIC_COLS} FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2");
        let row = c
            .prepare_cached(&sql)?
            .query_row(params![name, qualifier], row_to_event_config)
            .optional()?;
        row.map(decode_event_config).transpose()
    }

    pub(super) fn delete_event_invoke_config_impl(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        let c = self.write();
        let n = c.execute(
            "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
            params![name, qualifier],
        )?;
        Ok(n > 0)
    }

    pub(super) fn list_event_invoke_configs_impl(
        &self,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEventInvokeConfig>, StoreError> {
        let c = self.lock();
        require_function(&c, name)?;
        let sql = format!(
            "SELECT {EIC_COLS} FROM event_invoke_configs WHERE function_name = ?1 AND qualifier > ?2 \
             ORDER BY qualifier LIMIT ?3"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![name, after.unwrap_or(""), limit as i64],
            row_to_event_config,
        )?;
        rows.map(|r| decode_event_config(r?)).collect()
    }
}
