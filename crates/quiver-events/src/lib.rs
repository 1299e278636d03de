//! Event routing's rules, as pure values and functions.
//!
//! EventBridge rules, SNS filter policies and the FilterCriteria of event source
//! mappings all speak one family of pattern languages, and rules and EventBridge
//! Scheduler both fire on schedule expressions. They live here, apart from the
//! services that store them (quiver-store), the wires that carry them (quiver-api)
//! and the deliveries that act on them (quiver-triggers), so each rule is unit tested
//! against AWS's documented examples without a server.
#![forbid(unsafe_code)]

pub mod bridge;
pub mod error;
pub mod pattern;
pub mod schedule;

pub use error::EventsError;
