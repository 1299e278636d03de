//! Asynchronous invocation (`InvocationType: Event`), the promise: an event accepted
//! with 202 is processed at least once, or lands in a failure destination / dead-letter
//! queue — never silently dropped.
//!
//! - [`AsyncInvoker::enqueue`] writes the event to a durable queue of its own
//!   (`<data>/async.db`, invisible to the SQS API) and returns once it is on disk.
//! - Dispatcher workers receive events with a short visibility timeout kept alive by a
//!   heartbeat while the function runs, so after a crash they reappear within seconds.
//! - Function errors are retried `MaximumRetryAttempts` times with a growing delay;
//!   throttles and platform failures are retried without using an attempt until
//!   `MaximumEventAgeInSeconds` runs out.
//! - Outcomes go to the OnSuccess / OnFailure destinations (queues or functions) as
//!   Lambda's invocation record, and the event to the function's dead-letter queue.

mod dispatch;
mod record;

pub use dispatch::{AsyncConfig, AsyncEvent, AsyncInvoker, MAX_ASYNC_PAYLOAD};
