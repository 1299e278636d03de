//! The values the [`crate::Streams`] trait takes and returns.

use crate::rules;

/// Time in epoch milliseconds, passed in so retention and expiry are testable.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct FakeClock(std::sync::atomic::AtomicI64);

impl FakeClock {
    pub fn new(start_ms: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start_ms))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A new stream is CREATING for this long after CreateStream, then ACTIVE: Kinesis's
/// life cycle (clients wait with the `stream_exists` waiter), kept short because
/// there is nothing to provision.
pub const CREATING_MS: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
}

/// A stream as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub created_ms: i64,
    pub shard_count: u32,
    pub retention_hours: u32,
    pub on_demand: bool,
    pub status: StreamStatus,
}

impl StreamInfo {
    /// The shards of the stream (they never change: there is no resharding).
    pub fn shards(&self) -> Vec<ShardInfo> {
        (0..self.shard_count)
            .map(|i| {
                let (hash_start, hash_end) = rules::hash_range(i, self.shard_count);
                ShardInfo {
                    index: i,
                    id: rules::shard_id(i),
                    hash_start,
                    hash_end,
                    starting_seq: rules::format_seq(0),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub index: u32,
    pub id: String,
    pub hash_start: u128,
    pub hash_end: u128,
    /// The first sequence number the shard may hold (all shards are open).
    pub starting_seq: String,
}

/// One record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Vec<u8>,
}

/// Where an appended record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub shard: u32,
    pub seq: u64,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub partition_key: String,
    pub data: Vec<u8>,
    pub arrival_ms: i64,
}

/// Where a read starts (GetShardIterator's five types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    TrimHorizon,
    Latest,
    AtSequence(u64),
    AfterSequence(u64),
    AtTimestamp(i64),
}

/// One read of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBatch {
    pub records: Vec<Record>,
    /// The counter to read from next.
    pub next: u64,
    /// How far the next read is behind the shard's newest record (0 at the tip).
    pub millis_behind_latest: i64,
}
