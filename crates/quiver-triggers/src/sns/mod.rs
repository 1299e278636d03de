//! SNS-compatible topics' delivery: a published message is made durable first (one
//! record per subscription in `<data-dir>/sns.db`, a [`quiver_queue`] queue, before
//! Publish answers), then worker tasks deliver each record:
//! - `lambda`: an asynchronous invocation through the [`AsyncInvoker`] (the SNS event);
//! - `sqs`: a message on this server's queue (the JSON envelope, or the raw message
//!   with RawMessageDelivery, its attributes mapped to SQS message attributes);
//! - `http`/`https`: a POST with SNS's headers ([`http`]); a new subscription's
//!   SubscriptionConfirmation goes the same way.
//!
//! A failed delivery is tried again after the retry delay, [`SnsConfig::attempts`]
//! times in all; then it goes to the subscription's RedrivePolicy queue, if any, and is
//! dropped (docs/wire.md §26).

mod http;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quiver_model::sns::message::{self, Bodies, Links, MessageAttr, Notification};
use quiver_model::sns::{lambda_target, sqs_queue_name, Protocol, Subscription};
use quiver_model::Chain;
use quiver_queue::{
    AttrValue, Message, MessageAttribute, NewMessage, QueueConfig, Queues, ReceiveRequest,
    TRACE_HEADER_ATTRIBUTE,
};
use quiver_store::Store;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event_invoke::{AsyncEvent, AsyncInvoker};
use crate::TriggerError;

/// The one internal queue of pending deliveries.
const DELIVERIES: &str = "sns-deliveries";
/// A received delivery stays hidden this long (longer than an HTTP POST may take).
const VISIBILITY_S: u32 = 30;

/// Settings of the delivery workers.
#[derive(Debug, Clone)]
pub struct SnsConfig {
    pub workers: usize,
    /// Tries per delivery, the first included (SNS's HTTP default: 1 + 3 retries).
    pub attempts: u32,
    /// Wait before trying again (SNS's HTTP default policy: 20 s, linear).
    pub retry_delay: Duration,
}

impl Default for SnsConfig {
    fn default() -> Self {
        SnsConfig {
            workers: 4,
            attempts: 4,
            retry_delay: Duration::from_secs(20),
        }
    }
}

/// One message as published, before it is fanned out.
#[derive(Debug, Clone)]
pub struct Published {
    pub subject: Option<String>,
    pub bodies: Bodies,
    pub attributes: BTreeMap<String, MessageAttr>,
    /// The chain the publish belongs to (a new one for a client's Publish).
    pub chain: Chain,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Kind {
    Notification(Notification),
    Confirmation { token: String },
}

/// One queued delivery to one subscription.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Delivery {
    subscription_arn: String,
    kind: Kind,
    chain_root: String,
    depth: u32,
}

/// Whether `sub` takes `n`: a subscription without a FilterPolicy takes every message;
/// one with a policy takes what the event pattern engine's SNS dialect lets through, in
/// its scope (message attributes by default, or the JSON body). A policy that does not
/// compile in its scope (nesting under MessageAttributes) takes nothing.
fn passes_filter(sub: &Subscription, n: &Notification) -> bool {
    use quiver_events::pattern::{sns_filter_policy, FilterPolicyScope, SnsAttribute};
    let Some(policy) = sub.attributes.get("FilterPolicy").filter(|p| !p.is_empty()) else {
        return true;
    };
    let scope = sub
        .attributes
        .get("FilterPolicyScope")
        .and_then(|s| FilterPolicyScope::parse(s))
        .unwrap_or_default();
    match sns_filter_policy(policy, scope) {
        Ok(p) => {
            let attrs: BTreeMap<String, SnsAttribute> = n
                .attributes
                .iter()
                .map(|(k, a)| {
                    let attr = SnsAttribute {
                        data_type: a.data_type.clone(),
                        string_value: a.string_value.clone(),
                    };
                    (k.clone(), attr)
                })
                .collect();
            p.matches(&n.message, &attrs)
        }
        Err(e) => {
            tracing::warn!(subscription = %sub.arn, "filter policy does not apply in its scope: {e}");
            false
        }
    }
}

pub(crate) struct Inner {
    store: Arc<dyn Store>,
    async_invoker: AsyncInvoker,
    user_queues: Arc<Queues>,
    deliveries: Queues,
    public_url: String,
    cfg: SnsConfig,
    closed: AtomicBool,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Accepts published messages and delivers them in the background.
#[derive(Clone)]
pub struct Topics {
    inner: Arc<Inner>,
}

/// The URL a SubscriptionConfirmation's reader visits to confirm (`GET /`, unsigned).
fn subscribe_url(public_url: &str, topic_arn: &str, token: &str) -> String {
    format!("{public_url}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}")
}

fn iso_now() -> String {
    quiver_model::format_iso_millis(OffsetDateTime::now_utc())
}

fn platform(e: impl std::fmt::Display) -> TriggerError {
    TriggerError::Platform(e.to_string())
}

impl Topics {
    /// Opens (creating) `<data_dir>/sns.db`. Call [`Topics::start`] to run workers.
    pub async fn open(
        data_dir: &Path,
        store: Arc<dyn Store>,
        async_invoker: AsyncInvoker,
        user_queues: Arc<Queues>,
        public_url: &str,
        cfg: SnsConfig,
    ) -> Result<Topics, TriggerError> {
        let backend = quiver_queue::SqliteQueues::open(&data_dir.join("sns.db"))?;
        let deliveries = Queues::new(Arc::new(backend));
        let qcfg = QueueConfig {
            visibility_timeout: VISIBILITY_S,
            retention: quiver_queue::limits::MAX_RETENTION,
            // An envelope of a 256 KiB message, JSON-escaped, with room for the record.
            max_message_size: 2 * 1024 * 1024,
            ..QueueConfig::default()
        };
        let info = deliveries.ensure_queue(DELIVERIES, qcfg.clone()).await?;
        if info.config != qcfg {
            deliveries.set_config(DELIVERIES, qcfg).await?;
        }
        Ok(Topics {
            inner: Arc::new(Inner {
                store,
                async_invoker,
                user_queues,
                deliveries,
                public_url: public_url.trim_end_matches('/').to_string(),
                cfg,
                closed: AtomicBool::new(false),
                workers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Fans `messages` out to the topic's confirmed subscriptions: every delivery is on
    /// disk when this returns. Returns the message ids, in order.
    pub async fn publish(
        &self,
        topic_arn: &str,
        topic_name: &str,
        messages: Vec<Published>,
    ) -> Result<Vec<String>, TriggerError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        let subs = self
            .inner
            .subscriptions(topic_name)
            .await?
            .ok_or(TriggerError::NotFound)?;
        let mut ids = Vec::with_capacity(messages.len());
        let mut records = Vec::new();
        for m in messages {
            let id = uuid::Uuid::new_v4().to_string();
            let timestamp = iso_now();
            for sub in subs.iter().filter(|s| !s.pending) {
                let n = Notification {
                    message_id: id.clone(),
                    topic_arn: topic_arn.to_string(),
                    subject: m.subject.clone(),
                    message: m.bodies.for_protocol(sub.protocol).to_string(),
                    timestamp: timestamp.clone(),
                    attributes: m.attributes.clone(),
                };
                if passes_filter(sub, &n) {
                    records.push(Delivery {
                        subscription_arn: sub.arn.clone(),
                        kind: Kind::Notification(n),
                        chain_root: m.chain.root.clone(),
                        depth: m.chain.depth,
                    });
                }
            }
            ids.push(id);
        }
        self.inner.enqueue(records).await?;
        Ok(ids)
    }

    /// Queues the SubscriptionConfirmation of a new http/https subscription.
    pub async fn request_confirmation(&self, sub: &Subscription) -> Result<(), TriggerError> {
        let token = sub
            .token
            .clone()
            .ok_or_else(|| platform("subscription without a token"))?;
        self.inner
            .enqueue(vec![Delivery {
                subscription_arn: sub.arn.clone(),
                kind: Kind::Confirmation { token },
                chain_root: String::new(),
                depth: 0,
            }])
            .await
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(w: &std::sync::Weak<Inner>) -> Option<Topics> {
        w.upgrade().map(|inner| Topics { inner })
    }

    /// Starts the delivery workers.
    pub fn start(&self) {
        let mut workers = self.inner.workers.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..self.inner.cfg.workers {
            let inner = self.inner.clone();
            workers.push(tokio::spawn(async move { inner.worker().await }));
        }
    }

    /// Stops the workers; deliveries not yet done stay queued for the next start.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let handles: Vec<_> =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            if tokio::time::timeout(Duration::from_secs(20), h)
                .await
                .is_err()
            {
                tracing::warn!("SNS delivery worker did not stop within 20 s");
            }
        }
        self.inner.deliveries.close().await;
    }
}

impl Inner {
    /// The topic's subscriptions; None when the topic does not exist.
    async fn subscriptions(
        &self,
        topic_name: &str,
    ) -> Result<Option<Vec<Subscription>>, TriggerError> {
        let store = self.store.clone();
        let name = topic_name.to_string();
        tokio::task::spawn_blocking(move || {
            if store.get_topic(&name).map_err(platform)?.is_none() {
                return Ok(None);
            }
            let mut all = Vec::new();
            loop {
                let after = all.last().map(|s: &Subscription| s.arn.clone());
                let page = store
                    .list_subscriptions(Some(&name), after.as_deref(), 1000)
                    .map_err(platform)?;
                let done = page.len() < 1000;
                all.extend(page);
                if done {
                    return Ok(Some(all));
                }
            }
        })
        .await
        .map_err(platform)?
    }

    async fn enqueue(&self, records: Vec<Delivery>) -> Result<(), TriggerError> {
        // The queue takes at most ten messages per send, as SQS does.
        let msgs: Vec<NewMessage> = records
            .iter()
            .map(|r| NewMessage {
                body: serde_json::to_string(r).expect("delivery serializes"),
                attributes: BTreeMap::new(),
                delay: Some(0),
            })
            .collect();
        for chunk in msgs.chunks(10) {
            self.deliveries.send(DELIVERIES, chunk.to_vec()).await?;
        }
        Ok(())
    }

    fn links(&self, sub_arn: &str) -> Links {
        Links {
            signing_cert_url: format!(
                "{}/_quiver/sns/SimpleNotificationService.pem",
                self.public_url
            ),
            unsubscribe_url: format!(
                "{}/?Action=Unsubscribe&SubscriptionArn={sub_arn}",
                self.public_url
            ),
        }
    }

    async fn worker(self: Arc<Self>) {
        let req = ReceiveRequest {
            max: 1,
            visibility_timeout: Some(VISIBILITY_S),
        };
        let this = self.clone();
        crate::consume::consume(
            &self.deliveries,
            DELIVERIES,
            req,
            &self.closed,
            "SNS delivery queue",
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

    async fn process(&self, m: Message) {
        let d: Delivery = match serde_json::from_str(&m.body) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(message = %m.id, "dropping an unreadable SNS delivery: {e}");
                return self.ack(&m).await;
            }
        };
        let store = self.store.clone();
        let arn = d.subscription_arn.clone();
        let sub = match tokio::task::spawn_blocking(move || store.get_subscription(&arn)).await {
            Ok(Ok(s)) => s,
            other => {
                tracing::error!(subscription = %d.subscription_arn, "cannot read the subscription: {other:?}");
                return; // comes back after the visibility timeout
            }
        };
        let Some(sub) = sub else {
            // Unsubscribed (or its topic deleted) since: nothing to deliver.
            return self.ack(&m).await;
        };
        let result = match &d.kind {
            Kind::Notification(_) if sub.pending => Ok(()),
            Kind::Notification(n) => self.deliver(&sub, n, &d).await,
            Kind::Confirmation { token } => self.confirm(&sub, token).await,
        };
        match result {
            Ok(()) => self.ack(&m).await,
            Err(why) if m.receive_count < self.cfg.attempts => {
                tracing::warn!(subscription = %sub.arn, attempt = m.receive_count, "SNS delivery failed, will retry: {why}");
                let delay = self.cfg.retry_delay.as_secs().min(43_200) as u32;
                if let Err(e) = self
                    .deliveries
                    .change_visibility(DELIVERIES, vec![(m.receipt.clone(), delay)])
                    .await
                {
                    tracing::error!("cannot delay an SNS retry: {e}");
                }
            }
            Err(why) => {
                tracing::warn!(subscription = %sub.arn, attempts = m.receive_count, "SNS delivery failed for good: {why}");
                if let (Kind::Notification(n), Some(dlq)) = (&d.kind, sub.dead_letter_queue()) {
                    let body = message::envelope(n, &self.links(&sub.arn)).to_string();
                    let msg = NewMessage {
                        body,
                        attributes: BTreeMap::new(),
                        delay: None,
                    };
                    if let Err(e) = self.user_queues.send(&dlq, vec![msg]).await {
                        tracing::error!(queue = %dlq, "cannot move a failed SNS delivery to its dead-letter queue: {e}");
                    }
                }
                self.ack(&m).await;
            }
        }
    }

    async fn deliver(
        &self,
        sub: &Subscription,
        n: &Notification,
        d: &Delivery,
    ) -> Result<(), String> {
        let links = self.links(&sub.arn);
        let chain = Chain {
            root: d.chain_root.clone(),
            depth: d.depth,
        };
        match sub.protocol {
            Protocol::Lambda => {
                let (function, qualifier) =
                    lambda_target(&sub.endpoint).ok_or("not a function ARN")?;
                let event = AsyncEvent {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    function,
                    qualifier,
                    invoked_arn: sub.endpoint.clone(),
                    payload: message::lambda_event(n, &sub.arn, &links).to_string(),
                    chain,
                };
                self.async_invoker
                    .enqueue(event)
                    .await
                    .map_err(|e| e.to_string())
            }
            Protocol::Sqs => {
                let queue = sqs_queue_name(&sub.endpoint).ok_or("not a queue ARN")?;
                let mut attributes = BTreeMap::new();
                let body = if sub.raw() {
                    for (k, a) in &n.attributes {
                        let value = match (&a.binary_value, a.data_type.starts_with("Binary")) {
                            (Some(b), true) => AttrValue::Binary(b.clone()),
                            _ => AttrValue::String(a.string_value.clone().unwrap_or_default()),
                        };
                        attributes.insert(
                            k.clone(),
                            MessageAttribute {
                                data_type: a.data_type.clone(),
                                value,
                            },
                        );
                    }
                    n.message.clone()
                } else {
                    message::envelope(n, &links).to_string()
                };
                if !chain.root.is_empty() {
                    attributes.insert(
                        TRACE_HEADER_ATTRIBUTE.to_string(),
                        MessageAttribute {
                            data_type: "String".into(),
                            value: AttrValue::String(chain.trace_header()),
                        },
                    );
                }
                let msg = NewMessage {
                    body,
                    attributes,
                    delay: None,
                };
                self.user_queues
                    .send(&queue, vec![msg])
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Protocol::Http | Protocol::Https => {
                let mut headers = vec![
                    ("x-amz-sns-message-type", "Notification".to_string()),
                    ("x-amz-sns-message-id", n.message_id.clone()),
                    ("x-amz-sns-topic-arn", n.topic_arn.clone()),
                    ("x-amz-sns-subscription-arn", sub.arn.clone()),
                ];
                let body = if sub.raw() {
                    headers.push(("x-amz-sns-rawdelivery", "true".to_string()));
                    n.message.clone()
                } else {
                    message::envelope(n, &links).to_string()
                };
                http::send(http::Post {
                    url: sub.endpoint.clone(),
                    headers,
                    body,
                })
                .await
            }
        }
    }

    async fn confirm(&self, sub: &Subscription, token: &str) -> Result<(), String> {
        if !sub.pending {
            return Ok(());
        }
        let id = uuid::Uuid::new_v4().to_string();
        let subscribe_url = subscribe_url(&self.public_url, &sub.topic_arn, token);
        let body = message::confirmation(
            &id,
            token,
            &sub.topic_arn,
            &subscribe_url,
            &iso_now(),
            &self.links(&sub.arn).signing_cert_url,
        );
        http::send(http::Post {
            url: sub.endpoint.clone(),
            headers: vec![
                ("x-amz-sns-message-type", "SubscriptionConfirmation".into()),
                ("x-amz-sns-message-id", id),
                ("x-amz-sns-topic-arn", sub.topic_arn.clone()),
            ],
            body: body.to_string(),
        })
        .await
    }

    async fn ack(&self, m: &Message) {
        if let Err(e) = self
            .deliveries
            .delete(DELIVERIES, vec![m.receipt.clone()])
            .await
        {
            tracing::error!(message = %m.id, "could not remove a finished SNS delivery: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
