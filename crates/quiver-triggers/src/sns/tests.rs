//! Delivery records are durable before Publish answers.

use super::*;
use quiver_model::sns::Topic;
use quiver_model::Partition;
use quiver_store::{CodeStore, SqliteStore};

const ARN: &str = "arn:aws:sns:us-east-1:000000000000:t";

fn subscription(n: u32, pending: bool) -> Subscription {
    Subscription {
        arn: format!("{ARN}:0000000{n}-0000-4000-8000-000000000000"),
        topic_arn: ARN.into(),
        protocol: Protocol::Sqs,
        endpoint: format!("arn:aws:sqs:us-east-1:000000000000:q{n}"),
        owner: "000000000000".into(),
        attributes: BTreeMap::new(),
        pending,
        token: None,
    }
}

async fn open(dir: &Path, store: Arc<dyn Store>) -> Topics {
    let partition = Partition::new("us-east-1", "000000000000");
    let code = CodeStore::open(dir).unwrap();
    let invoker = crate::Invoker::new(store.clone(), code, partition, None);
    let queues = Arc::new(Queues::new(Arc::new(
        quiver_queue::SqliteQueues::open(&dir.join("queues.db")).unwrap(),
    )));
    let cfg = crate::AsyncConfig {
        workers: 0,
        ..Default::default()
    };
    let async_invoker = AsyncInvoker::open(dir, store.clone(), invoker, queues.clone(), cfg)
        .await
        .unwrap();
    Topics::open(
        dir,
        store,
        async_invoker,
        queues,
        "http://127.0.0.1:1",
        SnsConfig::default(),
    )
    .await
    .unwrap()
}

/// Publish returns once one record per confirmed subscription is on disk: with no
/// worker running they are all still there after the queue is reopened.
#[tokio::test]
async fn published_deliveries_are_durable_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("meta.db")).unwrap());
    let topic = Topic {
        name: "t".into(),
        arn: ARN.into(),
        attributes: BTreeMap::new(),
        tags: BTreeMap::new(),
        subscriptions_deleted: 0,
    };
    store.create_topic(&topic).unwrap();
    for (n, pending) in [(1, false), (2, false), (3, true)] {
        store
            .create_subscription("t", &subscription(n, pending))
            .unwrap();
    }
    let topics = open(dir.path(), store.clone()).await;
    let msg = |m: &str| Published {
        subject: None,
        bodies: Bodies {
            default: m.into(),
            per_protocol: BTreeMap::new(),
        },
        attributes: BTreeMap::new(),
        chain: Chain::start(0, 1),
    };
    let ids = topics
        .publish(ARN, "t", vec![msg("a"), msg("b")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(matches!(
        topics.publish(ARN, "missing", vec![msg("c")]).await,
        Err(TriggerError::NotFound)
    ));
    topics.shutdown().await;
    drop(topics);

    let again = open(dir.path(), store).await;
    let d = again.inner.deliveries.depth(DELIVERIES).await.unwrap();
    // Two messages × two confirmed subscriptions; the pending one gets none.
    assert_eq!(d.visible, 4);
    again.shutdown().await;
}
