//! SNS topics and subscriptions in SQLite (migration `0011_sns.sql`): one JSON
//! document per row, edited under an IMMEDIATE transaction so two edits never interleave.

use quiver_model::sns::{Subscription, Topic};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::SqliteStore;
use crate::sns::{SnsStore, SubscriptionEdit, TopicEdit};
use crate::StoreError;

fn decode<T: DeserializeOwned>(key: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("SNS {key}: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read_topic(conn: &Connection, name: &str) -> Result<Option<Topic>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM sns_topics WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(name, &d)).transpose()
}

fn read_subscription(conn: &Connection, arn: &str) -> Result<Option<Subscription>, StoreError> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM sns_subscriptions WHERE arn = ?1",
            params![arn],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| decode(arn, &d)).transpose()
}

fn collect<T: DeserializeOwned>(
    rows: impl Iterator<Item = rusqlite::Result<(String, String)>>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        let (key, doc) = row?;
        out.push(decode(&key, &doc)?);
    }
    Ok(out)
}

impl SnsStore for SqliteStore {
    fn create_topic(&self, topic: &Topic) -> Result<(Topic, bool), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(existing) = read_topic(&tx, &topic.name)? {
            return Ok((existing, false));
        }
        tx.execute(
            "INSERT INTO sns_topics (name, doc) VALUES (?1, ?2)",
            params![topic.name, encode(topic)?],
        )?;
        tx.commit()?;
        Ok((topic.clone(), true))
    }

    fn get_topic(&self, name: &str) -> Result<Option<Topic>, StoreError> {
        read_topic(&self.lock(), name)
    }

    fn list_topics(&self, after: Option<&str>, limit: usize) -> Result<Vec<Topic>, StoreError> {
        let c = self.lock();
        let mut stmt =
            c.prepare("SELECT name, doc FROM sns_topics WHERE name > ?1 ORDER BY name LIMIT ?2")?;
        let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        collect(rows)
    }

    fn update_topic(&self, name: &str, edit: TopicEdit<'_>) -> Result<Topic, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut topic = read_topic(&tx, name)?.ok_or(StoreError::NotFound)?;
        edit(&mut topic)?;
        tx.execute(
            "UPDATE sns_topics SET doc = ?2 WHERE name = ?1",
            params![name, encode(&topic)?],
        )?;
        tx.commit()?;
        Ok(topic)
    }

    fn delete_topic(&self, name: &str) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM sns_subscriptions WHERE topic_name = ?1",
            params![name],
        )?;
        let n = tx.execute("DELETE FROM sns_topics WHERE name = ?1", params![name])?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn create_subscription(
        &self,
        topic_name: &str,
        sub: &Subscription,
    ) -> Result<(Subscription, bool), StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read_topic(&tx, topic_name)?.is_none() {
            return Err(StoreError::NotFound);
        }
        let existing: Vec<Subscription> = {
            let mut stmt =
                tx.prepare("SELECT arn, doc FROM sns_subscriptions WHERE topic_name = ?1")?;
            let rows = stmt.query_map(params![topic_name], |r| Ok((r.get(0)?, r.get(1)?)))?;
            collect(rows)?
        };
        if let Some(same) = existing
            .into_iter()
            .find(|s| s.protocol == sub.protocol && s.endpoint == sub.endpoint)
        {
            return Ok((same, false));
        }
        tx.execute(
            "INSERT INTO sns_subscriptions (arn, topic_name, doc) VALUES (?1, ?2, ?3)",
            params![sub.arn, topic_name, encode(sub)?],
        )?;
        tx.commit()?;
        Ok((sub.clone(), true))
    }

    fn get_subscription(&self, arn: &str) -> Result<Option<Subscription>, StoreError> {
        read_subscription(&self.lock(), arn)
    }

    fn list_subscriptions(
        &self,
        topic_name: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Subscription>, StoreError> {
        let c = self.lock();
        let after = after.unwrap_or("");
        let limit = limit as i64;
        let mut stmt;
        let rows: Vec<rusqlite::Result<(String, String)>> = match topic_name {
            Some(t) => {
                stmt = c.prepare(
                    "SELECT arn, doc FROM sns_subscriptions WHERE topic_name = ?1 AND arn > ?2 ORDER BY arn LIMIT ?3",
                )?;
                stmt.query_map(params![t, after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            }
            None => {
                stmt = c.prepare(
                    "SELECT arn, doc FROM sns_subscriptions WHERE arn > ?1 ORDER BY arn LIMIT ?2",
                )?;
                stmt.query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            }
        };
        collect(rows.into_iter())
    }

    fn update_subscription(
        &self,
        arn: &str,
        edit: SubscriptionEdit<'_>,
    ) -> Result<Subscription, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut sub = read_subscription(&tx, arn)?.ok_or(StoreError::NotFound)?;
        edit(&mut sub)?;
        tx.execute(
            "UPDATE sns_subscriptions SET doc = ?2 WHERE arn = ?1",
            params![arn, encode(&sub)?],
        )?;
        tx.commit()?;
        Ok(sub)
    }

    fn delete_subscription(&self, arn: &str) -> Result<bool, StoreError> {
        let mut c = self.write();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let topic: Option<String> = tx
            .query_row(
                "SELECT topic_name FROM sns_subscriptions WHERE arn = ?1",
                params![arn],
                |r| r.get(0),
            )
            .optional()?;
        let Some(topic_name) = topic else {
            return Ok(false);
        };
        tx.execute("DELETE FROM sns_subscriptions WHERE arn = ?1", params![arn])?;
        if let Some(mut t) = read_topic(&tx, &topic_name)? {
            t.subscriptions_deleted += 1;
            tx.execute(
                "UPDATE sns_topics SET doc = ?2 WHERE name = ?1",
                params![topic_name, encode(&t)?],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quiver_model::sns::Protocol;

    use super::*;

    fn topic(name: &str) -> Topic {
        Topic {
            name: name.into(),
            arn: format!("arn:aws:sns:us-east-1:000000000000:{name}"),
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
            subscriptions_deleted: 0,
        }
    }

    fn sub(t: &Topic, n: u32, endpoint: &str) -> Subscription {
        Subscription {
            arn: format!("{}:0000000{n}-0000-4000-8000-000000000000", t.arn),
            topic_arn: t.arn.clone(),
            protocol: Protocol::Sqs,
            endpoint: endpoint.into(),
            owner: "000000000000".into(),
            attributes: BTreeMap::new(),
            pending: false,
            token: None,
        }
    }

    #[test]
    fn topics_and_subscriptions_round_trip() {
        let s = SqliteStore::open_in_memory().unwrap();
        let t = topic("a");
        assert!(s.create_topic(&t).unwrap().1);
        let mut other = t.clone();
        other.attributes.insert("DisplayName".into(), "x".into());
        let (kept, created) = s.create_topic(&other).unwrap();
        assert!(!created);
        assert_eq!(kept, t);
        s.create_topic(&topic("b")).unwrap();
        let names: Vec<_> = s
            .list_topics(Some("a"), 10)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["b"]);

        let s1 = sub(&t, 1, "arn:aws:sqs:us-east-1:000000000000:q1");
        assert!(s.create_subscription("a", &s1).unwrap().1);
        let dup = sub(&t, 2, "arn:aws:sqs:us-east-1:000000000000:q1");
        assert_eq!(
            s.create_subscription("a", &dup).unwrap(),
            (s1.clone(), false)
        );
        let s2 = sub(&t, 3, "arn:aws:sqs:us-east-1:000000000000:q2");
        s.create_subscription("a", &s2).unwrap();
        assert!(matches!(
            s.create_subscription("zz", &s2),
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            s.list_subscriptions(Some("a"), None, 1).unwrap(),
            std::slice::from_ref(&s1)
        );
        assert_eq!(
            s.list_subscriptions(None, Some(&s1.arn), 10).unwrap(),
            std::slice::from_ref(&s2)
        );
        let edited = s
            .update_subscription(&s1.arn, &mut |x| {
                x.attributes
                    .insert("RawMessageDelivery".into(), "true".into());
                Ok(())
            })
            .unwrap();
        assert!(s.get_subscription(&s1.arn).unwrap().unwrap().raw());
        assert!(edited.raw());
        assert!(s.delete_subscription(&s1.arn).unwrap());
        assert!(!s.delete_subscription(&s1.arn).unwrap());
        assert_eq!(s.get_topic("a").unwrap().unwrap().subscriptions_deleted, 1);
        assert!(s.delete_topic("a").unwrap());
        assert!(s.get_subscription(&s2.arn).unwrap().is_none());
        assert!(!s.delete_topic("a").unwrap());
    }
}
