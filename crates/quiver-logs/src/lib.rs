//! Function logs: capture hand-off, storage and queries.
//!
//! - [`sink`]: what the engine calls. Never blocks: a bounded queue to one writer
//!   thread; per-environment rate limits ([`limit`]) with a note for what was dropped.
//! - [`store`]: SQLite `logs.db` (WAL), batched inserts, retention, disk budget.
//! - [`query`]: CloudWatch Logs-shaped reads (streams, events, filter) and group admin.
//! - [`filter`]: CloudWatch's filter pattern for unstructured events.
#![forbid(unsafe_code)]

mod error;
pub mod filter;
pub mod limit;
pub mod query;
pub mod sink;
pub mod store;

pub use error::LogError;
pub use filter::FilterPattern;
pub use limit::{Dropped, RateLimiter, RateLimits};
pub use query::{
    EventPage, FilterPage, FilterQuery, GetEvents, GroupInfo, StreamInfo, StreamOrder, StreamQuery,
    RETENTION_DAYS,
};
pub use sink::{event_message, Clock, LogSink, StreamLog};
pub use store::{LogConfig, LogStore};

#[cfg(test)]
mod tests;
