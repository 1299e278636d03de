//! The delivery stage: one target's input handed on, retried within the target's
//! RetryPolicy, then sent to its dead-letter queue.

use std::collections::BTreeMap;
use std::sync::Arc;

use quiver_events::bridge::{after_failure, target_kind, AfterFailure, TargetKind};
use quiver_queue::{AttrValue, Message, MessageAttribute, NewMessage, QueueError, ReceiveRequest};

use super::{now_ms, Delivery, Inner, DELIVERIES, VISIBILITY_S};
use crate::invoker::FunctionTarget;
use crate::{AsyncEvent, TriggerError};

/// Why a delivery failed: EventBridge's ERROR_CODE and ERROR_MESSAGE attributes.
struct Failure {
    code: &'static str,
    message: String,
}

impl Inner {
    pub(super) async fn delivery_worker(self: Arc<Self>) {
        let req = ReceiveRequest {
            max: 10,
            visibility_timeout: Some(VISIBILITY_S),
        };
        let this = self.clone();
        crate::consume::consume(
            &self.queue,
            DELIVERIES,
            req,
            &self.closed,
            "eventbridge delivery",
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
                tracing::error!(message = %m.id, "dropping unreadable delivery: {e}");
                self.ack(&m).await;
                return;
            }
        };
        match self.attempt(&d).await {
            Ok(()) => self.ack(&m).await,
            Err(failure) => {
                // The retry (or the dead letter) is durable before the delivery goes.
                if self.after_failure(&d, failure).await.is_ok() {
                    self.ack(&m).await;
                }
            }
        }
    }

    async fn ack(&self, m: &Message) {
        if let Err(e) = self.queue.delete(DELIVERIES, vec![m.receipt.clone()]).await {
            tracing::error!("cannot delete a delivery: {e}");
        }
    }

    async fn attempt(&self, d: &Delivery) -> Result<(), Failure> {
        let kind = target_kind(&d.target.arn).map_err(|message| Failure {
            code: "ValidationException",
            message,
        })?;
        match kind {
            TargetKind::Lambda {
                function,
                qualifier,
            } => {
                let target = FunctionTarget {
                    name: function,
                    qualifier: qualifier.clone(),
                };
                let resolved = self.invoker.resolve(&target).await.map_err(|e| match e {
                    TriggerError::NotFound => Failure {
                        code: "ResourceNotFoundException",
                        message: format!("Function not found: {}", d.target.arn),
                    },
                    other => Failure {
                        code: "InternalException",
                        message: other.to_string(),
                    },
                })?;
                let ev = AsyncEvent {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    function: resolved.version.name.clone(),
                    qualifier,
                    invoked_arn: d.target.arn.clone(),
                    payload: d.input.clone(),
                    // Each delivery starts a chain of its own, as an original request does.
                    chain: quiver_model::Chain::start(
                        (now_ms() / 1000) as u64,
                        uuid::Uuid::new_v4().as_u128(),
                    ),
                };
                self.async_invoker.enqueue(ev).await.map_err(|e| Failure {
                    code: "InternalException",
                    message: e.to_string(),
                })
            }
            TargetKind::Sqs { queue } => {
                let msg = NewMessage {
                    body: d.input.clone(),
                    attributes: BTreeMap::new(),
                    delay: None,
                };
                self.user_queues
                    .send(&queue, vec![msg])
                    .await
                    .map(|_| ())
                    .map_err(|e| match e {
                        QueueError::QueueNotFound(_) => Failure {
                            code: "ResourceNotFoundException",
                            message: format!("Queue {} does not exist.", d.target.arn),
                        },
                        other => Failure {
                            code: "SQSError",
                            message: other.to_string(),
                        },
                    })
            }
            TargetKind::Sns { topic } => {
                let Some(topics) = self.topics.get().and_then(crate::sns::Topics::upgrade) else {
                    return Err(Failure {
                        code: "InternalException",
                        message: "SNS topics are not enabled on this server".into(),
                    });
                };
                let m = crate::sns::Published {
                    subject: None,
                    bodies: quiver_model::sns::message::Bodies {
                        default: d.input.clone(),
                        per_protocol: BTreeMap::new(),
                    },
                    attributes: BTreeMap::new(),
                    chain: quiver_model::Chain::start(
                        (now_ms() / 1000) as u64,
                        uuid::Uuid::new_v4().as_u128(),
                    ),
                };
                topics
                    .publish(&d.target.arn, &topic, vec![m])
                    .await
                    .map(|_| ())
                    .map_err(|e| match e {
                        TriggerError::NotFound => Failure {
                            code: "ResourceNotFoundException",
                            message: format!("Topic {} does not exist.", d.target.arn),
                        },
                        other => Failure {
                            code: "SNSError",
                            message: other.to_string(),
                        },
                    })
            }
        }
    }

    /// Queues the next try, or sends the event to the target's dead-letter queue when
    /// its attempts or its age are used up.
    async fn after_failure(&self, d: &Delivery, f: Failure) -> Result<(), QueueError> {
        let attempts = d.attempts + 1;
        let decision = after_failure(
            d.target.retry_policy.as_ref(),
            d.attempts,
            now_ms() - d.accepted_ms,
            self.cfg.retry_base.as_secs(),
        );
        tracing::info!(event_id = %d.event_id, target = %d.target.arn, attempts, error = %f.message, "eventbridge delivery failed");
        let condition = match decision {
            AfterFailure::RetryIn(delay_s) => {
                let next = Delivery {
                    attempts,
                    ..d.clone()
                };
                let msg = NewMessage {
                    body: serde_json::to_string(&next).expect("delivery serializes"),
                    attributes: BTreeMap::new(),
                    delay: Some(delay_s),
                };
                return self.queue.send(DELIVERIES, vec![msg]).await.map(|_| ());
            }
            AfterFailure::Exhausted(condition) => condition,
        };
        let dlq = d
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|c| c.arn.as_deref());
        let Some(dlq_arn) = dlq else {
            tracing::warn!(event_id = %d.event_id, target = %d.target.arn, condition, "eventbridge delivery given up; the target has no dead-letter queue");
            return Ok(());
        };
        let queue = dlq_arn.rsplit(':').next().unwrap_or_default().to_string();
        let attr = |v: String| MessageAttribute {
            data_type: "String".into(),
            value: AttrValue::String(v),
        };
        let mut attributes = BTreeMap::new();
        attributes.insert("RULE_ARN".to_string(), attr(d.rule_arn.clone()));
        attributes.insert("TARGET_ARN".to_string(), attr(d.target.arn.clone()));
        attributes.insert("ERROR_CODE".to_string(), attr(f.code.to_string()));
        attributes.insert("ERROR_MESSAGE".to_string(), attr(f.message));
        attributes.insert(
            "EXHAUSTED_RETRY_CONDITION".to_string(),
            attr(condition.to_string()),
        );
        attributes.insert(
            "RETRY_ATTEMPTS".to_string(),
            MessageAttribute {
                data_type: "Number".into(),
                value: AttrValue::String(d.attempts.to_string()),
            },
        );
        let msg = NewMessage {
            body: d.event.clone(),
            attributes,
            delay: None,
        };
        match self.user_queues.send(&queue, vec![msg]).await {
            Ok(_) => Ok(()),
            Err(QueueError::QueueNotFound(_)) => {
                tracing::warn!(event_id = %d.event_id, dlq = dlq_arn, "eventbridge dead-letter queue does not exist; event dropped");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
