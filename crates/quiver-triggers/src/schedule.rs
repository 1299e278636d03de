//! Schedules as a trigger: one task keeps the next fire of every enabled schedule and
//! wakes at the earliest. A fire is delivered as the rest of the server delivers: to a
//! function through the [`AsyncInvoker`] (durable queue, retries, destinations), to a
//! queue as a message. docs/wire.md §25.
//!
//! The catch-up rule: each schedule remembers when it last fired (the store's
//! `last_fire_ms`); after a fire the next one is computed from *now*, never from the
//! missed instant, so ticks missed while the server was down (or the task was late)
//! fire once, not once per missed tick.
//!
//! EventBridge Scheduler's schedules are loaded from the [`ScheduleStore`]; an
//! EventBridge rule with a ScheduleExpression uses the same [`Schedules::upsert`] /
//! [`Schedules::remove`] with [`Payload::ScheduledEvent`] and no stored record.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use quiver_events::schedule::{scheduled_event, time_zone, Dialect, ScheduleExpression};
use quiver_model::event_config::Destination;
use quiver_model::schedule::Schedule;
use quiver_model::{Chain, Partition};
use quiver_queue::{AttrValue, MessageAttribute, NewMessage, Queues};
use quiver_store::{Store, StoredSchedule};
use tokio::sync::Notify;

use crate::{AsyncEvent, AsyncInvoker, FunctionTarget, Invoker, TriggerError};

mod rules;

/// The longest the task sleeps without looking again (a safety net: every change
/// wakes it anyway).
const MAX_SLEEP_MS: i64 = 60_000;

/// Where a fire goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// An asynchronous invocation of this function (ARN as given, qualifier kept).
    Function {
        arn: String,
        name: String,
        qualifier: Option<String>,
    },
    /// A message to this server's queue of that name.
    Queue { name: String },
}

impl Delivery {
    /// A function or SQS queue ARN; None for any other target (SNS topics included).
    pub fn parse(arn: &str) -> Option<Self> {
        Some(match Destination::parse(arn)? {
            Destination::Function {
                arn,
                name,
                qualifier,
                ..
            } => Delivery::Function {
                arn,
                name,
                qualifier,
            },
            Destination::Queue { name, .. } => Delivery::Queue { name },
            // Scheduler can target topics; this ticker does not deliver to them yet
            // (docs/wire.md §25), so a topic target is refused like any other.
            Destination::Topic { .. } => return None,
        })
    }
}

/// What a fire carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The same text every time (Scheduler's `Target.Input`).
    Fixed(String),
    /// EventBridge's Scheduled Event envelope naming this rule.
    ScheduledEvent { rule_arn: String },
}

/// When a job fires.
#[derive(Debug, Clone)]
pub struct Timing {
    pub expression: ScheduleExpression,
    pub timezone: TimeZone,
    /// Where a rate counts from (StartDate, else the definition's time).
    pub anchor_ms: i64,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// FlexibleTimeWindow: each fire is delayed by a random amount below this.
    pub window_minutes: Option<u32>,
}

impl Timing {
    /// The next nominal fire strictly after `cursor_ms` within StartDate/EndDate.
    pub fn next_after(&self, cursor_ms: i64) -> Option<i64> {
        let after = match self.start_ms {
            Some(s) if s - 1 > cursor_ms => s - 1,
            _ => cursor_ms,
        };
        let ts = self.expression.next_after(
            Timestamp::from_millisecond(after).ok()?,
            &self.timezone,
            Timestamp::from_millisecond(self.anchor_ms).ok()?,
        )?;
        let ms = ts.as_millisecond();
        match self.end_ms {
            Some(end) if ms > end => None,
            _ => Some(ms),
        }
    }
}

/// One scheduled thing.
#[derive(Debug, Clone)]
pub struct Job {
    pub timing: Timing,
    pub delivery: Delivery,
    pub payload: Payload,
    /// A queue of this server that receives a fire that could not be delivered.
    pub dead_letter_queue: Option<String>,
    /// The Scheduler schedule (group, name) whose last fire is kept in the store.
    pub record: Option<(String, String)>,
    /// ActionAfterCompletion DELETE: the one-time schedule is deleted once fired.
    pub delete_after_completion: bool,
}

struct Entry {
    job: Job,
    /// Fires come strictly after this instant.
    cursor_ms: i64,
    /// The next (nominal, due-with-jitter) fire, computed lazily.
    pending: Option<(i64, i64)>,
    /// Bumped on every upsert, so a fire finishing after a redefinition leaves the
    /// new definition's cursor alone.
    generation: u64,
}

struct Inner {
    store: Arc<dyn Store>,
    invoker: Invoker,
    async_invoker: Option<AsyncInvoker>,
    queues: Option<Arc<Queues>>,
    partition: Partition,
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicI64,
    wake: Notify,
    closed: AtomicBool,
    /// Added to the wall clock (test-only: "as if the server ran this much later").
    clock_offset_ms: i64,
}

/// The schedule ticker and its table of jobs; cheap to clone.
#[derive(Clone)]
pub struct Schedules {
    inner: Arc<Inner>,
}

/// The key of a Scheduler schedule in the table.
pub fn scheduler_key(group: &str, name: &str) -> String {
    format!("scheduler/{group}/{name}")
}

fn wall_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// The Scheduler schedule as a job, or None when it is disabled (or, for a value the
/// API would have refused, unusable: logged).
pub fn scheduler_job(s: &Schedule) -> Option<Job> {
    if !s.enabled {
        return None;
    }
    let parsed = ScheduleExpression::parse(&s.expression, Dialect::Scheduler);
    let tz = time_zone(s.timezone.as_deref());
    let delivery = Delivery::parse(&s.target.arn);
    let (Ok(expression), Ok(timezone), Some(delivery)) = (parsed, tz, delivery) else {
        tracing::warn!(group = %s.group, name = %s.name, "stored schedule cannot fire; skipped");
        return None;
    };
    let one_time = expression.is_one_time();
    let dead_letter_queue =
        s.target
            .dead_letter_arn
            .as_deref()
            .and_then(|arn| match Destination::parse(arn) {
                Some(Destination::Queue { name, .. }) => Some(name),
                _ => None,
            });
    Some(Job {
        timing: Timing {
            expression,
            timezone,
            anchor_ms: s.start_date_ms.unwrap_or(s.modified_ms),
            // Scheduler ignores StartDate and EndDate for one-time schedules.
            start_ms: if one_time { None } else { s.start_date_ms },
            end_ms: if one_time { None } else { s.end_date_ms },
            window_minutes: s.flexible_window_minutes,
        },
        delivery,
        payload: Payload::Fixed(s.target.input.clone().unwrap_or_else(|| "{}".into())),
        dead_letter_queue,
        record: Some((s.group.clone(), s.name.clone())),
        delete_after_completion: one_time && s.delete_after_completion,
    })
}

/// Where a stored schedule's fires resume: after its last fire of this definition,
/// else (never fired since it was defined) just before the definition, so that a rate
/// fires at once and a cron or `at` waits for its next instant.
fn scheduler_cursor(stored: &StoredSchedule, job: &Job) -> i64 {
    let modified = stored.schedule.modified_ms;
    match stored.last_fire_ms {
        Some(last) if last >= modified => last,
        _ if job.timing.expression.period_secs().is_some() => {
            job.timing.anchor_ms.min(modified) - 1
        }
        _ => modified,
    }
}

impl Schedules {
    pub fn new(
        store: Arc<dyn Store>,
        invoker: Invoker,
        async_invoker: Option<AsyncInvoker>,
        queues: Option<Arc<Queues>>,
        partition: Partition,
        clock_offset_ms: i64,
    ) -> Self {
        Schedules {
            inner: Arc::new(Inner {
                store,
                invoker,
                async_invoker,
                queues,
                partition,
                entries: Mutex::new(HashMap::new()),
                generation: AtomicI64::new(0),
                wake: Notify::new(),
                closed: AtomicBool::new(false),
                clock_offset_ms,
            }),
        }
    }

    /// Adds or replaces a job; its fires come strictly after `cursor_ms`.
    pub fn upsert(&self, key: &str, job: Job, cursor_ms: i64) {
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) as u64 + 1;
        self.inner.lock().insert(
            key.to_string(),
            Entry {
                job,
                cursor_ms,
                pending: None,
                generation,
            },
        );
        self.inner.wake.notify_one();
    }

    /// Drops a job (a fire in progress still completes).
    pub fn remove(&self, key: &str) {
        self.inner.lock().remove(key);
        self.inner.wake.notify_one();
    }

    /// Takes a Scheduler schedule as stored now: enabled → (re)scheduled, disabled → off.
    pub fn sync_scheduler(&self, stored: &StoredSchedule) {
        let key = scheduler_key(&stored.schedule.group, &stored.schedule.name);
        match scheduler_job(&stored.schedule) {
            Some(job) => {
                let cursor = scheduler_cursor(stored, &job);
                self.upsert(&key, job, cursor)
            }
            None => self.remove(&key),
        }
    }

    /// Loads every stored Scheduler schedule (at start); returns how many are enabled.
    pub async fn load(&self) -> Result<usize, TriggerError> {
        let store = self.inner.store.clone();
        let all = tokio::task::spawn_blocking(move || store.list_schedules())
            .await
            .map_err(|e| TriggerError::Platform(e.to_string()))?
            .map_err(|e| TriggerError::Platform(e.to_string()))?;
        let mut n = 0;
        for stored in &all {
            if stored.schedule.enabled {
                n += 1;
            }
            self.sync_scheduler(stored);
        }
        Ok(n)
    }

    /// Runs the ticker until [`Schedules::shutdown`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.run().await })
    }

    pub fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// The next due fire of a job (ms), if it has one (ListSchedules has no such
    /// field; for tests and diagnostics).
    pub fn next_due(&self, key: &str) -> Option<i64> {
        let mut entries = self.inner.lock();
        let e = entries.get_mut(key)?;
        Inner::ensure_pending(e);
        e.pending.map(|(_, due)| due)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> i64 {
        wall_ms() + self.clock_offset_ms
    }

    fn ensure_pending(e: &mut Entry) {
        if e.pending.is_none() {
            e.pending = e.job.timing.next_after(e.cursor_ms).map(|nominal| {
                let jitter = match e.job.timing.window_minutes {
                    Some(m) if m > 0 => fastrand::i64(0..i64::from(m) * 60_000),
                    _ => 0,
                };
                (nominal, nominal + jitter)
            });
        }
    }

    async fn run(self: Arc<Self>) {
        while !self.closed.load(Ordering::SeqCst) {
            let now = self.now_ms();
            let mut due = Vec::new();
            let mut next: Option<i64> = None;
            {
                let mut entries = self.lock();
                for (key, e) in entries.iter_mut() {
                    Self::ensure_pending(e);
                    match e.pending {
                        Some((nominal, at)) if at <= now => {
                            due.push((key.clone(), nominal, e.job.clone(), e.generation))
                        }
                        Some((_, at)) => next = Some(next.map_or(at, |n: i64| n.min(at))),
                        None => {}
                    }
                }
            }
            for (key, nominal, job, generation) in due {
                self.fire(&key, nominal, &job).await;
                self.after_fire(&key, &job, generation, now).await;
            }
            let sleep = next.map_or(MAX_SLEEP_MS, |at| {
                (at - self.now_ms()).clamp(0, MAX_SLEEP_MS)
            });
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(sleep as u64)) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Moves the job past this fire (from now: the catch-up rule), persists the fire
    /// and retires a finished one-time schedule.
    async fn after_fire(&self, key: &str, job: &Job, generation: u64, now: i64) {
        let mut finished = false;
        {
            let mut entries = self.lock();
            if let Some(e) = entries.get_mut(key).filter(|e| e.generation == generation) {
                e.cursor_ms = now.max(e.pending.map_or(now, |(nominal, _)| nominal));
                e.pending = None;
                Self::ensure_pending(e);
                if e.pending.is_none() {
                    entries.remove(key);
                    finished = true;
                }
            }
        }
        let Some((group, name)) = job.record.clone() else {
            return;
        };
        let store = self.store.clone();
        let delete = finished && job.delete_after_completion;
        let res = tokio::task::spawn_blocking(move || {
            if delete {
                store.delete_schedule(&group, &name).map(|_| ())
            } else {
                store.record_schedule_fire(&group, &name, now).map(|_| ())
            }
        })
        .await;
        if let Ok(Err(e)) = res {
            tracing::error!(key, error = %e, "could not record a schedule's fire");
        }
    }

    async fn fire(&self, key: &str, nominal_ms: i64, job: &Job) {
        let payload = match &job.payload {
            Payload::Fixed(s) => s.clone(),
            Payload::ScheduledEvent { rule_arn } => {
                let time = Timestamp::from_millisecond(nominal_ms - nominal_ms.rem_euclid(1000))
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                scheduled_event(
                    &uuid::Uuid::new_v4().to_string(),
                    &time,
                    &self.partition.account,
                    &self.partition.region,
                    rule_arn,
                )
                .to_string()
            }
        };
        let result = self.deliver(&job.delivery, payload.clone()).await;
        match result {
            Ok(()) => tracing::debug!(key, "schedule fired"),
            Err(e) => {
                tracing::warn!(key, error = %e, "schedule fire not delivered");
                if let Some(dlq) = &job.dead_letter_queue {
                    self.dead_letter(dlq, payload, &e).await;
                }
            }
        }
    }

    async fn deliver(&self, delivery: &Delivery, payload: String) -> Result<(), String> {
        match delivery {
            Delivery::Function {
                arn,
                name,
                qualifier,
            } => {
                let Some(async_invoker) = &self.async_invoker else {
                    return Err("this server runs without an async dispatcher".into());
                };
                let target = FunctionTarget {
                    name: name.clone(),
                    qualifier: qualifier.clone(),
                };
                let resolved = self
                    .invoker
                    .resolve(&target)
                    .await
                    .map_err(|e| e.to_string())?;
                let secs = (wall_ms() / 1000).max(0) as u64;
                async_invoker
                    .enqueue(AsyncEvent {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        function: resolved.version.name.clone(),
                        qualifier: qualifier.clone(),
                        invoked_arn: arn.clone(),
                        payload,
                        chain: Chain::start(secs, fastrand::u128(..)),
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
            Delivery::Queue { name } => self.send(name, payload, BTreeMap::new()).await,
        }
    }

    async fn send(
        &self,
        queue: &str,
        body: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<(), String> {
        let Some(queues) = &self.queues else {
            return Err("this server keeps no queues".into());
        };
        queues
            .send(
                queue,
                vec![NewMessage {
                    body,
                    attributes,
                    delay: None,
                }],
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Scheduler's dead-letter message: the payload, with why it was not delivered.
    async fn dead_letter(&self, queue: &str, payload: String, error: &str) {
        let attr = |v: &str| MessageAttribute {
            data_type: "String".into(),
            value: AttrValue::String(v.to_string()),
        };
        let mut attributes = BTreeMap::new();
        attributes.insert("ERROR_CODE".to_string(), attr("TargetDeliveryFailed"));
        attributes.insert("ERROR_MESSAGE".to_string(), attr(error));
        if let Err(e) = self.send(queue, payload, attributes).await {
            tracing::error!(queue, error = %e, "schedule dead-letter queue refused the fire");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(expr: &str, anchor_ms: i64) -> Timing {
        Timing {
            expression: ScheduleExpression::parse(expr, Dialect::Scheduler).unwrap(),
            timezone: TimeZone::UTC,
            anchor_ms,
            start_ms: None,
            end_ms: None,
            window_minutes: None,
        }
    }

    #[test]
    fn start_and_end_dates_bound_the_fires() {
        let mut t = timing("rate(1 minute)", 0);
        t.start_ms = Some(600_000);
        t.end_ms = Some(720_000);
        assert_eq!(t.next_after(0), Some(600_000));
        assert_eq!(t.next_after(600_000), Some(660_000));
        assert_eq!(t.next_after(660_000), Some(720_000));
        assert_eq!(t.next_after(720_000), None);
    }

    #[test]
    fn a_late_cursor_gives_one_fire_not_one_per_missed_tick() {
        // Ten minutes of missed ticks: from the cursor there is exactly one due fire;
        // after it the cursor moves to now, and the next is in the future.
        let t = timing("rate(1 minute)", 0);
        let now = 10 * 60_000 + 5_000;
        let cursor = 0;
        let first = t.next_after(cursor).unwrap();
        assert!(first <= now);
        let next = t.next_after(now.max(first)).unwrap();
        assert_eq!(next, 11 * 60_000);
        assert!(next > now);
    }

    #[test]
    fn a_flexible_window_delays_each_fire_within_the_window() {
        let mut t = timing("rate(1 hour)", 0);
        t.window_minutes = Some(15);
        for _ in 0..200 {
            let mut e = Entry {
                job: Job {
                    timing: t.clone(),
                    delivery: Delivery::Queue { name: "q".into() },
                    payload: Payload::Fixed("{}".into()),
                    dead_letter_queue: None,
                    record: None,
                    delete_after_completion: false,
                },
                cursor_ms: 0,
                pending: None,
                generation: 0,
            };
            Inner::ensure_pending(&mut e);
            let (nominal, due) = e.pending.unwrap();
            assert_eq!(nominal, 3_600_000);
            assert!((nominal..nominal + 15 * 60_000).contains(&due));
        }
    }

    #[test]
    fn deliveries_are_functions_and_queues_only() {
        assert_eq!(
            Delivery::parse("arn:aws:sqs:us-east-1:123456789012:q"),
            Some(Delivery::Queue { name: "q".into() })
        );
        assert!(matches!(
            Delivery::parse("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Some(Delivery::Function { qualifier: Some(q), .. }) if q == "live"
        ));
        assert_eq!(
            Delivery::parse("arn:aws:sns:us-east-1:123456789012:t"),
            None
        );
    }
}
