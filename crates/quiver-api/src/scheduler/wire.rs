//! Scheduler's JSON: request bodies checked member by member into the stored
//! [`Schedule`], and the stored values rendered back (timestamps as epoch seconds, as
//! restJson1 has them).

use jiff::Timestamp;
use quiver_events::schedule::{time_zone, Dialect, ScheduleExpression};
use quiver_model::schedule::{valid_name, Schedule, ScheduleGroup, ScheduleTarget};
use quiver_model::Partition;
use quiver_triggers::schedule::Delivery;
use serde_json::{json, Map, Value};

use super::SchedulerError;

type Result<T> = std::result::Result<T, SchedulerError>;

pub const NAME_PATTERN: &str = "^[0-9a-zA-Z-_.]+$";
const ROLE_PATTERN: &str = r"^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\/-]+$";
static ROLE_RE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(ROLE_PATTERN).expect("static regex"));
const GROUP_ARN_PATTERN: &str =
    r"^arn:aws(-[a-z]+)?:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+$";
static GROUP_ARN_RE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(GROUP_ARN_PATTERN).expect("static regex"));

/// A TagResourceArn the service model accepts: `(ok, the pattern quoted in refusals)`.
pub fn group_arn_shape(arn: &str) -> (bool, &'static str) {
    (
        arn.len() <= 1011 && GROUP_ARN_RE.is_match(arn),
        GROUP_ARN_PATTERN,
    )
}

fn bad(m: impl Into<String>) -> SchedulerError {
    SchedulerError::Validation(m.into())
}

/// AWS's shape-violation wording.
pub fn constraint(value: &str, member: &str, rule: &str) -> SchedulerError {
    bad(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    ))
}

/// A schedule or group name (or prefix) as the model wants it.
pub fn check_name(value: &str, member: &str) -> Result<()> {
    if value.is_empty() || value.len() > 64 {
        return Err(constraint(
            value,
            member,
            "Member must have length less than or equal to 64 and greater than or equal to 1",
        ));
    }
    if !valid_name(value) {
        return Err(constraint(
            value,
            member,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

pub fn opt_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string."))),
    }
}

fn required_str<'a>(m: &'a Map<String, Value>, key: &str, member: &str) -> Result<&'a str> {
    opt_str(m, key)?.ok_or_else(|| {
        bad(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn opt_obj<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(bad(format!("{key} must be an object."))),
    }
}

fn opt_int(
    m: &Map<String, Value>,
    key: &str,
    member: &str,
    lo: u32,
    hi: u32,
) -> Result<Option<u32>> {
    let v = match m.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    match v.as_u64() {
        Some(n) if (u64::from(lo)..=u64::from(hi)).contains(&n) => Ok(Some(n as u32)),
        _ => Err(constraint(
            &v.to_string(),
            member,
            &format!("Member must have value less than or equal to {hi} and greater than or equal to {lo}"),
        )),
    }
}

/// A restJson1 timestamp: epoch seconds (what botocore sends), or ISO-8601.
fn opt_time(m: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e13)
            .map(|f| Some((f * 1000.0).round() as i64))
            .ok_or_else(|| bad(format!("{key} is not a valid timestamp."))),
        Some(Value::String(s)) => s
            .parse::<Timestamp>()
            .map(|t| Some(t.as_millisecond()))
            .map_err(|_| bad(format!("{key} is not a valid timestamp."))),
        Some(_) => Err(bad(format!("{key} is not a valid timestamp."))),
    }
}

fn enum_member<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    member: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>> {
    let Some(v) = opt_str(m, key)? else {
        return Ok(None);
    };
    if allowed.contains(&v) {
        Ok(Some(v))
    } else {
        Err(constraint(
            v,
            member,
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

/// `ClientToken`: 1-64 of `[a-zA-Z0-9-_]` (botocore fills one in for every create).
pub fn client_token(body: &Map<String, Value>) -> Result<Option<String>> {
    let Some(token) = opt_str(body, "ClientToken")? else {
        return Ok(None);
    };
    let ok = (1..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(constraint(
            token,
            "clientToken",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_]+$",
        ));
    }
    Ok(Some(token.to_string()))
}

fn parse_target(t: &Map<String, Value>, partition: &Partition) -> Result<ScheduleTarget> {
    let arn = required_str(t, "Arn", "target.arn")?;
    let role_arn = required_str(t, "RoleArn", "target.roleArn")?;
    let role_ok = ROLE_RE.is_match(role_arn);
    if !role_ok || role_arn.len() > 1600 {
        return Err(constraint(
            role_arn,
            "target.roleArn",
            &format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
        ));
    }
    let Some(delivery) = Delivery::parse(arn) else {
        return Err(bad(format!(
            "Invalid target ARN {arn}: this server delivers schedules to Lambda functions and SQS queues."
        )));
    };
    // A target of another region or account is not on this server.
    let own = match quiver_model::event_config::Destination::parse(arn) {
        Some(d) => {
            let (region, account) = match &d {
                quiver_model::event_config::Destination::Queue {
                    region, account, ..
                }
                | quiver_model::event_config::Destination::Function {
                    region, account, ..
                }
                | quiver_model::event_config::Destination::Topic {
                    region, account, ..
                } => (region, account),
            };
            region == &partition.region && account == &partition.account
        }
        None => false,
    };
    if !own {
        return Err(bad(format!(
            "Invalid target ARN {arn}: it names a resource outside this server's region and account."
        )));
    }
    let input = opt_str(t, "Input")?;
    if let Some(i) = input {
        if i.is_empty() {
            return Err(constraint(
                i,
                "target.input",
                "Member must have length greater than or equal to 1",
            ));
        }
        if matches!(delivery, Delivery::Function { .. })
            && serde_json::from_str::<Value>(i).is_err()
        {
            return Err(bad(
                "Invalid Input: the input of a Lambda target must be well-formed JSON.",
            ));
        }
    }
    let (mut age, mut attempts) = (None, None);
    if let Some(r) = opt_obj(t, "RetryPolicy")? {
        age = opt_int(
            r,
            "MaximumEventAgeInSeconds",
            "target.retryPolicy.maximumEventAgeInSeconds",
            60,
            86_400,
        )?;
        attempts = opt_int(
            r,
            "MaximumRetryAttempts",
            "target.retryPolicy.maximumRetryAttempts",
            0,
            185,
        )?;
    }
    let mut dead_letter_arn = None;
    if let Some(d) = opt_obj(t, "DeadLetterConfig")? {
        if let Some(a) = opt_str(d, "Arn")? {
            if !matches!(Delivery::parse(a), Some(Delivery::Queue { .. })) {
                return Err(constraint(
                    a,
                    "target.deadLetterConfig.arn",
                    r"Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+$",
                ));
            }
            dead_letter_arn = Some(a.to_string());
        }
    }
    let mut sqs_message_group_id = None;
    if let Some(p) = opt_obj(t, "SqsParameters")? {
        sqs_message_group_id = opt_str(p, "MessageGroupId")?.map(str::to_string);
    }
    Ok(ScheduleTarget {
        arn: arn.to_string(),
        role_arn: role_arn.to_string(),
        input: input.map(str::to_string),
        maximum_event_age_in_seconds: age,
        maximum_retry_attempts: attempts,
        dead_letter_arn,
        sqs_message_group_id,
    })
}

/// CreateSchedule's / UpdateSchedule's body as the schedule it defines. `created_ms`
/// is kept from the stored one on update; `now_ms` stamps the change.
pub fn parse_schedule(
    partition: &Partition,
    body: &Map<String, Value>,
    name: &str,
    group: &str,
    created_ms: Option<i64>,
    now_ms: i64,
) -> Result<Schedule> {
    let expression = required_str(body, "ScheduleExpression", "scheduleExpression")?;
    if expression.len() > 256 {
        return Err(constraint(
            expression,
            "scheduleExpression",
            "Member must have length less than or equal to 256",
        ));
    }
    let parsed = ScheduleExpression::parse(expression, Dialect::Scheduler)
        .map_err(|e| bad(e.to_string()))?;
    let timezone = opt_str(body, "ScheduleExpressionTimezone")?;
    let tz = time_zone(timezone).map_err(|e| bad(e.to_string()))?;
    let window = opt_obj(body, "FlexibleTimeWindow")?.ok_or_else(|| {
        bad("1 validation error detected: Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null")
    })?;
    let mode = enum_member(window, "Mode", "flexibleTimeWindow.mode", &["OFF", "FLEXIBLE"])?
        .ok_or_else(|| bad("1 validation error detected: Value null at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must not be null"))?;
    let max = opt_int(
        window,
        "MaximumWindowInMinutes",
        "flexibleTimeWindow.maximumWindowInMinutes",
        1,
        1440,
    )?;
    let flexible_window_minutes = match (mode, max) {
        ("OFF", None) => None,
        ("OFF", Some(_)) => {
            return Err(bad(
                "MaximumWindowInMinutes is only allowed when Mode is FLEXIBLE.",
            ))
        }
        (_, None) => {
            return Err(bad(
                "MaximumWindowInMinutes is required when Mode is FLEXIBLE.",
            ))
        }
        (_, Some(m)) => Some(m),
    };
    let target = parse_target(opt_obj(body, "Target")?.ok_or_else(|| {
        bad("1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null")
    })?, partition)?;
    let description = opt_str(body, "Description")?;
    if description.is_some_and(|d| d.chars().count() > 512) {
        return Err(bad("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512"));
    }
    let state = enum_member(body, "State", "state", &["ENABLED", "DISABLED"])?;
    let action = enum_member(
        body,
        "ActionAfterCompletion",
        "actionAfterCompletion",
        &["NONE", "DELETE"],
    )?;
    let client_token = client_token(body)?;
    let kms_key_arn = opt_str(body, "KmsKeyArn")?.map(str::to_string);
    let start_date_ms = opt_time(body, "StartDate")?;
    let end_date_ms = opt_time(body, "EndDate")?;
    if let (Some(s), Some(e)) = (start_date_ms, end_date_ms) {
        if e <= s {
            return Err(bad("The EndDate you specify must be after the StartDate."));
        }
    }
    if !parsed.is_one_time() {
        if let Some(e) = end_date_ms {
            if e <= now_ms {
                return Err(bad(
                    "The EndDate you specify cannot be earlier than the current time.",
                ));
            }
        }
    }
    if parsed.is_one_time() {
        let now = Timestamp::from_millisecond(now_ms)
            .map_err(|e| SchedulerError::Internal(e.to_string()))?;
        if parsed.next_after(now, &tz, now).is_none() {
            return Err(bad(format!(
                "The schedule expression {expression} is in the past: a one-time schedule must name a future time."
            )));
        }
    }
    Ok(Schedule {
        group: group.to_string(),
        name: name.to_string(),
        expression: expression.to_string(),
        timezone: timezone.map(str::to_string),
        description: description.map(str::to_string),
        enabled: state != Some("DISABLED"),
        flexible_window_minutes,
        target,
        start_date_ms,
        end_date_ms,
        delete_after_completion: action == Some("DELETE"),
        kms_key_arn,
        client_token,
        created_ms: created_ms.unwrap_or(now_ms),
        modified_ms: now_ms,
    })
}

fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn state(enabled: bool) -> &'static str {
    if enabled {
        "ENABLED"
    } else {
        "DISABLED"
    }
}

pub fn schedule_arn(p: &Partition, s: &Schedule) -> String {
    s.arn("aws", &p.region, &p.account)
}

pub fn group_arn(p: &Partition, g: &ScheduleGroup) -> String {
    g.arn("aws", &p.region, &p.account)
}

/// GetSchedule's answer.
pub fn render_schedule(p: &Partition, s: &Schedule) -> Value {
    let t = &s.target;
    let mut target = json!({ "Arn": t.arn, "RoleArn": t.role_arn });
    if let Some(i) = &t.input {
        target["Input"] = json!(i);
    }
    target["RetryPolicy"] = json!({
        "MaximumEventAgeInSeconds": t.maximum_event_age_in_seconds.unwrap_or(86_400),
        "MaximumRetryAttempts": t.maximum_retry_attempts.unwrap_or(185),
    });
    if let Some(d) = &t.dead_letter_arn {
        target["DeadLetterConfig"] = json!({ "Arn": d });
    }
    if let Some(g) = &t.sqs_message_group_id {
        target["SqsParameters"] = json!({ "MessageGroupId": g });
    }
    let mut window =
        json!({ "Mode": if s.flexible_window_minutes.is_some() { "FLEXIBLE" } else { "OFF" } });
    if let Some(m) = s.flexible_window_minutes {
        window["MaximumWindowInMinutes"] = json!(m);
    }
    let mut v = json!({
        "ActionAfterCompletion": if s.delete_after_completion { "DELETE" } else { "NONE" },
        "Arn": schedule_arn(p, s),
        "CreationDate": secs(s.created_ms),
        "FlexibleTimeWindow": window,
        "GroupName": s.group,
        "LastModificationDate": secs(s.modified_ms),
        "Name": s.name,
        "ScheduleExpression": s.expression,
        "ScheduleExpressionTimezone": s.timezone.as_deref().unwrap_or("UTC"),
        "State": state(s.enabled),
        "Target": target,
    });
    if let Some(d) = &s.description {
        v["Description"] = json!(d);
    }
    if let Some(k) = &s.kms_key_arn {
        v["KmsKeyArn"] = json!(k);
    }
    if let Some(d) = s.start_date_ms {
        v["StartDate"] = secs(d);
    }
    if let Some(d) = s.end_date_ms {
        v["EndDate"] = secs(d);
    }
    v
}

/// One ListSchedules entry.
pub fn render_summary(p: &Partition, s: &Schedule) -> Value {
    json!({
        "Arn": schedule_arn(p, s),
        "CreationDate": secs(s.created_ms),
        "GroupName": s.group,
        "LastModificationDate": secs(s.modified_ms),
        "Name": s.name,
        "State": state(s.enabled),
        "Target": { "Arn": s.target.arn },
    })
}

/// GetScheduleGroup's answer and a ListScheduleGroups entry.
pub fn render_group(p: &Partition, g: &ScheduleGroup) -> Value {
    json!({
        "Arn": group_arn(p, g),
        "CreationDate": secs(g.created_ms),
        "LastModificationDate": secs(g.modified_ms),
        "Name": g.name,
        "State": "ACTIVE",
    })
}

/// A TagList (`[{"Key", "Value"}]`), at most 200, keys 1-128, values 1-256.
pub fn parse_tags(v: Option<&Value>) -> Result<Vec<(String, String)>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("Tags must be a list.")),
    };
    if list.len() > 200 {
        return Err(bad("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200"));
    }
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let Some(o) = t.as_object() else {
            return Err(bad("Each tag must be an object with Key and Value."));
        };
        let key = required_str(o, "Key", &format!("tags.{}.member.key", i + 1))?;
        let value = required_str(o, "Value", &format!("tags.{}.member.value", i + 1))?;
        if key.is_empty() || key.chars().count() > 128 {
            return Err(constraint(
                key,
                &format!("tags.{}.member.key", i + 1),
                "Member must have length less than or equal to 128 and greater than or equal to 1",
            ));
        }
        if value.is_empty() || value.chars().count() > 256 {
            return Err(constraint(
                value,
                &format!("tags.{}.member.value", i + 1),
                "Member must have length less than or equal to 256 and greater than or equal to 1",
            ));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}
