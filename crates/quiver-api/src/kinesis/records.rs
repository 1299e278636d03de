//! PutRecord(s), GetShardIterator and GetRecords: blobs are base64 in JSON, as boto3
//! sends and expects them; timestamps are epoch seconds.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quiver_streams::{rules, NewRecord, ShardIterator, StartPosition};
use serde_json::{json, Value};

use super::ops::{opt_int, opt_str, req_str, stream_name, Cx};
use super::{KinesisError, OpError};

const MAX_RECORD: usize = 1024 * 1024;
const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
const MAX_BATCH: usize = 500;

/// One record of a request, validated; the size counts data and partition key as Kinesis does.
fn parse_record(v: &Value, field: &str) -> Result<NewRecord, KinesisError> {
    let key = req_str(v, "PartitionKey")?;
    rules::validate_partition_key(key).map_err(|e| KinesisError::validation(e.to_string()))?;
    let data = req_str(v, "Data")?;
    let data = STANDARD.decode(data).map_err(|_| {
        KinesisError::new(
            "SerializationException",
            format!("{field}.Data is not valid base64"),
        )
    })?;
    if data.len() + key.len() > MAX_RECORD {
        return Err(KinesisError::validation(format!(
            "1 validation error detected: Value at '{field}.data' failed to satisfy constraint: Member must have length less than or equal to 1048576"
        )));
    }
    let explicit_hash_key = match opt_str(v, "ExplicitHashKey")? {
        None => None,
        Some(h) => Some(rules::parse_hash_key(h).ok_or_else(|| {
            KinesisError::invalid(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"
            ))
        })?),
    };
    Ok(NewRecord {
        partition_key: key.to_string(),
        explicit_hash_key,
        data,
    })
}

pub async fn put_record(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let rec = parse_record(req, "data")?;
    let out = cx.streams.append(&name, vec![rec]).await?;
    let a = out[0];
    Ok(json!({
        "ShardId": rules::shard_id(a.shard),
        "SequenceNumber": rules::format_seq(a.seq),
        "EncryptionType": "NONE",
    }))
}

pub async fn put_records(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let entries = match req.get("Records") {
        Some(Value::Array(a)) => a,
        _ => return Err(KinesisError::validation("1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null").into()),
    };
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(KinesisError::validation(format!(
            "1 validation error detected: Value '{}' at 'records' failed to satisfy constraint: Member must have length between 1 and {MAX_BATCH}",
            entries.len()
        ))
        .into());
    }
    // Every record is validated before any is written: a malformed one fails the call.
    let mut records = Vec::with_capacity(entries.len());
    let mut total = 0;
    for (i, e) in entries.iter().enumerate() {
        let r = parse_record(e, &format!("records.{}.member", i + 1))?;
        total += r.data.len() + r.partition_key.len();
        records.push(r);
    }
    if total > MAX_BATCH_BYTES {
        return Err(KinesisError::invalid(format!(
            "Records size exceeds 5 MB limit: {total} bytes."
        ))
        .into());
    }
    let out = cx.streams.append(&name, records).await?;
    let results: Vec<Value> = out
        .iter()
        .map(|a| {
            json!({
                "ShardId": rules::shard_id(a.shard),
                "SequenceNumber": rules::format_seq(a.seq),
            })
        })
        .collect();
    Ok(json!({ "FailedRecordCount": 0, "Records": results, "EncryptionType": "NONE" }))
}

fn seq_arg(req: &Value, name: &str, stream: &str) -> Result<u64, KinesisError> {
    let s = req_str(req, "StartingSequenceNumber")?;
    rules::parse_seq(s).ok_or_else(|| {
        KinesisError::invalid(format!(
            "StartingSequenceNumber {s} used in GetShardIterator on shard {name} in stream {stream} is invalid."
        ))
    })
}

pub async fn get_shard_iterator(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let name = stream_name(cx, req)?;
    let shard_id = req_str(req, "ShardId")?;
    let kind = req_str(req, "ShardIteratorType")?;
    let pos = match kind {
        "TRIM_HORIZON" => StartPosition::TrimHorizon,
        "LATEST" => StartPosition::Latest,
        "AT_SEQUENCE_NUMBER" => StartPosition::AtSequence(seq_arg(req, shard_id, &name)?),
        "AFTER_SEQUENCE_NUMBER" => StartPosition::AfterSequence(seq_arg(req, shard_id, &name)?),
        "AT_TIMESTAMP" => {
            let ts = req.get("Timestamp").and_then(Value::as_f64).ok_or_else(|| {
                KinesisError::invalid("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
            })?;
            StartPosition::AtTimestamp((ts * 1000.0) as i64)
        }
        other => {
            return Err(KinesisError::validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]"
            ))
            .into())
        }
    };
    let Some(shard) = rules::parse_shard_id(shard_id) else {
        return Err(quiver_streams::StreamError::ShardNotFound {
            stream: name,
            shard: shard_id.to_string(),
        }
        .into());
    };
    let it = cx.streams.iterator(&name, shard, pos).await?;
    Ok(json!({ "ShardIterator": it.encode() }))
}

pub async fn get_records(cx: &Cx<'_>, req: &Value) -> Result<Value, OpError> {
    let token = req_str(req, "ShardIterator")?;
    let limit = opt_int(req, "Limit")?.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(KinesisError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000"
        ))
        .into());
    }
    let it = ShardIterator::decode(token, cx.streams.now_ms())?;
    let batch = cx.streams.read_iterator(&it, limit as u32).await?;
    let records: Vec<Value> = batch
        .records
        .iter()
        .map(|r| {
            json!({
                "SequenceNumber": rules::format_seq(r.seq),
                "ApproximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0,
                "Data": STANDARD.encode(&r.data),
                "PartitionKey": r.partition_key,
            })
        })
        .collect();
    let next = ShardIterator {
        next: batch.next,
        issued_ms: cx.streams.now_ms(),
        ..it
    };
    Ok(json!({
        "Records": records,
        "NextShardIterator": next.encode(),
        "MillisBehindLatest": batch.millis_behind_latest,
    }))
}
