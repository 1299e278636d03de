//! Shard iterators: opaque tokens that carry everything a read needs, so the server keeps
//! no per-iterator state. A token names the stream (and its creation time, so a token of
//! a deleted-and-recreated stream does not read the new one), the shard, the next record
//! counter to read and when the token was issued; it lives 5 minutes, as in Kinesis.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::StreamError;

/// How long an iterator may be used after it was issued (Kinesis: 5 minutes).
pub const ITERATOR_LIFE_MS: i64 = 300_000;

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream: String,
    pub stream_created_ms: i64,
    pub shard: u32,
    /// The counter of the first record this iterator reads (records before it are done).
    pub next: u64,
    pub issued_ms: i64,
}

impl ShardIterator {
    pub fn encode(&self) -> String {
        let raw = format!(
            "v1|{}|{}|{}|{}|{}",
            self.stream, self.stream_created_ms, self.shard, self.next, self.issued_ms
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a token; malformed ones are `Invalid`, old ones `ExpiredIterator`.
    pub fn decode(token: &str, now_ms: i64) -> Result<Self, StreamError> {
        let bad = || StreamError::Invalid("Invalid ShardIterator.".into());
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let parts: Vec<&str> = raw.split('|').collect();
        if parts.len() != 6 || parts[0] != "v1" {
            return Err(bad());
        }
        let it = ShardIterator {
            stream: parts[1].to_string(),
            stream_created_ms: parts[2].parse().map_err(|_| bad())?,
            shard: parts[3].parse().map_err(|_| bad())?,
            next: parts[4].parse().map_err(|_| bad())?,
            issued_ms: parts[5].parse().map_err(|_| bad())?,
        };
        crate::rules::validate_name(&it.stream).map_err(|_| bad())?;
        if now_ms - it.issued_ms > ITERATOR_LIFE_MS {
            return Err(StreamError::ExpiredIterator);
        }
        Ok(it)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it() -> ShardIterator {
        ShardIterator {
            stream: "s-1".into(),
            stream_created_ms: 1_700_000_000_000,
            shard: 3,
            next: 42,
            issued_ms: 1_700_000_100_000,
        }
    }

    #[test]
    fn round_trip() {
        let t = it().encode();
        assert_eq!(ShardIterator::decode(&t, 1_700_000_100_000), Ok(it()));
        assert!(
            t.len() <= 512,
            "Kinesis iterators are at most 512 characters"
        );
    }

    #[test]
    fn expires_after_five_minutes() {
        let t = it().encode();
        let issued = it().issued_ms;
        assert!(ShardIterator::decode(&t, issued + ITERATOR_LIFE_MS).is_ok());
        assert_eq!(
            ShardIterator::decode(&t, issued + ITERATOR_LIFE_MS + 1),
            Err(StreamError::ExpiredIterator)
        );
    }

    #[test]
    fn malformed_tokens_are_invalid() {
        for t in [
            "",
            "!!!",
            "djE",
            &URL_SAFE_NO_PAD.encode("v1|a|b|c|d|e"),
            &URL_SAFE_NO_PAD.encode("v2|s|1|2|3|4"),
        ] {
            assert!(
                matches!(ShardIterator::decode(t, 0), Err(StreamError::Invalid(_))),
                "{t}"
            );
        }
    }
}
