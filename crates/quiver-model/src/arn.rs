//! Function references as Lambda accepts them: bare names, `name:qualifier`, partial ARNs
//! (`123456789012:function:name`) and full ARNs, each with an optional qualifier.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ModelError, Violations};
use crate::limits::{FUNCTION_NAME_MAX, FUNCTION_REF_MAX, QUALIFIER_MAX};

/// The `FunctionName` shape's pattern, as quoted in Lambda's ValidationException.
pub const FUNCTION_REF_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
pub const QUALIFIER_PATTERN: &str = r"(|[a-zA-Z0-9$_-]+)";
pub const NAME_PATTERN: &str = r"[a-zA-Z0-9-_]+";

static FUNCTION_REF_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^(?:{FUNCTION_REF_PATTERN})$")).expect("static regex"));
static QUALIFIER_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9$_-]+$").expect("static regex"));
static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_-]+$").expect("static regex"));

/// Where this server lives: every ARN it writes uses these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub region: String,
    pub account: String,
}

impl Partition {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account: account.into(),
        }
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`
    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        match qualifier {
            Some(q) => format!(
                "arn:aws:lambda:{}:{}:function:{name}:{q}",
                self.region, self.account
            ),
            None => format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                self.region, self.account
            ),
        }
    }
}

/// A parsed function reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    /// Region and account when the caller gave an ARN naming them.
    pub region: Option<String>,
    pub account: Option<String>,
}

impl FunctionRef {
    /// Parses `raw` (already percent-decoded). `member` names the field in error messages
    /// (`functionName`, `resource`, …).
    pub fn parse(raw: &str, member: &str) -> Result<Self, ModelError> {
        let mut v = Violations::new();
        if raw.is_empty() {
            v.push(
                raw,
                member,
                "Member must have length greater than or equal to 1",
            );
        }
        if raw.chars().count() > FUNCTION_REF_MAX {
            v.push(
                raw,
                member,
                format!("Member must have length less than or equal to {FUNCTION_REF_MAX}"),
            );
        }
        if !raw.is_empty() && !FUNCTION_REF_RE.is_match(raw) {
            v.push(
                raw,
                member,
                format!("Member must satisfy regular expression pattern: {FUNCTION_REF_PATTERN}"),
            );
        }
        v.into_result()?;

        let (region, account, rest) = if let Some(after) = raw.strip_prefix("arn:") {
            // arn:<partition>:lambda:<region>:<account>:function:<name>[:<q>]
            let parts: Vec<&str> = after.splitn(6, ':').collect();
            if parts.len() < 6 || parts[1] != "lambda" || parts[4] != "function" {
                return Err(ModelError::InvalidParameter(format!(
                    "Invalid function ARN: {raw}"
                )));
            }
            (
                Some(parts[2].to_string()),
                Some(parts[3].to_string()),
                parts[5],
            )
        } else if raw.len() > 13
            && raw.as_bytes()[12] == b':'
            && raw[..12].bytes().all(|b| b.is_ascii_digit())
        {
            let rest = &raw[13..];
            let rest = rest.strip_prefix("function:").unwrap_or(rest);
            (None, Some(raw[..12].to_string()), rest)
        } else {
            (None, None, raw.strip_prefix("function:").unwrap_or(raw))
        };
        let (name, qualifier) = match rest.split_once(':') {
            Some((n, q)) => (n, Some(q.to_string())),
            None => (rest, None),
        };
        validate_name(name, member)?;
        if let Some(q) = &qualifier {
            validate_qualifier(q, "qualifier")?;
        }
        Ok(Self {
            name: name.to_string(),
            qualifier,
            region,
            account,
        })
    }

    /// Combines a `:qualifier` suffix with a `?Qualifier=` parameter; they must agree.
    pub fn with_query_qualifier(mut self, query: Option<&str>) -> Result<Self, ModelError> {
        if let Some(q) = query {
            validate_qualifier(q, "qualifier")?;
            match &self.qualifier {
                Some(own) if own != q => {
                    return Err(ModelError::InvalidParameter(
                        "The derived qualifier from the function name does not match the specified qualifier.".into(),
                    ))
                }
                _ => self.qualifier = Some(q.to_string()),
            }
        }
        Ok(self)
    }

    /// True when the ARN (if any) names another region or account than this server's.
    pub fn is_foreign(&self, p: &Partition) -> bool {
        self.region.as_deref().is_some_and(|r| r != p.region)
            || self.account.as_deref().is_some_and(|a| a != p.account)
    }
}

/// A bare function name: `[a-zA-Z0-9-_]+`, 1–64 characters.
pub fn validate_name(name: &str, member: &str) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if name.is_empty() {
        v.push(
            name,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if !NAME_RE.is_match(name) {
        v.push(
            name,
            member,
            format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        );
    } else if name.len() > FUNCTION_NAME_MAX {
        v.push(
            name,
            member,
            format!("Member must have length less than or equal to {FUNCTION_NAME_MAX}"),
        );
    }
    v.into_result()
}

/// A qualifier: `$LATEST`, a version number or an alias name, 1–128 characters.
pub fn validate_qualifier(q: &str, member: &str) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if q.is_empty() {
        v.push(
            q,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if q.len() > QUALIFIER_MAX {
        v.push(
            q,
            member,
            format!("Member must have length less than or equal to {QUALIFIER_MAX}"),
        );
    } else if !QUALIFIER_RE.is_match(q) || (q.contains('$') && q != "$LATEST") {
        v.push(
            q,
            member,
            format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
        );
    }
    v.into_result()
}

/// What a qualifier designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

impl Qualifier {
    /// Classifies an already validated qualifier.
    pub fn classify(q: &str) -> Self {
        if q == "$LATEST" {
            Qualifier::Latest
        } else if let Ok(n) = q.parse::<u64>() {
            Qualifier::Version(n)
        } else {
            Qualifier::Alias(q.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FunctionRef {
        FunctionRef::parse(s, "functionName").unwrap()
    }

    #[test]
    fn every_reference_form_parses_to_the_same_name() {
        for s in [
            "my-fn",
            "123456789012:function:my-fn",
            "arn:aws:lambda:us-east-1:123456789012:function:my-fn",
        ] {
            let r = p(s);
            assert_eq!(r.name, "my-fn", "{s}");
            assert_eq!(r.qualifier, None, "{s}");
        }
        let r = p("arn:aws:lambda:eu-west-2:000000000000:function:f_1:prod");
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("f_1", Some("prod"))
        );
        assert_eq!(r.region.as_deref(), Some("eu-west-2"));
        assert_eq!(r.account.as_deref(), Some("000000000000"));
        let r = p("f:$LATEST");
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        assert_eq!(
            p("123456789012:function:f:7").qualifier.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn bad_references_are_validation_errors_quoting_the_pattern() {
        for s in ["", "bad name", "a/b", "f:$NOPE!", "arn:aws:s3:::bucket"] {
            let err = FunctionRef::parse(s, "functionName").unwrap_err();
            assert!(
                matches!(
                    err,
                    ModelError::Validation(_) | ModelError::InvalidParameter(_)
                ),
                "{s}: {err}"
            );
        }
        let msg = FunctionRef::parse("bad name", "functionName")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:"), "{msg}");
        let long = "x".repeat(65);
        let msg = FunctionRef::parse(&long, "functionName")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("Member must have length less than or equal to 64"),
            "{msg}"
        );
        let longer = "x".repeat(141);
        let msg = FunctionRef::parse(&longer, "functionName")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("less than or equal to 140"), "{msg}");
    }

    #[test]
    fn query_qualifier_must_agree_with_the_suffix() {
        assert_eq!(
            p("f")
                .with_query_qualifier(Some("3"))
                .unwrap()
                .qualifier
                .as_deref(),
            Some("3")
        );
        assert_eq!(
            p("f:3")
                .with_query_qualifier(Some("3"))
                .unwrap()
                .qualifier
                .as_deref(),
            Some("3")
        );
        let err = p("f:3").with_query_qualifier(Some("4")).unwrap_err();
        assert!(matches!(err, ModelError::InvalidParameter(_)));
        assert!(p("f").with_query_qualifier(Some("$BAD")).is_err());
    }

    #[test]
    fn arns_and_qualifier_kinds() {
        let part = Partition::new("us-east-1", "000000000000");
        assert_eq!(
            part.function_arn("f", None),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(
            part.function_arn("f", Some("$LATEST")),
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
        assert_eq!(Qualifier::classify("$LATEST"), Qualifier::Latest);
        assert_eq!(Qualifier::classify("12"), Qualifier::Version(12));
        assert_eq!(Qualifier::classify("prod"), Qualifier::Alias("prod".into()));
        assert!(p("arn:aws:lambda:us-west-2:000000000000:function:f").is_foreign(&part));
        assert!(!p("000000000000:function:f").is_foreign(&part));
    }
}
