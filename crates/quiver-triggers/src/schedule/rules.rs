//! EventBridge rules with a `ScheduleExpression` as jobs of the schedule ticker
//! (docs/wire.md §24.5): one job per target of an enabled scheduled rule, firing
//! EventBridge's Scheduled Event (or the target's constant `Input`).
//!
//! Rules keep no record of their fires: a rule's schedule starts when it is defined or
//! when the server starts, and fires once then (EventBridge fires a new rate rule
//! within its first period; missed ticks while the server was down are not replayed,
//! so a restart never bursts). Redefining a rule with the same expression, or changing
//! its targets, keeps the ticks where they were.

use jiff::tz::TimeZone;
use quiver_events::bridge::{Rule, RuleState};
use quiver_events::schedule::{Dialect, ScheduleExpression};
use quiver_model::event_config::Destination;

use super::{Delivery, Entry, Job, Payload, Schedules, Timing};
use crate::TriggerError;
use std::sync::atomic::Ordering;

/// The key prefix of a rule's jobs (one per target id after it).
fn prefix(rule_arn: &str) -> String {
    format!("rule/{rule_arn}/")
}

/// The jobs of a rule as stored now: none unless it is enabled and scheduled.
fn rule_jobs(rule_arn: &str, rule: &Rule, now_ms: i64) -> Vec<(String, Job)> {
    let Some(text) = rule.schedule_expression.as_deref() else {
        return Vec::new();
    };
    if rule.state != RuleState::Enabled {
        return Vec::new();
    }
    let Ok(expression) = ScheduleExpression::parse(text, Dialect::Events) else {
        tracing::warn!(rule = %rule_arn, "stored rule schedule cannot fire; skipped");
        return Vec::new();
    };
    let mut jobs = Vec::new();
    for t in &rule.targets {
        let Some(delivery) = Delivery::parse(&t.arn) else {
            tracing::warn!(rule = %rule_arn, target = %t.arn, "scheduled rules fire to functions and queues only; target skipped");
            continue;
        };
        let dead_letter_queue = t
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
            .and_then(|arn| match Destination::parse(arn) {
                Some(Destination::Queue { name, .. }) => Some(name),
                _ => None,
            });
        let payload = match &t.input {
            Some(input) => Payload::Fixed(input.clone()),
            None => Payload::ScheduledEvent {
                rule_arn: rule_arn.to_string(),
            },
        };
        jobs.push((
            format!("{}{}", prefix(rule_arn), t.id),
            Job {
                timing: Timing {
                    expression: expression.clone(),
                    timezone: TimeZone::UTC,
                    anchor_ms: now_ms,
                    start_ms: None,
                    end_ms: None,
                    window_minutes: None,
                },
                delivery,
                payload,
                dead_letter_queue,
                record: None,
                delete_after_completion: false,
            },
        ));
    }
    jobs
}

impl Schedules {
    /// Takes a rule as stored now (None: deleted): its targets' jobs are added,
    /// replaced or dropped. A job whose expression did not change keeps its ticks.
    pub fn sync_rule(&self, rule_arn: &str, rule: Option<&Rule>) {
        let now = self.inner.now_ms();
        let wanted = rule
            .map(|r| rule_jobs(rule_arn, r, now))
            .unwrap_or_default();
        let prefix = prefix(rule_arn);
        {
            let mut entries = self.inner.lock();
            entries.retain(|k, _| !k.starts_with(&prefix) || wanted.iter().any(|(w, _)| w == k));
            for (key, job) in wanted {
                match entries.get_mut(&key) {
                    Some(e) if e.job.timing.expression == job.timing.expression => {
                        let anchor = e.job.timing.anchor_ms;
                        e.job = job;
                        e.job.timing.anchor_ms = anchor;
                    }
                    _ => {
                        let generation =
                            self.inner.generation.fetch_add(1, Ordering::Relaxed) as u64 + 1;
                        // Just before the anchor: a rate fires at once, a cron at its
                        // next instant.
                        let cursor_ms = job.timing.anchor_ms - 1;
                        entries.insert(
                            key,
                            Entry {
                                job,
                                cursor_ms,
                                pending: None,
                                generation,
                            },
                        );
                    }
                }
            }
        }
        self.inner.wake.notify_one();
    }

    /// Loads the scheduled rules of the default bus (at start); returns how many fire.
    pub async fn load_rules(&self) -> Result<usize, TriggerError> {
        let store = self.inner.store.clone();
        let rules = tokio::task::spawn_blocking(move || {
            store.list_event_rules(quiver_events::bridge::DEFAULT_BUS)
        })
        .await
        .map_err(|e| TriggerError::Platform(e.to_string()))?
        .map_err(|e| TriggerError::Platform(e.to_string()))?;
        let mut n = 0;
        for rule in &rules {
            if rule.schedule_expression.is_some() && rule.state == RuleState::Enabled {
                n += 1;
            }
            let arn = crate::EventBridge::rule_arn(&self.inner.partition, &rule.bus, &rule.name);
            self.sync_rule(&arn, Some(rule));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_events::bridge::Target;

    fn rule(expr: Option<&str>, state: RuleState, targets: &[(&str, &str)]) -> Rule {
        Rule {
            bus: "default".into(),
            name: "r".into(),
            event_pattern: None,
            schedule_expression: expr.map(str::to_string),
            state,
            description: None,
            role_arn: None,
            targets: targets
                .iter()
                .map(|(id, arn)| Target {
                    id: id.to_string(),
                    arn: arn.to_string(),
                    input: None,
                    input_path: None,
                    input_transformer: None,
                    retry_policy: None,
                    dead_letter_config: None,
                    role_arn: None,
                })
                .collect(),
            tags: Default::default(),
        }
    }

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";
    const Q: &str = "arn:aws:sqs:us-east-1:000000000000:q";
    const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:t";

    #[test]
    fn one_job_per_deliverable_target_of_an_enabled_scheduled_rule() {
        let arn = "arn:aws:events:us-east-1:000000000000:rule/r";
        let r = rule(
            Some("rate(5 minutes)"),
            RuleState::Enabled,
            &[("a", FN), ("b", Q), ("c", TOPIC)],
        );
        let jobs = rule_jobs(arn, &r, 1_000);
        let keys: Vec<_> = jobs.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![format!("rule/{arn}/a"), format!("rule/{arn}/b")]);
        assert!(matches!(jobs[0].1.payload, Payload::ScheduledEvent { .. }));
        assert_eq!(jobs[0].1.timing.anchor_ms, 1_000);
        let off = rule(Some("rate(5 minutes)"), RuleState::Disabled, &[("a", FN)]);
        assert!(rule_jobs(arn, &off, 0).is_empty());
        let pattern_only = rule(None, RuleState::Enabled, &[("a", FN)]);
        assert!(rule_jobs(arn, &pattern_only, 0).is_empty());
    }
}
