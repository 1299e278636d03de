//! Event source mappings in SQLite (migration `0014_event_source_mappings.sql`): the
//! value as one JSON document; the foreign key removes a function's mappings with it.

use std::collections::BTreeMap;

use quiver_model::event_source_mapping::EventSourceMapping;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{require_function, SqliteStore};
use crate::mappings::{MappingEdit, MappingStore};
use crate::StoreError;

fn decode(uuid: &str, doc: &str) -> Result<EventSourceMapping, StoreError> {
    serde_json::from_str(doc)
        .map_err(|e| StoreError::Corrupt(format!("event source mapping {uuid}: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read(conn: &Connection, uuid: &str) -> Result<Option<EventSourceMapping>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM event_source_mappings WHERE uuid = ?1",
            params![uuid],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(uuid, &d)).transpose()
}

impl MappingStore for SqliteStore {
    fn create_mapping(&self, m: &EventSourceMapping) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_function(&tx, &m.function_name)?;
        let mut stmt = tx.prepare(
            "SELECT uuid, doc FROM event_source_mappings \
             WHERE event_source_arn = ?1 AND function_name = ?2",
        )?;
        let rows = stmt.query_map(params![m.event_source_arn, m.function_name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (uuid, doc) = row?;
            if decode(&uuid, &doc)?.qualifier == m.qualifier {
                return Err(StoreError::AlreadyExists);
            }
        }
        drop(stmt);
        tx.execute(
            "INSERT INTO event_source_mappings (uuid, function_name, event_source_arn, doc) \
             VALUES (?1, ?2, ?3, ?4)",
            params![m.uuid, m.function_name, m.event_source_arn, encode(m)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_mapping(&self, uuid: &str) -> Result<Option<EventSourceMapping>, StoreError> {
        read(&self.lock(), uuid)
    }

    fn list_mappings(&self) -> Result<Vec<EventSourceMapping>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare("SELECT uuid, doc FROM event_source_mappings ORDER BY uuid")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (uuid, doc) = row?;
            out.push(decode(&uuid, &doc)?);
        }
        Ok(out)
    }

    fn update_mapping(
        &self,
        uuid: &str,
        edit: MappingEdit<'_>,
    ) -> Result<EventSourceMapping, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut m = read(&tx, uuid)?.ok_or(StoreError::NotFound)?;
        edit(&mut m)?;
        tx.execute(
            "UPDATE event_source_mappings SET doc = ?2 WHERE uuid = ?1",
            params![uuid, encode(&m)?],
        )?;
        tx.commit()?;
        Ok(m)
    }

    fn delete_mapping(&self, uuid: &str) -> Result<bool, StoreError> {
        let n = self.write().execute(
            "DELETE FROM event_source_mappings WHERE uuid = ?1",
            params![uuid],
        )?;
        Ok(n > 0)
    }

    fn mapping_tags(&self, uuid: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let doc: Option<String> = self
            .lock()
            .query_row(
                "SELECT tags FROM event_source_mappings WHERE uuid = ?1",
                params![uuid],
                |r| r.get(0),
            )
            .optional()?;
        let doc = doc.ok_or(StoreError::NotFound)?;
        serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn put_mapping_tags(
        &self,
        uuid: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let n = self.write().execute(
            "UPDATE event_source_mappings SET tags = ?2 WHERE uuid = ?1",
            params![uuid, encode(tags)?],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_model::event_source_mapping::{MappingSettings, MappingState};

    fn mapping(uuid: &str, function: &str) -> EventSourceMapping {
        EventSourceMapping {
            uuid: uuid.into(),
            event_source_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            function_name: function.into(),
            qualifier: None,
            enabled: true,
            state: MappingState::Creating,
            state_transition_reason: "USER_INITIATED".into(),
            last_modified: 1.0,
            last_processing_result: "No records processed".into(),
            settings: MappingSettings::default(),
        }
    }

    #[test]
    fn unknown_function_is_not_found() {
        let s = SqliteStore::open_in_memory().unwrap();
        assert!(matches!(
            s.create_mapping(&mapping("u1", "nope")),
            Err(StoreError::NotFound)
        ));
        assert!(s.get_mapping("u1").unwrap().is_none());
        assert!(!s.delete_mapping("u1").unwrap());
        assert!(matches!(s.mapping_tags("u1"), Err(StoreError::NotFound)));
    }
}
