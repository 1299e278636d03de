//! Resource tags: key 1–128, value 0–256, a restricted character set.

use std::collections::BTreeMap;

use crate::error::{ModelError, Violations};
use crate::limits::{TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX};

pub const TAG_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

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
