//! Function logs: capture hand-off, storage and queries.
//!
//! - [`sink`]: what the engine calls. Never blocks: a bounded queue to one writer
//!   thread; per-environment rate limits ([`limit`]) with a note for what was dropped.
//! - [`store`]: SQLite `logs.db` (WAL), batched inserts, retention, disk budget.
//! - [`query`]: CloudWatch Logs-shaped reads (streams, events, filter) and group admin.
//! - [`filter`]: CloudWatch's filter pattern for unstructured events.
//! - [`put`]: CreateLogStream and PutLogEvents (the batch rules, stored before the answer).
//! - [`subscription`]: subscription filters and the reads their delivery makes.
//! - `schema`: the versioned schema of `logs.db` and its upgrades.
#![forbid(unsafe_code)]

mod error;
pub mod filter;
pub mod limit;
pub mod put;
pub mod query;
mod schema;
pub mod sink;
pub mod store;
pub mod subscription;

pub use error::LogError;
pub use filter::FilterPattern;
pub use limit::{Dropped, RateLimiter, RateLimits};
pub use put::{check_batch, PutCheck, MAX_PUT_BYTES, MAX_PUT_EVENTS, PUT_EVENT_OVERHEAD};
pub use query::Event;
pub use query::{
    EventPage, FilterPage, FilterQuery, GetEvents, GroupInfo, StreamInfo, StreamOrder, StreamQuery,
    RETENTION_DAYS,
};
pub use schema::SCHEMA_VERSION;
pub use sink::{event_message, Clock, LogSink, StreamLog};
pub use store::{LogConfig, LogStore};
pub use subscription::{Delivery, SubscriptionFilter, MAX_FILTERS_PER_GROUP};

#[cfg(test)]
mod tests;
