//! EventBridge's event pattern language: parsing a pattern and matching an event.
//!
//! A pattern is compiled once ([`Pattern::parse`]) into a tree of conditions and then
//! matched against many events ([`Pattern::matches`]) without re-reading its JSON: a
//! bus holds many rules and every event is matched against each of them.
//!
//! The same language, with small differences, is spoken by SNS filter policies
//! ([`sns`]) and by the FilterCriteria of event source mappings ([`filter_criteria`]).
//! Semantics follow EventBridge's content filtering documentation: fields are ANDed,
//! the values listed for a field are ORed, an array in the event matches when any of
//! its elements does, and `$or` joins whole sub-patterns.

mod compile;
mod cond;
pub mod filter_criteria;
mod matcher;
pub mod sns;
#[cfg(test)]
mod tests;
mod wildcard;

pub use filter_criteria::FilterCriteria;
pub use sns::{sns_filter_policy, FilterPolicy, FilterPolicyScope, SnsAttribute};

use crate::EventsError;

/// A compiled event pattern: the conditions of one rule, ready to match events.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: matcher::Node,
}

impl Pattern {
    /// Compiles an EventBridge event pattern (JSON text). A refusal is worded as
    /// EventBridge words it: `Event pattern is not valid. Reason: ...`.
    pub fn parse(json: &str) -> Result<Self, EventsError> {
        compile::compile_text(json)
            .map(|root| Pattern { root })
            .map_err(refusal)
    }

    /// Compiles an already parsed pattern (the same rules as [`Pattern::parse`]).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, EventsError> {
        compile::compile_value(value)
            .map(|root| Pattern { root })
            .map_err(refusal)
    }

    /// Whether `event` (a JSON object: an EventBridge envelope, a message body, a
    /// record) satisfies every condition of the pattern.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        self.root.matches(Some(event))
    }
}

fn refusal(reason: String) -> EventsError {
    EventsError::InvalidPattern(format!("Event pattern is not valid. Reason: {reason}"))
}
