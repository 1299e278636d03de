//! Code signing configs in SQLite (migration 4): a JSON document per config and the
//! `functions.code_signing_config_id` column. Each write is one IMMEDIATE transaction
//! so "is it still used / does it still exist" is checked where it is written.

use quiver_model::code_signing::CodeSigningConfig;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{require_function, SqliteStore};
use crate::signing::SigningStore;
use crate::StoreError;

fn decode(id: &str, doc: &str) -> Result<CodeSigningConfig, StoreError> {
    serde_json::from_str(doc)
        .map_err(|e| StoreError::Corrupt(format!("code signing config {id}: {e}")))
}

fn encode(c: &CodeSigningConfig) -> Result<String, StoreError> {
    serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn require_config(conn: &Connection, id: &str) -> Result<(), StoreError> {
    conn.query_row(
        "SELECT 1 FROM code_signing_configs WHERE id = ?1",
        [id],
        |_| Ok(()),
    )
    .optional()?
    .ok_or_else(|| StoreError::CodeSigningConfigNotFound(id.to_string()))
}

impl SigningStore for SqliteStore {
    fn create_code_signing_config(&self, c: &CodeSigningConfig) -> Result<(), StoreError> {
        self.write().execute(
            "INSERT INTO code_signing_configs (id, config) VALUES (?1, ?2)",
            params![c.id, encode(c)?],
        )?;
        Ok(())
    }

    fn code_signing_config(&self, id: &str) -> Result<Option<CodeSigningConfig>, StoreError> {
        let doc: Option<String> = self
            .lock()
            .query_row(
                "SELECT config FROM code_signing_configs WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        doc.map(|d| decode(id, &d)).transpose()
    }

    fn list_code_signing_configs(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CodeSigningConfig>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare(
            "SELECT id, config FROM code_signing_configs WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|r| {
            let (id, doc) = r?;
            decode(&id, &doc)
        })
        .collect()
    }

    fn replace_code_signing_config(&self, c: &CodeSigningConfig) -> Result<(), StoreError> {
        let n = self.write().execute(
            "UPDATE code_signing_configs SET config = ?2 WHERE id = ?1",
            params![c.id, encode(c)?],
        )?;
        if n == 0 {
            return Err(StoreError::CodeSigningConfigNotFound(c.id.clone()));
        }
        Ok(())
    }

    fn delete_code_signing_config(&self, id: &str) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_config(&tx, id)?;
        let used: Option<String> = tx
            .query_row(
                "SELECT name FROM functions WHERE code_signing_config_id = ?1 ORDER BY name LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(name) = used {
            return Err(StoreError::Conflict(format!(
                "The code signing configuration cannot be deleted because it is used by the following functions: {name}"
            )));
        }
        tx.execute("DELETE FROM code_signing_configs WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    fn function_code_signing_config(&self, name: &str) -> Result<Option<String>, StoreError> {
        let v: Option<Option<String>> = self
            .lock()
            .query_row(
                "SELECT code_signing_config_id FROM functions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        v.ok_or(StoreError::NotFound)
    }

    fn set_function_code_signing_config(
        &self,
        name: &str,
        id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, name)?;
        if let Some(id) = id {
            require_config(&tx, id)?;
        }
        tx.execute(
            "UPDATE functions SET code_signing_config_id = ?2 WHERE name = ?1",
            params![name, id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn functions_by_code_signing_config(
        &self,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let c = self.lock();
        require_config(&c, id)?;
        let mut stmt = c.prepare(
            "SELECT name FROM functions WHERE code_signing_config_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![id, after.unwrap_or(""), limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
