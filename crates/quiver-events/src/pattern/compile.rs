//! From pattern JSON to the compiled tree, with EventBridge's reasons for refusals
//! (the caller adds its service's prefix).

use serde_json::{Map, Value};

use super::cond::{Cidr, Cond, Range};
use super::matcher::{Field, Node};
use super::wildcard::Wildcard;

type Reason = String;

pub(crate) fn compile_text(json: &str) -> Result<Node, Reason> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    compile_value(&value)
}

pub(crate) fn compile_value(value: &Value) -> Result<Node, Reason> {
    match value {
        Value::Object(map) => object(map),
        _ => Err("Filter is not an object".into()),
    }
}

fn object(map: &Map<String, Value>) -> Result<Node, Reason> {
    if map.is_empty() {
        return Err("Empty objects are not allowed".into());
    }
    let mut node = Node::default();
    for (key, value) in map {
        if key == "$or" {
            node.any_of.push(or_group(value)?);
            continue;
        }
        let field = match value {
            Value::Object(inner) => Field::Nested(object(inner)?),
            Value::Array(items) => Field::Leaf(values(items)?),
            _ => return Err(format!("\"{key}\" must be an object or an array")),
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn or_group(value: &Value) -> Result<Vec<Node>, Reason> {
    let Value::Array(items) = value else {
        return Err("It must be an Array followed with $or.".into());
    };
    let mut alternatives = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(map) => alternatives.push(object(map)?),
            _ => return Err("Only JSON object is allowed in array of $or relationship.".into()),
        }
    }
    if alternatives.len() < 2 {
        return Err("There must have at least 2 Objects in $or relationship.".into());
    }
    Ok(alternatives)
}

fn values(items: &[Value]) -> Result<Vec<Cond>, Reason> {
    if items.is_empty() {
        return Err("Empty arrays are not allowed".into());
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(expr) => match_expression(expr),
            Value::Array(_) => {
                Err("Match value must be String, number, true, false, or null".into())
            }
            scalar => Ok(Cond::Exact(scalar.clone())),
        })
        .collect()
}

/// The one key of `{ "prefix": ... }` and its value, or the refusal.
fn single(expr: &Map<String, Value>) -> Result<(&str, &Value), Reason> {
    let mut entries = expr.iter();
    let Some((name, value)) = entries.next() else {
        return Err("Match expression name not found".into());
    };
    if entries.next().is_some() {
        return Err("Only one key allowed in match expression".into());
    }
    Ok((name.as_str(), value))
}

fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, Reason> {
    value
        .as_str()
        .ok_or_else(|| format!("{what} match pattern must be a string"))
}

fn match_expression(expr: &Map<String, Value>) -> Result<Cond, Reason> {
    let (name, value) = single(expr)?;
    match name {
        "prefix" | "suffix" => affix(name, value),
        "equals-ignore-case" => Ok(Cond::EqualsIgnoreCase(
            string(value, "equals-ignore-case")?.to_lowercase(),
        )),
        "wildcard" => Ok(Cond::Wildcard(Wildcard::parse(string(value, "wildcard")?)?)),
        "anything-but" => anything_but(value),
        "numeric" => numeric(value).map(Cond::Numeric),
        "exists" => match value {
            Value::Bool(b) => Ok(Cond::Exists(*b)),
            _ => Err("exists match pattern must be either true or false.".into()),
        },
        "cidr" => {
            let text = string(value, "cidr")?;
            Cidr::parse(text)
                .map(Cond::Cidr)
                .ok_or_else(|| format!("Nonstandard IP address: {text}"))
        }
        other => Err(format!("Unrecognized match type {other}")),
    }
}

/// `prefix` / `suffix`, plain or with `{ "equals-ignore-case": ... }` inside.
fn affix(name: &str, value: &Value) -> Result<Cond, Reason> {
    let (text, ignore_case) = match value {
        Value::String(s) => (s.clone(), false),
        Value::Object(inner) => {
            let (op, v) = single(inner)?;
            if op != "equals-ignore-case" {
                return Err(format!("Unsupported {name} pattern: {op}"));
            }
            (string(v, "equals-ignore-case")?.to_lowercase(), true)
        }
        _ => return Err(format!("{name} match pattern must be a string")),
    };
    Ok(if name == "prefix" {
        Cond::Prefix { text, ignore_case }
    } else {
        Cond::Suffix { text, ignore_case }
    })
}

fn anything_but(value: &Value) -> Result<Cond, Reason> {
    let inner = match value {
        Value::String(_) | Value::Number(_) => vec![Cond::Exact(value.clone())],
        Value::Array(items) => anything_but_list(items)?,
        Value::Object(expr) => {
            let (op, v) =
                single(expr).map_err(|_| "Anything-But expression name not found".to_string())?;
            match op {
                "prefix" | "suffix" => {
                    let text = v
                        .as_str()
                        .ok_or("prefix/suffix match pattern must be a string")?;
                    if text.is_empty() {
                        return Err("Null prefix/suffix not allowed".into());
                    }
                    vec![affix(op, v)?]
                }
                "equals-ignore-case" => string_list(v, "equals-ignore-case")?
                    .into_iter()
                    .map(|s| Cond::EqualsIgnoreCase(s.to_lowercase()))
                    .collect(),
                "wildcard" => string_list(v, "wildcard")?
                    .iter()
                    .map(|w| Wildcard::parse(w).map(Cond::Wildcard))
                    .collect::<Result<_, _>>()?,
                other => return Err(format!("Unsupported anything-but pattern: {other}")),
            }
        }
        _ => {
            return Err(
                "Value of anything-but must be an array or single string/number value.".into(),
            )
        }
    };
    Ok(Cond::AnythingBut(inner))
}

fn anything_but_list(items: &[Value]) -> Result<Vec<Cond>, Reason> {
    let strings = items.iter().all(Value::is_string);
    let numbers = items.iter().all(Value::is_number);
    if items.iter().any(|v| !(v.is_string() || v.is_number())) {
        return Err("Inside anything but list, start|null|boolean is not supported.".into());
    }
    if items.is_empty() || !(strings || numbers) {
        return Err(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
                .into(),
        );
    }
    Ok(items.iter().cloned().map(Cond::Exact).collect())
}

/// A string, or a non-empty list of strings (anything-but's inner operators).
fn string_list(value: &Value, what: &str) -> Result<Vec<String>, Reason> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    format!("Inside anything-but/{what} list, number|start|null|boolean is not supported.")
                })
            })
            .collect(),
        _ => Err(format!(
            "Inside anything-but/{what} list, number|start|null|boolean is not supported."
        )),
    }
}

/// `["=", 5]`, `["<", 10]`, `[">", 0, "<=", 5]`: one comparison, or a lower bound then
/// an upper bound.
fn numeric(value: &Value) -> Result<Range, Reason> {
    let Value::Array(terms) = value else {
        return Err("Value of numeric must be an array.".into());
    };
    let operand = |i: usize, op: &str| -> Result<f64, Reason> {
        let name = if op == "=" { "equals" } else { op };
        terms
            .get(i)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("Value of {name} must be numeric"))
    };
    let op = match terms.first() {
        Some(Value::String(op)) => op.as_str(),
        Some(other) => return Err(format!("Invalid member in numeric match: {other}")),
        None => return Err("Invalid member in numeric match: ]".into()),
    };
    let first = operand(1, op)?;
    let mut range = match op {
        "=" => Range {
            low: Some((first, true)),
            high: Some((first, true)),
        },
        ">" => Range {
            low: Some((first, false)),
            high: None,
        },
        ">=" => Range {
            low: Some((first, true)),
            high: None,
        },
        "<" => Range {
            low: None,
            high: Some((first, false)),
        },
        "<=" => Range {
            low: None,
            high: Some((first, true)),
        },
        other => return Err(format!("Unrecognized numeric range operator: {other}")),
    };
    if terms.len() == 2 {
        return Ok(range);
    }
    if range.high.is_some() {
        return Err("Too many elements in numeric expression".into());
    }
    let top_op = match terms.get(2) {
        Some(Value::String(op)) if op == "<" || op == "<=" => op.as_str(),
        Some(Value::String(op)) => return Err(format!("Bad numeric range operator: {op}")),
        Some(other) => return Err(format!("Bad value in numeric range: {other}")),
        None => unreachable!("len > 2"),
    };
    let top = operand(3, top_op)?;
    if terms.len() > 4 {
        return Err("Too many terms in numeric range expression".into());
    }
    if top <= first {
        return Err("Bottom must be less than top".into());
    }
    range.high = Some((top, top_op == "<="));
    Ok(range)
}
