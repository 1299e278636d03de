//! Function references as Lambda accepts them: bare names, `name:qualifier`, partial ARNs
//! (`123456789012:function:name`) and full ARNs, each with an optional qualifier.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ModelError, Violations};
use crate::limits::{FUNCTION_NAME_MAX, FUNCTION_REF_MAX, NAMESPACED_REF_MAX, QUALIFIER_MAX};

/// The region part every shape shares: `(eusc-)?` sovereign and `-gov` / `-iso*` regions.
macro_rules! region_part {
    () => {
        r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    };
}

/// `NamespacedFunctionName` (GetFunction, GetFunctionConfiguration, DeleteFunction,
/// Invoke, GetFunctionCodeSigningConfig, …): dots allowed in the name and the
/// `$LATEST.PUBLISHED` qualifier, up to 256 characters. Quoted verbatim in
/// Lambda's ValidationException, as botocore's service model spells it.
pub const NAMESPACED_PATTERN: &str = concat!(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?",
    region_part!(),
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
);
/// `FunctionName` (CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, …).
pub const FUNCTION_REF_PATTERN: &str = concat!(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?",
    region_part!(),
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
);
/// `UnqualifiedFunctionName` (Put/GetFunctionRecursionConfig, …).
pub const UNQUALIFIED_PATTERN: &str = concat!(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?",
    region_part!(),
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
);
/// `NumericLatestPublishedOrAliasQualifier`, the `?Qualifier=` of Get/Delete/Invoke.
pub const QUALIFIER_PATTERN: &str = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+";
pub const NAME_PATTERN: &str = r"[a-zA-Z0-9-_]+";

/// Whole-string regexes; ASCII classes (`\d` is `[0-9]` in the service's Java regexes).
fn anchored(pattern: &str) -> Regex {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .unicode(false)
        .build()
        .expect("static regex")
}

static NAMESPACED_RE: LazyLock<Regex> = LazyLock::new(|| anchored(NAMESPACED_PATTERN));
static FUNCTION_REF_RE: LazyLock<Regex> = LazyLock::new(|| anchored(FUNCTION_REF_PATTERN));
static UNQUALIFIED_RE: LazyLock<Regex> = LazyLock::new(|| anchored(UNQUALIFIED_PATTERN));
static QUALIFIER_RE: LazyLock<Regex> = LazyLock::new(|| anchored(QUALIFIER_PATTERN));

/// Capture groups shared by the three function-name patterns (they differ only after
/// the name): 2 partition, 3 `region:`, 9 `account:`, 11 name, 13 qualifier.
const GROUP_PARTITION: usize = 2;
const GROUP_REGION: usize = 3;
const GROUP_ACCOUNT: usize = 9;
const GROUP_NAME: usize = 11;
const GROUP_QUALIFIER: usize = 13;

/// Which of the model's function-name shapes an operation declares: each has its own
/// pattern and length limit, and Lambda quotes that one in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameShape {
    Namespaced,
    Function,
    Unqualified,
}

impl NameShape {
    pub fn pattern(self) -> &'static str {
        match self {
            NameShape::Namespaced => NAMESPACED_PATTERN,
            NameShape::Function => FUNCTION_REF_PATTERN,
            NameShape::Unqualified => UNQUALIFIED_PATTERN,
        }
    }

    /// The shape's `max` (its `min` is 1 for all three).
    pub fn max_len(self) -> usize {
        match self {
            NameShape::Namespaced => NAMESPACED_REF_MAX,
            NameShape::Function | NameShape::Unqualified => FUNCTION_REF_MAX,
        }
    }

    fn regex(self) -> &'static Regex {
        match self {
            NameShape::Namespaced => &NAMESPACED_RE,
            NameShape::Function => &FUNCTION_REF_RE,
            NameShape::Unqualified => &UNQUALIFIED_RE,
        }
    }
}

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
    /// The ARN's partition (`aws`, `aws-cn`, …) when the caller gave a full ARN.
    pub partition: Option<String>,
    /// Region and account when the caller gave an ARN naming them.
    pub region: Option<String>,
    pub account: Option<String>,
}

impl FunctionRef {
    /// Parses `raw` (already percent-decoded) as the `FunctionName` shape. `member`
    /// names the field in error messages (`functionName`, `resource`, …).
    pub fn parse(raw: &str, member: &str) -> Result<Self, ModelError> {
        Self::parse_as(raw, member, NameShape::Function)
    }

    /// Parses `raw` against one of the model's name shapes. Shape violations (length,
    /// pattern) are reported together as Lambda's ValidationException; then the
    /// name itself must fit 64 characters, as Lambda reports for every form.
    pub fn parse_as(raw: &str, member: &str, shape: NameShape) -> Result<Self, ModelError> {
        // AWS's shape validation lists a pattern violation before the length ones
        // (docs/wire.md §9).
        let mut v = Violations::new();
        let caps = shape.regex().captures(raw);
        if caps.is_none() {
            v.push(
                raw,
                member,
                format!(
                    "Member must satisfy regular expression pattern: {}",
                    shape.pattern()
                ),
            );
        }
        let len = raw.chars().count();
        if len == 0 {
            v.push(
                raw,
                member,
                "Member must have length greater than or equal to 1",
            );
        }
        if len > shape.max_len() {
            v.push(
                raw,
                member,
                format!(
                    "Member must have length less than or equal to {}",
                    shape.max_len()
                ),
            );
        }
        v.into_result()?;
        let caps = caps.expect("checked above");
        let group = |i: usize| caps.get(i).map(|m| m.as_str());
        let name = group(GROUP_NAME).unwrap_or_default();
        if name.len() > FUNCTION_NAME_MAX {
            let mut v = Violations::new();
            v.push(
                raw,
                member,
                format!("Member must have length less than or equal to {FUNCTION_NAME_MAX}"),
            );
            v.into_result()?;
        }
        Ok(Self {
            name: name.to_string(),
            qualifier: group(GROUP_QUALIFIER).map(str::to_string),
            partition: group(GROUP_PARTITION).map(str::to_string),
            region: group(GROUP_REGION).map(|r| r.trim_end_matches(':').to_string()),
            account: group(GROUP_ACCOUNT).map(|a| a.trim_end_matches(':').to_string()),
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

    /// The region an ARN names when it is not this server's: Lambda answers
    /// `Functions from '<r>' are not reachable in this region ('<ours>')` (404).
    pub fn other_region<'a>(&'a self, p: &Partition) -> Option<&'a str> {
        self.region.as_deref().filter(|r| *r != p.region)
    }

    /// True when the ARN (if any) names another region or account than this server's.
    pub fn is_foreign(&self, p: &Partition) -> bool {
        self.region.as_deref().is_some_and(|r| r != p.region)
            || self.account.as_deref().is_some_and(|a| a != p.account)
    }
}

/// A `?Qualifier=`: the model's `NumericLatestPublishedOrAliasQualifier`, 1–128
/// characters. A value the pattern admits but nothing can be named (`$NOPE`) is left
/// to resolution, which answers ResourceNotFoundException as Lambda does.
pub fn validate_qualifier(q: &str, member: &str) -> Result<(), ModelError> {
    let mut v = Violations::new();
    if !QUALIFIER_RE.is_match(q) {
        v.push(
            q,
            member,
            format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
        );
    }
    let len = q.chars().count();
    if len == 0 {
        v.push(
            q,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if len > QUALIFIER_MAX {
        v.push(
            q,
            member,
            format!("Member must have length less than or equal to {QUALIFIER_MAX}"),
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
        for s in [
            "",
            "bad name",
            "a/b",
            "f:$NOPE!",
            "arn:aws:s3:::bucket",
            "f:$LATEST.PUBLISHED",
        ] {
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
        let msg = FunctionRef::parse_as(&"x".repeat(257), "functionName", NameShape::Namespaced)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("less than or equal to 256"), "{msg}");
        // Pattern first, then length, joined with "; ".
        let msg = FunctionRef::parse(&"!".repeat(141), "functionName")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("2 validation errors detected: "), "{msg}");
        let (first, second) = msg.split_once("; ").unwrap();
        assert!(first.contains("regular expression pattern"), "{msg}");
        assert!(second.ends_with("less than or equal to 140"), "{msg}");
    }

    #[test]
    fn namespaced_names_admit_dots_and_latest_published() {
        let r = FunctionRef::parse_as(
            "my.fn:$LATEST.PUBLISHED",
            "functionName",
            NameShape::Namespaced,
        )
        .unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("my.fn", Some("$LATEST.PUBLISHED"))
        );
        let r = FunctionRef::parse_as(
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:live",
            "functionName",
            NameShape::Namespaced,
        )
        .unwrap();
        assert_eq!(r.partition.as_deref(), Some("aws-us-gov"));
        assert_eq!(r.region.as_deref(), Some("us-gov-west-1"));
        assert_eq!(r.account.as_deref(), Some("123456789012"));
        assert!(FunctionRef::parse_as("f:1", "functionName", NameShape::Unqualified).is_err());
        assert!(FunctionRef::parse("my.fn", "functionName").is_err());
        // A bare 12-digit name is a name, not an account.
        assert_eq!(p("123456789012").name, "123456789012");
        assert!(validate_qualifier("$NOPE", "qualifier").is_ok());
        let msg = validate_qualifier("", "qualifier").unwrap_err().to_string();
        assert!(msg.starts_with("2 validation errors detected: Value '' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: "), "{msg}");
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
        assert!(p("f").with_query_qualifier(Some("bad q")).is_err());
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
