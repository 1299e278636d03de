//! PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.

use quiver_events::bridge::{
    check_target_id, check_target_input, target_kind, Target, MAX_TARGETS_PER_RULE,
};
use quiver_store::{EventRuleStore, StoreError};
use serde_json::{json, Value};

use super::ops::{bus_name, find_rule, paginate, rule_missing, R};
use super::{missing, opt_string, string, EventsApiError};

fn failed(id: &str, code: &str, message: &str) -> Value {
    json!({"TargetId": id, "ErrorCode": code, "ErrorMessage": message})
}

pub(super) fn put_targets(store: &dyn EventRuleStore, req: &Value) -> R {
    let rule = find_rule(store, req, "Rule")?;
    let items = match req.get("Targets") {
        Some(Value::Array(items)) => items,
        _ => return Err(missing("Targets")),
    };
    if items.is_empty() || items.len() > 10 {
        return Err(EventsApiError::validation(format!(
            "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1 (got {})",
            items.len()
        )));
    }
    let mut accepted: Vec<Target> = Vec::new();
    let mut failures = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let target: Target = serde_json::from_value(item.clone()).map_err(|e| {
            EventsApiError::validation(format!("Parameter Targets[{i}] is not valid. Reason: {e}"))
        })?;
        check_target_id(&format!("targets.{}.member.id", i + 1), &target.id)
            .map_err(EventsApiError::validation)?;
        if let Err(m) = target_kind(&target.arn) {
            if m.contains("not in correct format") {
                return Err(EventsApiError::validation(m));
            }
            failures.push(failed(&target.id, "ValidationException", &m));
            continue;
        }
        check_target_input(&target).map_err(EventsApiError::validation)?;
        if let Some(dlq) = target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
        {
            if !dlq.starts_with("arn:") || !dlq.contains(":sqs:") {
                return Err(EventsApiError::validation(format!(
                    "Parameter DeadLetterConfig.Arn {dlq} is not valid. Reason: it must be the ARN of an SQS queue."
                )));
            }
        }
        if let Some(rp) = &target.retry_policy {
            if rp.maximum_retry_attempts.is_some_and(|n| n > 185)
                || rp
                    .maximum_event_age_in_seconds
                    .is_some_and(|s| !(60..=86_400).contains(&s))
            {
                return Err(EventsApiError::validation(
                    "RetryPolicy is not valid: MaximumRetryAttempts must be 0 to 185 and MaximumEventAgeInSeconds 60 to 86400.",
                ));
            }
        }
        accepted.retain(|t| t.id != target.id);
        accepted.push(target);
    }
    let result = store.update_event_rule(&rule.bus, &rule.name, &mut |r| {
        for t in &accepted {
            match r.targets.iter_mut().find(|x| x.id == t.id) {
                Some(existing) => *existing = t.clone(),
                None => r.targets.push(t.clone()),
            }
        }
        if r.targets.len() > MAX_TARGETS_PER_RULE {
            return Err(StoreError::Conflict("limit".into()));
        }
        Ok(())
    });
    match result {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(EventsApiError::new(
                "LimitExceededException",
                "The requested resource exceeds the maximum number allowed.",
            ))
        }
        Err(StoreError::NotFound) => return Err(rule_missing(&rule.name, &rule.bus)),
        Err(e) => return Err(EventsApiError::store(e)),
    }
    Ok(json!({"FailedEntryCount": failures.len(), "FailedEntries": failures}))
}

pub(super) fn remove_targets(store: &dyn EventRuleStore, req: &Value) -> R {
    let rule = find_rule(store, req, "Rule")?;
    let ids: Vec<String> = match req.get("Ids") {
        Some(Value::Array(ids)) if !ids.is_empty() && ids.len() <= 100 => ids
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| EventsApiError::validation("Ids must be strings")))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(EventsApiError::validation(
                "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1",
            ))
        }
        _ => return Err(missing("Ids")),
    };
    let mut failures = Vec::new();
    store
        .update_event_rule(&rule.bus, &rule.name, &mut |r| {
            failures.clear();
            for id in &ids {
                let before = r.targets.len();
                r.targets.retain(|t| &t.id != id);
                if r.targets.len() == before {
                    failures.push(failed(
                        id,
                        "ResourceNotFoundException",
                        &format!("Target {id} does not exist on rule {}.", r.name),
                    ));
                }
            }
            Ok(())
        })
        .map_err(|e| match e {
            StoreError::NotFound => rule_missing(&rule.name, &rule.bus),
            other => EventsApiError::store(other),
        })?;
    Ok(json!({"FailedEntryCount": failures.len(), "FailedEntries": failures}))
}

pub(super) fn list_targets_by_rule(store: &dyn EventRuleStore, req: &Value) -> R {
    let rule = find_rule(store, req, "Rule")?;
    let (targets, next) = paginate(rule.targets, |t| t.id.as_str(), req)?;
    let mut v = json!({"Targets": serde_json::to_value(&targets).unwrap_or(Value::Null)});
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    Ok(v)
}

pub(super) fn list_rule_names_by_target(store: &dyn EventRuleStore, req: &Value) -> R {
    let arn = string(req, "TargetArn")?;
    let bus = bus_name(req, "EventBusName")?;
    let _ = opt_string(req, "NextToken")?;
    let names: Vec<String> = store
        .list_event_rules(&bus)
        .map_err(EventsApiError::store)?
        .into_iter()
        .filter(|r| r.targets.iter().any(|t| t.arn == arn))
        .map(|r| r.name)
        .collect();
    let (names, next) = paginate(names, |n| n.as_str(), req)?;
    let mut v = json!({"RuleNames": names});
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    Ok(v)
}
