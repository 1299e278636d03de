//! The handlers of the Scheduler routes: parse (wire.rs), one store call, tell the
//! ticker, render.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use quiver_model::schedule::{ScheduleGroup, DEFAULT_GROUP};
use quiver_store::{StoreError, StoredSchedule};
use serde_json::{json, Map, Value};

use super::wire::{self, check_name, constraint};
use super::SchedulerError;
use crate::body::read_limited;
use crate::query;
use crate::state::AppState;

type Result<T> = std::result::Result<T, SchedulerError>;

/// Control-plane bodies are small (an Input is at most a few hundred KB in practice).
const BODY_LIMIT: u64 = 1 << 20;
const MAX_RESULTS: usize = 100;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn body_object(headers: &HeaderMap, body: Body, op: &str) -> Result<Map<String, Value>> {
    let bytes = read_limited(headers, body, BODY_LIMIT, op).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(SchedulerError::Validation(
            "The request body is not valid JSON.".into(),
        )),
    }
}

fn schedule_missing(name: &str) -> SchedulerError {
    SchedulerError::NotFound(format!("Schedule {name} does not exist."))
}

fn group_missing(name: &str) -> SchedulerError {
    SchedulerError::NotFound(format!("Schedule group {name} does not exist."))
}

/// The group a schedule request names (body member or `groupName` query), checked.
fn group_of(body: Option<&Map<String, Value>>, q: &[(String, String)]) -> Result<String> {
    let from_body = match body {
        Some(b) => wire::opt_str(b, "GroupName")?,
        None => None,
    };
    let g = from_body
        .or_else(|| query::first(q, "groupName"))
        .unwrap_or(DEFAULT_GROUP);
    check_name(g, "groupName")?;
    Ok(g.to_string())
}

fn tell_ticker(state: &AppState, stored: &StoredSchedule) {
    if let Some(s) = &state.schedules {
        s.sync_scheduler(stored);
    }
}

fn forget(state: &AppState, group: &str, name: &str) {
    if let Some(s) = &state.schedules {
        s.remove(&quiver_triggers::schedule::scheduler_key(group, name));
    }
}

pub async fn create_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let body = body_object(&headers, body, "CreateSchedule").await?;
    let group = group_of(Some(&body), &[])?;
    let schedule = wire::parse_schedule(&state.partition, &body, &name, &group, None, now_ms())?;
    let s = schedule.clone();
    match state.store(move |st| st.create_schedule(&s)).await? {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(group_missing(&group)),
        Err(StoreError::AlreadyExists) => {
            // A retry of the create that made it (same ClientToken) succeeds.
            let (g, n) = (group.clone(), name.clone());
            let existing = state.store(move |st| st.get_schedule(&g, &n)).await??;
            return match existing {
                Some(e)
                    if e.schedule.client_token.is_some()
                        && e.schedule.client_token == schedule.client_token =>
                {
                    Ok(Json(
                        json!({ "ScheduleArn": wire::schedule_arn(&state.partition, &e.schedule) }),
                    ))
                }
                _ => Err(SchedulerError::Conflict(format!(
                    "Schedule {name} already exists."
                ))),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let arn = wire::schedule_arn(&state.partition, &schedule);
    tell_ticker(
        &state,
        &StoredSchedule {
            schedule,
            last_fire_ms: None,
        },
    );
    Ok(Json(json!({ "ScheduleArn": arn })))
}

pub async fn update_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let body = body_object(&headers, body, "UpdateSchedule").await?;
    let group = group_of(Some(&body), &[])?;
    let (g, n) = (group.clone(), name.clone());
    let Some(old) = state.store(move |st| st.get_schedule(&g, &n)).await?? else {
        return Err(schedule_missing(&name));
    };
    let schedule = wire::parse_schedule(
        &state.partition,
        &body,
        &name,
        &group,
        Some(old.schedule.created_ms),
        now_ms(),
    )?;
    let s = schedule.clone();
    match state.store(move |st| st.replace_schedule(&s)).await? {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(schedule_missing(&name)),
        Err(e) => return Err(e.into()),
    }
    let arn = wire::schedule_arn(&state.partition, &schedule);
    tell_ticker(
        &state,
        &StoredSchedule {
            schedule,
            last_fire_ms: old.last_fire_ms,
        },
    );
    Ok(Json(json!({ "ScheduleArn": arn })))
}

pub async fn get_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let q = query::pairs(raw.as_deref());
    let group = group_of(None, &q)?;
    let (g, n) = (group.clone(), name.clone());
    match state.store(move |st| st.get_schedule(&g, &n)).await?? {
        Some(s) => Ok(Json(wire::render_schedule(&state.partition, &s.schedule))),
        None => Err(schedule_missing(&name)),
    }
}

pub async fn delete_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let q = query::pairs(raw.as_deref());
    let group = group_of(None, &q)?;
    let (g, n) = (group.clone(), name.clone());
    if !state.store(move |st| st.delete_schedule(&g, &n)).await?? {
        return Err(schedule_missing(&name));
    }
    forget(&state, &group, &name);
    Ok(Json(json!({})))
}

fn max_results(q: &[(String, String)]) -> Result<usize> {
    match query::first(q, "MaxResults") {
        None => Ok(MAX_RESULTS),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n),
            _ => Err(constraint(
                v,
                "maxResults",
                "Member must have value less than or equal to 100 and greater than or equal to 1",
            )),
        },
    }
}

/// One page after `NextToken` (the last key of the previous page).
fn page<T>(items: Vec<(String, T)>, q: &[(String, String)]) -> Result<(Vec<T>, Option<String>)> {
    let max = max_results(q)?;
    let after = query::first(q, "NextToken");
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .collect();
    let next = (rest.len() > max).then(|| rest[max - 1].0.clone());
    rest.truncate(max);
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

pub async fn list_schedules(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let q = query::pairs(raw.as_deref());
    let prefix = query::first(&q, "NamePrefix").map(str::to_string);
    if let Some(p) = &prefix {
        check_name(p, "namePrefix")?;
    }
    let group = query::first(&q, "ScheduleGroup").map(str::to_string);
    if let Some(g) = &group {
        check_name(g, "groupName")?;
    }
    let wanted = match query::first(&q, "State") {
        None => None,
        Some("ENABLED") => Some(true),
        Some("DISABLED") => Some(false),
        Some(v) => {
            return Err(constraint(
                v,
                "state",
                "Member must satisfy enum value set: [ENABLED, DISABLED]",
            ))
        }
    };
    let all = state.store(|st| st.list_schedules()).await??;
    let items = all
        .into_iter()
        .map(|s| s.schedule)
        .filter(|s| group.as_ref().is_none_or(|g| &s.group == g))
        .filter(|s| {
            prefix
                .as_ref()
                .is_none_or(|p| s.name.starts_with(p.as_str()))
        })
        .filter(|s| wanted.is_none_or(|w| s.enabled == w))
        .map(|s| {
            (
                format!("{}/{}", s.group, s.name),
                wire::render_summary(&state.partition, &s),
            )
        })
        .collect();
    let (schedules, next) = page(items, &q)?;
    let mut out = json!({ "Schedules": schedules });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(Json(out))
}

pub async fn create_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let body = body_object(&headers, body, "CreateScheduleGroup").await?;
    let tags = wire::parse_tags(body.get("Tags"))?;
    let now = now_ms();
    let client_token = wire::client_token(&body)?;
    let group = ScheduleGroup {
        name: name.clone(),
        tags: tags.into_iter().collect(),
        client_token: client_token.clone(),
        created_ms: now,
        modified_ms: now,
    };
    let g = group.clone();
    match state.store(move |st| st.create_schedule_group(&g)).await? {
        Ok(()) => Ok(Json(
            json!({ "ScheduleGroupArn": wire::group_arn(&state.partition, &group) }),
        )),
        Err(StoreError::AlreadyExists) => {
            let n = name.clone();
            match state.store(move |st| st.get_schedule_group(&n)).await?? {
                Some(g) if g.client_token.is_some() && g.client_token == client_token => Ok(Json(
                    json!({ "ScheduleGroupArn": wire::group_arn(&state.partition, &g) }),
                )),
                _ => Err(SchedulerError::Conflict(format!(
                    "Schedule group {name} already exists."
                ))),
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    let n = name.clone();
    match state.store(move |st| st.get_schedule_group(&n)).await?? {
        Some(g) => Ok(Json(wire::render_group(&state.partition, &g))),
        None => Err(group_missing(&name)),
    }
}

pub async fn delete_group(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    check_name(&name, "name")?;
    if name == DEFAULT_GROUP {
        return Err(SchedulerError::Validation(
            "The default schedule group cannot be deleted.".into(),
        ));
    }
    let n = name.clone();
    let (existed, members) = state
        .store(move |st| {
            let members: Vec<String> = st
                .list_schedules()?
                .into_iter()
                .filter(|s| s.schedule.group == n)
                .map(|s| s.schedule.name)
                .collect();
            Ok((st.delete_schedule_group(&n)?, members))
        })
        .await??;
    if !existed {
        return Err(group_missing(&name));
    }
    for m in members {
        forget(&state, &name, &m);
    }
    Ok(Json(json!({})))
}

pub async fn list_groups(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let q = query::pairs(raw.as_deref());
    let prefix = query::first(&q, "NamePrefix").map(str::to_string);
    if let Some(p) = &prefix {
        check_name(p, "namePrefix")?;
    }
    let all = state.store(|st| st.list_schedule_groups()).await??;
    let items = all
        .into_iter()
        .filter(|g| {
            prefix
                .as_ref()
                .is_none_or(|p| g.name.starts_with(p.as_str()))
        })
        .map(|g| (g.name.clone(), wire::render_group(&state.partition, &g)))
        .collect();
    let (groups, next) = page(items, &q)?;
    let mut out = json!({ "ScheduleGroups": groups });
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(Json(out))
}

/// The group a tagging ARN names: the model's pattern, then this server's region and
/// account (another's is a group that does not exist here).
fn tagged_group(state: &AppState, arn: &str) -> Result<String> {
    let (ok, pattern) = wire::group_arn_shape(arn);
    if !ok {
        return Err(constraint(
            arn,
            "resourceArn",
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    let (head, name) = arn.rsplit_once('/').unwrap_or((arn, ""));
    let own = format!(
        "arn:aws:scheduler:{}:{}:schedule-group",
        state.partition.region, state.partition.account
    );
    if head != own {
        return Err(group_missing(name));
    }
    Ok(name.to_string())
}

pub async fn list_tags(
    State(state): State<AppState>,
    Path(arn): Path<String>,
) -> Result<Json<Value>> {
    let name = tagged_group(&state, &arn)?;
    let n = name.clone();
    let Some(g) = state.store(move |st| st.get_schedule_group(&n)).await?? else {
        return Err(group_missing(&name));
    };
    let tags: Vec<Value> = g
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(Json(json!({ "Tags": tags })))
}

pub async fn tag_resource(
    State(state): State<AppState>,
    Path(arn): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    let name = tagged_group(&state, &arn)?;
    let body = body_object(&headers, body, "TagResource").await?;
    if body.get("Tags").is_none_or(Value::is_null) {
        return Err(SchedulerError::Validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
        ));
    }
    let tags = wire::parse_tags(body.get("Tags"))?;
    let n = name.clone();
    let res = state
        .store(move |st| {
            st.update_schedule_group(&n, &mut |g| {
                for (k, v) in &tags {
                    g.tags.insert(k.clone(), v.clone());
                }
                if g.tags.len() > 200 {
                    return Err(StoreError::Conflict("too many tags".into()));
                }
                Ok(())
            })
        })
        .await?;
    match res {
        Ok(()) => Ok(Json(json!({}))),
        Err(StoreError::NotFound) => Err(group_missing(&name)),
        Err(StoreError::Conflict(_)) => Err(SchedulerError::Validation(
            "A schedule group can have at most 200 tags.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn untag_resource(
    State(state): State<AppState>,
    Path(arn): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let name = tagged_group(&state, &arn)?;
    let q = query::pairs(raw.as_deref());
    let keys: Vec<String> = query::all(&q, "TagKeys")
        .into_iter()
        .map(str::to_string)
        .collect();
    let n = name.clone();
    let res = state
        .store(move |st| {
            st.update_schedule_group(&n, &mut |g| {
                for k in &keys {
                    g.tags.remove(k);
                }
                Ok(())
            })
        })
        .await?;
    match res {
        Ok(()) => Ok(Json(json!({}))),
        Err(StoreError::NotFound) => Err(group_missing(&name)),
        Err(e) => Err(e.into()),
    }
}
