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
