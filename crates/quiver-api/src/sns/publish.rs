//! Publish and PublishBatch: every input checked, then the messages handed to the
//! delivery side, which makes them durable before the answer.

use std::collections::HashSet;

use quiver_model::sns::{message, SnsError, Topic, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES};
use quiver_triggers::Published;

use super::form::Form;
use super::topics::existing;
use super::xml::Xml;
use super::Ctx;

/// One message's members (of the request, or of a batch entry), checked.
fn message_of(f: &Form) -> Result<Published, SnsError> {
    if f.get("MessageGroupId").is_some() {
        return Err(SnsError::invalid(
            "The request includes MessageGroupId parameter that is not valid for this topic type",
        ));
    }
    if f.get("MessageDeduplicationId").is_some() {
        return Err(SnsError::invalid(
            "The request includes MessageDeduplicationId parameter that is not valid for this topic type",
        ));
    }
    let attributes = f.message_attributes("MessageAttributes")?;
    let subject = f.get("Subject");
    let bodies = message::check_message(
        f.get("Message"),
        subject,
        f.get("MessageStructure"),
        &attributes,
    )?;
    Ok(Published {
        subject: subject.map(str::to_string),
        bodies,
        attributes,
        chain: crate::routes::invoke::new_chain(),
    })
}

async fn deliver(ctx: &Ctx, topic: &Topic, msgs: Vec<Published>) -> Result<Vec<String>, SnsError> {
    ctx.topics()?
        .publish(&topic.arn, &topic.name, msgs)
        .await
        .map_err(|e| match e {
            quiver_triggers::TriggerError::NotFound => SnsError::topic_not_found(),
            e => super::internal(e),
        })
}

pub async fn publish(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    if f.get("PhoneNumber").is_some() {
        return Err(SnsError::invalid(
            "PhoneNumber Reason: SMS is not supported by this server",
        ));
    }
    let (arn, member) = match (f.get("TopicArn"), f.get("TargetArn")) {
        (Some(_), Some(_)) => {
            return Err(SnsError::invalid(
                "TopicArn or TargetArn Reason: Only one of them may be given",
            ))
        }
        (Some(a), None) => (a, "TopicArn"),
        (None, Some(a)) => (a, "TargetArn"),
        (None, None) => {
            return Err(SnsError::invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ))
        }
    };
    let topic = existing(ctx, Some(arn), member).await?;
    let m = message_of(f)?;
    let ids = deliver(ctx, &topic, vec![m]).await?;
    Ok(Xml::new().leaf("MessageId", &ids[0]))
}

fn valid_entry_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn publish_batch(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let topic = existing(ctx, f.get("TopicArn"), "TopicArn").await?;
    let entries = f.structures("PublishBatchRequestEntries")?;
    if entries.is_empty() {
        return Err(SnsError::new(
            "EmptyBatchRequest",
            400,
            "The batch request doesn't contain any entries.",
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SnsError::new(
            "TooManyEntriesInBatchRequest",
            400,
            "The batch request contains more entries than permissible.",
        ));
    }
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for e in &entries {
        let id = e.get("Id").unwrap_or("");
        if !valid_entry_id(id) {
            return Err(SnsError::new(
                "InvalidBatchEntryId",
                400,
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            ));
        }
        if !seen.insert(id) {
            return Err(SnsError::new(
                "BatchEntryIdsNotDistinct",
                400,
                "Two or more batch entries in the request have the same Id.",
            ));
        }
        total += e.get("Message").map_or(0, str::len);
    }
    if total > MAX_MESSAGE_BYTES {
        return Err(SnsError::new(
            "BatchRequestTooLong",
            400,
            "The length of all the messages put together is more than the limit.",
        ));
    }
    let mut ok_ids = Vec::new();
    let mut ok_msgs = Vec::new();
    let mut failed = Vec::new();
    for e in &entries {
        let id = e.get("Id").unwrap_or("").to_string();
        match message_of(e) {
            Ok(m) => {
                ok_ids.push(id);
                ok_msgs.push(m);
            }
            Err(err) => failed.push(
                Xml::new()
                    .leaf("Id", &id)
                    .leaf("Code", err.code)
                    .leaf("Message", &err.message)
                    .leaf("SenderFault", "true"),
            ),
        }
    }
    let message_ids = if ok_msgs.is_empty() {
        Vec::new()
    } else {
        deliver(ctx, &topic, ok_msgs).await?
    };
    Ok(Xml::new()
        .members(
            "Successful",
            ok_ids
                .iter()
                .zip(&message_ids)
                .map(|(id, mid)| Xml::new().leaf("Id", id).leaf("MessageId", mid)),
        )
        .members("Failed", failed))
}
