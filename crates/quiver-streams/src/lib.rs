//! Kinesis-like durable streams for Quiver (no HTTP, no wire names).
//!
//! - [`rules`]: the pure rules (names, hash key ranges, MD5 partition hashing, sequence
//!   numbers, retention bounds); [`iterator`]: stateless shard iterators.
//! - [`Streams`]: the one seam every backend implements (blocking calls; a real broker
//!   can sit behind it later). [`SqliteStreams`]: the embedded backend — its own
//!   `streams.db`, WAL, `synchronous=FULL`: an append returns only once it is on disk.
//! - [`StreamService`]: the async face (tokio) the HTTP layer and, later, a Lambda
//!   poller call in-process, including a wait that wakes when a shard gets records.
#![forbid(unsafe_code)]

pub mod error;
pub mod facade;
pub mod iterator;
pub mod model;
pub mod rules;
pub mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use error::StreamError;
pub use facade::StreamService;
pub use iterator::{ShardIterator, ITERATOR_LIFE_MS};
pub use model::{
    Appended, Clock, FakeClock, NewRecord, ReadBatch, Record, ShardInfo, StartPosition, StreamInfo,
    StreamStatus, SystemClock,
};
pub use sqlite::SqliteStreams;

/// A durable stream store. Every method may block (disk), so async callers go through
/// [`StreamService`]. Every mutation is durable when the method returns `Ok`.
pub trait Streams: Send + Sync {
    /// Creates `name` with `shards` shards; `InUse` when it exists.
    fn create_stream(
        &self,
        name: &str,
        shards: u32,
        on_demand: bool,
    ) -> Result<StreamInfo, StreamError>;
    fn describe(&self, name: &str) -> Result<StreamInfo, StreamError>;
    /// Every stream, sorted by name.
    fn list_streams(&self) -> Result<Vec<StreamInfo>, StreamError>;
    /// Removes the stream, its records and tags.
    fn delete_stream(&self, name: &str) -> Result<(), StreamError>;
    /// Sets the retention (validated by [`rules::validate_retention`] first).
    fn set_retention(&self, name: &str, hours: u32) -> Result<(), StreamError>;
    fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StreamError>;
    /// Adds or overwrites `add`, then removes `remove`.
    fn update_tags(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
    ) -> Result<(), StreamError>;
    /// Appends all `records` in one transaction, in order; returns once they are on disk.
    fn append(&self, name: &str, records: Vec<NewRecord>) -> Result<Vec<Appended>, StreamError>;
    /// A fresh iterator for `shard` at `pos`.
    fn iterator(
        &self,
        name: &str,
        shard: u32,
        pos: StartPosition,
    ) -> Result<ShardIterator, StreamError>;
    /// Up to `limit` records of `shard` from counter `from` on (records past retention
    /// are never returned).
    fn read(&self, name: &str, shard: u32, from: u64, limit: u32)
        -> Result<ReadBatch, StreamError>;
    /// The counter of the shard's newest record, None while it has none.
    fn latest_seq(&self, name: &str, shard: u32) -> Result<Option<u64>, StreamError>;
    /// Woken (`notify_waiters`) after records are appended to `name` through this store.
    fn notifier(&self, name: &str) -> Arc<tokio::sync::Notify>;
    /// The clock the store reads (iterators are checked against it).
    fn now_ms(&self) -> i64;
    /// Stops accepting work. Later calls fail with `Storage`.
    fn close(&self);
}
