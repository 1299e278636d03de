//! FilterCriteria of event source mappings: up to a few patterns over each record a
//! poller reads; a record is handed to the function when any pattern matches it.
//!
//! The record is the one the function would receive (an SQS message with `body`,
//! `attributes`, `messageAttributes`, ...). A `body` that is a JSON object or array is
//! matched as that JSON, so patterns can look inside it (`{"body": {"kind": ["a"]}}`);
//! any other body stays a plain string.

use serde_json::Value;

use super::Pattern;
use crate::EventsError;

/// The compiled `Filters[].Pattern` of one mapping.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterCriteria {
    patterns: Vec<Pattern>,
}

/// Lambda's wording for a pattern it refuses.
const REFUSAL: &str = "Invalid filter pattern definition.";

impl FilterCriteria {
    /// Compiles `{"Filters": [{"Pattern": "<json>"}, ...]}` (the API's shape).
    pub fn parse(criteria: &Value) -> Result<Self, EventsError> {
        let refuse = || EventsError::InvalidPattern(REFUSAL.into());
        let filters = match criteria.get("Filters") {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Array(filters)) => filters,
            Some(_) => return Err(refuse()),
        };
        let patterns = filters
            .iter()
            .map(|f| match f.get("Pattern").and_then(Value::as_str) {
                Some(text) => Pattern::parse(text).map_err(|_| refuse()),
                None => Err(refuse()),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    /// True when there is nothing to filter on: every record passes.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether a record passes: any pattern matches it (with its body read as JSON
    /// where it is JSON).
    pub fn matches_record(&self, record: &Value) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let parsed;
        let record = match record.get("body").and_then(Value::as_str) {
            Some(body) => match serde_json::from_str::<Value>(body) {
                Ok(json @ (Value::Object(_) | Value::Array(_))) => {
                    let mut copy = record.clone();
                    copy["body"] = json;
                    parsed = copy;
                    &parsed
                }
                _ => record,
            },
            None => record,
        };
        self.patterns.iter().any(|p| p.matches(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn criteria(patterns: &[&str]) -> FilterCriteria {
        let filters: Vec<Value> = patterns.iter().map(|p| json!({ "Pattern": p })).collect();
        FilterCriteria::parse(&json!({ "Filters": filters })).unwrap()
    }

    /// Examples from Lambda's event filtering documentation (SQS records).
    #[test]
    fn json_and_plain_bodies() {
        let c = criteria(&[r#"{"body":{"RequestCode":["BBBB"]}}"#]);
        assert!(c.matches_record(&json!({"messageId": "1", "body": "{\"RequestCode\":\"BBBB\"}"})));
        assert!(!c.matches_record(&json!({"messageId": "2", "body": "{\"RequestCode\":\"AAAA\"}"})));
        assert!(!c.matches_record(&json!({"messageId": "3", "body": "BBBB"})));
        let plain = criteria(&[
            r#"{"body":["BBBB"]}"#,
            r#"{"attributes":{"SenderId":[{"prefix":"AID"}]}}"#,
        ]);
        assert!(plain.matches_record(&json!({"body": "BBBB"})));
        assert!(plain.matches_record(&json!({"body": "x", "attributes": {"SenderId": "AIDAX"}})));
        assert!(!plain.matches_record(&json!({"body": "x", "attributes": {"SenderId": "BX"}})));
        assert!(FilterCriteria::default().matches_record(&json!({"body": "x"})));
    }

    #[test]
    fn refusals() {
        for bad in [
            json!({"Filters": [{"Pattern": "{\"a\": 1}"}]}),
            json!({"Filters": [{}]}),
            json!({"Filters": 3}),
        ] {
            assert_eq!(
                FilterCriteria::parse(&bad).unwrap_err().to_string(),
                REFUSAL
            );
        }
    }
}
