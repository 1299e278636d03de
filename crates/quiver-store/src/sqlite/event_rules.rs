//! EventBridge buses and rules in SQLite (migration `0012_event_rules.sql`): one JSON
//! document per bus and per rule, edited under IMMEDIATE transactions.

use quiver_events::bridge::{EventBus, Rule};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SqliteStore;
use crate::event_rules::{Edit, EventRuleStore};
use crate::StoreError;

fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read_bus(conn: &Connection, name: &str) -> Result<Option<EventBus>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM event_buses WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(&format!("event bus {name}"), &d))
        .transpose()
}

fn read_rule(conn: &Connection, bus: &str, name: &str) -> Result<Option<Rule>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM event_rules WHERE bus = ?1 AND name = ?2",
            params![bus, name],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(&format!("rule {bus}/{name}"), &d))
        .transpose()
}

impl EventRuleStore for SqliteStore {
    fn create_event_bus(&self, bus: &EventBus) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read_bus(&tx, &bus.name)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        tx.execute(
            "INSERT INTO event_buses (name, doc) VALUES (?1, ?2)",
            params![bus.name, encode(bus)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_event_bus(&self, name: &str) -> Result<Option<EventBus>, StoreError> {
        read_bus(&self.lock(), name)
    }

    fn list_event_buses(&self) -> Result<Vec<EventBus>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare("SELECT name, doc FROM event_buses ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, doc) = row?;
            out.push(decode(&format!("event bus {name}"), &doc)?);
        }
        Ok(out)
    }

    fn update_event_bus(
        &self,
        name: &str,
        edit: Edit<'_, EventBus>,
    ) -> Result<EventBus, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut bus = read_bus(&tx, name)?.ok_or(StoreError::NotFound)?;
        edit(&mut bus)?;
        tx.execute(
            "UPDATE event_buses SET doc = ?2 WHERE name = ?1",
            params![name, encode(&bus)?],
        )?;
        tx.commit()?;
        Ok(bus)
    }

    fn delete_event_bus(&self, name: &str) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM event_rules WHERE bus = ?1", params![name])?;
        let n = tx.execute("DELETE FROM event_buses WHERE name = ?1", params![name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn put_event_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read_bus(&tx, &rule.bus)?.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "INSERT INTO event_rules (bus, name, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (bus, name) DO UPDATE SET doc = excluded.doc",
            params![rule.bus, rule.name, encode(rule)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn get_event_rule(&self, bus: &str, name: &str) -> Result<Option<Rule>, StoreError> {
        read_rule(&self.lock(), bus, name)
    }

    fn list_event_rules(&self, bus: &str) -> Result<Vec<Rule>, StoreError> {
        let c = self.lock();
        let mut stmt =
            c.prepare("SELECT name, doc FROM event_rules WHERE bus = ?1 ORDER BY name")?;
        let rows = stmt.query_map(params![bus], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, doc) = row?;
            out.push(decode(&format!("rule {bus}/{name}"), &doc)?);
        }
        Ok(out)
    }

    fn update_event_rule(
        &self,
        bus: &str,
        name: &str,
        edit: Edit<'_, Rule>,
    ) -> Result<Rule, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut rule = read_rule(&tx, bus, name)?.ok_or(StoreError::NotFound)?;
        edit(&mut rule)?;
        tx.execute(
            "UPDATE event_rules SET doc = ?3 WHERE bus = ?1 AND name = ?2",
            params![bus, name, encode(&rule)?],
        )?;
        tx.commit()?;
        Ok(rule)
    }

    fn delete_event_rule(&self, bus: &str, name: &str, force: bool) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(rule) = read_rule(&tx, bus, name)? else {
            return Ok(false);
        };
        if !rule.targets.is_empty() && !force {
            return Err(StoreError::Conflict(
                "Rule can't be deleted since it has targets.".into(),
            ));
        }
        tx.execute(
            "DELETE FROM event_rules WHERE bus = ?1 AND name = ?2",
            params![bus, name],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_events::bridge::{RuleState, Target};

    fn rule(bus: &str, name: &str) -> Rule {
        Rule {
            bus: bus.into(),
            name: name.into(),
            event_pattern: Some("{\"source\":[\"a\"]}".into()),
            schedule_expression: None,
            state: RuleState::Enabled,
            description: None,
            role_arn: None,
            targets: vec![],
            tags: Default::default(),
        }
    }

    #[test]
    fn buses_and_rules_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("m.db")).unwrap();
        assert!(s.get_event_bus("default").unwrap().is_some());
        assert!(matches!(
            s.put_event_rule(&rule("nope", "r")),
            Err(StoreError::NotFound)
        ));
        s.put_event_rule(&rule("default", "r")).unwrap();
        let mut with_target = rule("default", "r");
        with_target.targets.push(Target {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-1:0:q".into(),
            input: None,
            input_path: None,
            input_transformer: None,
            retry_policy: None,
            dead_letter_config: None,
            role_arn: None,
        });
        s.put_event_rule(&with_target).unwrap();
        assert_eq!(
            s.get_event_rule("default", "r").unwrap().unwrap(),
            with_target
        );
        assert!(matches!(
            s.delete_event_rule("default", "r", false),
            Err(StoreError::Conflict(_))
        ));
        let disabled = s
            .update_event_rule("default", "r", &mut |r| {
                r.state = RuleState::Disabled;
                Ok(())
            })
            .unwrap();
        assert_eq!(disabled.state, RuleState::Disabled);
        assert!(s.delete_event_rule("default", "r", true).unwrap());
        assert!(!s.delete_event_rule("default", "r", false).unwrap());
        let bus = EventBus {
            name: "b".into(),
            description: None,
            created: 1,
            tags: Default::default(),
        };
        s.create_event_bus(&bus).unwrap();
        assert!(matches!(
            s.create_event_bus(&bus),
            Err(StoreError::AlreadyExists)
        ));
        s.put_event_rule(&rule("b", "x")).unwrap();
        assert_eq!(s.list_event_buses().unwrap().len(), 2);
        assert!(s.delete_event_bus("b").unwrap());
        assert!(s.list_event_rules("b").unwrap().is_empty());
    }
}
