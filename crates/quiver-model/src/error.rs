//! The one error type of the model: every way a request can be wrong.

/// A single constraint violation, worded as Lambda words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending value as it appears in the message (`null` for a missing member).
    pub value: String,
    /// camelCase member path, e.g. `memorySize` or `ephemeralStorage.size`.
    pub member: String,
    /// The constraint, e.g. `Member must have value less than or equal to 10240`.
    pub constraint: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value == "null" {
            write!(
                f,
                "Value null at '{}' failed to satisfy constraint: {}",
                self.member, self.constraint
            )
        } else {
            write!(
                f,
                "Value '{}' at '{}' failed to satisfy constraint: {}",
                self.value, self.member, self.constraint
            )
        }
    }
}

/// Why a request was refused by pure validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Shape constraints (pattern, length, range, enum) were violated: Lambda's `ValidationException`.
    #[error("{}", format_violations(.0))]
    Validation(Vec<Violation>),
    /// The request is well-formed but semantically unacceptable: `InvalidParameterValueException`.
    #[error("{0}")]
    InvalidParameter(String),
    /// An operator's runtime configuration (`--runtime`, `QUIVER_RUNTIMES`,
    /// `runtimes.json`) is malformed: the server refuses to start.
    #[error("{0}")]
    RuntimeConfig(String),
}

/// `1 validation error detected: …` / `N validation errors detected: …; …`
pub fn format_violations(v: &[Violation]) -> String {
    let parts: Vec<String> = v.iter().map(ToString::to_string).collect();
    let noun = if v.len() == 1 { "error" } else { "errors" };
    format!(
        "{} validation {noun} detected: {}",
        v.len(),
        parts.join("; ")
    )
}

/// Collects violations so a request reports all of them at once, like Lambda.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, value: impl Into<String>, member: &str, constraint: impl Into<String>) {
        self.0.push(Violation {
            value: value.into(),
            member: member.to_string(),
            constraint: constraint.into(),
        });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was violated.
    pub fn into_result(self) -> Result<(), ModelError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many_violations_are_worded_like_lambda() {
        let mut v = Violations::new();
        v.push(
            "5",
            "memorySize",
            "Member must have value greater than or equal to 128",
        );
        let err = v.into_result().unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 validation error detected: Value '5' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        );
        let mut v = Violations::new();
        v.push(
            "0",
            "timeout",
            "Member must have value greater than or equal to 1",
        );
        v.push("null", "role", "Member must not be null");
        let msg = v.into_result().unwrap_err().to_string();
        assert!(
            msg.starts_with("2 validation errors detected: Value '0' at 'timeout'"),
            "{msg}"
        );
        assert!(
            msg.ends_with(
                "; Value null at 'role' failed to satisfy constraint: Member must not be null"
            ),
            "{msg}"
        );
    }
}
