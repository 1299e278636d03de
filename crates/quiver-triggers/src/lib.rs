//! Event sources: every way a function gets triggered, each a module over the one
//! [`Invoker`]. No trigger builds specs, touches pools or re-implements the invoke path;
//! a new trigger (function URLs, schedules, topics, pollers, notifications) is a new
//! module here that turns its events into [`Invocation`]s.
//!
//! - [`invoker`]: name + qualifier + payload → outcome, with the resolved spec cached.
//! - [`event_invoke`]: asynchronous invocation (`InvocationType: Event`).
//! - [`eventbridge`]: PutEvents entries made durable, matched against rules and
//!   delivered to their targets (Lambda, SQS; SNS not yet), retried, dead-lettered.
//! - [`function_url`]: function URL requests: the URL's config found by its id, the
//!   access check, CORS, the payload 2.0 event in and the HTTP answer out.
//! - [`log_subscription`]: CloudWatch Logs subscription filters delivered to a
//!   function as asynchronous invocations (`{"awslogs": {"data": …}}`).
//! - [`schedule`]: the schedule ticker: EventBridge Scheduler's schedules (and, later,
//!   rules with a ScheduleExpression) fired to functions and queues.
//! - [`sns`]: SNS-compatible topics' delivery: published messages made durable, then
//!   fanned out to functions, queues and HTTP endpoints.
//! - [`provisioned`]: provisioned concurrency, the stored configs reconciled with the
//!   environments the engine keeps initialised.
#![forbid(unsafe_code)]

mod consume;
mod error;
pub mod esm;
pub mod event_invoke;
pub mod eventbridge;
pub mod function_url;
pub mod http_api;
pub mod invoker;
pub mod log_subscription;
pub mod provisioned;
pub mod schedule;
pub mod sns;

pub use error::TriggerError;
pub use esm::Mappings;
pub use event_invoke::{AsyncConfig, AsyncEvent, AsyncInvoker, MAX_ASYNC_PAYLOAD};
pub use eventbridge::{EventBridge, EventBridgeConfig};
pub use function_url::stream::{StreamCut, StreamedAnswer};
pub use function_url::{FunctionUrls, UrlAnswer, UrlCall, UrlOutcome};
pub use http_api::{ApiCall, HttpApis};
pub use invoker::{FunctionTarget, Invocation, Invoker, Resolved, Source};
pub use log_subscription::LogSubscriptions;
pub use schedule::Schedules;
pub use sns::{Published, SnsConfig, Topics};
