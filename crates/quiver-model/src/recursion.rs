//! Recursive loop detection (PutFunctionRecursionConfig): the per-function setting, its
//! validation, and the chain every invocation carries (docs/wire.md §18).
//!
//! Lambda tracks a chain of requests with a lineage counter in the X-Ray trace header
//! and stops the invocation after the 16th in one chain. Quiver does the same with a
//! [`Chain`]: an id shared by every invocation caused by one original request and the
//! depth (1 for that request). An event Quiver itself produces from an invocation (a
//! destination, a dead-letter message) carries the depth + 1; an invocation deeper than
//! [`MAX_CHAIN_DEPTH`] does not run when the function's setting is `Terminate`.

use crate::{ModelError, Violations};

/// Lambda's `RecursiveLoop` enum. `Terminate` is what a function has until it is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecursiveLoop {
    Allow,
    #[default]
    Terminate,
}

impl RecursiveLoop {
    /// The wire (and stored) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Terminate => "Terminate",
        }
    }

    /// A stored value; None for anything else (the store reports it as corrupt).
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "Allow" => Some(Self::Allow),
            "Terminate" => Some(Self::Terminate),
            _ => None,
        }
    }

    /// The request member, refused with Lambda's `ValidationException` wording when
    /// missing or outside the enum (the set listed in the model's order).
    pub fn parse(value: Option<&str>) -> Result<Self, ModelError> {
        let mut v = Violations::new();
        match value {
            None => v.push("null", "recursiveLoop", "Member must not be null"),
            Some(s) => match Self::from_stored(s) {
                Some(r) => return Ok(r),
                None => v.push(
                    s,
                    "recursiveLoop",
                    "Member must satisfy enum value set: [Allow, Terminate]",
                ),
            },
        }
        v.into_result()?;
        unreachable!("a violation was pushed")
    }
}

/// Invocations one chain may make: Lambda "stops the next function invocation" once a
/// function has been invoked 16 times in the same chain of requests.
pub const MAX_CHAIN_DEPTH: u32 = 16;

/// The chain of requests an invocation belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// X-Ray shaped root id (`1-<8 hex seconds>-<24 hex random>`), shared by the chain.
    pub root: String,
    /// This invocation's place in the chain: 1 for the original request.
    pub depth: u32,
}

impl Chain {
    /// A new chain for an original request (`secs`: the epoch seconds, `random`: any
    /// random bits; only 96 are used).
    pub fn start(secs: u64, random: u128) -> Self {
        Chain {
            root: format!(
                "1-{:08x}-{:024x}",
                secs & 0xffff_ffff,
                random & ((1u128 << 96) - 1)
            ),
            depth: 1,
        }
    }

    /// The chain of an event this invocation produces.
    pub fn child(&self) -> Self {
        Chain {
            root: self.root.clone(),
            depth: self.depth.saturating_add(1),
        }
    }

    /// True when this invocation is past what a chain may make.
    pub fn is_recursive_loop(&self) -> bool {
        self.depth > MAX_CHAIN_DEPTH
    }

    /// `Root=<root>;Sampled=0;Lineage=<depth>`: the trace header form, as it travels in
    /// messages Quiver writes and as `X-Amzn-Trace-Id` would carry it.
    pub fn trace_header(&self) -> String {
        format!("Root={};Sampled=0;Lineage={}", self.root, self.depth)
    }

    /// Reads [`Chain::trace_header`] back; None when the header carries no Quiver
    /// lineage (a caller's own trace header starts a new chain).
    pub fn from_trace_header(header: &str) -> Option<Self> {
        let mut root = None;
        let mut depth = None;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) if !v.is_empty() => root = Some(v.to_string()),
                Some(("Lineage", v)) => depth = v.parse::<u32>().ok().filter(|d| *d >= 1),
                _ => {}
            }
        }
        Some(Chain {
            root: root?,
            depth: depth?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_count_to_sixteen_and_round_trip_as_trace_headers() {
        let c = Chain::start(0x0001_2345_6789, u128::MAX);
        assert_eq!(c.depth, 1);
        assert_eq!(c.root, format!("1-23456789-{}", "f".repeat(24)));
        let mut d = c.clone();
        for _ in 1..MAX_CHAIN_DEPTH {
            d = d.child();
            assert!(!d.is_recursive_loop());
        }
        assert_eq!(d.depth, 16);
        assert!(d.child().is_recursive_loop());
        assert_eq!(Chain::from_trace_header(&d.trace_header()), Some(d.clone()));
        assert_eq!(
            Chain::from_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            None
        );
        assert_eq!(Chain::from_trace_header("Root=r;Lineage=0"), None);
    }

    #[test]
    fn parses_the_enum_and_words_refusals_like_lambda() {
        assert_eq!(
            RecursiveLoop::parse(Some("Allow")),
            Ok(RecursiveLoop::Allow)
        );
        assert_eq!(
            RecursiveLoop::parse(Some("Terminate")),
            Ok(RecursiveLoop::Terminate)
        );
        assert_eq!(RecursiveLoop::default(), RecursiveLoop::Terminate);
        assert_eq!(
            RecursiveLoop::parse(Some("allow")).unwrap_err().to_string(),
            "1 validation error detected: Value 'allow' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum value set: [Allow, Terminate]"
        );
        assert_eq!(
            RecursiveLoop::parse(None).unwrap_err().to_string(),
            "1 validation error detected: Value null at 'recursiveLoop' failed to satisfy constraint: Member must not be null"
        );
    }
}
