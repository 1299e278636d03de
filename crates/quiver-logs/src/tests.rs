//! Store tests through the public API: sink in, queries out, on a real SQLite file.

use std::time::Duration;

use crate::*;

fn open(dir: &tempfile::TempDir, f: impl FnOnce(&mut LogConfig)) -> LogStore {
    let mut cfg = LogConfig::new(dir.path().join("logs.db"));
    cfg.retention_interval = Duration::from_secs(3600);
    f(&mut cfg);
    LogStore::open(cfg).unwrap()
}

fn fill(store: &LogStore, stream: &str, n: usize, ts0: i64) {
    let sink = store.sink();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let ev = chunk
            .iter()
            .map(|i| (ts0 + (*i as i64) / 3, format!("{stream} event {i:05}")))
            .collect();
        assert!(sink.send("/aws/lambda/f", stream, ev));
    }
    sink.flush();
}

#[test]
fn get_events_pages_forward_and_backward_with_stable_end_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, |_| {});
    fill(&store, "s1", 2500, 1_000_000);
    fill(&store, "s2", 10, 1_000_000);
    // Forward from the head.
    let mut q = GetEvents {
        from_head: true,
        limit: 1000,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.get_events("/aws/lambda/f", "s1", &q).unwrap();
        seen.extend(page.events.iter().map(|e| e.message.clone()));
        if q.token.as_deref() == Some(page.forward.as_str()) {
            assert!(page.events.is_empty());
            break;
        }
        q.token = Some(page.forward);
    }
    assert_eq!(seen.len(), 2500);
    assert_eq!(seen[0], "s1 event 00000");
    assert_eq!(seen[2499], "s1 event 02499");
    // Backward from the tail (the default).
    let mut q = GetEvents {
        limit: 700,
        ..Default::default()
    };
    let first = store.get_events("/aws/lambda/f", "s1", &q).unwrap();
    assert_eq!(first.events.len(), 700);
    assert_eq!(first.events.last().unwrap().message, "s1 event 02499");
    let mut back = first
        .events
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>();
    q.token = Some(first.backward);
    loop {
        let page = store.get_events("/aws/lambda/f", "s1", &q).unwrap();
        if q.token.as_deref() == Some(page.backward.as_str()) {
            break;
        }
        let mut m: Vec<String> = page.events.iter().map(|e| e.message.clone()).collect();
        m.extend(back);
        back = m;
        q.token = Some(page.backward);
    }
    assert_eq!(back, seen);
    // Time window [start, end).
    let q = GetEvents {
        from_head: true,
        limit: 10_000,
        start: Some(1_000_010),
        end: Some(1_000_020),
        ..Default::default()
    };
    let page = store.get_events("/aws/lambda/f", "s1", &q).unwrap();
    assert_eq!(page.events.len(), 30);
    assert!(page
        .events
        .iter()
        .all(|e| (1_000_010..1_000_020).contains(&e.ts)));
    assert!(matches!(
        store.get_events("/aws/lambda/f", "nope", &q),
        Err(LogError::StreamNotFound)
    ));
    assert!(matches!(
        store.get_events("/aws/lambda/g", "s1", &q),
        Err(LogError::GroupNotFound)
    ));
    let bad = GetEvents {
        token: Some("zz".into()),
        limit: 1,
        ..Default::default()
    };
    assert!(matches!(
        store.get_events("/aws/lambda/f", "s1", &bad),
        Err(LogError::InvalidParameter(_))
    ));
}

#[test]
fn filter_spans_streams_in_time_order_with_tokens_and_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, |_| {});
    fill(&store, "a", 1500, 5_000);
    fill(&store, "b", 1500, 5_000);
    let mut q = FilterQuery {
        limit: 400,
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let p = store.filter_events("/aws/lambda/f", &q).unwrap();
        assert_eq!(p.searched_streams, vec!["a", "b"]);
        all.extend(p.events);
        match p.next_token {
            Some(t) => q.token = Some(t),
            None => break,
        }
    }
    assert_eq!(all.len(), 3000);
    assert!(all
        .windows(2)
        .all(|w| (w[0].ts, w[0].id) < (w[1].ts, w[1].id)));
    let q = FilterQuery {
        pattern: FilterPattern::parse("\"event 0001\" -b").unwrap(),
        limit: 10_000,
        ..Default::default()
    };
    let p = store.filter_events("/aws/lambda/f", &q).unwrap();
    assert_eq!(p.events.len(), 10, "a event 00010..00019");
    assert!(p.events.iter().all(|e| e.stream == "a"));
    let q = FilterQuery {
        stream_prefix: Some("b".into()),
        limit: 10_000,
        ..Default::default()
    };
    let p = store.filter_events("/aws/lambda/f", &q).unwrap();
    assert_eq!(
        (p.events.len(), p.searched_streams.clone()),
        (1500, vec!["b".to_string()])
    );
}

#[test]
fn retention_with_a_later_clock_and_group_admin() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir, |_| {});
        fill(&store, "old", 50, store.sink().now_ms());
        assert!(matches!(
            store.create_group("/aws/lambda/f"),
            Err(LogError::GroupExists)
        ));
        assert!(matches!(
            store.set_retention("/aws/lambda/f", Some(2)),
            Err(LogError::InvalidParameter(_))
        ));
        store.set_retention("/aws/lambda/f", Some(1)).unwrap();
        assert_eq!(
            store.run_retention().unwrap(),
            0,
            "nothing is a day old yet"
        );
        store.close();
    }
    // The same data dir, two days later.
    let store = open(&dir, |c| c.clock_offset_ms = 2 * 86_400_000);
    let before = store.stored_bytes();
    assert!(before > 0, "budget accounting survives a restart");
    fill(&store, "new", 5, store.sink().now_ms());
    assert_eq!(store.run_retention().unwrap(), 50);
    let (streams, _) = store
        .streams(
            "/aws/lambda/f",
            &StreamQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        streams.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["new"]
    );
    assert_eq!(
        store.groups("/aws/lambda/", None, 50).unwrap()[0].retention_days,
        Some(1)
    );
    store.set_retention("/aws/lambda/f", None).unwrap();
    store.delete_group("/aws/lambda/f").unwrap();
    assert_eq!(store.stored_bytes(), 0);
    assert!(store.groups("", None, 50).unwrap().is_empty());
    assert!(matches!(
        store.delete_group("/aws/lambda/f"),
        Err(LogError::GroupNotFound)
    ));
}

#[test]
fn disk_budget_drops_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, |c| c.max_bytes = 200_000);
    for i in 0..40 {
        fill(&store, "s", 100, i * 1000);
    }
    assert!(store.stored_bytes() <= 200_000, "{}", store.stored_bytes());
    let page = store
        .get_events(
            "/aws/lambda/f",
            "s",
            &GetEvents {
                from_head: true,
                limit: 10_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!page.events.is_empty() && page.events.len() < 4000);
    assert_eq!(
        page.events.last().unwrap().ts,
        39_000 + 33,
        "the newest events are kept"
    );
}

fn filter(group: &str, name: &str, pattern: &str) -> SubscriptionFilter {
    SubscriptionFilter {
        name: name.into(),
        group: group.into(),
        pattern: pattern.into(),
        destination: "arn:aws:lambda:us-east-1:000000000000:function:b".into(),
        distribution: "ByLogStream".into(),
        role_arn: None,
        created_ms: 0,
    }
}

#[test]
fn put_events_need_group_and_stream_and_are_stored_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, |_| {});
    let now = store.sink().now_ms();
    assert!(matches!(
        store.create_stream("/app", "s"),
        Err(LogError::GroupNotFound)
    ));
    store.create_group("/app").unwrap();
    assert!(matches!(
        store.put_events("/app", "s", vec![(now, "x".into())]),
        Err(LogError::StreamNotFound)
    ));
    store.create_stream("/app", "s").unwrap();
    assert!(matches!(
        store.create_stream("/app", "s"),
        Err(LogError::StreamExists)
    ));
    let c = store
        .put_events("/app", "s", vec![(now - 1, "a".into()), (now, "b".into())])
        .unwrap();
    assert!(!c.rejected());
    // No flush: PutLogEvents returns after the commit.
    let page = store
        .get_events(
            "/app",
            "s",
            &GetEvents {
                from_head: true,
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    let msgs: Vec<_> = page.events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, vec!["a", "b"]);
}

#[test]
fn subscription_filters_limit_update_describe_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, |_| {});
    assert!(matches!(
        store.put_subscription_filter(&filter("/g", "a", "")),
        Err(LogError::GroupNotFound)
    ));
    store.create_group("/g").unwrap();
    assert!(store
        .put_subscription_filter(&filter("/g", "a", ""))
        .unwrap());
    assert!(store
        .put_subscription_filter(&filter("/g", "b", "x"))
        .unwrap());
    // Updating one of the two is not a third.
    assert!(!store
        .put_subscription_filter(&filter("/g", "b", "y"))
        .unwrap());
    assert!(matches!(
        store.put_subscription_filter(&filter("/g", "c", "")),
        Err(LogError::LimitExceeded(_))
    ));
    assert!(matches!(
        store.put_subscription_filter(&filter("/g", "c", "{ $.x = 1 }")),
        Err(LogError::InvalidParameter(_))
    ));
    let (page, more) = store.subscription_filters("/g", "", None, 1).unwrap();
    assert_eq!(page.len(), 1);
    assert!(more);
    assert_eq!(page[0].name, "a");
    let (page, more) = store.subscription_filters("/g", "", Some("a"), 1).unwrap();
    assert_eq!(
        (page[0].name.as_str(), page[0].pattern.as_str(), more),
        ("b", "y", false)
    );
    assert_eq!(
        store
            .subscription_filters("/g", "b", None, 50)
            .unwrap()
            .0
            .len(),
        1
    );
    store.delete_subscription_filter("/g", "a").unwrap();
    assert!(matches!(
        store.delete_subscription_filter("/g", "a"),
        Err(LogError::FilterNotFound)
    ));
    store.delete_group("/g").unwrap();
    store.create_group("/g").unwrap();
    assert!(store
        .subscription_filters("/g", "", None, 50)
        .unwrap()
        .0
        .is_empty());
}

#[test]
fn subscription_work_sees_only_new_matching_events_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let sink;
    {
        let store = open(&dir, |_| {});
        sink = store.sink();
        sink.send("/aws/lambda/a", "s1", vec![(1, "ERROR before".into())]);
        sink.flush();
        store.create_group("/other").unwrap();
        store
            .put_subscription_filter(&filter("/aws/lambda/a", "f", "ERROR"))
            .unwrap();
        sink.send(
            "/aws/lambda/a",
            "s1",
            vec![(2, "ERROR one".into()), (3, "INFO two".into())],
        );
        sink.send("/other", "x", vec![(2, "ERROR elsewhere".into())]);
        sink.send("/aws/lambda/a", "s2", vec![(4, "ERROR three".into())]);
        sink.flush();
        let work = store.subscription_work(1000).unwrap();
        assert_eq!(work.len(), 1);
        let w = &work[0];
        assert!(w.control);
        let got: Vec<(&str, Vec<&str>)> = w
            .streams
            .iter()
            .map(|(s, ev)| (s.as_str(), ev.iter().map(|e| e.message.as_str()).collect()))
            .collect();
        assert_eq!(
            got,
            vec![("s1", vec!["ERROR one"]), ("s2", vec!["ERROR three"])]
        );
        store
            .advance_subscription(w.filter_id, w.cursor, true)
            .unwrap();
        let again = store.subscription_work(1000).unwrap();
        assert!(again.is_empty(), "{again:?}");
        // The newest events go with their group; their ids are not handed out again.
        sink.send("/other", "x", vec![(5, "ERROR elsewhere".into())]);
        sink.flush();
        let w = store.subscription_work(1000).unwrap().remove(0);
        assert!(w.streams.is_empty());
        // The cursor now stands on /other's event, the newest of the store.
        store
            .advance_subscription(w.filter_id, w.cursor, false)
            .unwrap();
        store.delete_group("/other").unwrap();
    }
    let store = open(&dir, |_| {});
    store.sink().send(
        "/aws/lambda/a",
        "s3",
        vec![(6, "ERROR after reopen".into())],
    );
    store.sink().flush();
    let work = store.subscription_work(1000).unwrap();
    assert_eq!(work.len(), 1);
    assert!(!work[0].control);
    let msgs: Vec<&str> = work[0].streams[0]
        .1
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(msgs, vec!["ERROR after reopen"]);
    drop(sink);
}
