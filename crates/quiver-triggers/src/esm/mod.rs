//! Event source mappings' delivery (docs/wire.md §28): a supervisor that keeps one set
//! of SQS pollers per Enabled mapping, started from the store at start-up and
//! reconciled on every Create/Update/Delete (and every few hundred milliseconds, which
//! also notices a function deleted with its mappings). It settles the state Lambda
//! reports (Creating/Updating/Enabling → Enabled, Disabling → Disabled) once it acted,
//! and records LastProcessingResult.
//!
//! - [`batch`]: the pure rules: ReportBatchItemFailures answers, the FIFO group rule.
//! - [`sqs`]: one poller: receive, batch, filter, invoke, delete.

pub mod batch;
pub mod sqs;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quiver_events::pattern::FilterCriteria;
use quiver_model::event_source_mapping::{
    sqs_queue_name, EventSourceMapping, MappingState, SourceKind, DEFAULT_POLLERS,
};
use quiver_model::Partition;
use quiver_queue::Queues;
use quiver_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{FunctionTarget, Invoker};

/// How often the supervisor re-reads the store without being told of a change.
const RECONCILE_EVERY: Duration = Duration::from_millis(500);

/// Counters of one running mapping (`quiver ps --mappings`, the admin route).
#[derive(Debug, Default)]
pub struct Stats {
    pub batches: AtomicU64,
    pub errors: AtomicU64,
}

/// One mapping's figures as the admin route reports them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MappingStats {
    pub uuid: String,
    pub queue: String,
    pub pollers: usize,
    pub batches: u64,
    pub errors: u64,
    /// ApproximateNumberOfMessages of the queue.
    pub lag: u64,
}

struct Running {
    key: String,
    queue: String,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl Running {
    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

pub(crate) struct Shared {
    store: Arc<dyn Store>,
    queues: Arc<Queues>,
    invoker: Invoker,
    partition: Partition,
    wake: Notify,
    running: Mutex<HashMap<String, Running>>,
    results: Mutex<HashMap<String, String>>,
}

impl Shared {
    fn set_result(&self, uuid: &str, result: &str) {
        self.results
            .lock()
            .unwrap()
            .insert(uuid.to_string(), result.to_string());
    }
}

/// The supervisor's handle (cheap to clone).
#[derive(Clone)]
pub struct Mappings(Arc<Shared>);

impl Mappings {
    pub fn new(
        store: Arc<dyn Store>,
        queues: Arc<Queues>,
        invoker: Invoker,
        partition: Partition,
    ) -> Self {
        Self(Arc::new(Shared {
            store,
            queues,
            invoker,
            partition,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            results: Mutex::new(HashMap::new()),
        }))
    }

    /// Starts the supervisor loop (it reads the stored mappings at once).
    pub fn start(&self) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.reconcile().await {
                    tracing::warn!(error = %e, "event source mappings: reconcile failed");
                }
                tokio::select! {
                    _ = me.0.wake.notified() => {}
                    _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                }
            }
        })
    }

    /// Tells the supervisor a mapping changed (the API calls it after each write).
    pub fn changed(&self) {
        self.0.wake.notify_one();
    }

    /// Stops every poller (server shutdown); messages in flight return to their queue
    /// after its visibility timeout.
    pub fn shutdown(&self) {
        for (_, r) in self.0.running.lock().unwrap().drain() {
            r.stop();
        }
    }

    /// The running mappings' figures, by UUID.
    pub async fn stats(&self) -> Vec<MappingStats> {
        let rows: Vec<(String, String, usize, u64, u64)> = {
            let running = self.0.running.lock().unwrap();
            let mut rows: Vec<_> = running
                .iter()
                .map(|(u, r)| {
                    (
                        u.clone(),
                        r.queue.clone(),
                        r.tasks.len(),
                        r.stats.batches.load(Ordering::Relaxed),
                        r.stats.errors.load(Ordering::Relaxed),
                    )
                })
                .collect();
            rows.sort();
            rows
        };
        let mut out = Vec::with_capacity(rows.len());
        for (uuid, queue, pollers, batches, errors) in rows {
            let lag = self
                .0
                .queues
                .depth(&queue)
                .await
                .map(|d| d.visible)
                .unwrap_or(0);
            out.push(MappingStats {
                uuid,
                queue,
                pollers,
                batches,
                errors,
                lag,
            });
        }
        out
    }

    async fn reconcile(&self) -> Result<(), crate::TriggerError> {
        let store = self.0.store.clone();
        let all = tokio::task::spawn_blocking(move || store.list_mappings())
            .await
            .map_err(|e| crate::TriggerError::Platform(e.to_string()))?
            .map_err(|e| crate::TriggerError::Platform(e.to_string()))?;
        let mut settle: Vec<(String, Option<MappingState>, Option<String>)> = Vec::new();
        {
            let mut running = self.0.running.lock().unwrap();
            let present: std::collections::HashSet<&str> =
                all.iter().map(|m| m.uuid.as_str()).collect();
            let gone: Vec<String> = running
                .keys()
                .filter(|u| !present.contains(u.as_str()))
                .cloned()
                .collect();
            for u in gone {
                if let Some(r) = running.remove(&u) {
                    tracing::info!(mapping = %u, "event source mapping stopped (deleted)");
                    r.stop();
                }
            }
            for m in &all {
                let want = if m.enabled {
                    self.ensure_running(&mut running, m);
                    MappingState::Enabled
                } else {
                    if let Some(r) = running.remove(&m.uuid) {
                        tracing::info!(mapping = %m.uuid, "event source mapping stopped (disabled)");
                        r.stop();
                    }
                    MappingState::Disabled
                };
                let state = (m.state != want).then_some(want);
                let result = self
                    .0
                    .results
                    .lock()
                    .unwrap()
                    .get(&m.uuid)
                    .filter(|r| **r != m.last_processing_result)
                    .cloned();
                if state.is_some() || result.is_some() {
                    settle.push((m.uuid.clone(), state, result));
                }
            }
        }
        if settle.is_empty() {
            return Ok(());
        }
        let store = self.0.store.clone();
        tokio::task::spawn_blocking(move || {
            for (uuid, state, result) in settle {
                let _ = store.update_mapping(&uuid, &mut |m| {
                    if let Some(s) = state {
                        // Only a transition the supervisor acted on is settled: a newer
                        // change (Updating) written meanwhile is left for the next pass.
                        if matches!(
                            m.state,
                            MappingState::Creating
                                | MappingState::Updating
                                | MappingState::Enabling
                                | MappingState::Disabling
                        ) && (s == MappingState::Enabled) == m.enabled
                        {
                            m.state = s;
                        }
                    }
                    if let Some(r) = &result {
                        m.last_processing_result = r.clone();
                    }
                    Ok(())
                });
            }
        })
        .await
        .map_err(|e| crate::TriggerError::Platform(e.to_string()))?;
        Ok(())
    }

    fn ensure_running(&self, running: &mut HashMap<String, Running>, m: &EventSourceMapping) {
        let key = serde_json::to_string(&(
            &m.event_source_arn,
            &m.function_name,
            &m.qualifier,
            &m.settings,
        ))
        .unwrap_or_default();
        if running.get(&m.uuid).is_some_and(|r| r.key == key) {
            return;
        }
        if let Some(old) = running.remove(&m.uuid) {
            old.stop();
        }
        if SourceKind::of(&m.event_source_arn) != SourceKind::Sqs {
            return;
        }
        let Some(queue) = sqs_queue_name(&m.event_source_arn) else {
            return;
        };
        let filter = m
            .settings
            .filter_criteria
            .as_ref()
            .and_then(|f| FilterCriteria::parse(f).ok())
            .unwrap_or_default();
        let cfg = Arc::new(sqs::PollerConfig {
            uuid: m.uuid.clone(),
            queue: queue.to_string(),
            queue_arn: m.event_source_arn.clone(),
            region: self.0.partition.region.clone(),
            account: self.0.partition.account.clone(),
            target: FunctionTarget {
                name: m.function_name.clone(),
                qualifier: m.qualifier.clone(),
            },
            invoked_arn: self
                .0
                .partition
                .function_arn(&m.function_name, m.qualifier.as_deref()),
            batch_size: m.settings.effective_batch(SourceKind::Sqs),
            window: Duration::from_secs(
                m.settings.maximum_batching_window_in_seconds.unwrap_or(0) as u64
            ),
            filter,
            report_failures: m
                .settings
                .function_response_types
                .as_ref()
                .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
        });
        let pollers = m
            .settings
            .maximum_concurrency
            .unwrap_or(DEFAULT_POLLERS)
            .max(1);
        let stats = Arc::new(Stats::default());
        let tasks = (0..pollers)
            .map(|_| tokio::spawn(sqs::run(self.0.clone(), cfg.clone(), stats.clone())))
            .collect();
        tracing::info!(mapping = %m.uuid, queue, pollers, "event source mapping started");
        running.insert(
            m.uuid.clone(),
            Running {
                key,
                queue: queue.to_string(),
                tasks,
                stats,
            },
        );
    }
}
