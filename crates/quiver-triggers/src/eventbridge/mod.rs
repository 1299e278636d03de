//! EventBridge delivery: PutEvents entries made durable, matched against their bus's
//! enabled rules and delivered to each rule's targets, at least once.
//!
//! Two durable stages in `<data>/eventbridge.db` (a quiver-queue store of its own,
//! invisible to the SQS API):
//! - `events`: an accepted entry's envelope, on disk before PutEvents answers with its
//!   EventId. An ingest worker matches it and writes one delivery per matched
//!   (rule, target) in one atomic send, then deletes the event. A crash between the
//!   two sends the event through again: at least once, never lost.
//! - `deliveries`: one target's input with the target as it was when matched. A
//!   delivery worker hands it on (Lambda: the durable asynchronous invoke queue; SQS:
//!   the server's queues; SNS: not served yet, a failure). A failure is retried with a
//!   growing delay within the target's RetryPolicy, then goes to its DeadLetterConfig
//!   queue with EventBridge's error attributes (or is dropped with a log line).

mod deliver;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quiver_events::bridge::Target;
use quiver_events::pattern::Pattern;
use quiver_model::Partition;
use quiver_queue::{NewMessage, QueueConfig, Queues, ReceiveRequest};
use quiver_store::Store;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{AsyncInvoker, Invoker, TriggerError};

const EVENTS: &str = "eventbridge-events";
const DELIVERIES: &str = "eventbridge-deliveries";
/// Received messages stay hidden this long; after a crash they reappear within it.
const VISIBILITY_S: u32 = 10;
/// An envelope is at most a 256 KB entry plus its fields; a delivery carries the
/// event's input and the target.
const MAX_MESSAGE: u32 = 1024 * 1024;

/// Settings of the EventBridge workers.
#[derive(Debug, Clone)]
pub struct EventBridgeConfig {
    /// Ingest workers (matching) and delivery workers, each.
    pub workers: usize,
    /// Delay before the first retry of a failed delivery; each later one doubles it
    /// (at most 15 minutes, the queue's longest delay).
    pub retry_base: Duration,
}

impl Default for EventBridgeConfig {
    fn default() -> Self {
        EventBridgeConfig {
            workers: 2,
            retry_base: Duration::from_secs(1),
        }
    }
}

/// An accepted event on its way to rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueuedEvent {
    bus: String,
    event: serde_json::Value,
    /// Milliseconds since the epoch when it was accepted (event age counts from here).
    accepted_ms: i64,
}

/// One target's delivery of one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delivery {
    event_id: String,
    rule_arn: String,
    target: Target,
    input: String,
    /// The matched event as sent to a dead-letter queue.
    event: String,
    accepted_ms: i64,
    /// Failed attempts so far.
    attempts: u32,
}

/// A bus's enabled event-pattern rules, compiled, as of one store change counter.
struct CompiledRules {
    stamp: u64,
    rules: Arc<Vec<(quiver_events::bridge::Rule, Pattern)>>,
}

struct Inner {
    store: Arc<dyn Store>,
    partition: Partition,
    invoker: Invoker,
    async_invoker: AsyncInvoker,
    user_queues: Arc<Queues>,
    queue: Queues,
    cfg: EventBridgeConfig,
    closed: AtomicBool,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    compiled: Mutex<HashMap<String, CompiledRules>>,
    /// SNS topics, for SNS targets (set once at start; weak: the topics own their own
    /// lifecycle and may go first at shutdown).
    topics: std::sync::OnceLock<std::sync::Weak<crate::sns::Inner>>,
}

/// Accepts events (PutEvents) and delivers them to rule targets in the background.
#[derive(Clone)]
pub struct EventBridge {
    inner: Arc<Inner>,
}

pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl EventBridge {
    /// Opens (creating) `<data_dir>/eventbridge.db`; [`EventBridge::start`] runs workers.
    pub async fn open(
        data_dir: &Path,
        store: Arc<dyn Store>,
        partition: Partition,
        invoker: Invoker,
        async_invoker: AsyncInvoker,
        user_queues: Arc<Queues>,
        cfg: EventBridgeConfig,
    ) -> Result<EventBridge, TriggerError> {
        let backend = quiver_queue::SqliteQueues::open(&data_dir.join("eventbridge.db"))?;
        let queue = Queues::new(Arc::new(backend));
        let qcfg = QueueConfig {
            visibility_timeout: VISIBILITY_S,
            retention: quiver_queue::limits::MAX_RETENTION,
            max_message_size: MAX_MESSAGE,
            ..QueueConfig::default()
        };
        for name in [EVENTS, DELIVERIES] {
            let info = queue.ensure_queue(name, qcfg.clone()).await?;
            if info.config != qcfg {
                queue.set_config(name, qcfg.clone()).await?;
            }
        }
        Ok(EventBridge {
            inner: Arc::new(Inner {
                store,
                partition,
                invoker,
                async_invoker,
                user_queues,
                queue,
                cfg,
                closed: AtomicBool::new(false),
                workers: Mutex::new(Vec::new()),
                compiled: Mutex::new(HashMap::new()),
                topics: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The ARN of a rule on `bus` (the default bus's rules have no bus in theirs).
    pub fn rule_arn(partition: &Partition, bus: &str, rule: &str) -> String {
        let resource = if bus == quiver_events::bridge::DEFAULT_BUS {
            format!("rule/{rule}")
        } else {
            format!("rule/{bus}/{rule}")
        };
        format!(
            "arn:aws:events:{}:{}:{resource}",
            partition.region, partition.account
        )
    }

    /// Durably accepts envelopes for `bus`, all in one write: when this returns Ok,
    /// each will reach the bus's rules even across a crash.
    pub async fn put(&self, bus: &str, events: Vec<serde_json::Value>) -> Result<(), TriggerError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        if events.is_empty() {
            return Ok(());
        }
        let accepted_ms = now_ms();
        let messages = events
            .into_iter()
            .map(|event| NewMessage {
                body: serde_json::to_string(&QueuedEvent {
                    bus: bus.to_string(),
                    event,
                    accepted_ms,
                })
                .expect("event serializes"),
                attributes: Default::default(),
                delay: Some(0),
            })
            .collect();
        self.inner.queue.send(EVENTS, messages).await?;
        Ok(())
    }

    /// Lets rule targets be SNS topics, published through `topics`.
    pub fn set_topics(&self, topics: &crate::sns::Topics) {
        let _ = self.inner.topics.set(topics.downgrade());
    }

    /// Starts the ingest and delivery workers.
    pub fn start(&self) {
        let mut workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..self.inner.cfg.workers.max(1) {
            let inner = self.inner.clone();
            workers.push(tokio::spawn(async move { inner.ingest_worker().await }));
            let inner = self.inner.clone();
            workers.push(tokio::spawn(async move { inner.delivery_worker().await }));
        }
    }

    /// Events and deliveries waiting (visible, in flight, delayed).
    pub async fn depth(&self) -> Result<(quiver_queue::Depth, quiver_queue::Depth), TriggerError> {
        Ok((
            self.inner.queue.depth(EVENTS).await?,
            self.inner.queue.depth(DELIVERIES).await?,
        ))
    }

    /// Stops taking events and waits for the workers; what is in flight stays queued.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let handles: Vec<_> =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            if tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .is_err()
            {
                tracing::warn!("eventbridge worker did not stop within 5 s");
            }
        }
        self.inner.queue.close().await;
    }
}

impl Inner {
    /// The enabled pattern rules of `bus`, compiled once per store change. A failed
    /// read is an error, never an empty rule set: matching an event against nothing
    /// would drop it, while an error leaves it queued for another try.
    fn rules_of(
        &self,
        bus: &str,
    ) -> Result<Arc<Vec<(quiver_events::bridge::Rule, Pattern)>>, String> {
        let stamp = self.store.change_counter();
        if let Some(c) = self
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bus)
        {
            if c.stamp == stamp {
                return Ok(c.rules.clone());
            }
        }
        let rules = self
            .store
            .list_event_rules(bus)
            .map_err(|e| format!("cannot read the rules of bus {bus}: {e}"))?;
        let compiled: Vec<_> = rules
            .into_iter()
            .filter(|r| r.state == quiver_events::bridge::RuleState::Enabled)
            .filter_map(|r| {
                let pattern = Pattern::parse(r.event_pattern.as_deref()?).ok()?;
                Some((r, pattern))
            })
            .collect();
        let rules = Arc::new(compiled);
        self.compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                bus.to_string(),
                CompiledRules {
                    stamp,
                    rules: rules.clone(),
                },
            );
        Ok(rules)
    }

    async fn ingest_worker(self: Arc<Self>) {
        let req = ReceiveRequest {
            max: 10,
            visibility_timeout: Some(VISIBILITY_S),
        };
        let this = self.clone();
        crate::consume::consume(
            &self.queue,
            EVENTS,
            req,
            &self.closed,
            "eventbridge event",
            move |msgs| {
                let this = this.clone();
                async move { this.ingest(msgs).await }
            },
        )
        .await;
    }

    /// Matches a batch of accepted events and queues their deliveries; the events are
    /// deleted only once their deliveries are queued.
    async fn ingest(&self, msgs: Vec<quiver_queue::Message>) {
        let mut deliveries = Vec::new();
        for m in &msgs {
            match serde_json::from_str::<QueuedEvent>(&m.body) {
                Ok(ev) => match self.fan_out(&ev) {
                    Ok(d) => deliveries.extend(d),
                    Err(e) => {
                        // The whole batch comes back after its visibility timeout.
                        tracing::error!("cannot match events now: {e}");
                        return;
                    }
                },
                Err(e) => tracing::error!(message = %m.id, "dropping unreadable event: {e}"),
            }
        }
        if !deliveries.is_empty() {
            let messages = deliveries
                .iter()
                .map(|d| NewMessage {
                    body: serde_json::to_string(d).expect("delivery serializes"),
                    attributes: Default::default(),
                    delay: Some(0),
                })
                .collect();
            if let Err(e) = self.queue.send(DELIVERIES, messages).await {
                // The events come back after their visibility timeout.
                tracing::error!("cannot queue deliveries: {e}");
                return;
            }
        }
        let receipts = msgs.into_iter().map(|m| m.receipt).collect();
        if let Err(e) = self.queue.delete(EVENTS, receipts).await {
            tracing::error!("cannot delete matched events: {e}");
        }
    }

    /// The deliveries one event makes: one per target of each matching rule.
    fn fan_out(&self, ev: &QueuedEvent) -> Result<Vec<Delivery>, String> {
        let event_id = ev.event["id"].as_str().unwrap_or_default().to_string();
        let ingestion_time =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ev.accepted_ms) * 1_000_000)
                .map(quiver_model::format_iso_millis)
                .unwrap_or_default();
        let mut out = Vec::new();
        for (rule, pattern) in self.rules_of(&ev.bus)?.iter() {
            if !pattern.matches(&ev.event) {
                continue;
            }
            let rule_arn = EventBridge::rule_arn(&self.partition, &ev.bus, &rule.name);
            for target in &rule.targets {
                out.push(Delivery {
                    event_id: event_id.clone(),
                    input: quiver_events::bridge::input_for_target(
                        target,
                        &ev.event,
                        &rule.name,
                        &rule_arn,
                        &ingestion_time,
                    ),
                    rule_arn: rule_arn.clone(),
                    event: ev.event.to_string(),
                    target: target.clone(),
                    accepted_ms: ev.accepted_ms,
                    attempts: 0,
                });
            }
        }
        Ok(out)
    }
}
