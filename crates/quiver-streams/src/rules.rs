//! Kinesis's pure rules: names, shard hash key ranges, partition key hashing, sequence
//! numbers and retention bounds. No IO, so every rule is table-tested.

use md5::{Digest, Md5};

use crate::error::StreamError;

/// Kinesis's bounds on a stream's retention period, in hours.
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// How many shards a stream may be created with here (Kinesis's default account limit
/// is higher; every shard costs a few rows only, the bound keeps one call small).
pub const MAX_SHARDS: u32 = 1024;
/// ON_DEMAND streams get this many shards (Kinesis starts them at 4 and scales; there is
/// no scaling here).
pub const ON_DEMAND_SHARDS: u32 = 4;

/// Stream names: 1–128 of `[a-zA-Z0-9_.-]` (Kinesis's pattern).
pub fn validate_name(name: &str) -> Result<(), StreamError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StreamError::Invalid(format!(
            "1 validation error detected: Value '{name}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )))
    }
}

/// `shardId-000000000003`: Kinesis's shard ids (12 digits).
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// The index of a shard id, if it is one this crate issues.
pub fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("shardId-")?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The inclusive hash key range of shard `index` of `count`: 2^128 split into equal
/// ranges of floor(2^128 / count) keys, the last one taking the remainder, as Kinesis
/// splits a new stream.
pub fn hash_range(index: u32, count: u32) -> (u128, u128) {
    let n = u128::from(count.max(1));
    if n == 1 {
        return (0, u128::MAX);
    }
    // floor(2^128 / n) without 2^128: floor((2^128 - 1) / n), plus one when n divides 2^128.
    let width = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
    let start = width * u128::from(index);
    let end = if u128::from(index) + 1 >= n {
        u128::MAX
    } else {
        start + width - 1
    };
    (start, end)
}

/// The hash key of a partition key: its MD5 as a big-endian 128-bit number.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest);
    u128::from_be_bytes(b)
}

/// The shard whose range holds `hash` (every key falls in exactly one).
pub fn shard_for(hash: u128, count: u32) -> u32 {
    (0..count)
        .find(|&i| {
            let (s, e) = hash_range(i, count);
            s <= hash && hash <= e
        })
        .unwrap_or(count.saturating_sub(1))
}

/// An ExplicitHashKey: a decimal number in [0, 2^128 - 1].
pub fn parse_hash_key(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Partition keys: 1–256 Unicode characters.
pub fn validate_partition_key(key: &str) -> Result<(), StreamError> {
    let n = key.chars().count();
    if (1..=256).contains(&n) {
        Ok(())
    } else {
        Err(StreamError::Invalid(format!(
            "1 validation error detected: Value '{key}' at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and 256"
        )))
    }
}

/// Retention within Kinesis's bounds.
pub fn validate_retention(hours: i64) -> Result<u32, StreamError> {
    if (i64::from(MIN_RETENTION_HOURS)..=i64::from(MAX_RETENTION_HOURS)).contains(&hours) {
        Ok(hours as u32)
    } else {
        Err(StreamError::Invalid(format!(
            "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is out of range."
        )))
    }
}

/// Sequence numbers: `49` followed by the shard's record counter zero-padded to 54
/// digits (56 digits in all, like Kinesis's). Fixed width, so the strings sort exactly
/// as their numbers do; the counter only grows within a shard, across restarts too.
pub fn format_seq(counter: u64) -> String {
    format!("49{counter:054}")
}

/// The counter of a sequence number this crate issued; None for anything else.
pub fn parse_seq(s: &str) -> Option<u64> {
    if s.len() != 56 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = s.strip_prefix("49")?;
    // u64 has at most 20 digits: the 34 before them are the padding.
    let (pad, digits) = rest.split_at(34);
    if !pad.bytes().all(|b| b == b'0') {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_kinesis_splits_them() {
        // Kinesis's DescribeStream for 1, 2, 3 and 4 shards.
        assert_eq!(hash_range(0, 1), (0, u128::MAX));
        assert_eq!(
            hash_range(0, 2),
            (0, 170141183460469231731687303715884105727)
        );
        assert_eq!(
            hash_range(1, 2),
            (170141183460469231731687303715884105728, u128::MAX)
        );
        assert_eq!(
            hash_range(0, 3),
            (0, 113427455640312821154458202477256070484)
        );
        assert_eq!(
            hash_range(1, 3),
            (
                113427455640312821154458202477256070485,
                226854911280625642308916404954512140969
            )
        );
        assert_eq!(
            hash_range(2, 3),
            (226854911280625642308916404954512140970, u128::MAX)
        );
        assert_eq!(
            hash_range(3, 4),
            (255211775190703847597530955573826158592, u128::MAX)
        );
        assert_eq!(hash_range(0, 4).1, 85070591730234615865843651857942052863);
    }

    #[test]
    fn ranges_cover_the_key_space_without_gaps() {
        for count in [1u32, 2, 3, 4, 5, 7, 10, 64, 1000] {
            let mut next = 0u128;
            for i in 0..count {
                let (s, e) = hash_range(i, count);
                assert_eq!(s, next, "count {count} shard {i}");
                assert!(e >= s);
                next = e.wrapping_add(1);
            }
            assert_eq!(hash_range(count - 1, count).1, u128::MAX);
        }
    }

    #[test]
    fn md5_hash_keys() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e, MD5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        // MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(hash_key("abc"), 0x900150983cd24fb0d6963f7d28e17f72);
        // 0x0c… < 2^126 → shard 0 of 4; 0x90… in [2^127, 3·2^126) → shard 2; 0xd4… → shard 3.
        assert_eq!(shard_for(hash_key("a"), 4), 0);
        assert_eq!(shard_for(hash_key("abc"), 4), 2);
        assert_eq!(shard_for(hash_key(""), 4), 3);
        assert_eq!(shard_for(hash_key("abc"), 1), 0);
    }

    #[test]
    fn explicit_hash_keys() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
        assert_eq!(shard_for(85070591730234615865843651857942052864, 4), 1);
        assert_eq!(shard_for(85070591730234615865843651857942052863, 4), 0);
    }

    #[test]
    fn sequence_numbers_sort_as_numbers() {
        let a = format_seq(0);
        let b = format_seq(9);
        let c = format_seq(10);
        assert_eq!(a.len(), 56);
        assert!(a < b && b < c);
        assert_eq!(parse_seq(&c), Some(10));
        assert_eq!(parse_seq(&format_seq(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_seq("12"), None);
        assert_eq!(parse_seq(&"1".repeat(56)), None);
        assert_eq!(parse_seq(&"x".repeat(56)), None);
    }

    #[test]
    fn names_shards_retention() {
        assert!(validate_name("my-stream_1.a").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("bad/name").is_err());
        assert!(validate_name(&"a".repeat(129)).is_err());
        assert_eq!(shard_id(3), "shardId-000000000003");
        assert_eq!(parse_shard_id("shardId-000000000003"), Some(3));
        assert_eq!(parse_shard_id("shard-3"), None);
        assert_eq!(validate_retention(24), Ok(24));
        assert_eq!(validate_retention(8760), Ok(8760));
        assert!(validate_retention(23).is_err());
        assert!(validate_retention(8761).is_err());
        assert!(validate_partition_key("").is_err());
        assert!(validate_partition_key(&"é".repeat(256)).is_ok());
        assert!(validate_partition_key(&"a".repeat(257)).is_err());
    }
}
