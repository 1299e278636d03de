//! From a PutEvents entry to the event a rule sees (the envelope), and from that event
//! to what a target receives (Input, InputPath or InputTransformer).

use serde_json::{json, Map, Value};

use super::{InputTransformer, Target};

/// One PutEvents entry as sent (every member optional on the wire).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutEventsEntry {
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub detail: Option<String>,
    pub resources: Vec<String>,
    pub event_bus_name: Option<String>,
    /// RFC 3339 as given; the envelope's `time` (the ingestion time when absent).
    pub time: Option<String>,
}

/// Why one entry was refused: its ErrorCode and ErrorMessage in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: String,
}

fn required(member: &str) -> EntryError {
    EntryError {
        code: "InvalidArgument",
        message: format!(
            "Parameter {member} is not valid. Reason: {member} is a required argument."
        ),
    }
}

/// The envelope rules match and targets receive:
/// `{version, id, detail-type, source, account, time, region, resources, detail}`.
pub fn envelope(
    entry: &PutEventsEntry,
    id: &str,
    account: &str,
    region: &str,
    now_iso: &str,
) -> Result<Value, EntryError> {
    let source = entry
        .source
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("Source"))?;
    let detail_type = entry
        .detail_type
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("DetailType"))?;
    let detail_text = entry
        .detail
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| required("Detail"))?;
    let detail: Value = match serde_json::from_str(detail_text) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(EntryError {
                code: "MalformedDetail",
                message: "Detail is malformed.".into(),
            })
        }
    };
    let time = entry.time.clone().unwrap_or_else(|| now_iso.to_string());
    Ok(json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
        "resources": entry.resources,
        "detail": detail,
    }))
}

/// Checks a target's Input / InputPath / InputTransformer when it is put (a refusal is
/// the ValidationException's message).
pub fn check_target_input(t: &Target) -> Result<(), String> {
    let given = [
        t.input.is_some(),
        t.input_path.is_some(),
        t.input_transformer.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(format!(
            "Target {} has more than one of Input, InputPath and InputTransformer; only one may be given.",
            t.id
        ));
    }
    if let Some(input) = &t.input {
        if serde_json::from_str::<Value>(input).is_err() {
            return Err("Parameter Input is not valid. Reason: Input is not valid JSON.".into());
        }
    }
    if let Some(path) = &t.input_path {
        parse_path(path).ok_or_else(|| {
            format!("Parameter InputPath is not valid. Reason: {path} is not a valid JSON path.")
        })?;
    }
    if let Some(tr) = &t.input_transformer {
        if tr.input_paths_map.len() > 100 {
            return Err("InputPathsMap has more than 100 entries.".into());
        }
        for (key, path) in &tr.input_paths_map {
            if key.starts_with("aws.events.") {
                return Err(format!(
                    "InputPathsMap key {key} is reserved: keys may not start with aws.events."
                ));
            }
            parse_path(path).ok_or_else(|| {
                format!("Parameter InputPathsMap is not valid. Reason: {path} is not a valid JSON path.")
            })?;
        }
        if tr.input_template.is_empty() {
            return Err("InputTemplate must not be empty.".into());
        }
    }
    Ok(())
}

/// One step of a JSON path.
enum Step {
    Key(String),
    Index(usize),
}

/// `$`, `$.a.b`, `$.a[0].b`, `$['a b']`: the paths targets use.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            steps.push(Step::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn select<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = value;
    for step in parse_path(path)? {
        at = match step {
            Step::Key(k) => at.get(&k)?,
            Step::Index(i) => at.get(i)?,
        };
    }
    Some(at)
}

/// What `target` receives for `event`: its Input as given, the value at its InputPath,
/// its InputTransformer's template filled in, or else the whole event.
/// `ingestion_time` fills `<aws.events.event.ingestion-time>` (when the event was accepted).
pub fn input_for_target(
    target: &Target,
    event: &Value,
    rule_name: &str,
    rule_arn: &str,
    ingestion_time: &str,
) -> String {
    if let Some(input) = &target.input {
        return input.clone();
    }
    if let Some(path) = &target.input_path {
        return select(event, path)
            .cloned()
            .unwrap_or(Value::Null)
            .to_string();
    }
    if let Some(tr) = &target.input_transformer {
        return transform(tr, event, [rule_name, rule_arn, ingestion_time]);
    }
    event.to_string()
}

/// Fills `<name>` placeholders. In a JSON template a placeholder inside a string
/// literal takes the value's text (a string without its quotes), one outside takes
/// the value as JSON; a template that is not JSON (plain text) takes every value's
/// text. A path that selects nothing gives null (or nothing inside a string);
/// unknown placeholders stay as written.
/// `names`: the rule's name, the rule's ARN and the ingestion time.
fn transform(tr: &InputTransformer, event: &Value, names: [&str; 3]) -> String {
    let [rule_name, rule_arn, ingestion_time] = names;
    let mut vars: Map<String, Value> = Map::new();
    for (key, path) in &tr.input_paths_map {
        vars.insert(
            key.clone(),
            select(event, path).cloned().unwrap_or(Value::Null),
        );
    }
    vars.insert(
        "aws.events.rule-name".into(),
        Value::String(rule_name.into()),
    );
    vars.insert("aws.events.rule-arn".into(), Value::String(rule_arn.into()));
    vars.insert(
        "aws.events.event.ingestion-time".into(),
        Value::String(ingestion_time.into()),
    );
    vars.insert("aws.events.event.json".into(), event.clone());
    vars.insert("aws.events.event".into(), event.clone());
    let template = &tr.input_template;
    let json_mode = matches!(template.trim_start().chars().next(), Some('{' | '[' | '"'));
    let mut out = String::with_capacity(template.len());
    let mut in_string = !json_mode;
    let mut escaped = false;
    let mut rest = template.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest[1..].find('>') {
                let name = &rest[1..1 + end];
                if let Some(v) = vars.get(name) {
                    out.push_str(&render(v, in_string, json_mode));
                    rest = &rest[end + 2..];
                    escaped = false;
                    continue;
                }
            }
        }
        if json_mode {
            if escaped {
                escaped = false;
            } else if c == '\\' && in_string {
                escaped = true;
            } else if c == '"' {
                in_string = !in_string;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn render(v: &Value, in_string: bool, json_mode: bool) -> String {
    if !in_string {
        return v.to_string();
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if json_mode {
        // Inside a JSON string literal: escaped, without the quotes.
        let quoted = Value::String(text).to_string();
        quoted[1..quoted.len() - 1].to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn target() -> Target {
        Target {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-1:0:q".into(),
            input: None,
            input_path: None,
            input_transformer: None,
            retry_policy: None,
            dead_letter_config: None,
            role_arn: None,
        }
    }

    fn event() -> Value {
        json!({"id": "e1", "detail": {"instance-id": "i-123", "state": "running", "n": 3, "tags": ["a"]}})
    }

    fn with_transformer(paths: &[(&str, &str)], template: &str) -> Target {
        let mut t = target();
        t.input_transformer = Some(InputTransformer {
            input_paths_map: paths
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            input_template: template.into(),
        });
        t
    }

    /// The examples of EventBridge's input transformation documentation.
    #[test]
    fn transformer_examples() {
        let paths = [
            ("instance", "$.detail.instance-id"),
            ("state", "$.detail.state"),
            ("n", "$.detail.n"),
        ];
        let t = with_transformer(
            &paths,
            r#"{"instance": <instance>, "state": "is <state>", "n": <n>}"#,
        );
        let out: Value = serde_json::from_str(&input_for_target(
            &t,
            &event(),
            "r",
            "arn:r",
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(
            out,
            json!({"instance": "i-123", "state": "is running", "n": 3})
        );
        let text = with_transformer(&paths, r#""<instance> is in state <state>""#);
        assert_eq!(
            input_for_target(&text, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            r#""i-123 is in state running""#
        );
        let plain = with_transformer(&paths, "instance <instance> is <state> (<unknown>)");
        assert_eq!(
            input_for_target(&plain, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            "instance i-123 is running (<unknown>)"
        );
        let predefined = with_transformer(
            &[],
            r#"{"rule": <aws.events.rule-name>, "id": "<aws.events.rule-arn>", "at": <aws.events.event.ingestion-time>}"#,
        );
        assert_eq!(
            input_for_target(&predefined, &event(), "r1", "arn:x", "2026-01-01T00:00:00Z"),
            r#"{"rule": "r1", "id": "arn:x", "at": "2026-01-01T00:00:00Z"}"#
        );
        let missing = with_transformer(&[("m", "$.detail.none")], r#"{"m": <m>, "s": "<m>"}"#);
        assert_eq!(
            input_for_target(&missing, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            r#"{"m": null, "s": ""}"#
        );
    }

    #[test]
    fn input_and_input_path() {
        let mut t = target();
        assert_eq!(
            input_for_target(&t, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            event().to_string()
        );
        t.input_path = Some("$.detail.tags[0]".into());
        assert_eq!(
            input_for_target(&t, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            "\"a\""
        );
        t.input_path = Some("$.detail".into());
        assert_eq!(
            input_for_target(&t, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            event()["detail"].to_string()
        );
        t.input_path = None;
        t.input = Some("{\"fixed\": true}".into());
        assert_eq!(
            input_for_target(&t, &event(), "r", "a", "2026-01-01T00:00:00Z"),
            "{\"fixed\": true}"
        );
        assert!(check_target_input(&t).is_ok());
        t.input = Some("{nope".into());
        assert!(check_target_input(&t).is_err());
        t.input = Some("1".into());
        t.input_path = Some("$.x".into());
        assert!(check_target_input(&t).is_err());
        t.input = None;
        t.input_path = Some("detail".into());
        assert!(check_target_input(&t).is_err());
    }

    #[test]
    fn envelopes() {
        let entry = PutEventsEntry {
            source: Some("app".into()),
            detail_type: Some("T".into()),
            detail: Some("{\"a\":1}".into()),
            resources: vec!["r1".into()],
            ..Default::default()
        };
        let e = envelope(
            &entry,
            "id1",
            "000000000000",
            "us-east-1",
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(e["detail"]["a"], 1);
        assert_eq!(e["version"], "0");
        assert_eq!(e["time"], "2026-01-01T00:00:00Z");
        let mut bad = entry.clone();
        bad.detail = Some("[1]".into());
        assert_eq!(
            envelope(&bad, "i", "a", "r", "t").unwrap_err().code,
            "MalformedDetail"
        );
        bad.source = None;
        assert_eq!(
            envelope(&bad, "i", "a", "r", "t").unwrap_err().message,
            "Parameter Source is not valid. Reason: Source is a required argument."
        );
    }
}
