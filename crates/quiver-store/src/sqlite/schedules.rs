//! Schedules and schedule groups in SQLite (migration `0010_schedules.sql`): one JSON
//! document per definition, the last fire beside it; deleting a group cascades to its
//! schedules (foreign keys are on).

use quiver_model::schedule::{Schedule, ScheduleGroup};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;

use super::SqliteStore;
use crate::schedules::{GroupEdit, ScheduleStore, StoredSchedule};
use crate::StoreError;

fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read_group(conn: &Connection, name: &str) -> Result<Option<ScheduleGroup>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM schedule_groups WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(&format!("schedule group {name}"), &d))
        .transpose()
}

fn stored(
    group: &str,
    name: &str,
    doc: &str,
    last: Option<i64>,
) -> Result<StoredSchedule, StoreError> {
    Ok(StoredSchedule {
        schedule: decode(&format!("schedule {group}/{name}"), doc)?,
        last_fire_ms: last,
    })
}

impl ScheduleStore for SqliteStore {
    fn create_schedule_group(&self, group: &ScheduleGroup) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read_group(&tx, &group.name)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        tx.execute(
            "INSERT INTO schedule_groups (name, doc) VALUES (?1, ?2)",
            params![group.name, encode(group)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_schedule_group(&self, name: &str) -> Result<Option<ScheduleGroup>, StoreError> {
        read_group(&self.lock(), name)
    }

    fn list_schedule_groups(&self) -> Result<Vec<ScheduleGroup>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare("SELECT name, doc FROM schedule_groups ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, doc) = row?;
            out.push(decode(&format!("schedule group {name}"), &doc)?);
        }
        Ok(out)
    }

    fn update_schedule_group(&self, name: &str, edit: GroupEdit<'_>) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut group = read_group(&tx, name)?.ok_or(StoreError::NotFound)?;
        edit(&mut group)?;
        tx.execute(
            "UPDATE schedule_groups SET doc = ?2 WHERE name = ?1",
            params![name, encode(&group)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delete_schedule_group(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .write()
            .execute("DELETE FROM schedule_groups WHERE name = ?1", params![name])?;
        Ok(n > 0)
    }

    fn create_schedule(&self, s: &Schedule) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read_group(&tx, &s.group)?.is_none() {
            return Err(StoreError::NotFound);
        }
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM schedules WHERE group_name = ?1 AND name = ?2",
                params![s.group, s.name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        tx.execute(
            "INSERT INTO schedules (group_name, name, doc) VALUES (?1, ?2, ?3)",
            params![s.group, s.name, encode(s)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_schedule(&self, group: &str, name: &str) -> Result<Option<StoredSchedule>, StoreError> {
        let row: Option<(String, Option<i64>)> = self
            .lock()
            .query_row(
                "SELECT doc, last_fire_ms FROM schedules WHERE group_name = ?1 AND name = ?2",
                params![group, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(doc, last)| stored(group, name, &doc, last))
            .transpose()
    }

    fn list_schedules(&self) -> Result<Vec<StoredSchedule>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare(
            "SELECT group_name, name, doc, last_fire_ms FROM schedules ORDER BY group_name, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (group, name, doc, last) = row?;
            out.push(stored(&group, &name, &doc, last)?);
        }
        Ok(out)
    }

    fn replace_schedule(&self, s: &Schedule) -> Result<(), StoreError> {
        let n = self.write().execute(
            "UPDATE schedules SET doc = ?3 WHERE group_name = ?1 AND name = ?2",
            params![s.group, s.name, encode(s)?],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn delete_schedule(&self, group: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.write().execute(
            "DELETE FROM schedules WHERE group_name = ?1 AND name = ?2",
            params![group, name],
        )?;
        Ok(n > 0)
    }

    fn record_schedule_fire(
        &self,
        group: &str,
        name: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.write().execute(
            "UPDATE schedules SET last_fire_ms = ?3 WHERE group_name = ?1 AND name = ?2",
            params![group, name, at_ms],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_model::schedule::{ScheduleTarget, DEFAULT_GROUP};

    fn schedule(group: &str, name: &str) -> Schedule {
        Schedule {
            group: group.into(),
            name: name.into(),
            expression: "rate(1 minute)".into(),
            timezone: None,
            description: None,
            enabled: true,
            flexible_window_minutes: None,
            target: ScheduleTarget {
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                input: None,
                maximum_event_age_in_seconds: None,
                maximum_retry_attempts: None,
                dead_letter_arn: None,
                sqs_message_group_id: None,
            },
            start_date_ms: None,
            end_date_ms: None,
            delete_after_completion: false,
            kms_key_arn: None,
            client_token: None,
            created_ms: 1,
            modified_ms: 1,
        }
    }

    #[test]
    fn schedules_and_groups_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            assert!(s.get_schedule_group(DEFAULT_GROUP).unwrap().is_some());
            assert!(matches!(
                s.create_schedule(&schedule("nope", "a")),
                Err(StoreError::NotFound)
            ));
            s.create_schedule(&schedule(DEFAULT_GROUP, "a")).unwrap();
            assert!(matches!(
                s.create_schedule(&schedule(DEFAULT_GROUP, "a")),
                Err(StoreError::AlreadyExists)
            ));
            assert!(s.record_schedule_fire(DEFAULT_GROUP, "a", 42).unwrap());
            let mut changed = schedule(DEFAULT_GROUP, "a");
            changed.expression = "rate(2 minutes)".into();
            s.replace_schedule(&changed).unwrap();
            let g = ScheduleGroup {
                name: "g".into(),
                tags: Default::default(),
                client_token: None,
                created_ms: 1,
                modified_ms: 1,
            };
            s.create_schedule_group(&g).unwrap();
            s.create_schedule(&schedule("g", "b")).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let a = s.get_schedule(DEFAULT_GROUP, "a").unwrap().unwrap();
        assert_eq!(a.last_fire_ms, Some(42));
        assert_eq!(a.schedule.expression, "rate(2 minutes)");
        assert_eq!(s.list_schedules().unwrap().len(), 2);
        // Deleting a group takes its schedules with it.
        assert!(s.delete_schedule_group("g").unwrap());
        assert_eq!(s.list_schedules().unwrap().len(), 1);
        assert!(s.delete_schedule(DEFAULT_GROUP, "a").unwrap());
        assert!(!s.delete_schedule(DEFAULT_GROUP, "a").unwrap());
        assert!(!s.record_schedule_fire(DEFAULT_GROUP, "a", 43).unwrap());
    }
}
