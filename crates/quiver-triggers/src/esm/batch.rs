//! The pure rules of an SQS batch: which records go back to the queue after the
//! function answered (Lambda's ReportBatchItemFailures contract) and the FIFO rule that
//! keeps a group's order.

use std::collections::HashSet;

use serde_json::Value;

/// What the function's answer means for a batch of `ids` (message ids, batch order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every record succeeded: delete them all.
    AllSucceeded,
    /// These records failed (ids): delete the rest.
    Partial(Vec<String>),
    /// The batch failed as a whole: leave every record for the visibility timeout.
    AllFailed,
}

/// Lambda's reading of a `ReportBatchItemFailures` answer: an empty or null
/// `batchItemFailures` (or an empty / null response) is success; a malformed answer,
/// an empty or null `itemIdentifier`, or an identifier not in the batch fails the
/// whole batch.
pub fn read_batch_failures(payload: &[u8], ids: &[String]) -> BatchOutcome {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return BatchOutcome::AllSucceeded;
    }
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return BatchOutcome::AllFailed;
    };
    let failures = match &v {
        Value::Null => return BatchOutcome::AllSucceeded,
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return BatchOutcome::AllSucceeded,
            Some(Value::Array(list)) => list,
            Some(_) => return BatchOutcome::AllFailed,
        },
        _ => return BatchOutcome::AllSucceeded,
    };
    if failures.is_empty() {
        return BatchOutcome::AllSucceeded;
    }
    let known: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut failed = Vec::new();
    for f in failures {
        match f.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && known.contains(id) => {
                if !failed.iter().any(|x: &String| x == id) {
                    failed.push(id.to_string());
                }
            }
            _ => return BatchOutcome::AllFailed,
        }
    }
    BatchOutcome::Partial(failed)
}

/// FIFO queues: after the first failed record of a message group, the later records of
/// that group in the batch are not deleted either (they would otherwise overtake it).
/// `batch` is (message id, group id) in batch order; returns the ids that stay.
pub fn fifo_retained(batch: &[(String, Option<String>)], failed: &[String]) -> Vec<String> {
    let failed: HashSet<&str> = failed.iter().map(String::as_str).collect();
    let mut broken: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for (id, group) in batch {
        let group = group.as_deref();
        let group_broken = group.is_some_and(|g| broken.contains(g));
        if failed.contains(id.as_str()) || group_broken {
            out.push(id.clone());
            if let Some(g) = group {
                broken.insert(g);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    /// The success and failure cases Lambda's SQS docs list for ReportBatchItemFailures.
    #[test]
    fn batch_item_failures_table() {
        let cases: &[(&str, BatchOutcome)] = &[
            ("", BatchOutcome::AllSucceeded),
            ("null", BatchOutcome::AllSucceeded),
            ("{}", BatchOutcome::AllSucceeded),
            (r#"{"batchItemFailures":[]}"#, BatchOutcome::AllSucceeded),
            (r#"{"batchItemFailures":null}"#, BatchOutcome::AllSucceeded),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#,
                BatchOutcome::Partial(vec!["b".into()]),
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"}]}"#,
                BatchOutcome::Partial(vec!["c".into(), "a".into()]),
            ),
            ("{not json", BatchOutcome::AllFailed),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
                BatchOutcome::AllFailed,
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
                BatchOutcome::AllFailed,
            ),
            (
                r#"{"batchItemFailures":[{"itemId":"a"}]}"#,
                BatchOutcome::AllFailed,
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"zz"}]}"#,
                BatchOutcome::AllFailed,
            ),
            (r#"{"batchItemFailures":"a"}"#, BatchOutcome::AllFailed),
        ];
        for (payload, want) in cases {
            assert_eq!(
                &read_batch_failures(payload.as_bytes(), &ids()),
                want,
                "{payload}"
            );
        }
    }

    #[test]
    fn fifo_group_after_failure_stays() {
        let g = |id: &str, grp: &str| (id.to_string(), Some(grp.to_string()));
        let batch = vec![
            g("1", "x"),
            g("2", "y"),
            g("3", "x"),
            g("4", "y"),
            g("5", "x"),
        ];
        assert_eq!(fifo_retained(&batch, &["3".into()]), vec!["3", "5"]);
        assert_eq!(
            fifo_retained(&batch, &["1".into(), "4".into()]),
            vec!["1", "3", "4", "5"]
        );
        assert!(fifo_retained(&batch, &[]).is_empty());
        let standard = vec![("1".to_string(), None), ("2".to_string(), None)];
        assert_eq!(fifo_retained(&standard, &["1".into()]), vec!["1"]);
    }
}
