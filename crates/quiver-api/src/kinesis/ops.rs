//! Stream management operations: parse the request, call quiver-streams, render.

use std::collections::BTreeMap;

use quiver_model::Partition;
use quiver_streams::{rules, StreamInfo, StreamService, StreamStatus};
use serde_json::{json, Value};

use super::{KinesisError, OpError};

/// What every operation needs.
pub struct Cx<'a> {
    pub streams: &'a StreamService,
    pub partition: &'a Partition,
}

impl Cx<'_> {
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.partition.region, self.partition.account
        )
    }
}

pub fn opt_str<'a>(req: &'a Value, field: &str) -> Result<Option<&'a str>, KinesisError> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KinesisError::new(
            "SerializationException",
            format!("{field} must be a string"),
        )),
    }
}

pub fn req_str<'a>(req: &'a Value, field: &str) -> Result<&'a str, KinesisError> {
    opt_str(req, field)?.ok_or_else(|| {
        KinesisError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(field)
        ))
    })
}

pub fn opt_int(req: &Value, field: &str) -> Result<Option<i64>, KinesisError> {
    match req.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            KinesisError::new(
                "SerializationException",
                format!("{field} must be an integer"),
            )
        }),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The stream a request names: `StreamName`, or `StreamARN` where Kinesis allows it.
pub fn stream_name(cx: &Cx<'_>, req: &Value) -> Result<String, KinesisError> {
    let name = opt_str(req, "StreamName")?;
    let arn = opt_str(req, "StreamARN")?;
    let from_arn = match arn {
        None => None,
        Some(a) => {
            let prefix = format!(
                "arn:aws:kinesis:{}:{}:stream/",
                cx.partition.region, cx.partition.account
            );
            match a.strip_prefix(&prefix) {
                Some(n) if !n.is_empty() && !n.contains('/') => Some(n.to_string()),
                _ => {
                    return Err(KinesisError::invalid(format!(
                        "StreamARN {a} is not a stream ARN of this account and region."
                    )))
                }
            }
        }
    };
    match (name, from_arn) {
        (Some(n), Some(a)) if n != a => Err(KinesisError::invalid(
            "StreamARN and StreamName name different streams.",
        )),
        (Some(n), _) => Ok(n.to_string()),
        (None, Some(a)) => Ok(a),
        (None, None) => Err(KinesisError::invalid(
            "Either StreamName or StreamARN should be provided.",
        )),
    }
}

fn status(s: StreamStatus) -> &'static str {
    match s {
        StreamStatus::Creating => "CREATING",
        StreamStatus::Active => "ACTIVE",
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn mode(info: &StreamInfo) -> Value {
    json!({ "StreamMode": if info.on_demand { "ON_DEMAND" } else { "PROVISIONED" } })
}

pub fn shard_json(s: &quiver_streams::ShardInfo) -> Value {
    json!({
        "ShardId": s.id,
        "HashKeyRange": {
            "StartingHashKey": s.hash_start.to_string(),
            "EndingHashKey": s.hash_end.to_string(),
        },
        "SequenceNumberRange": { "StartingSequenceNumber": s.starting_seq },
    })
}

pub async fn dispatch(cx: &Cx<'_>, op: &str, req: &Value) -> Result<Value, OpError> {
    match op {
        "CreateStream" => create_stream(cx, req).await,
        "DescribeStream" => describe_stream(cx, req).await,
        "DescribeStreamSummary" => describe_summary(cx, req).await,
        "ListStreams" => list_streams(cx, req).await,
        "ListShards" => list_shards(cx, req).await,
        "DeleteStream" => {
            let name = stream_name(cx, req)?;
            cx.streams.delete_stream(&name).await?;
            Ok(json!({}))
        }
        "IncreaseStreamRetentionPeriod" | "DecreaseStreamRetentionPeriod" => {
            retention(cx, req, op.starts_with("Increase")).await
        }
        "AddTagsToStream" => {
            let name = stream_name(cx, req)?;
            let tags: BTreeMap<String, String> = match req.get("Tags") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect(),
                _ => return Err(KinesisError::validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null").into()),
            };
            cx.streams.update_tags(&name, tags, Vec::new()).await?;
            Ok(json!({}))
        }
        "RemoveTagsFromStream" => {
            let name = stream_name(cx, req)?;
            let keys: Vec<String> = match req.get("TagKeys") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => return Err(KinesisError::validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null").into()),
            };
            cx.streams.update_tags(&name, BTreeMap::new(), keys).await?;
            Ok(json!({}))
        }
        "ListTagsForStream" => {
            let name = stream_name(cx, req)?;
            let tags = cx.streams.tags(&name).await?;
            let start = opt_str(req, "ExclusiveStartTagKey")?;
            let tags: Vec<Value> = tags
                .iter()
                .filter(|(k, _)| start.is_none_or(|s| k.as_str() > s))
                .map(|(k, v)| json!({ "Key": k, "Value": v }))
                .collect();
            Ok(json!({ "Tags": tags, "HasMoreTags": false }))
        }
        "UpdateShardCount" | "SplitShard" | "MergeShards" | "RegisterStreamConsumer"
        | "DeregisterStreamConsumer" | "DescribeStreamConsumer" | "ListStreamConsumers"
        | "SubscribeToShard" | "StartStreamEncryption" | "StopStreamEncryption"
        | "EnableEnhancedMonitoring" | "DisableEnhancedMonitoring" | "UpdateStreamMode" => {
            Err(KinesisError::invalid(format!(
                "{op} is not supported by this server: streams keep the shards they were created with and serve GetRecords readers only (docs/wire.md §29)."
            ))
            .into())
        }
        other => Err(KinesisError::new(
            "UnknownOperationException",
            format!("Unknown operation Kinesis_20131202.{other}"),
        )
        .into()),
    }
}

async fn create_stream(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = req_str(req, "StreamName")?;
    rules::validate_name(name)?;
    let on_demand = match req.pointer("/StreamModeDetails/StreamMode").and_then(Value::as_str) {
        None | Some("PROVISIONED") => false,
        Some("ON_DEMAND") => true,
        Some(m) => {
            return Err(KinesisError::validation(format!(
                "1 validation error detected: Value '{m}' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"
            ))
            .into())
        }
    };
    let shards = match (opt_int(req, "ShardCount")?, on_demand) {
        (None, true) => rules::ON_DEMAND_SHARDS as i64,
        (Some(_), true) => {
            return Err(KinesisError::validation(
                "ShardCount is not supported for ON_DEMAND streams.",
            )
            .into())
        }
        (None, false) => {
            return Err(
                KinesisError::validation("ShardCount is required for PROVISIONED streams.").into(),
            )
        }
        (Some(n), false) => n,
    };
    if shards < 1 || shards > i64::from(rules::MAX_SHARDS) {
        return Err(KinesisError::validation(format!(
            "1 validation error detected: Value '{shards}' at 'shardCount' failed to satisfy constraint: Member must have value between 1 and {}",
            rules::MAX_SHARDS
        ))
        .into());
    }
    cx.streams
        .create_stream(name, shards as u32, on_demand)
        .await?;
    if let Some(Value::Object(tags)) = req.get("Tags") {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        cx.streams.update_tags(name, tags, Vec::new()).await?;
    }
    Ok(json!({}))
}

fn description_base(cx: &Cx<'_>, info: &StreamInfo) -> serde_json::Map<String, Value> {
    let v = json!({
        "StreamName": info.name,
        "StreamARN": cx.arn(&info.name),
        "StreamStatus": status(info.status),
        "StreamModeDetails": mode(info),
        "RetentionPeriodHours": info.retention_hours,
        "StreamCreationTimestamp": secs(info.created_ms),
        "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
        "EncryptionType": "NONE",
    });
    v.as_object().cloned().unwrap_or_default()
}

async fn describe_stream(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let info = cx.streams.describe(&name).await?;
    let limit = opt_int(req, "Limit")?.unwrap_or(100).clamp(1, 10_000) as usize;
    let start = opt_str(req, "ExclusiveStartShardId")?;
    let shards: Vec<Value> = info
        .shards()
        .iter()
        .filter(|s| start.is_none_or(|st| s.id.as_str() > st))
        .map(shard_json)
        .collect();
    let has_more = shards.len() > limit;
    let mut d = description_base(cx, &info);
    d.insert(
        "Shards".into(),
        Value::Array(shards.into_iter().take(limit).collect()),
    );
    d.insert("HasMoreShards".into(), Value::Bool(has_more));
    Ok(json!({ "StreamDescription": d }))
}

async fn describe_summary(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let info = cx.streams.describe(&name).await?;
    let mut d = description_base(cx, &info);
    d.insert("OpenShardCount".into(), json!(info.shard_count));
    d.insert("ConsumerCount".into(), json!(0));
    Ok(json!({ "StreamDescriptionSummary": d }))
}

async fn list_streams(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let limit = opt_int(req, "Limit")?.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(KinesisError::validation(format!("1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000")).into());
    }
    // NextToken is the last name of the previous page (names are listed in order).
    let after = opt_str(req, "NextToken")?.or(opt_str(req, "ExclusiveStartStreamName")?);
    let all: Vec<StreamInfo> = cx
        .streams
        .list_streams()
        .await?
        .into_iter()
        .filter(|s| after.is_none_or(|a| s.name.as_str() > a))
        .collect();
    let page: Vec<&StreamInfo> = all.iter().take(limit as usize).collect();
    let has_more = all.len() > page.len();
    let mut out = json!({
        "StreamNames": page.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "HasMoreStreams": has_more,
        "StreamSummaries": page.iter().map(|s| json!({
            "StreamName": s.name,
            "StreamARN": cx.arn(&s.name),
            "StreamStatus": status(s.status),
            "StreamModeDetails": mode(s),
            "StreamCreationTimestamp": secs(s.created_ms),
        })).collect::<Vec<_>>(),
    });
    if has_more {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(last.name);
        }
    }
    Ok(out)
}

async fn list_shards(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    // A NextToken carries the stream and the last shard listed: `<stream>/<shardId>`.
    let (name, after) = match opt_str(req, "NextToken")? {
        Some(t) => {
            if req.get("StreamName").is_some() || req.get("StreamARN").is_some() {
                return Err(KinesisError::invalid(
                    "NextToken and StreamName cannot be provided together.",
                )
                .into());
            }
            match t.split_once('/') {
                Some((n, s)) if rules::parse_shard_id(s).is_some() => {
                    (n.to_string(), Some(s.to_string()))
                }
                _ => return Err(KinesisError::invalid(format!("Invalid NextToken {t}")).into()),
            }
        }
        None => (
            stream_name(cx, req)?,
            opt_str(req, "ExclusiveStartShardId")?.map(String::from),
        ),
    };
    let limit = opt_int(req, "MaxResults")?.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(KinesisError::validation(format!("1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000")).into());
    }
    if let Some(t) = req.pointer("/ShardFilter/Type").and_then(Value::as_str) {
        // Every shard is open and none has a parent: each filter type lists them all,
        // except one that asks for closed shards only.
        if !matches!(
            t,
            "AFTER_SHARD_ID"
                | "AT_TRIM_HORIZON"
                | "FROM_TRIM_HORIZON"
                | "AT_LATEST"
                | "AT_TIMESTAMP"
                | "FROM_TIMESTAMP"
        ) {
            return Err(KinesisError::validation(format!("1 validation error detected: Value '{t}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set")).into());
        }
    }
    let after = after.or_else(|| {
        req.pointer("/ShardFilter/ShardId")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let info = cx.streams.describe(&name).await?;
    let shards: Vec<_> = info
        .shards()
        .into_iter()
        .filter(|s| after.as_ref().is_none_or(|a| s.id.as_str() > a.as_str()))
        .collect();
    let page: Vec<Value> = shards.iter().take(limit as usize).map(shard_json).collect();
    let mut out = json!({ "Shards": page });
    if shards.len() > limit as usize {
        let last = &shards[limit as usize - 1].id;
        out["NextToken"] = json!(format!("{name}/{last}"));
    }
    Ok(out)
}

async fn retention(cx: &Cx<'_>, req: &Value, increase: bool) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let Some(hours) = opt_int(req, "RetentionPeriodHours")? else {
        return Err(KinesisError::validation("1 validation error detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null").into());
    };
    let hours = rules::validate_retention(hours)?;
    let info = cx.streams.describe(&name).await?;
    let cur = info.retention_hours;
    if increase && hours < cur {
        return Err(KinesisError::invalid(format!(
            "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({cur} hours). Use DecreaseRetentionPeriod API."
        ))
        .into());
    }
    if !increase && hours > cur {
        return Err(KinesisError::invalid(format!(
            "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({cur} hours). Use IncreaseRetentionPeriod API."
        ))
        .into());
    }
    cx.streams.set_retention(&name, hours).await?;
    Ok(json!({}))
}
