//! The two transactions that move messages: send (with FIFO deduplication) and receive
//! (with FIFO group ordering and dead-letter redrive).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{load_queue, message_size, new_nonce};
use crate::error::QueueError;
use crate::model::{
    Message, MessageAttribute, NewMessage, Receipt, ReceiveRequest, Received, SentMessage,
};

/// Takes the group and deduplication ids out of a message's attributes.
fn take_ids(m: &mut NewMessage) -> Result<(Option<String>, Option<String>), QueueError> {
    let mut take = |k: &str| match m.attributes.remove(k).map(|a| a.value) {
        None => Ok(None),
        Some(crate::AttrValue::String(s)) => Ok(Some(s)),
        Some(crate::AttrValue::Binary(_)) => {
            Err(QueueError::Invalid(format!("{k} must be a string")))
        }
    };
    Ok((
        take(crate::GROUP_ID_ATTRIBUTE)?,
        take(crate::DEDUP_ID_ATTRIBUTE)?,
    ))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SQS's sequence numbers are 20-digit strings; ours is the row's place in the table,
/// which increases per queue (and across queues).
pub(crate) fn sequence_number(seq: i64) -> String {
    format!("{seq:020}")
}

/// One send inside the writer's transaction. On a FIFO queue a message whose
/// deduplication id was sent within [`crate::DEDUP_WINDOW_MS`] is acknowledged with the
/// first message's id and sequence number and not stored again.
pub(super) fn send_tx(
    c: &Connection,
    name: &str,
    messages: Vec<NewMessage>,
    now: i64,
) -> Result<Vec<SentMessage>, QueueError> {
    let row = load_queue(c, name)?;
    let cfg = &row.info.config;
    let mut ins = c.prepare_cached(
        "INSERT INTO messages (queue_id, id, body, attributes, sent_ms, visible_ms, expires_ms, group_id, dedup_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut out = Vec::with_capacity(messages.len());
    for mut m in messages {
        let (group, dedup) = take_ids(&mut m)?;
        if message_size(&m) > cfg.max_message_size as usize {
            return Err(QueueError::Invalid(format!(
                "message must be shorter than {} bytes",
                cfg.max_message_size
            )));
        }
        let mut dedup_key = None;
        let mut dedup = dedup;
        if let Some(f) = &cfg.fifo {
            let group = group
                .as_deref()
                .ok_or_else(|| QueueError::Invalid("a FIFO message needs a group id".into()))?;
            let id = match dedup.take() {
                Some(d) => d,
                None if f.content_based_dedup => sha256_hex(&m.body),
                None => {
                    return Err(QueueError::Invalid(
                        "a FIFO message needs a deduplication id".into(),
                    ))
                }
            };
            let scope = match f.dedup_scope {
                crate::DedupScope::Queue => String::new(),
                crate::DedupScope::MessageGroup => group.to_string(),
            };
            let earlier: Option<(String, i64)> = c
                .query_row(
                    "SELECT message_id, seq FROM dedup
                     WHERE queue_id = ?1 AND scope = ?2 AND dedup_id = ?3 AND expires_ms > ?4",
                    params![row.id, scope, id, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((mid, seq)) = earlier {
                out.push(SentMessage {
                    id: mid,
                    sequence_number: Some(sequence_number(seq)),
                });
                continue;
            }
            dedup = Some(id.clone());
            dedup_key = Some((scope, id));
        } else if dedup.is_some() {
            return Err(QueueError::Invalid(
                "only FIFO queues take a deduplication id".into(),
            ));
        }
        let delay = m.delay.unwrap_or(cfg.delay).min(crate::limits::MAX_DELAY) as i64;
        let id = uuid::Uuid::new_v4().to_string();
        let attrs = if m.attributes.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&m.attributes)?)
        };
        ins.execute(params![
            row.id,
            id,
            m.body,
            attrs,
            now,
            now + delay * 1000,
            now + cfg.retention as i64 * 1000,
            group,
            dedup
        ])?;
        let seq = c.last_insert_rowid();
        let sequence = if let Some((scope, did)) = dedup_key {
            c.execute(
                "INSERT OR REPLACE INTO dedup (queue_id, scope, dedup_id, message_id, seq, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![row.id, scope, did, id, seq, now + crate::DEDUP_WINDOW_MS],
            )?;
            Some(sequence_number(seq))
        } else {
            None
        };
        out.push(SentMessage {
            id,
            sequence_number: sequence,
        });
    }
    Ok(out)
}

/// One receive inside the writer's transaction. Returns the messages and the name of the
/// dead-letter queue if any message was moved there.
///
/// On a FIFO queue the oldest message of each group is its head: a group whose head is
/// hidden (in flight or delayed) gives nothing, so no later message of a group is seen
/// while an earlier one is in flight; an open group gives its visible messages in order.
/// Groups are served oldest head first.
pub(super) fn receive_tx(
    c: &Connection,
    name: &str,
    req: ReceiveRequest,
    now: i64,
) -> Result<(Received, Option<String>), QueueError> {
    let row = load_queue(c, name)?;
    let cfg = &row.info.config;
    c.execute(
        "DELETE FROM messages WHERE queue_id = ?1 AND expires_ms <= ?2",
        params![row.id, now],
    )?;
    let vt = req
        .visibility_timeout
        .unwrap_or(cfg.visibility_timeout)
        .min(crate::limits::MAX_VISIBILITY_TIMEOUT) as i64;
    // The dead-letter queue only counts if it still exists.
    let dlq = match &cfg.redrive {
        Some(r) => match load_queue(c, &r.dead_letter_queue) {
            Ok(d) if d.id != row.id => Some((d, r.max_receive_count)),
            _ => None,
        },
        None => None,
    };
    let fifo = cfg.fifo.is_some();
    let mut taken: HashSet<i64> = HashSet::new();
    let mut out: Vec<Message> = Vec::new();
    let mut moved = false;
    // FIFO queues look at every message (hidden ones block their group); standard
    // queues only at visible ones, oldest visibility first.
    let sql = if fifo {
        "SELECT seq, id, body, attributes, sent_ms, receive_count, first_receive_ms, visible_ms, group_id, dedup_id
         FROM messages WHERE queue_id = ?1 AND ?2 = ?2 ORDER BY seq LIMIT ?3"
    } else {
        "SELECT seq, id, body, attributes, sent_ms, receive_count, first_receive_ms, visible_ms, group_id, dedup_id
         FROM messages WHERE queue_id = ?1 AND visible_ms <= ?2 ORDER BY visible_ms, seq LIMIT ?3"
    };
    let mut select = c.prepare_cached(sql)?;
    loop {
        let want = req.max as usize - out.len();
        let limit = if fifo {
            -1
        } else {
            (want + taken.len()) as i64
        };
        let rows = select
            .query_map(params![row.id, now, limit], |r| {
                Ok(Candidate {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    body: r.get(2)?,
                    attrs: r.get(3)?,
                    sent_ms: r.get(4)?,
                    count: r.get(5)?,
                    first: r.get(6)?,
                    visible_ms: r.get(7)?,
                    group: r.get(8)?,
                    dedup: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let fresh: Vec<_> = rows
            .into_iter()
            .filter(|r| !taken.contains(&r.seq))
            .collect();
        if fresh.is_empty() {
            break;
        }
        let mut moved_now = false;
        let mut blocked: HashSet<String> = HashSet::new();
        for m in fresh {
            if out.len() == req.max as usize {
                break;
            }
            if fifo {
                let g = m.group.clone().unwrap_or_default();
                if blocked.contains(&g) {
                    continue;
                }
                if m.visible_ms > now {
                    blocked.insert(g);
                    continue;
                }
            }
            if let Some((d, max)) = &dlq {
                if m.count >= *max {
                    c.execute(
                        "UPDATE messages SET queue_id = ?1, receive_count = 0, first_receive_ms = NULL, nonce = NULL,
                         visible_ms = ?2, expires_ms = ?3 WHERE seq = ?4",
                        params![d.id, now, m.sent_ms + d.info.config.retention as i64 * 1000, m.seq],
                    )?;
                    moved = true;
                    moved_now = true;
                    continue;
                }
            }
            let nonce = new_nonce();
            let first = m.first.unwrap_or(now);
            c.execute(
                "UPDATE messages SET nonce = ?1, receive_count = receive_count + 1, first_receive_ms = ?2, visible_ms = ?3
                 WHERE seq = ?4",
                params![nonce, first, now + vt * 1000, m.seq],
            )?;
            taken.insert(m.seq);
            let attributes: BTreeMap<String, MessageAttribute> = match m.attrs {
                Some(a) => serde_json::from_str(&a)?,
                None => BTreeMap::new(),
            };
            out.push(Message {
                id: m.id,
                receipt: Receipt {
                    queue_id: row.id,
                    seq: m.seq,
                    nonce,
                }
                .encode(),
                body: m.body,
                attributes,
                sent_ms: m.sent_ms,
                first_receive_ms: first,
                receive_count: m.count + 1,
                group_id: m.group,
                sequence_number: fifo.then(|| sequence_number(m.seq)),
                dedup_id: m.dedup,
            });
        }
        // A FIFO pass sees the whole queue at once: nothing more to find.
        if fifo || out.len() == req.max as usize || !moved_now {
            break;
        }
    }
    let next_visible_in = if out.is_empty() {
        c.query_row(
            "SELECT MIN(visible_ms) FROM messages WHERE queue_id = ?1 AND visible_ms > ?2",
            params![row.id, now],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .map(|t| Duration::from_millis((t - now).max(0) as u64))
    } else {
        None
    };
    let dlq_name = if moved {
        dlq.map(|(d, _)| d.info.name)
    } else {
        None
    };
    Ok((
        Received {
            messages: out,
            next_visible_in,
        },
        dlq_name,
    ))
}

/// A stored message a receive may take.
struct Candidate {
    seq: i64,
    id: String,
    body: String,
    attrs: Option<String>,
    sent_ms: i64,
    count: u32,
    first: Option<i64>,
    visible_ms: i64,
    group: Option<String>,
    dedup: Option<String>,
}
