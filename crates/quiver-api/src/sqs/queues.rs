//! Queue operations: create, look up, list, attributes, purge, delete.

use std::collections::HashMap;

use base64::Engine as _;
use quiver_queue::QueueConfig;
use serde::Deserialize;
use serde_json::{json, Value};

use super::attrs;
use super::error::SqsError;
use super::Ctx;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueue {
    queue_name: Option<String>,
    #[serde(default)]
    attributes: HashMap<String, String>,
}

/// Refuses names SQS refuses: a FIFO queue (`FifoQueue=true`) needs a `.fifo` name, and
/// a `.fifo` name is not a valid standard queue name.
fn check_name(name: Option<&str>, fifo: bool) -> Result<&str, SqsError> {
    let name = name.ok_or_else(|| SqsError::missing_parameter("QueueName"))?;
    if fifo && !quiver_queue::is_valid_fifo_name(name) {
        return Err(SqsError::invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ));
    }
    if !fifo && !quiver_queue::is_valid_name(name) {
        return Err(SqsError::invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(name)
}

/// The dead-letter target must exist, not be the queue itself, and be of the queue's
/// type (FIFO to FIFO, standard to standard).
async fn check_redrive(ctx: &Ctx, name: &str, c: &QueueConfig) -> Result<(), SqsError> {
    if let Some(r) = &c.redrive {
        let target = if r.dead_letter_queue == name {
            None
        } else {
            ctx.queues.get_queue(&r.dead_letter_queue).await.ok()
        };
        let why = match target {
            None => "Dead letter target does not exist.",
            Some(t) if t.config.fifo.is_some() != c.fifo.is_some() => {
                "Dead-letter queue must be same type of queue as the source.."
            }
            Some(_) => return Ok(()),
        };
        return Err(SqsError::invalid_parameter(format!(
            "Value {} for parameter RedrivePolicy is invalid. Reason: {why}",
            serde_json::json!({
                "deadLetterTargetArn": attrs::queue_arn(&ctx.partition, &r.dead_letter_queue),
                "maxReceiveCount": r.max_receive_count
            })
        )));
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, r: CreateQueue) -> Result<Value, SqsError> {
    let name = check_name(r.queue_name.as_deref(), attrs::wants_fifo(&r.attributes)?)?;
    let config = attrs::apply(&ctx.partition, &QueueConfig::default(), &r.attributes, true)?;
    check_redrive(ctx, name, &config).await?;
    let (info, created) = ctx.queues.create_queue(name, config).await?;
    if !created {
        // Same name: fine if every attribute the caller named has the same value.
        let wanted = attrs::apply(&ctx.partition, &info.config, &r.attributes, true)?;
        if wanted != info.config {
            return Err(SqsError::queue_name_exists(format!(
                "A queue already exists with the same name and a different value for attribute {}",
                attrs::first_difference(&wanted, &info.config)
            )));
        }
    }
    Ok(json!({ "QueueUrl": ctx.url(name) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrl {
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    owner: Option<String>,
}

pub async fn get_url(ctx: &Ctx, r: GetQueueUrl) -> Result<Value, SqsError> {
    let name = r
        .queue_name
        .ok_or_else(|| SqsError::missing_parameter("QueueName"))?;
    if r.owner
        .as_deref()
        .is_some_and(|o| o != ctx.partition.account)
        || !quiver_queue::is_valid_queue_name(&name)
    {
        return Err(SqsError::queue_does_not_exist());
    }
    ctx.queues.get_queue(&name).await?;
    Ok(json!({ "QueueUrl": ctx.url(&name) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueues {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn token_of(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn name_of_token(t: &str) -> Result<String, SqsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|n| quiver_queue::is_valid_queue_name(n))
        .ok_or_else(|| SqsError::invalid_parameter("Invalid NextToken value."))
}

pub async fn list(ctx: &Ctx, r: ListQueues) -> Result<Value, SqsError> {
    if let Some(m) = r.max_results {
        if !(1..=1000).contains(&m) {
            return Err(SqsError::invalid_parameter(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
    }
    let after = r.next_token.as_deref().map(name_of_token).transpose()?;
    let prefix = r.queue_name_prefix.unwrap_or_default();
    let all = ctx.queues.list_queues(&prefix).await?;
    let rest: Vec<_> = all
        .into_iter()
        .filter(|q| after.as_deref().is_none_or(|a| q.name.as_str() > a))
        .collect();
    let limit = r.max_results.unwrap_or(1000) as usize;
    let page = &rest[..rest.len().min(limit)];
    let mut out = serde_json::Map::new();
    if !page.is_empty() {
        out.insert(
            "QueueUrls".into(),
            json!(page.iter().map(|q| ctx.url(&q.name)).collect::<Vec<_>>()),
        );
    }
    if r.max_results.is_some() && rest.len() > page.len() {
        if let Some(last) = page.last() {
            out.insert("NextToken".into(), json!(token_of(&last.name)));
        }
    }
    Ok(Value::Object(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributes {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
}

pub async fn get_attributes(ctx: &Ctx, r: GetQueueAttributes) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    attrs::check_names(&r.attribute_names)?;
    let info = ctx.queues.get_queue(&name).await?;
    let depth = ctx.queues.depth(&name).await?;
    let a = attrs::render(&ctx.partition, &info, depth, &r.attribute_names);
    Ok(if a.is_empty() {
        json!({})
    } else {
        json!({ "Attributes": a })
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributes {
    queue_url: Option<String>,
    attributes: Option<HashMap<String, String>>,
}

pub async fn set_attributes(ctx: &Ctx, r: SetQueueAttributes) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    let wanted = r
        .attributes
        .ok_or_else(|| SqsError::missing_parameter("Attributes"))?;
    let info = ctx.queues.get_queue(&name).await?;
    let config = attrs::apply(&ctx.partition, &info.config, &wanted, false)?;
    check_redrive(ctx, &name, &config).await?;
    ctx.queues.set_config(&name, config).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByUrl {
    queue_url: Option<String>,
}

pub async fn purge(ctx: &Ctx, r: ByUrl) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    ctx.queues.purge(&name).await?;
    Ok(json!({}))
}

pub async fn delete(ctx: &Ctx, r: ByUrl) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    ctx.queues.delete_queue(&name).await?;
    Ok(json!({}))
}

pub async fn dead_letter_sources(ctx: &Ctx, r: ByUrl) -> Result<Value, SqsError> {
    let name = ctx.name_of(r.queue_url.as_deref())?;
    ctx.queues.get_queue(&name).await?;
    let sources: Vec<String> = ctx
        .queues
        .list_queues("")
        .await?
        .into_iter()
        .filter(|q| {
            q.config
                .redrive
                .as_ref()
                .is_some_and(|r| r.dead_letter_queue == name)
        })
        .map(|q| ctx.url(&q.name))
        .collect();
    Ok(json!({ "queueUrls": sources }))
}
