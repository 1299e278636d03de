//! Durable queues for Quiver: SQS-compatible queues and (later) async invocations.
//!
//! - [`Queue`]: the one seam every backend implements (blocking calls; a real broker
//!   such as NATS JetStream or PostgreSQL `SKIP LOCKED` can sit behind it later).
//! - [`SqliteQueues`]: the embedded backend — its own `queues.db`, WAL,
//!   `synchronous=FULL`, one writer thread with group commit: every mutation returns only
//!   after the transaction that holds it is on disk.
//! - [`Queues`]: the async face callers use (tokio), including long polling that wakes
//!   on a notification when a message arrives instead of polling.
//!
//! Time comes from a [`Clock`], so visibility, delay and retention are unit-tested with
//! a [`FakeClock`].
#![forbid(unsafe_code)]

pub mod clock;
pub mod error;
pub mod facade;
pub mod md5;
pub mod model;
pub mod sqlite;

use std::sync::Arc;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::QueueError;
pub use facade::Queues;
pub use model::{
    is_valid_fifo_name, is_valid_name, is_valid_queue_name, limits, AttrValue, DedupScope, Depth,
    FifoConfig, Message, MessageAttribute, NewMessage, QueueConfig, QueueInfo, ReceiveRequest,
    Received, Redrive, SentMessage, ThroughputLimit, DEDUP_ID_ATTRIBUTE, DEDUP_WINDOW_MS,
    GROUP_ID_ATTRIBUTE, TRACE_HEADER_ATTRIBUTE,
};
pub use sqlite::{SqliteQueues, WriterConfig};

/// One result per entry of a batch call, in request order.
pub type BatchResult = Vec<Result<(), QueueError>>;

/// A durable queue store. Every method may block (disk), so async callers go through
/// [`Queues`]. Every mutation is durable when the method returns `Ok`.
pub trait Queue: Send + Sync {
    /// Creates `name`, or returns the existing queue with `false` (the caller decides
    /// whether differing settings are an error).
    fn create_queue(
        &self,
        name: &str,
        config: QueueConfig,
    ) -> Result<(QueueInfo, bool), QueueError>;
    fn get_queue(&self, name: &str) -> Result<QueueInfo, QueueError>;
    /// Queues whose name starts with `prefix`, sorted by name.
    fn list_queues(&self, prefix: &str) -> Result<Vec<QueueInfo>, QueueError>;
    /// Replaces the queue's settings with `config` (validated first).
    fn set_config(&self, name: &str, config: QueueConfig) -> Result<QueueInfo, QueueError>;
    /// Removes the queue and its messages.
    fn delete_queue(&self, name: &str) -> Result<(), QueueError>;
    /// Appends all `messages` atomically; returns once they are on disk.
    fn send(&self, queue: &str, messages: Vec<NewMessage>) -> Result<Vec<SentMessage>, QueueError>;
    /// Takes up to `req.max` visible messages and hides them for the visibility timeout.
    /// Messages past the queue's `max_receive_count` are moved to its dead-letter queue
    /// instead of being returned. Does not wait; see [`Queues::receive_wait`].
    fn receive(&self, queue: &str, req: ReceiveRequest) -> Result<Received, QueueError>;
    /// Deletes received messages by receipt. A stale receipt of a message that was
    /// received again (or is already gone) succeeds without deleting, as in SQS.
    fn delete(&self, queue: &str, receipts: &[String]) -> Result<BatchResult, QueueError>;
    /// Sets the remaining invisibility of in-flight messages to `(receipt, seconds)`.
    fn change_visibility(
        &self,
        queue: &str,
        changes: &[(String, u32)],
    ) -> Result<BatchResult, QueueError>;
    /// Removes every message of the queue; returns how many.
    fn purge(&self, queue: &str) -> Result<u64, QueueError>;
    fn depth(&self, queue: &str) -> Result<Depth, QueueError>;
    /// Woken (`notify_waiters`) after messages become available in `queue` through this store.
    fn notifier(&self, queue: &str) -> Arc<tokio::sync::Notify>;
    /// Stops accepting work and waits for the last commit. Later calls fail with `Closed`.
    fn close(&self);
}
