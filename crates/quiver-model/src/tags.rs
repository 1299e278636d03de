//! Resource tags: key 1–128, value 0–256, a restricted character set.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ModelError, Violations};
use crate::limits::{TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX};

pub const TAG_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

/// The model's `TaggableResource` (TagResource, UntagResource, ListTags), quoted verbatim
/// in Lambda's ValidationException; at most 10000 characters.
pub const TAGGABLE_PATTERN: &str = concat!(
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:",
    r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}",
    r"|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})"
);
const TAGGABLE_MAX: usize = 10_000;

static TAGGABLE_RE: LazyLock<Regex> = LazyLock::new(|| {
    regex::RegexBuilder::new(&format!("^(?:{TAGGABLE_PATTERN})$"))
        .unicode(false)
        .build()
        .expect("static regex")
});

/// What a taggable ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaggableKind {
    Function {
        name: String,
        qualifier: Option<String>,
    },
    CodeSigningConfig {
        id: String,
    },
    /// `event-source-mapping`, `capacity-provider`, `network-connector`: kinds the model
    /// admits that this server has none of.
    Other {
        kind: String,
    },
}

/// A parsed `TaggableResource` ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taggable {
    pub region: String,
    pub account: String,
    pub kind: TaggableKind,
}

impl Taggable {
    /// Shape validation (pattern, then length) worded as Lambda's, at `resource`.
    pub fn parse(raw: &str) -> Result<Self, ModelError> {
        let mut v = Violations::new();
        if !TAGGABLE_RE.is_match(raw) {
            v.push(
                raw,
                "resource",
                format!("Member must satisfy regular expression pattern: {TAGGABLE_PATTERN}"),
            );
        }
        if raw.chars().count() > TAGGABLE_MAX {
            v.push(
                raw,
                "resource",
                format!("Member must have length less than or equal to {TAGGABLE_MAX}"),
            );
        }
        v.into_result()?;
        // arn:<partition>:lambda:<region>:<account>:<kind>:<rest>
        let parts: Vec<&str> = raw.splitn(7, ':').collect();
        let (region, account, kind, rest) = (parts[3], parts[4], parts[5], parts[6]);
        let kind = match kind {
            "function" => {
                let (name, qualifier) = match rest.split_once(':') {
                    Some((n, q)) => (n, Some(q.to_string())),
                    None => (rest, None),
                };
                if name.len() > crate::limits::FUNCTION_NAME_MAX {
                    let mut v = Violations::new();
                    v.push(
                        raw,
                        "resource",
                        format!(
                            "Member must have length less than or equal to {}",
                            crate::limits::FUNCTION_NAME_MAX
                        ),
                    );
                    v.into_result()?;
                }
                TaggableKind::Function {
                    name: name.to_string(),
                    qualifier,
                }
            }
            "code-signing-config" => TaggableKind::CodeSigningConfig {
                id: rest.to_string(),
            },
            other => TaggableKind::Other {
                kind: other.to_string(),
            },
        };
        Ok(Taggable {
            region: region.to_string(),
            account: account.to_string(),
            kind,
        })
    }
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Validates one tag key (used by TagResource and UntagResource).
pub fn check_key(v: &mut Violations, key: &str, member: &str) {
    let n = key.chars().count();
    if n == 0 {
        v.push(
            key,
            member,
            "Member must have length greater than or equal to 1",
        );
    } else if n > TAG_KEY_MAX {
        v.push(
            key,
            member,
            format!("Member must have length less than or equal to {TAG_KEY_MAX}"),
        );
    } else if !key.chars().all(allowed) {
        v.push(
            key,
            member,
            format!("Member must satisfy regular expression pattern: {TAG_PATTERN}"),
        );
    }
}

/// Validates a tag map as given to CreateFunction or TagResource.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ModelError> {
    let mut v = Violations::new();
    for (k, val) in tags {
        check_key(&mut v, k, "tags");
        if val.chars().count() > TAG_VALUE_MAX {
            v.push(
                val.as_str(),
                "tags",
                format!("Member must have length less than or equal to {TAG_VALUE_MAX}"),
            );
        } else if !val.chars().all(allowed) {
            v.push(
                val.as_str(),
                "tags",
                format!("Member must satisfy regular expression pattern: {TAG_PATTERN}"),
            );
        }
    }
    v.into_result()?;
    if tags.len() > TAGS_MAX {
        return Err(ModelError::InvalidParameter(format!(
            "A resource can have at most {TAGS_MAX} tags."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taggable_arns_of_every_kind() {
        let f = Taggable::parse("arn:aws:lambda:us-east-1:123456789012:function:f:prod").unwrap();
        assert_eq!(
            f.kind,
            TaggableKind::Function {
                name: "f".into(),
                qualifier: Some("prod".into())
            }
        );
        let c = Taggable::parse(
            "arn:aws-cn:lambda:cn-north-1:123456789012:code-signing-config:csc-0123456789abcdef0",
        )
        .unwrap();
        assert_eq!(c.region, "cn-north-1");
        assert_eq!(
            c.kind,
            TaggableKind::CodeSigningConfig {
                id: "csc-0123456789abcdef0".into()
            }
        );
        let m = Taggable::parse(
            "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-0000-1111-2222-333344445555",
        )
        .unwrap();
        assert!(matches!(m.kind, TaggableKind::Other { kind } if kind == "event-source-mapping"));
        for bad in [
            "f",
            "123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:layer:l",
            "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-short",
        ] {
            let msg = Taggable::parse(bad).unwrap_err().to_string();
            assert_eq!(
                msg,
                format!("1 validation error detected: Value '{bad}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAGGABLE_PATTERN}")
            );
        }
    }

    #[test]
    fn tag_rules() {
        let ok: BTreeMap<_, _> = [("team".to_string(), "a b:c/d=e+f-g@h".to_string())].into();
        assert!(validate_tags(&ok).is_ok());
        let empty_key: BTreeMap<_, _> = [(String::new(), "v".to_string())].into();
        assert!(validate_tags(&empty_key).is_err());
        let long: BTreeMap<_, _> = [("k".repeat(129), String::new())].into();
        assert!(validate_tags(&long)
            .unwrap_err()
            .to_string()
            .contains("less than or equal to 128"));
        let bad: BTreeMap<_, _> = [("k".to_string(), "v;".to_string())].into();
        assert!(validate_tags(&bad).is_err());
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(matches!(
            validate_tags(&many),
            Err(ModelError::InvalidParameter(_))
        ));
    }
}
