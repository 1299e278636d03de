//! The async path: enqueue, dispatcher workers, retries, destinations, DLQ.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use quiver_model::{Chain, Destination, EffectiveInvokeConfig};
use quiver_queue::{
    AttrValue, Message, MessageAttribute, NewMessage, QueueConfig, Queues, ReceiveRequest,
    TRACE_HEADER_ATTRIBUTE,
};
use quiver_store::{Store, StoreError};
use time::OffsetDateTime;

use super::record::{dlq_error_message, invocation_record, Condition, Outcome, QueuedEvent};
use crate::invoker::{FunctionTarget, Invocation, Invoker, Source};
use crate::TriggerError;

/// Largest asynchronous event (Lambda raised it from 256 KB to 1 MB in 2025).
pub const MAX_ASYNC_PAYLOAD: usize = 1_048_576;
/// Largest queued event: the payload travels JSON-escaped inside its envelope. It is
/// valid JSON, so the only characters that grow are `"`, `\\` and the whitespace
/// controls between tokens, each to two bytes: twice the payload plus room for the
/// envelope's own fields always fits.
const MAX_EVENT_MESSAGE: u32 = 2 * MAX_ASYNC_PAYLOAD as u32 + 64 * 1024;

/// The one internal queue of pending asynchronous events.
const EVENTS: &str = "async-invocations";
/// A received event stays hidden this long unless its heartbeat extends it: after a
/// crash, events being processed reappear within this time.
const VISIBILITY_S: u32 = 10;
const HEARTBEAT: Duration = Duration::from_secs(3);

/// Settings of the async dispatcher.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    /// Events processed at once.
    pub workers: usize,
    /// Delay before the first retry after a function error; the second waits twice as
    /// long (Lambda: about 1 and 2 minutes).
    pub retry_base: Duration,
    /// Delay before trying a throttled event again (no attempt is used).
    pub throttle_backoff: Duration,
    /// Added to the clock used for event ages (development and tests: "as if the
    /// server restarted this much later"). Zero in normal use.
    pub clock_offset_ms: i64,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            workers: 32,
            retry_base: Duration::from_secs(60),
            throttle_backoff: Duration::from_secs(1),
            clock_offset_ms: 0,
        }
    }
}

/// An accepted asynchronous invocation.
#[derive(Debug, Clone)]
pub struct AsyncEvent {
    pub request_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub invoked_arn: String,
    pub payload: String,
    /// The chain of requests this event's invocation belongs to.
    pub chain: Chain,
}

struct Inner {
    /// Event invoke configs (read per event: retries, age, destinations).
    store: Arc<dyn Store>,
    /// Runs the function: the same path as a sync Invoke.
    invoker: Invoker,
    /// The SQS-compatible queues: destinations and dead-letter queues live there.
    user_queues: Arc<Queues>,
    /// The internal event queue (its own file).
    events: Queues,
    cfg: AsyncConfig,
    /// SNS topics as destinations and dead-letter targets (set once the topics' side
    /// exists; weak, since that side holds this invoker for its function subscribers).
    topics: OnceLock<Weak<crate::sns::Inner>>,
    closed: AtomicBool,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Accepts asynchronous invocations and runs them in the background.
#[derive(Clone)]
pub struct AsyncInvoker {
    inner: Arc<Inner>,
}

/// The attributes of a message Quiver writes for `ev` to one of its own queues: the
/// chain travels as the trace header (`Lineage` = the depth of the invocation the
/// message comes from), so a later poller continues it one deeper (docs/wire.md §18).
fn chained_attributes(ev: &QueuedEvent) -> BTreeMap<String, MessageAttribute> {
    let mut attributes = BTreeMap::new();
    if !ev.chain_root.is_empty() {
        attributes.insert(
            TRACE_HEADER_ATTRIBUTE.to_string(),
            MessageAttribute {
                data_type: "String".into(),
                value: AttrValue::String(ev.chain().trace_header()),
            },
        );
    }
    attributes
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn iso_now() -> String {
    quiver_model::format_iso_millis(OffsetDateTime::now_utc())
}

impl AsyncInvoker {
    /// Opens (creating) `<data_dir>/async.db`. Call [`AsyncInvoker::start`] to run workers.
    pub async fn open(
        data_dir: &Path,
        store: Arc<dyn Store>,
        invoker: Invoker,
        user_queues: Arc<Queues>,
        cfg: AsyncConfig,
    ) -> Result<AsyncInvoker, TriggerError> {
        let backend = quiver_queue::SqliteQueues::open(&data_dir.join("async.db"))?;
        let events = Queues::new(Arc::new(backend));
        let qcfg = QueueConfig {
            visibility_timeout: VISIBILITY_S,
            retention: quiver_queue::limits::MAX_RETENTION,
            max_message_size: MAX_EVENT_MESSAGE,
            ..QueueConfig::default()
        };
        let info = events.ensure_queue(EVENTS, qcfg.clone()).await?;
        if info.config != qcfg {
            // A data dir from an older Quiver: its queue was made with other settings
            // (e.g. the SQS size limit, too small for a 1 MB event).
            events.set_config(EVENTS, qcfg).await?;
        }
        Ok(AsyncInvoker {
            inner: Arc::new(Inner {
                store,
                invoker,
                user_queues,
                events,
                cfg,
                topics: OnceLock::new(),
                closed: AtomicBool::new(false),
                workers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Durably queues one event; returns once it is on disk (the caller then answers 202).
    pub async fn enqueue(&self, ev: AsyncEvent) -> Result<(), TriggerError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        let q = QueuedEvent {
            request_id: ev.request_id,
            function: ev.function,
            qualifier: ev.qualifier,
            invoked_arn: ev.invoked_arn,
            payload: ev.payload,
            first_ms: self.inner.now_ms(),
            attempts: 0,
            chain_root: ev.chain.root,
            depth: ev.chain.depth,
        };
        self.inner.send_event(&q, 0).await
    }

    /// Lets destinations and dead-letter targets be SNS topics, published through `topics`.
    pub fn set_topics(&self, topics: &crate::sns::Topics) {
        let _ = self.inner.topics.set(topics.downgrade());
    }

    /// Starts the dispatcher workers (none when configured with 0: events only queue).
    pub fn start(&self) {
        let mut workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..self.inner.cfg.workers {
            let inner = self.inner.clone();
            workers.push(tokio::spawn(async move { inner.worker().await }));
        }
    }

    /// Events waiting (visible, in flight, delayed).
    pub async fn depth(&self) -> Result<quiver_queue::Depth, TriggerError> {
        Ok(self.inner.events.depth(EVENTS).await?)
    }

    /// Stops taking new events and waits for the workers; events in flight stay queued
    /// and are delivered again after a restart.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let handles: Vec<_> =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            // A worker waits at most ~1 s in a receive; an invocation in progress is
            // cut short by the engine's shutdown and comes back after a restart.
            if tokio::time::timeout(Duration::from_secs(5), h)
                .await
                .is_err()
            {
                tracing::warn!("async worker did not stop within 5 s");
            }
        }
        self.inner.events.close().await;
    }
}

enum Attempt {
    /// The function ran; here is what it answered.
    Ran(quiver_engine::InvokeResult),
    /// Throttled or the platform could not run it now: try again, no attempt used.
    Later(String),
    /// The function (or version/alias) no longer exists.
    Gone,
    /// Recursive loop detection stopped it (the function did not run).
    Stopped,
}

impl Inner {
    fn now_ms(&self) -> i64 {
        now_ms() + self.cfg.clock_offset_ms
    }

    async fn send_event(&self, q: &QueuedEvent, delay_s: u32) -> Result<(), TriggerError> {
        let body = serde_json::to_string(q).expect("event serializes");
        let msg = NewMessage {
            body,
            attributes: BTreeMap::new(),
            delay: Some(delay_s),
        };
        self.events.send(EVENTS, vec![msg]).await?;
        Ok(())
    }

    async fn worker(self: Arc<Self>) {
        let req = ReceiveRequest {
            max: 1,
            visibility_timeout: Some(VISIBILITY_S),
        };
        let this = self.clone();
        crate::consume::consume(
            &self.events,
            EVENTS,
            req,
            &self.closed,
            "async queue",
            move |msgs| {
                let this = this.clone();
                async move {
                    for m in msgs {
                        this.process(m).await;
                    }
                }
            },
        )
        .await;
    }

    async fn process(self: &Arc<Self>, m: Message) {
        let ev: QueuedEvent = match serde_json::from_str(&m.body) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!(message = %m.id, "dropping unreadable async event: {e}");
                self.ack(&m).await;
                return;
            }
        };
        // Keep the event hidden while the function runs.
        let heartbeat = {
            let me = self.clone();
            let receipt = m.receipt.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let _ = me
                        .events
                        .change_visibility(EVENTS, vec![(receipt.clone(), VISIBILITY_S)])
                        .await;
                }
            })
        };
        self.handle(&m, ev).await;
        heartbeat.abort();
    }

    async fn handle(self: &Arc<Self>, m: &Message, ev: QueuedEvent) {
        let eff = match self.effective_config(&ev).await {
            Some(eff) => eff,
            None => {
                tracing::warn!(request_id = %ev.request_id, function = %ev.function, qualifier = ev.qualifier.as_deref(), "function no longer exists; async event dropped");
                self.ack(m).await;
                return;
            }
        };
        if self.now_ms() - ev.first_ms > i64::from(eff.maximum_event_age_in_seconds) * 1000 {
            self.fail(&ev, &eff, Condition::EventAgeExceeded, None)
                .await;
            self.ack(m).await;
            return;
        }
        match self.attempt(&ev).await {
            Attempt::Stopped => {
                // As Lambda: the event goes to the DLQ / OnFailure, if configured.
                self.fail(&ev, &eff, Condition::RecursiveInvocation, None)
                    .await;
                self.ack(m).await;
            }
            Attempt::Gone => {
                tracing::warn!(request_id = %ev.request_id, function = %ev.function, qualifier = ev.qualifier.as_deref(), "function no longer exists; async event dropped");
                self.ack(m).await;
            }
            Attempt::Later(why) => {
                tracing::info!(request_id = %ev.request_id, %why, "async event postponed");
                let secs = self.cfg.throttle_backoff.as_secs().max(1) as u32;
                let _ = self
                    .events
                    .change_visibility(EVENTS, vec![(m.receipt.clone(), secs)])
                    .await;
            }
            Attempt::Ran(result) => {
                let invokes = ev.attempts + 1;
                let outcome = Outcome {
                    executed_version: result.executed_version.clone(),
                    function_error: result.function_error.clone(),
                    payload: result.payload.to_vec(),
                };
                if result.function_error.is_none() {
                    if let Some(dest) = &eff.on_success {
                        self.deliver(dest, &ev, Condition::Success, invokes, Some(&outcome))
                            .await;
                    }
                    self.ack(m).await;
                } else if ev.attempts < eff.maximum_retry_attempts {
                    let mut next = ev.clone();
                    next.attempts = invokes;
                    let delay = self.cfg.retry_base.as_secs().max(1) * u64::from(invokes);
                    match self.send_event(&next, delay.min(900) as u32).await {
                        Ok(()) => self.ack(m).await,
                        Err(e) => {
                            tracing::error!(request_id = %ev.request_id, "could not queue the retry: {e}")
                        }
                    }
                } else {
                    self.fail(&ev, &eff, Condition::RetriesExhausted, Some(&outcome))
                        .await;
                    self.ack(m).await;
                }
            }
        }
    }

    async fn effective_config(&self, ev: &QueuedEvent) -> Option<EffectiveInvokeConfig> {
        let store = self.store.clone();
        let (name, q) = (ev.function.clone(), ev.qualifier.clone());
        match tokio::task::spawn_blocking(move || {
            store.effective_invoke_config(&name, q.as_deref())
        })
        .await
        {
            Ok(Ok(eff)) => Some(eff),
            Ok(Err(StoreError::NotFound)) => None,
            Ok(Err(e)) => {
                // Keep the event: a store hiccup is not the function's fault.
                tracing::error!("reading the event invoke config: {e}");
                Some(EffectiveInvokeConfig::default())
            }
            Err(e) => {
                tracing::error!("store task failed: {e}");
                Some(EffectiveInvokeConfig::default())
            }
        }
    }

    async fn attempt(&self, ev: &QueuedEvent) -> Attempt {
        let call = Invocation {
            target: FunctionTarget {
                name: ev.function.clone(),
                qualifier: ev.qualifier.clone(),
            },
            invoked_arn: ev.invoked_arn.clone(),
            payload: bytes::Bytes::from(ev.payload.clone().into_bytes()),
            request_id: ev.request_id.clone(),
            client_context: None,
            want_log_tail: false,
            source: Source::Event,
            chain: ev.chain(),
        };
        match self.invoker.invoke(call).await {
            Ok(r) => Attempt::Ran(r),
            Err(TriggerError::NotFound) => Attempt::Gone,
            Err(TriggerError::RecursiveLoop { .. }) => Attempt::Stopped,
            Err(TriggerError::Throttled { detail, .. }) => Attempt::Later(detail),
            Err(e) => Attempt::Later(e.to_string()),
        }
    }

    /// Routes a failed event to OnFailure and the dead-letter queue.
    async fn fail(
        &self,
        ev: &QueuedEvent,
        eff: &EffectiveInvokeConfig,
        condition: Condition,
        outcome: Option<&Outcome>,
    ) {
        let invokes = if outcome.is_some() {
            ev.attempts + 1
        } else {
            ev.attempts
        };
        tracing::warn!(request_id = %ev.request_id, function = %ev.function, qualifier = ev.qualifier.as_deref(), condition = condition.as_str(), invokes, "async event failed");
        if let Some(dest) = &eff.on_failure {
            self.deliver(dest, ev, condition, invokes, outcome).await;
        }
        if let Some(dlq) = &eff.dead_letter_queue {
            let error_message = dlq_error_message(condition, outcome);
            match dlq {
                Destination::Queue { name, .. } => {
                    let mut attributes = chained_attributes(ev);
                    let s = |v: &str| MessageAttribute {
                        data_type: "String".into(),
                        value: AttrValue::String(v.to_string()),
                    };
                    attributes.insert("RequestID".to_string(), s(&ev.request_id));
                    attributes.insert(
                        "ErrorCode".to_string(),
                        MessageAttribute {
                            data_type: "Number".into(),
                            value: AttrValue::String("200".into()),
                        },
                    );
                    attributes.insert("ErrorMessage".to_string(), s(&error_message));
                    let msg = NewMessage {
                        body: ev.payload.clone(),
                        attributes,
                        delay: None,
                    };
                    if let Err(e) = self.user_queues.send(name, vec![msg]).await {
                        tracing::error!(request_id = %ev.request_id, queue = %name, "could not deliver to the dead-letter queue: {e}");
                    }
                }
                Destination::Topic { arn, name, .. } => {
                    let s = |v: &str| quiver_model::sns::message::MessageAttr {
                        data_type: "String".into(),
                        string_value: Some(v.to_string()),
                        binary_value: None,
                    };
                    let mut attributes = BTreeMap::new();
                    attributes.insert("RequestID".to_string(), s(&ev.request_id));
                    attributes.insert(
                        "ErrorCode".to_string(),
                        quiver_model::sns::message::MessageAttr {
                            data_type: "Number".into(),
                            string_value: Some("200".into()),
                            binary_value: None,
                        },
                    );
                    attributes.insert("ErrorMessage".to_string(), s(&error_message));
                    self.publish(ev, arn, name, ev.payload.clone(), attributes)
                        .await;
                }
                Destination::Function { .. } => {}
            }
        }
    }

    /// Publishes `message` to a topic of this server, one deeper in `ev`'s chain.
    async fn publish(
        &self,
        ev: &QueuedEvent,
        arn: &str,
        name: &str,
        message: String,
        attributes: BTreeMap<String, quiver_model::sns::message::MessageAttr>,
    ) {
        let Some(topics) = self.topics.get().and_then(crate::sns::Topics::upgrade) else {
            tracing::error!(request_id = %ev.request_id, topic = %arn, "could not publish to the topic: topics are not enabled");
            return;
        };
        let m = crate::sns::Published {
            subject: None,
            bodies: quiver_model::sns::message::Bodies {
                default: message,
                per_protocol: BTreeMap::new(),
            },
            attributes,
            chain: ev.chain().child(),
        };
        if let Err(e) = topics.publish(arn, name, vec![m]).await {
            tracing::error!(request_id = %ev.request_id, topic = %arn, "could not publish to the topic: {e}");
        }
    }

    async fn deliver(
        &self,
        dest: &Destination,
        ev: &QueuedEvent,
        condition: Condition,
        invokes: u32,
        outcome: Option<&Outcome>,
    ) {
        let executed = outcome
            .map(|o| o.executed_version.clone())
            .or_else(|| ev.qualifier.clone())
            .unwrap_or_else(|| "$LATEST".into());
        let function_arn = self
            .invoker
            .partition()
            .function_arn(&ev.function, Some(&executed));
        let record = invocation_record(ev, &function_arn, condition, invokes, outcome, &iso_now())
            .to_string();
        match dest {
            Destination::Queue { name, .. } => {
                let msg = NewMessage {
                    body: record,
                    attributes: chained_attributes(ev),
                    delay: None,
                };
                if let Err(e) = self.user_queues.send(name, vec![msg]).await {
                    tracing::error!(request_id = %ev.request_id, queue = %name, "could not deliver to the destination: {e}");
                }
            }
            Destination::Topic { arn, name, .. } => {
                self.publish(ev, arn, name, record, BTreeMap::new()).await;
            }
            Destination::Function {
                name,
                qualifier,
                arn,
                ..
            } => {
                let next = QueuedEvent {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    function: name.clone(),
                    qualifier: qualifier.clone(),
                    invoked_arn: arn.clone(),
                    payload: record,
                    first_ms: self.now_ms(),
                    attempts: 0,
                    // An event Quiver produces from this invocation: one deeper.
                    chain_root: ev.chain_root.clone(),
                    depth: ev.depth.saturating_add(1),
                };
                if let Err(e) = self.send_event(&next, 0).await {
                    tracing::error!(request_id = %ev.request_id, function = %name, "could not deliver to the destination function: {e}");
                }
            }
        }
    }

    async fn ack(&self, m: &Message) {
        if let Err(e) = self.events.delete(EVENTS, vec![m.receipt.clone()]).await {
            tracing::error!(message = %m.id, "could not remove a processed async event: {e}");
        }
    }
}
