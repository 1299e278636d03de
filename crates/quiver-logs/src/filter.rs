//! CloudWatch Logs' filter pattern for unstructured events: space-separated terms,
//! all of which must appear (`ERROR timeout`), `"a quoted phrase"`, `-term` that must
//! not appear, and `?term` of which at least one must appear. Matching is
//! case-sensitive, as CloudWatch's. JSON (`{ $.x = … }`) and space-delimited (`[a, b]`)
//! patterns are refused with a clear message rather than silently matching nothing.

use crate::LogError;

/// A parsed filter pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterPattern {
    required: Vec<String>,
    excluded: Vec<String>,
    any_of: Vec<String>,
}

impl FilterPattern {
    /// Parses a pattern; an empty pattern matches every event.
    pub fn parse(text: &str) -> Result<FilterPattern, LogError> {
        let t = text.trim();
        if t.starts_with('{') || t.starts_with('[') {
            return Err(LogError::InvalidParameter(
                "Invalid filter pattern: JSON and space-delimited filter patterns are not supported by Quiver; use terms, \"quoted terms\", -term and ?term".into(),
            ));
        }
        let mut p = FilterPattern::default();
        let mut chars = t.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&c) = chars.peek() else { break };
            let prefix = if c == '-' || c == '?' {
                chars.next();
                Some(c)
            } else {
                None
            };
            let mut term = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                term.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => term.push(c),
                    }
                }
                if !closed {
                    return Err(LogError::InvalidParameter(
                        "Invalid filter pattern: unterminated quoted term".into(),
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    term.push(c);
                    chars.next();
                }
            }
            if term.is_empty() {
                // A lone `-` or `?` is a term of its own.
                if let Some(c) = prefix {
                    p.required.push(c.to_string());
                }
                continue;
            }
            match prefix {
                Some('-') => p.excluded.push(term),
                Some('?') => p.any_of.push(term),
                _ => p.required.push(term),
            }
        }
        Ok(p)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| message.contains(t.as_str()))
            && !self.excluded.iter().any(|t| message.contains(t.as_str()))
            && (self.any_of.is_empty() || self.any_of.iter().any(|t| message.contains(t.as_str())))
    }

    /// Whether the pattern matches everything (no need to look at messages).
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty() && self.any_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        FilterPattern::parse(p).unwrap().matches(msg)
    }

    #[test]
    fn terms_are_anded_and_case_sensitive() {
        assert!(m("ERROR timeout", "x ERROR y timeout"));
        assert!(!m("ERROR timeout", "x ERROR y"));
        assert!(!m("ERROR", "error"));
        assert!(m("", "anything"));
        assert!(FilterPattern::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn quoted_phrase_exclusion_and_optional() {
        assert!(m(
            "\"Task timed out\"",
            "abc Task timed out after 3.00 seconds"
        ));
        assert!(!m("\"Task timed out\"", "Task was timed out"));
        assert!(m("ERROR -debug", "ERROR in prod"));
        assert!(!m("ERROR -debug", "ERROR debug"));
        assert!(m("?WARN ?ERROR", "a WARN b"));
        assert!(m("?WARN ?ERROR", "an ERROR"));
        assert!(!m("?WARN ?ERROR", "INFO"));
        assert!(m("req ?WARN ?ERROR", "req ERROR"));
        assert!(!m("req ?WARN ?ERROR", "ERROR only"));
        assert!(m("-\"a b\"", "a  b"));
        assert!(!m("-\"a b\"", "a b"));
        assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\""));
    }

    #[test]
    fn structured_patterns_are_refused() {
        assert!(FilterPattern::parse("{ $.level = \"x\" }").is_err());
        assert!(FilterPattern::parse("[ip, user]").is_err());
        assert!(FilterPattern::parse("\"open").is_err());
    }
}
