//! HTTP APIs in SQLite (migration `0009_http_apis.sql`): one JSON document per API,
//! edited under an IMMEDIATE transaction so two edits never interleave.

use quiver_model::http_api::HttpApi;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use crate::http_apis::{HttpApiEdit, HttpApiStore};
use crate::StoreError;

fn decode(id: &str, doc: &str) -> Result<HttpApi, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("HTTP API {id}: {e}")))
}

fn encode(api: &HttpApi) -> Result<String, StoreError> {
    serde_json::to_string(api).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read(conn: &Connection, api_id: &str) -> Result<Option<HttpApi>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM http_apis WHERE api_id = ?1",
            params![api_id],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(api_id, &d)).transpose()
}

impl HttpApiStore for SqliteStore {
    fn create_http_api(&self, api: &HttpApi) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read(&tx, &api.api_id)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        tx.execute(
            "INSERT INTO http_apis (api_id, doc) VALUES (?1, ?2)",
            params![api.api_id, encode(api)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_http_api(&self, api_id: &str) -> Result<Option<HttpApi>, StoreError> {
        read(&self.lock(), api_id)
    }

    fn list_http_apis(&self) -> Result<Vec<HttpApi>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare("SELECT api_id, doc FROM http_apis ORDER BY api_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row?;
            out.push(decode(&id, &doc)?);
        }
        Ok(out)
    }

    fn update_http_api(&self, api_id: &str, edit: HttpApiEdit<'_>) -> Result<HttpApi, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut api = read(&tx, api_id)?.ok_or(StoreError::NotFound)?;
        edit(&mut api)?;
        tx.execute(
            "UPDATE http_apis SET doc = ?2 WHERE api_id = ?1",
            params![api_id, encode(&api)?],
        )?;
        tx.commit()?;
        Ok(api)
    }

    fn delete_http_api(&self, api_id: &str) -> Result<bool, StoreError> {
        let n = self
            .write()
            .execute("DELETE FROM http_apis WHERE api_id = ?1", params![api_id])?;
        Ok(n > 0)
    }
}
