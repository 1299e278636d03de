use std::sync::Arc;

use super::*;
use crate::model::FakeClock;
use crate::{ShardIterator, StreamService, ITERATOR_LIFE_MS};

const T0: i64 = 1_700_000_000_000;

fn open(dir: &tempfile::TempDir) -> (SqliteStreams, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::new(T0));
    let s = SqliteStreams::open_with(&dir.path().join("streams.db"), clock.clone()).unwrap();
    (s, clock)
}

fn rec(key: &str, data: &str) -> NewRecord {
    NewRecord {
        partition_key: key.into(),
        explicit_hash_key: None,
        data: data.as_bytes().to_vec(),
    }
}

#[test]
fn appends_go_to_the_md5_shard_in_increasing_order() {
    let dir = tempfile::tempdir().unwrap();
    let (s, clock) = open(&dir);
    let info = s.create_stream("s", 4, false).unwrap();
    assert_eq!(info.status, StreamStatus::Creating);
    clock.advance_ms(CREATING_MS);
    assert_eq!(s.describe("s").unwrap().status, StreamStatus::Active);
    // "a" → shard 0, "abc" → shard 2 (see rules' MD5 table).
    let out = s
        .append("s", vec![rec("a", "1"), rec("abc", "2"), rec("a", "3")])
        .unwrap();
    assert_eq!(
        out,
        vec![
            Appended { shard: 0, seq: 0 },
            Appended { shard: 2, seq: 0 },
            Appended { shard: 0, seq: 1 }
        ]
    );
    let b = s.read("s", 0, 0, 10).unwrap();
    let data: Vec<_> = b.records.iter().map(|r| r.data.clone()).collect();
    assert_eq!(data, vec![b"1".to_vec(), b"3".to_vec()]);
    assert_eq!(b.next, 2);
    assert_eq!(s.latest_seq("s", 0).unwrap(), Some(1));
    assert_eq!(s.latest_seq("s", 1).unwrap(), None);
    let explicit = NewRecord {
        explicit_hash_key: Some(u128::MAX),
        ..rec("a", "x")
    };
    assert_eq!(s.append("s", vec![explicit]).unwrap()[0].shard, 3);
}

#[test]
fn counters_continue_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _) = open(&dir);
        s.create_stream("s", 1, false).unwrap();
        s.append("s", vec![rec("k", "1"), rec("k", "2")]).unwrap();
    }
    let (s, _) = open(&dir);
    assert_eq!(s.append("s", vec![rec("k", "3")]).unwrap()[0].seq, 2);
    assert_eq!(s.read("s", 0, 0, 100).unwrap().records.len(), 3);
}

#[test]
fn iterator_positions() {
    let dir = tempfile::tempdir().unwrap();
    let (s, clock) = open(&dir);
    s.create_stream("s", 1, false).unwrap();
    s.append("s", vec![rec("k", "0"), rec("k", "1")]).unwrap();
    clock.advance_ms(1000);
    s.append("s", vec![rec("k", "2")]).unwrap();
    let at = |p| s.iterator("s", 0, p).unwrap().next;
    assert_eq!(at(StartPosition::TrimHorizon), 0);
    assert_eq!(at(StartPosition::Latest), 3);
    assert_eq!(at(StartPosition::AtSequence(1)), 1);
    assert_eq!(at(StartPosition::AfterSequence(1)), 2);
    assert_eq!(at(StartPosition::AtTimestamp(T0 + 1)), 2);
    assert_eq!(at(StartPosition::AtTimestamp(T0)), 0);
    assert_eq!(at(StartPosition::AtTimestamp(T0 + 5000)), 3);
    assert!(matches!(
        s.iterator("s", 0, StartPosition::AtSequence(3)),
        Err(StreamError::Invalid(_))
    ));
    assert!(matches!(
        s.iterator("s", 1, StartPosition::Latest),
        Err(StreamError::ShardNotFound { .. })
    ));
    // The iterator expires 5 minutes after it was issued.
    let t = s
        .iterator("s", 0, StartPosition::TrimHorizon)
        .unwrap()
        .encode();
    clock.advance_ms(ITERATOR_LIFE_MS + 1);
    assert_eq!(
        ShardIterator::decode(&t, s.now_ms()),
        Err(StreamError::ExpiredIterator)
    );
}

#[test]
fn records_past_retention_are_not_read_and_are_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let (s, clock) = open(&dir);
    s.create_stream("s", 1, false).unwrap();
    s.append("s", vec![rec("k", "old")]).unwrap();
    clock.advance_ms(23 * 3_600_000);
    s.append("s", vec![rec("k", "new")]).unwrap();
    clock.advance_ms(3_600_000 + 1);
    let b = s.read("s", 0, 0, 10).unwrap();
    assert_eq!(b.records.len(), 1);
    assert_eq!(b.records[0].data, b"new".to_vec());
    assert_eq!(s.trim().unwrap(), 1);
    // Longer retention keeps records longer.
    s.set_retention("s", 48).unwrap();
    clock.advance_ms(23 * 3_600_000);
    assert_eq!(s.read("s", 0, 0, 10).unwrap().records.len(), 1);
    assert!(matches!(
        s.set_retention("s", 23),
        Err(StreamError::Invalid(_))
    ));
}

#[test]
fn millis_behind_latest() {
    let dir = tempfile::tempdir().unwrap();
    let (s, clock) = open(&dir);
    s.create_stream("s", 1, false).unwrap();
    s.append("s", vec![rec("k", "0")]).unwrap();
    clock.advance_ms(700);
    s.append("s", vec![rec("k", "1")]).unwrap();
    clock.advance_ms(300);
    let b = s.read("s", 0, 0, 1).unwrap();
    assert_eq!(b.millis_behind_latest, 300);
    assert_eq!(s.read("s", 0, b.next, 1).unwrap().millis_behind_latest, 0);
}

#[test]
fn names_tags_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = open(&dir);
    s.create_stream("b", 2, false).unwrap();
    s.create_stream("a", 1, true).unwrap();
    assert_eq!(
        s.create_stream("a", 1, false),
        Err(StreamError::InUse("a".into()))
    );
    assert!(s.create_stream("bad name", 1, false).is_err());
    assert!(s.create_stream("z", 0, false).is_err());
    let names: Vec<_> = s
        .list_streams()
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let add = [("k".to_string(), "v".to_string()), ("x".into(), "y".into())].into();
    s.update_tags("a", add, vec!["x".into()]).unwrap();
    assert_eq!(s.tags("a").unwrap().len(), 1);
    s.delete_stream("a").unwrap();
    assert_eq!(
        s.describe("a"),
        Err(StreamError::StreamNotFound("a".into()))
    );
    assert_eq!(
        s.delete_stream("a"),
        Err(StreamError::StreamNotFound("a".into()))
    );
}

#[tokio::test]
async fn read_wait_wakes_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = open(&dir);
    let svc = StreamService::new(Arc::new(s));
    svc.create_stream("s", 1, false).await.unwrap();
    let reader = {
        let svc = svc.clone();
        tokio::spawn(async move {
            svc.read_wait("s", 0, 0, 10, std::time::Duration::from_secs(600))
                .await
        })
    };
    // Append until the reader (which may not have started waiting yet) sees a record.
    svc.append("s", vec![rec("k", "v")]).await.unwrap();
    let b = reader.await.unwrap().unwrap();
    assert_eq!(b.records.len(), 1);
    assert_eq!(svc.list_shards("s").await.unwrap().len(), 1);
}
