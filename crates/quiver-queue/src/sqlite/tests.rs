//! Behaviour of the SQLite backend, with a fake clock wherever time matters.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::FakeClock;
use std::collections::BTreeMap;

use crate::model::{AttrValue, MessageAttribute, Redrive};
use crate::Queues;

const T0: i64 = 1_700_000_000_000;

fn open(dir: &tempfile::TempDir) -> (SqliteQueues, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::new(T0));
    let q = SqliteQueues::open_with(
        &dir.path().join("queues.db"),
        clock.clone(),
        WriterConfig::default(),
    )
    .unwrap();
    (q, clock)
}

fn msg(body: &str) -> NewMessage {
    NewMessage {
        body: body.into(),
        ..Default::default()
    }
}

fn one(vt: Option<u32>) -> ReceiveRequest {
    ReceiveRequest {
        max: 1,
        visibility_timeout: vt,
    }
}

#[test]
fn create_is_idempotent_and_lookups_work() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = open(&dir);
    let (info, created) = q.create_queue("a", QueueConfig::default()).unwrap();
    assert!(created);
    assert_eq!(info.created_ms, T0);
    let (again, created) = q
        .create_queue(
            "a",
            QueueConfig {
                delay: 5,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!created);
    assert_eq!(
        again.config.delay, 0,
        "an existing queue keeps its settings"
    );
    q.create_queue("ab", QueueConfig::default()).unwrap();
    q.create_queue("b", QueueConfig::default()).unwrap();
    let names: Vec<_> = q
        .list_queues("a")
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["a", "ab"]);
    assert_eq!(
        q.get_queue("zz"),
        Err(QueueError::QueueNotFound("zz".into()))
    );
    assert!(matches!(
        q.create_queue("bad.fifo", QueueConfig::default()),
        Err(QueueError::Invalid(_))
    ));
    assert!(matches!(
        q.create_queue(
            "c",
            QueueConfig {
                visibility_timeout: 50_000,
                ..Default::default()
            }
        ),
        Err(QueueError::Invalid(_))
    ));
    q.delete_queue("a").unwrap();
    assert!(matches!(
        q.send("a", vec![msg("x")]),
        Err(QueueError::QueueNotFound(_))
    ));
}

#[test]
fn visibility_timeout_expiry_redelivers_with_a_new_receipt_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = open(&dir);
    q.create_queue(
        "q",
        QueueConfig {
            visibility_timeout: 10,
            ..Default::default()
        },
    )
    .unwrap();
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "k".to_string(),
        MessageAttribute {
            data_type: "Binary".into(),
            value: AttrValue::Binary(vec![0, 255]),
        },
    );
    q.send(
        "q",
        vec![NewMessage {
            body: "hello".into(),
            attributes: attrs.clone(),
            delay: None,
        }],
    )
    .unwrap();
    let first = q.receive("q", one(None)).unwrap().messages.remove(0);
    assert_eq!(
        (
            first.body.as_str(),
            first.receive_count,
            first.sent_ms,
            first.first_receive_ms
        ),
        ("hello", 1, T0, T0)
    );
    assert_eq!(first.attributes, attrs);
    let empty = q.receive("q", one(None)).unwrap();
    assert!(empty.messages.is_empty());
    assert_eq!(empty.next_visible_in, Some(Duration::from_secs(10)));
    assert_eq!(
        q.depth("q").unwrap(),
        Depth {
            visible: 0,
            in_flight: 1,
            delayed: 0
        }
    );
    clock.advance_ms(9_999);
    assert!(q.receive("q", one(None)).unwrap().messages.is_empty());
    clock.advance_ms(1);
    let second = q.receive("q", one(Some(100))).unwrap().messages.remove(0);
    assert_eq!(
        (
            second.id.as_str(),
            second.receive_count,
            second.first_receive_ms
        ),
        (first.id.as_str(), 2, T0)
    );
    assert_ne!(second.receipt, first.receipt);
    // The stale receipt deletes nothing; the current one does.
    assert_eq!(
        q.delete("q", std::slice::from_ref(&first.receipt)).unwrap(),
        vec![Ok(())]
    );
    assert_eq!(q.depth("q").unwrap().in_flight, 1);
    assert_eq!(
        q.delete("q", std::slice::from_ref(&second.receipt))
            .unwrap(),
        vec![Ok(())]
    );
    assert_eq!(q.depth("q").unwrap(), Depth::default());
    clock.advance_ms(1_000_000);
    assert!(
        q.receive("q", one(None)).unwrap().messages.is_empty(),
        "deleted messages never come back"
    );
}

#[test]
fn delay_hides_messages_until_due() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = open(&dir);
    q.create_queue(
        "q",
        QueueConfig {
            delay: 5,
            ..Default::default()
        },
    )
    .unwrap();
    q.send(
        "q",
        vec![
            msg("queue-delay"),
            NewMessage {
                delay: Some(0),
                ..msg("now")
            },
            NewMessage {
                delay: Some(20),
                ..msg("late")
            },
        ],
    )
    .unwrap();
    assert_eq!(
        q.depth("q").unwrap(),
        Depth {
            visible: 1,
            in_flight: 0,
            delayed: 2
        }
    );
    let r = q
        .receive(
            "q",
            ReceiveRequest {
                max: 10,
                visibility_timeout: None,
            },
        )
        .unwrap();
    assert_eq!(
        r.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["now"]
    );
    let r = q
        .receive(
            "q",
            ReceiveRequest {
                max: 10,
                visibility_timeout: None,
            },
        )
        .unwrap();
    assert_eq!(r.next_visible_in, Some(Duration::from_secs(5)));
    clock.advance_ms(5_000);
    let r = q
        .receive(
            "q",
            ReceiveRequest {
                max: 10,
                visibility_timeout: None,
            },
        )
        .unwrap();
    assert_eq!(
        r.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["queue-delay"]
    );
    clock.advance_ms(15_000);
    let r = q
        .receive(
            "q",
            ReceiveRequest {
                max: 10,
                visibility_timeout: None,
            },
        )
        .unwrap();
    assert_eq!(
        r.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["late"]
    );
}

#[test]
fn retention_removes_expired_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = open(&dir);
    q.create_queue(
        "q",
        QueueConfig {
            retention: 60,
            ..Default::default()
        },
    )
    .unwrap();
    q.send("q", vec![msg("old")]).unwrap();
    clock.advance_ms(30_000);
    q.send("q", vec![msg("young")]).unwrap();
    clock.advance_ms(30_000);
    assert_eq!(q.depth("q").unwrap().visible, 1);
    let r = q
        .receive(
            "q",
            ReceiveRequest {
                max: 10,
                visibility_timeout: None,
            },
        )
        .unwrap();
    assert_eq!(
        r.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["young"]
    );
    let rows: i64 = q
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(rows, 1, "the expired row is gone from disk");
}

#[test]
fn redrive_moves_to_the_dead_letter_queue_after_max_receives() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = open(&dir);
    q.create_queue("dlq", QueueConfig::default()).unwrap();
    let redrive = Some(Redrive {
        dead_letter_queue: "dlq".into(),
        max_receive_count: 2,
    });
    q.create_queue(
        "src",
        QueueConfig {
            visibility_timeout: 1,
            redrive,
            ..Default::default()
        },
    )
    .unwrap();
    let sent = q.send("src", vec![msg("poison")]).unwrap();
    for n in 1..=2 {
        let m = q.receive("src", one(None)).unwrap().messages.remove(0);
        assert_eq!(m.receive_count, n);
        clock.advance_ms(1_000);
    }
    assert!(q.receive("src", one(None)).unwrap().messages.is_empty());
    assert_eq!(q.depth("src").unwrap(), Depth::default());
    let m = q.receive("dlq", one(None)).unwrap().messages.remove(0);
    assert_eq!(
        (m.id.as_str(), m.body.as_str(), m.sent_ms, m.receive_count),
        (sent[0].id.as_str(), "poison", T0, 1)
    );
}

#[test]
fn change_visibility_and_receipt_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = open(&dir);
    q.create_queue("q", QueueConfig::default()).unwrap();
    q.create_queue("other", QueueConfig::default()).unwrap();
    q.send("q", vec![msg("m")]).unwrap();
    let m = q.receive("q", one(None)).unwrap().messages.remove(0);
    let r = q
        .change_visibility("q", &[(m.receipt.clone(), 0), ("junk".into(), 0)])
        .unwrap();
    assert_eq!(r[0], Ok(()));
    assert!(matches!(r[1], Err(QueueError::InvalidReceipt(_))));
    // Visible again: not in flight.
    assert!(matches!(
        q.change_visibility("q", &[(m.receipt.clone(), 5)]).unwrap()[0],
        Err(QueueError::MessageNotInFlight(_))
    ));
    let m2 = q.receive("q", one(None)).unwrap().messages.remove(0);
    assert_eq!(
        q.change_visibility("q", &[(m2.receipt.clone(), 100)])
            .unwrap(),
        vec![Ok(())]
    );
    clock.advance_ms(99_000);
    assert!(q.receive("q", one(None)).unwrap().messages.is_empty());
    clock.advance_ms(1_000);
    let m3 = q.receive("q", one(None)).unwrap().messages.remove(0);
    assert_eq!(m3.receive_count, 3);
    // A receipt of one queue is invalid on another.
    assert!(matches!(
        q.delete("other", std::slice::from_ref(&m3.receipt))
            .unwrap()[0],
        Err(QueueError::InvalidReceipt(_))
    ));
    q.delete("q", std::slice::from_ref(&m3.receipt)).unwrap();
    assert!(matches!(
        q.change_visibility("q", &[(m3.receipt, 5)]).unwrap()[0],
        Err(QueueError::MessageNotFound(_))
    ));
}

#[test]
fn purge_and_size_backstop() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = open(&dir);
    q.create_queue(
        "q",
        QueueConfig {
            max_message_size: 1024,
            ..Default::default()
        },
    )
    .unwrap();
    q.send("q", vec![msg("a"), msg("b")]).unwrap();
    assert!(matches!(
        q.send("q", vec![msg("ok"), msg(&"x".repeat(1025))]),
        Err(QueueError::Invalid(_))
    ));
    assert_eq!(
        q.depth("q").unwrap().visible,
        2,
        "a refused batch writes nothing"
    );
    assert_eq!(q.purge("q").unwrap(), 2);
    assert_eq!(q.depth("q").unwrap(), Depth::default());
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (q, _) = open(&dir);
        q.create_queue(
            "q",
            QueueConfig {
                delay: 0,
                visibility_timeout: 7,
                ..Default::default()
            },
        )
        .unwrap();
        q.send("q", (0..50).map(|i| msg(&i.to_string())).collect())
            .unwrap();
        // No close: acknowledged writes are already on disk.
        std::mem::forget(q);
    }
    let (q, _) = open(&dir);
    assert_eq!(q.get_queue("q").unwrap().config.visibility_timeout, 7);
    assert_eq!(q.depth("q").unwrap().visible, 50);
    q.close();
    assert_eq!(q.send("q", vec![msg("late")]), Err(QueueError::Closed));
}

#[test]
fn concurrent_sends_share_commits_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = open(&dir);
    let q = Arc::new(q);
    q.create_queue("q", QueueConfig::default()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    q.send("q", vec![msg(&format!("{t}-{i}"))]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(q.depth("q").unwrap().visible, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_on_send_not_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queues::new(Arc::new(
        SqliteQueues::open(&dir.path().join("queues.db")).unwrap(),
    ));
    q.create_queue("q", QueueConfig::default()).await.unwrap();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            let got = q
                .receive_wait("q", one(None), Duration::from_secs(10))
                .await
                .unwrap();
            (got, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    q.send("q", vec![msg("wake")]).await.unwrap();
    let (got, took) = waiter.await.unwrap();
    assert_eq!(got[0].body, "wake");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // Nothing there: waits the full time, then returns empty.
    let t = std::time::Instant::now();
    assert!(q
        .receive_wait("q", one(None), Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    assert!(t.elapsed() >= Duration::from_millis(300));
    q.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_when_a_delayed_message_becomes_due() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queues::new(Arc::new(
        SqliteQueues::open(&dir.path().join("queues.db")).unwrap(),
    ));
    q.create_queue("q", QueueConfig::default()).await.unwrap();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move {
            let t = std::time::Instant::now();
            let got = q
                .receive_wait("q", one(None), Duration::from_secs(10))
                .await
                .unwrap();
            (got, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    q.send(
        "q",
        vec![NewMessage {
            delay: Some(1),
            ..msg("due")
        }],
    )
    .await
    .unwrap();
    let (got, took) = waiter.await.unwrap();
    assert_eq!(got[0].body, "due");
    assert!(
        took >= Duration::from_millis(1_100) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    q.close().await;
}
