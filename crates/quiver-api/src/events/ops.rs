//! Buses, rules, tags and TestEventPattern: one function per operation, JSON request
//! in, JSON answer out. Member names follow botocore's `events/2015-10-07` model.

use std::collections::BTreeMap;

use quiver_events::bridge::{
    check_bus_name, check_rule_name, EventBus, Rule, RuleState, DEFAULT_BUS,
};
use quiver_events::pattern::Pattern;
use quiver_model::Partition;
use quiver_store::{EventRuleStore, StoreError};
use quiver_triggers::EventBridge;
use serde_json::{json, Map, Value};

use super::{missing, opt_string, string, targets, EventsApiError};
use crate::state::AppState;

pub(super) type R = Result<Value, EventsApiError>;

pub(super) fn dispatch(state: &AppState, op: &str, req: &Value) -> R {
    let store: &dyn EventRuleStore = &*state.store;
    let p = &state.partition;
    match op {
        "TestEventPattern" => test_event_pattern(req),
        "CreateEventBus" => create_event_bus(store, p, req),
        "DeleteEventBus" => delete_event_bus(store, req),
        "DescribeEventBus" => describe_event_bus(store, p, req),
        "ListEventBuses" => list_event_buses(store, p, req),
        "PutRule" => put_rule(store, p, req),
        "DescribeRule" => describe_rule(store, p, req),
        "ListRules" => list_rules(store, p, req),
        "EnableRule" => set_state(store, req, RuleState::Enabled),
        "DisableRule" => set_state(store, req, RuleState::Disabled),
        "DeleteRule" => delete_rule(store, req),
        "PutTargets" => targets::put_targets(store, req),
        "RemoveTargets" => targets::remove_targets(store, req),
        "ListTargetsByRule" => targets::list_targets_by_rule(store, req),
        "ListRuleNamesByTarget" => targets::list_rule_names_by_target(store, req),
        "TagResource" => tag_resource(store, p, req),
        "UntagResource" => untag_resource(store, p, req),
        "ListTagsForResource" => list_tags(store, p, req),
        other => Err(EventsApiError::new(
            "UnknownOperationException",
            format!("Unknown operation: AWSEvents.{other}"),
        )),
    }
}

fn test_event_pattern(req: &Value) -> R {
    let pattern = string(req, "EventPattern")?;
    let event = string(req, "Event")?;
    let pattern = Pattern::parse(&pattern)
        .map_err(|e| EventsApiError::new("InvalidEventPatternException", e.to_string()))?;
    let event: Value = serde_json::from_str(&event)
        .ok()
        .filter(|e: &Value| {
            // EventBridge wants an envelope: these members must be present.
            e.is_object()
                && ["id", "account", "source", "time", "region", "detail-type"]
                    .iter()
                    .all(|k| e.get(k).is_some())
        })
        .ok_or_else(|| EventsApiError::validation("Parameter Event is not valid."))?;
    Ok(json!({ "Result": pattern.matches(&event) }))
}

pub(super) fn bus_arn(p: &Partition, bus: &str) -> String {
    format!("arn:aws:events:{}:{}:event-bus/{bus}", p.region, p.account)
}

/// The bus an `EventBusName` member names (a name or an ARN), `default` when absent.
pub(super) fn bus_name(req: &Value, member: &str) -> Result<String, EventsApiError> {
    let Some(given) = opt_string(req, member)? else {
        return Ok(DEFAULT_BUS.to_string());
    };
    let name = match given.strip_prefix("arn:") {
        Some(_) => given
            .split_once(":event-bus/")
            .map(|(_, n)| n.to_string())
            .ok_or_else(|| EventsApiError::validation(format!("Parameter {given} is not valid. Reason: Provided Arn is not in correct format.")))?,
        None => given,
    };
    check_bus_name(&super::lower_first(member), &name).map_err(EventsApiError::validation)?;
    Ok(name)
}

fn bus_missing(name: &str) -> EventsApiError {
    EventsApiError::not_found(format!("Event bus {name} does not exist."))
}

pub(super) fn rule_missing(rule: &str, bus: &str) -> EventsApiError {
    EventsApiError::not_found(format!("Rule {rule} does not exist on EventBus {bus}."))
}

fn store_err(e: StoreError) -> EventsApiError {
    EventsApiError::store(e)
}

fn tags_in(req: &Value) -> Result<BTreeMap<String, String>, EventsApiError> {
    let mut out = BTreeMap::new();
    match req.get("Tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for t in items {
                let key = string(t, "Key")?;
                let value = string(t, "Value")?;
                if key.is_empty() || key.len() > 128 || value.len() > 256 || key.starts_with("aws:")
                {
                    return Err(EventsApiError::validation(format!(
                        "Tag key {key} or its value is not valid."
                    )));
                }
                out.insert(key, value);
            }
        }
        Some(_) => {
            return Err(EventsApiError::new(
                "SerializationException",
                "Tags must be a list",
            ))
        }
    }
    Ok(out)
}

fn tags_out(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn create_event_bus(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let name = string(req, "Name")?;
    check_bus_name("name", &name).map_err(EventsApiError::validation)?;
    if name.contains('/') && !name.starts_with("aws.partner/") {
        return Err(EventsApiError::validation(
            "Event bus name must not contain '/'.",
        ));
    }
    let description = opt_string(req, "Description")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 512)
    {
        return Err(EventsApiError::validation(
            "Description must be at most 512 characters.",
        ));
    }
    let bus = EventBus {
        name: name.clone(),
        description,
        created: now_s(),
        tags: tags_in(req)?,
    };
    match store.create_event_bus(&bus) {
        Ok(()) => Ok(json!({ "EventBusArn": bus_arn(p, &name) })),
        Err(StoreError::AlreadyExists) => Err(EventsApiError::new(
            "ResourceAlreadyExistsException",
            format!("Event bus {name} already exists."),
        )),
        Err(e) => Err(store_err(e)),
    }
}

fn delete_event_bus(store: &dyn EventRuleStore, req: &Value) -> R {
    let name = string(req, "Name")?;
    check_bus_name("name", &name).map_err(EventsApiError::validation)?;
    if name == DEFAULT_BUS {
        return Err(EventsApiError::validation(
            "Cannot delete event bus default.",
        ));
    }
    // Deleting a bus that does not exist succeeds, as in EventBridge.
    store.delete_event_bus(&name).map_err(store_err)?;
    Ok(json!({}))
}

fn bus_json(p: &Partition, bus: &EventBus) -> Value {
    let mut v = json!({
        "Name": bus.name,
        "Arn": bus_arn(p, &bus.name),
        "CreationTime": bus.created,
        "LastModifiedTime": bus.created,
    });
    if let Some(d) = &bus.description {
        v["Description"] = json!(d);
    }
    v
}

fn describe_event_bus(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let name = bus_name(req, "Name")?;
    let bus = store
        .get_event_bus(&name)
        .map_err(store_err)?
        .ok_or_else(|| bus_missing(&name))?;
    Ok(bus_json(p, &bus))
}

/// `Limit` (1..=100) and `NextToken` (the last name of the previous page).
fn page(req: &Value) -> Result<(usize, Option<String>), EventsApiError> {
    let limit = match req.get("Limit") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            _ => {
                return Err(EventsApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100 and greater than or equal to 1"
                )))
            }
        },
    };
    Ok((limit, opt_string(req, "NextToken")?))
}

/// One page of `items` (sorted by `key`) after the token; the next token if more remain.
pub(super) fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    req: &Value,
) -> Result<(Vec<T>, Option<String>), EventsApiError> {
    let (limit, token) = page(req)?;
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| token.as_deref().is_none_or(|t| key(i) > t))
        .collect();
    let next = (rest.len() > limit).then(|| key(&rest[limit - 1]).to_string());
    rest.truncate(limit);
    Ok((rest, next))
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    v
}

fn list_event_buses(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let prefix = opt_string(req, "NamePrefix")?.unwrap_or_default();
    let buses: Vec<_> = store
        .list_event_buses()
        .map_err(store_err)?
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .collect();
    let (buses, next) = paginate(buses, |b| b.name.as_str(), req)?;
    let list: Vec<Value> = buses.iter().map(|b| bus_json(p, b)).collect();
    Ok(with_token(json!({ "EventBuses": list }), next))
}

fn put_rule(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let name = string(req, "Name")?;
    check_rule_name("name", &name).map_err(EventsApiError::validation)?;
    let bus = bus_name(req, "EventBusName")?;
    let event_pattern = opt_string(req, "EventPattern")?;
    let schedule_expression = opt_string(req, "ScheduleExpression")?;
    if event_pattern.is_none() && schedule_expression.is_none() {
        return Err(EventsApiError::validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        ));
    }
    if let Some(pattern) = &event_pattern {
        if pattern.chars().count() > 4096 {
            return Err(EventsApiError::validation("1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to 4096"));
        }
        Pattern::parse(pattern)
            .map_err(|e| EventsApiError::new("InvalidEventPatternException", e.to_string()))?;
    }
    if let Some(s) = &schedule_expression {
        // EventBridge's dialect (rate, six-field cron; no at()); fired by the ticker.
        if s.is_empty()
            || s.chars().count() > 256
            || quiver_events::schedule::ScheduleExpression::parse(
                s,
                quiver_events::schedule::Dialect::Events,
            )
            .is_err()
        {
            return Err(EventsApiError::validation(
                "Parameter ScheduleExpression is not valid.",
            ));
        }
        if bus != DEFAULT_BUS {
            return Err(EventsApiError::validation(
                "ScheduleExpression is supported only on the default event bus.",
            ));
        }
    }
    let state = match opt_string(req, "State")? {
        None => RuleState::Enabled,
        Some(s) => RuleState::parse(&s).ok_or_else(|| {
            EventsApiError::validation(format!("1 validation error detected: Value '{s}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"))
        })?,
    };
    let description = opt_string(req, "Description")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 512)
    {
        return Err(EventsApiError::validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512"));
    }
    let existing = store.get_event_rule(&bus, &name).map_err(store_err)?;
    let (targets, tags) = match existing {
        Some(r) => (r.targets, r.tags),
        None => (Vec::new(), tags_in(req)?),
    };
    let rule = Rule {
        bus: bus.clone(),
        name: name.clone(),
        event_pattern,
        schedule_expression,
        state,
        description,
        role_arn: opt_string(req, "RoleArn")?,
        targets,
        tags,
    };
    match store.put_event_rule(&rule) {
        Ok(()) => Ok(json!({ "RuleArn": EventBridge::rule_arn(p, &bus, &name) })),
        Err(StoreError::NotFound) => Err(bus_missing(&bus)),
        Err(e) => Err(store_err(e)),
    }
}

fn rule_json(p: &Partition, r: &Rule) -> Value {
    let mut v = Map::new();
    v.insert("Name".into(), json!(r.name));
    v.insert(
        "Arn".into(),
        json!(EventBridge::rule_arn(p, &r.bus, &r.name)),
    );
    if let Some(e) = &r.event_pattern {
        v.insert("EventPattern".into(), json!(e));
    }
    if let Some(s) = &r.schedule_expression {
        v.insert("ScheduleExpression".into(), json!(s));
    }
    v.insert("State".into(), json!(r.state.as_str()));
    if let Some(d) = &r.description {
        v.insert("Description".into(), json!(d));
    }
    if let Some(role) = &r.role_arn {
        v.insert("RoleArn".into(), json!(role));
    }
    v.insert("EventBusName".into(), json!(r.bus));
    Value::Object(v)
}

/// The rule a `Name`/`Rule` + `EventBusName` request names, or EventBridge's not-found.
pub(super) fn find_rule(
    store: &dyn EventRuleStore,
    req: &Value,
    member: &str,
) -> Result<Rule, EventsApiError> {
    let name = string(req, member)?;
    check_rule_name(&super::lower_first(member), &name).map_err(EventsApiError::validation)?;
    let bus = bus_name(req, "EventBusName")?;
    store
        .get_event_rule(&bus, &name)
        .map_err(store_err)?
        .ok_or_else(|| rule_missing(&name, &bus))
}

fn describe_rule(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let rule = find_rule(store, req, "Name")?;
    let mut v = rule_json(p, &rule);
    v["CreatedBy"] = json!(p.account);
    Ok(v)
}

fn list_rules(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let bus = bus_name(req, "EventBusName")?;
    if store.get_event_bus(&bus).map_err(store_err)?.is_none() {
        return Err(bus_missing(&bus));
    }
    let prefix = opt_string(req, "NamePrefix")?.unwrap_or_default();
    let rules: Vec<_> = store
        .list_event_rules(&bus)
        .map_err(store_err)?
        .into_iter()
        .filter(|r| r.name.starts_with(&prefix))
        .collect();
    let (rules, next) = paginate(rules, |r| r.name.as_str(), req)?;
    let list: Vec<Value> = rules.iter().map(|r| rule_json(p, r)).collect();
    Ok(with_token(json!({ "Rules": list }), next))
}

fn set_state(store: &dyn EventRuleStore, req: &Value, state: RuleState) -> R {
    let rule = find_rule(store, req, "Name")?;
    store
        .update_event_rule(&rule.bus, &rule.name, &mut |r| {
            r.state = state;
            Ok(())
        })
        .map_err(|e| match e {
            StoreError::NotFound => rule_missing(&rule.name, &rule.bus),
            other => store_err(other),
        })?;
    Ok(json!({}))
}

fn delete_rule(store: &dyn EventRuleStore, req: &Value) -> R {
    let name = string(req, "Name")?;
    check_rule_name("name", &name).map_err(EventsApiError::validation)?;
    let bus = bus_name(req, "EventBusName")?;
    let force = req.get("Force").and_then(Value::as_bool).unwrap_or(false);
    // A rule that does not exist is deleted already, as in EventBridge.
    store
        .delete_event_rule(&bus, &name, force)
        .map_err(store_err)?;
    Ok(json!({}))
}

/// What a tagging ARN names: a bus or a rule.
enum Tagged {
    Bus(String),
    Rule { bus: String, name: String },
}

fn tagged(p: &Partition, req: &Value) -> Result<Tagged, EventsApiError> {
    let arn = string(req, "ResourceARN")?;
    let prefix = format!("arn:aws:events:{}:{}:", p.region, p.account);
    let resource = arn.strip_prefix(&prefix);
    let not_found = || EventsApiError::not_found(format!("Resource {arn} does not exist."));
    match resource {
        Some(r) if r.starts_with("event-bus/") => {
            Ok(Tagged::Bus(r["event-bus/".len()..].to_string()))
        }
        Some(r) if r.starts_with("rule/") => {
            let rest = &r["rule/".len()..];
            Ok(match rest.rsplit_once('/') {
                Some((bus, name)) => Tagged::Rule {
                    bus: bus.into(),
                    name: name.into(),
                },
                None => Tagged::Rule {
                    bus: DEFAULT_BUS.into(),
                    name: rest.into(),
                },
            })
        }
        _ if arn.starts_with("arn:") => Err(not_found()),
        _ => Err(EventsApiError::validation(format!(
            "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        ))),
    }
}

/// Most tags one resource may carry.
const MAX_TAGS: usize = 50;

/// Applies `edit` to the tags of the resource a request's ARN names, in the store's
/// transaction: more than [`MAX_TAGS`] afterwards refuses the whole change.
fn edit_tags(
    store: &dyn EventRuleStore,
    p: &Partition,
    req: &Value,
    edit: &dyn Fn(&mut BTreeMap<String, String>),
) -> Result<BTreeMap<String, String>, EventsApiError> {
    let limited = |tags: &mut BTreeMap<String, String>| {
        edit(tags);
        if tags.len() > MAX_TAGS {
            return Err(StoreError::Conflict("tags".into()));
        }
        Ok(())
    };
    let arn = string(req, "ResourceARN")?;
    let not_found = |_| EventsApiError::not_found(format!("Resource {arn} does not exist."));
    match tagged(p, req)? {
        Tagged::Bus(name) => store
            .update_event_bus(&name, &mut |b| limited(&mut b.tags))
            .map(|b| b.tags)
            .map_err(|e| match e {
                StoreError::NotFound => not_found(()),
                StoreError::Conflict(_) => too_many_tags(),
                other => store_err(other),
            }),
        Tagged::Rule { bus, name } => store
            .update_event_rule(&bus, &name, &mut |r| limited(&mut r.tags))
            .map(|r| r.tags)
            .map_err(|e| match e {
                StoreError::NotFound => not_found(()),
                StoreError::Conflict(_) => too_many_tags(),
                other => store_err(other),
            }),
    }
}

fn tag_resource(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    if req.get("Tags").is_none() {
        return Err(missing("Tags"));
    }
    let add = tags_in(req)?;
    let tags = edit_tags(store, p, req, &|t| t.extend(add.clone()))?;
    if tags.len() > 50 {
        return Err(EventsApiError::new(
            "LimitExceededException",
            "A resource can have at most 50 tags.",
        ));
    }
    Ok(json!({}))
}

fn untag_resource(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let keys: Vec<String> = match req.get("TagKeys") {
        Some(Value::Array(k)) => k
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return Err(missing("TagKeys")),
    };
    edit_tags(store, p, req, &|t| {
        keys.iter().for_each(|k| {
            t.remove(k);
        })
    })?;
    Ok(json!({}))
}

fn too_many_tags() -> EventsApiError {
    EventsApiError::new(
        "LimitExceededException",
        format!("A resource can have at most {MAX_TAGS} tags."),
    )
}

fn list_tags(store: &dyn EventRuleStore, p: &Partition, req: &Value) -> R {
    let arn = string(req, "ResourceARN")?;
    let not_found = || EventsApiError::not_found(format!("Resource {arn} does not exist."));
    let tags = match tagged(p, req)? {
        Tagged::Bus(name) => {
            store
                .get_event_bus(&name)
                .map_err(store_err)?
                .ok_or_else(not_found)?
                .tags
        }
        Tagged::Rule { bus, name } => {
            store
                .get_event_rule(&bus, &name)
                .map_err(store_err)?
                .ok_or_else(not_found)?
                .tags
        }
    };
    Ok(json!({ "Tags": tags_out(&tags) }))
}
