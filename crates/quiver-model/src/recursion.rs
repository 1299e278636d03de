//! Recursive loop detection (PutFunctionRecursionConfig): the per-function setting and
//! its validation.
//!
//! Quiver stores and reports the setting only. Honouring `Terminate` (stopping a chain
//! of invocations after 16 hops, as Lambda does) needs the invoke path to carry a hop
//! count between functions; that is a later slice, so today `Terminate` stops nothing.

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

#[cfg(test)]
mod tests {
    use super::*;

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
