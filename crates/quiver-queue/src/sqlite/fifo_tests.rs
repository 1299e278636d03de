//! FIFO queues: group order, blocking while in flight, deduplication, redrive, and the
//! schema migration from version 1.

use std::sync::Arc;

use super::*;
use crate::clock::FakeClock;
use crate::model::{AttrValue, DedupScope, FifoConfig, Message, MessageAttribute, Redrive};

const T0: i64 = 1_700_000_000_000;

fn open(dir: &tempfile::TempDir, clock: Arc<FakeClock>) -> SqliteQueues {
    SqliteQueues::open_with(
        &dir.path().join("queues.db"),
        clock,
        WriterConfig::default(),
    )
    .unwrap()
}

fn fifo(content: bool, scope: DedupScope) -> QueueConfig {
    QueueConfig {
        fifo: Some(FifoConfig {
            content_based_dedup: content,
            dedup_scope: scope,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attr(v: &str) -> MessageAttribute {
    MessageAttribute {
        data_type: "String".into(),
        value: AttrValue::String(v.into()),
    }
}

fn gmsg(body: &str, group: &str, dedup: Option<&str>) -> NewMessage {
    let mut m = NewMessage {
        body: body.into(),
        ..Default::default()
    };
    m.attributes
        .insert(crate::GROUP_ID_ATTRIBUTE.into(), attr(group));
    if let Some(d) = dedup {
        m.attributes
            .insert(crate::DEDUP_ID_ATTRIBUTE.into(), attr(d));
    }
    m
}

fn recv(q: &SqliteQueues, name: &str, max: u32) -> Vec<Message> {
    q.receive(
        name,
        ReceiveRequest {
            max,
            visibility_timeout: None,
        },
    )
    .unwrap()
    .messages
}

fn bodies(ms: &[Message]) -> Vec<&str> {
    ms.iter().map(|m| m.body.as_str()).collect()
}

#[test]
fn names_must_match_the_queue_type() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir, Arc::new(FakeClock::new(T0)));
    assert!(q.create_queue("a.fifo", QueueConfig::default()).is_err());
    assert!(q.create_queue("a", fifo(true, DedupScope::Queue)).is_err());
    q.create_queue("a.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    assert!(q.set_config("a.fifo", QueueConfig::default()).is_err());
}

#[test]
fn groups_come_in_order_and_block_while_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(T0));
    let q = open(&dir, clock.clone());
    q.create_queue("q.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    let sent = q
        .send(
            "q.fifo",
            vec![
                gmsg("a1", "A", None),
                gmsg("b1", "B", None),
                gmsg("a2", "A", None),
                gmsg("b2", "B", None),
                gmsg("a3", "A", None),
            ],
        )
        .unwrap();
    let seqs: Vec<String> = sent
        .iter()
        .map(|s| s.sequence_number.clone().unwrap())
        .collect();
    assert!(seqs.iter().all(|s| s.len() == 20));
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // One message of A in flight: A is blocked, B gives its head.
    let first = recv(&q, "q.fifo", 1);
    assert_eq!(bodies(&first), ["a1"]);
    assert_eq!(first[0].group_id.as_deref(), Some("A"));
    assert_eq!(first[0].sequence_number.as_deref(), Some(seqs[0].as_str()));
    let second = recv(&q, "q.fifo", 10);
    assert_eq!(bodies(&second), ["b1", "b2"]);
    assert!(recv(&q, "q.fifo", 10).is_empty(), "both groups in flight");

    // Deleting A's head opens A; B stays blocked until its visibility ends.
    q.delete("q.fifo", &[first[0].receipt.clone()]).unwrap();
    assert_eq!(bodies(&recv(&q, "q.fifo", 10)), ["a2", "a3"]);
    clock.advance_ms(30_001);
    // Visibility expired for everything: each group restarts at its head, in order.
    assert_eq!(bodies(&recv(&q, "q.fifo", 10)), ["b1", "a2", "b2", "a3"]);
}

#[test]
fn visibility_zero_unblocks_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir, Arc::new(FakeClock::new(T0)));
    q.create_queue("q.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    q.send("q.fifo", vec![gmsg("1", "g", None), gmsg("2", "g", None)])
        .unwrap();
    let m = recv(&q, "q.fifo", 1);
    assert!(recv(&q, "q.fifo", 1).is_empty());
    q.change_visibility("q.fifo", &[(m[0].receipt.clone(), 0)])
        .unwrap();
    let again = recv(&q, "q.fifo", 10);
    assert_eq!(bodies(&again), ["1", "2"]);
    assert_eq!(again[0].receive_count, 2);
}

#[test]
fn duplicates_in_the_window_return_the_first_id_and_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(T0));
    let q = open(&dir, clock.clone());
    q.create_queue("q.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    let a = q.send("q.fifo", vec![gmsg("same", "g", None)]).unwrap();
    let b = q.send("q.fifo", vec![gmsg("same", "other", None)]).unwrap();
    assert_eq!(a, b, "content-based, queue scope: same body is a duplicate");
    let c = q
        .send("q.fifo", vec![gmsg("x", "g", Some("id-1"))])
        .unwrap();
    let d = q
        .send("q.fifo", vec![gmsg("y", "g", Some("id-1"))])
        .unwrap();
    assert_eq!(c, d, "an explicit id wins over the body");
    // Deleting the message does not end the window.
    let got = recv(&q, "q.fifo", 10);
    assert_eq!(bodies(&got), ["same", "x"]);
    assert_eq!(got[1].dedup_id.as_deref(), Some("id-1"));
    let receipts: Vec<String> = got.iter().map(|m| m.receipt.clone()).collect();
    q.delete("q.fifo", &receipts).unwrap();
    clock.advance_ms(crate::DEDUP_WINDOW_MS - 1);
    assert_eq!(q.send("q.fifo", vec![gmsg("same", "g", None)]).unwrap(), a);
    assert!(recv(&q, "q.fifo", 10).is_empty());
    clock.advance_ms(1);
    let e = q.send("q.fifo", vec![gmsg("same", "g", None)]).unwrap();
    assert_ne!(e, a, "the window is over");
    assert_eq!(bodies(&recv(&q, "q.fifo", 10)), ["same"]);
}

#[test]
fn group_scope_dedups_per_group_and_ids_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir, Arc::new(FakeClock::new(T0)));
    q.create_queue("g.fifo", fifo(false, DedupScope::MessageGroup))
        .unwrap();
    let a = q.send("g.fifo", vec![gmsg("b", "A", Some("d"))]).unwrap();
    let b = q.send("g.fifo", vec![gmsg("b", "B", Some("d"))]).unwrap();
    assert_ne!(a[0].id, b[0].id);
    assert!(q.send("g.fifo", vec![gmsg("b", "A", None)]).is_err());
    let mut no_group = gmsg("b", "A", Some("e"));
    no_group.attributes.remove(crate::GROUP_ID_ATTRIBUTE);
    assert!(q.send("g.fifo", vec![no_group]).is_err());
    q.create_queue("std", QueueConfig::default()).unwrap();
    assert!(q.send("std", vec![gmsg("b", "A", Some("d"))]).is_err());
    q.send("std", vec![gmsg("b", "A", None)]).unwrap();
    let m = recv(&q, "std", 1);
    assert_eq!(m[0].group_id.as_deref(), Some("A"));
    assert!(m[0].attributes.is_empty(), "ids are not message attributes");
}

#[test]
fn redrive_keeps_group_order_in_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(T0));
    let q = open(&dir, clock.clone());
    q.create_queue("dlq.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    let cfg = QueueConfig {
        redrive: Some(Redrive {
            dead_letter_queue: "dlq.fifo".into(),
            max_receive_count: 1,
        }),
        ..fifo(true, DedupScope::Queue)
    };
    q.create_queue("src.fifo", cfg).unwrap();
    q.send(
        "src.fifo",
        vec![
            gmsg("1", "g", None),
            gmsg("2", "g", None),
            gmsg("3", "g", None),
        ],
    )
    .unwrap();
    assert_eq!(bodies(&recv(&q, "src.fifo", 10)), ["1", "2", "3"]);
    clock.advance_ms(30_001);
    assert!(recv(&q, "src.fifo", 10).is_empty(), "all moved");
    let dead = recv(&q, "dlq.fifo", 10);
    assert_eq!(bodies(&dead), ["1", "2", "3"]);
    assert!(dead.iter().all(|m| m.group_id.as_deref() == Some("g")));
}

#[test]
fn dedup_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::new(T0));
    let first = {
        let q = open(&dir, clock.clone());
        q.create_queue("q.fifo", fifo(true, DedupScope::Queue))
            .unwrap();
        let s = q.send("q.fifo", vec![gmsg("x", "g", None)]).unwrap();
        q.close();
        s
    };
    let q = open(&dir, clock);
    assert_eq!(q.send("q.fifo", vec![gmsg("x", "g", None)]).unwrap(), first);
    assert_eq!(recv(&q, "q.fifo", 10).len(), 1);
}

#[test]
fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queues.db");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c.execute(
            "INSERT INTO queues (name, config, created_ms, modified_ms) VALUES ('old', ?1, 1, 1)",
            [serde_json::to_string(&serde_json::json!({
                "visibility_timeout": 30, "retention": 345600, "delay": 0,
                "receive_wait": 0, "max_message_size": 262144, "redrive": null
            }))
            .unwrap()],
        )
        .unwrap();
        c.execute(
            "INSERT INTO messages (queue_id, id, body, sent_ms, visible_ms, expires_ms)
             VALUES (1, 'm1', 'kept', ?1, ?1, ?2)",
            [T0, T0 + 1_000_000],
        )
        .unwrap();
    }
    let q = open(&dir, Arc::new(FakeClock::new(T0)));
    let got = recv(&q, "old", 10);
    assert_eq!(bodies(&got), ["kept"]);
    assert_eq!(got[0].group_id, None);
    q.create_queue("new.fifo", fifo(true, DedupScope::Queue))
        .unwrap();
    q.send("new.fifo", vec![gmsg("x", "g", None)]).unwrap();
    let v: u32 = q
        .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(v, 2);
}
