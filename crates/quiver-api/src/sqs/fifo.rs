//! FIFO send parameters: `MessageGroupId` and `MessageDeduplicationId` checked in SQS's
//! order and handed to the store as reserved attributes (see `quiver_queue`'s
//! `GROUP_ID_ATTRIBUTE`).

use std::collections::BTreeMap;

use quiver_queue::{
    AttrValue, MessageAttribute, QueueConfig, DEDUP_ID_ATTRIBUTE, GROUP_ID_ATTRIBUTE,
};

use super::error::SqsError;

/// What a send names beyond its body: where it goes (FIFO or not) and its group and
/// deduplication ids.
pub(super) struct Ids {
    pub fifo: bool,
    pub content_dedup: bool,
    pub group: Option<String>,
    pub dedup: Option<String>,
}

/// SQS's rule for group and deduplication ids: 1 to 128 characters, alphanumeric or
/// punctuation.
fn check_id(name: &str, v: &str) -> Result<(), SqsError> {
    if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SqsError::invalid_parameter(format!(
            "Value {v} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )));
    }
    Ok(())
}

fn not_for_this_queue_type(name: &str, v: &str) -> SqsError {
    SqsError::invalid_parameter(format!(
        "Value {v} for parameter {name} is invalid. Reason: The request include parameter that is not valid for this queue type."
    ))
}

/// Checks the FIFO parameters (in SQS's order) and returns the attributes that carry
/// the ids to the store.
pub(super) fn check_ids(
    ids: Ids,
    delay: Option<i64>,
) -> Result<BTreeMap<String, MessageAttribute>, SqsError> {
    let mut out = BTreeMap::new();
    let as_attr = |v: String| MessageAttribute {
        data_type: "String".into(),
        value: AttrValue::String(v),
    };
    if ids.fifo {
        if let Some(d) = delay {
            return Err(not_for_this_queue_type("DelaySeconds", &d.to_string()));
        }
        let group = ids
            .group
            .ok_or_else(|| SqsError::missing_parameter("MessageGroupId"))?;
        check_id("MessageGroupId", &group)?;
        match ids.dedup {
            Some(d) => {
                check_id("MessageDeduplicationId", &d)?;
                out.insert(DEDUP_ID_ATTRIBUTE.to_string(), as_attr(d));
            }
            None if ids.content_dedup => {}
            None => {
                return Err(SqsError::invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ))
            }
        }
        out.insert(GROUP_ID_ATTRIBUTE.to_string(), as_attr(group));
    } else {
        if let Some(d) = ids.dedup {
            return Err(not_for_this_queue_type("MessageDeduplicationId", &d));
        }
        // Standard queues take a group id since fair queues (2025): it is kept and
        // returned, and does not order anything.
        if let Some(g) = ids.group {
            check_id("MessageGroupId", &g)?;
            out.insert(GROUP_ID_ATTRIBUTE.to_string(), as_attr(g));
        }
    }
    Ok(out)
}

pub(super) fn ids_of(c: &QueueConfig, group: Option<String>, dedup: Option<String>) -> Ids {
    Ids {
        fifo: c.fifo.is_some(),
        content_dedup: c.fifo.is_some_and(|f| f.content_based_dedup),
        group,
        dedup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_parameters() {
        let fifo = QueueConfig {
            fifo: Some(quiver_queue::FifoConfig::default()),
            ..Default::default()
        };
        let s = |v: &str| Some(v.to_string());
        let err = |ids: Ids, d: Option<i64>| check_ids(ids, d).unwrap_err();
        assert_eq!(
            err(ids_of(&fifo, None, s("d")), None).code,
            "MissingParameter"
        );
        assert!(err(ids_of(&fifo, s("g"), None), None)
            .message
            .contains("ContentBasedDeduplication"));
        assert!(err(ids_of(&fifo, s("g"), s("d")), Some(0))
            .message
            .contains("DelaySeconds is invalid"));
        assert!(err(ids_of(&fifo, s("g b"), s("d")), None)
            .message
            .contains("1 to 128"));
        assert_eq!(
            check_ids(ids_of(&fifo, s("g"), s("d")), None)
                .unwrap()
                .len(),
            2
        );
        let std = QueueConfig::default();
        assert!(err(ids_of(&std, None, s("d")), None)
            .message
            .contains("not valid for this queue type"));
        assert_eq!(
            check_ids(ids_of(&std, s("g"), None), None).unwrap().len(),
            1
        );
    }
}
