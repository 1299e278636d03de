//! PutSubscriptionFilter, DescribeSubscriptionFilters, DeleteSubscriptionFilter
//! (docs/wire.md §27). The filters live in `quiver-logs`; delivery is quiver-triggers'
//! `log_subscription`.

use quiver_logs::{LogStore, SubscriptionFilter};
use serde_json::{json, Map, Value};

use super::ops::{group_name, limit, missing, string};
use super::LogsApiError;
use crate::state::AppState;

type R = Result<Value, LogsApiError>;

/// A filter name: 1–512 characters, no `:` or `*` (botocore `FilterName`).
fn filter_name(req: &Value) -> Result<String, LogsApiError> {
    let name = string(req, "filterName")?.ok_or_else(|| missing("filterName"))?;
    if name.is_empty() || name.chars().count() > 512 || name.contains([':', '*']) {
        return Err(LogsApiError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'filterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(name)
}

/// What the store needs to know of the destination is checked here, before the
/// blocking part: the ARN names a function of this server that exists, and that
/// function does not write to the group itself. A function subscribed to its own log
/// group would be invoked for the lines its own invocations print, without end:
/// CloudWatch Logs documents no such refusal (it warns about log recursion); Quiver
/// refuses it (docs/wire.md §27.2).
pub(super) async fn check_destination(state: &AppState, req: &Value) -> Result<(), LogsApiError> {
    let group = group_name(req, "logGroupName")?;
    let dest = string(req, "destinationArn")?.ok_or_else(|| missing("destinationArn"))?;
    let target = quiver_triggers::log_subscription::destination_function(&dest, &state.partition)
        .map_err(LogsApiError::invalid)?;
    let resolved = state.invoker.resolve(&target).await.map_err(|_| {
        LogsApiError::invalid(
            "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
        )
    })?;
    if resolved.spec.log_group == group {
        return Err(LogsApiError::invalid(format!(
            "The destination function {} writes its own logs to {group}; a subscription filter on that log group would invoke it for its own output in an endless loop.",
            resolved.version.name
        )));
    }
    Ok(())
}

pub(super) fn put(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let name = filter_name(req)?;
    let pattern = string(req, "filterPattern")?.ok_or_else(|| missing("filterPattern"))?;
    if pattern.chars().count() > 1024 {
        return Err(LogsApiError::invalid(
            "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024",
        ));
    }
    let destination = string(req, "destinationArn")?.ok_or_else(|| missing("destinationArn"))?;
    let distribution = match string(req, "distribution")?.as_deref() {
        None | Some("ByLogStream") => "ByLogStream",
        Some("Random") => "Random",
        Some(d) => {
            return Err(LogsApiError::invalid(format!(
                "1 validation error detected: Value '{d}' at 'distribution' failed to satisfy constraint: Member must satisfy enum value set: [Random, ByLogStream]"
            )))
        }
    };
    store.put_subscription_filter(&SubscriptionFilter {
        name,
        group,
        pattern,
        destination,
        distribution: distribution.into(),
        role_arn: string(req, "roleArn")?,
        created_ms: 0,
    })?;
    Ok(json!({}))
}

pub(super) fn describe(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let prefix = string(req, "filterNamePrefix")?.unwrap_or_default();
    let limit = limit(req, 50, 50)?;
    let after = string(req, "nextToken")?;
    let (filters, more) = store.subscription_filters(&group, &prefix, after.as_deref(), limit)?;
    let list: Vec<Value> = filters
        .iter()
        .map(|f| {
            let mut o = Map::new();
            o.insert("filterName".into(), json!(f.name));
            o.insert("logGroupName".into(), json!(f.group));
            o.insert("filterPattern".into(), json!(f.pattern));
            o.insert("destinationArn".into(), json!(f.destination));
            if let Some(r) = &f.role_arn {
                o.insert("roleArn".into(), json!(r));
            }
            o.insert("distribution".into(), json!(f.distribution));
            o.insert("creationTime".into(), json!(f.created_ms));
            Value::Object(o)
        })
        .collect();
    let mut out = json!({ "subscriptionFilters": list });
    if more {
        if let Some(last) = filters.last() {
            out["nextToken"] = json!(last.name);
        }
    }
    Ok(out)
}

pub(super) fn delete(store: &LogStore, req: &Value) -> R {
    let group = group_name(req, "logGroupName")?;
    let name = filter_name(req)?;
    store.delete_subscription_filter(&group, &name)?;
    Ok(json!({}))
}
