//! The AWS query protocol's request side: an `application/x-www-form-urlencoded` body
//! of `Action=<Op>&Version=2010-03-31&...` with botocore's flattened members:
//! maps as `<Name>.entry.N.key` / `.value` (message attributes `.Name` / `.Value.*`),
//! lists as `<Name>.member.N`, structures in lists as `<Name>.member.N.<Member>`.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use quiver_model::sns::message::MessageAttr;
use quiver_model::sns::SnsError;

use base64::Engine as _;

/// The decoded pairs of one request (or of one list member, prefix stripped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

/// Form decoding: `+` is a space (HTML forms, Python's `urlencode`), then `%XX`.
fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let text = String::from_utf8_lossy(body);
        Form {
            pairs: text
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        }
    }

    /// From already decoded pairs (a URL's query string).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean member (`true` / `false`, any case); absent = None.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, SnsError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(SnsError::invalid(key)),
        }
    }

    /// The members `<prefix>.<sep>.N.<rest>` grouped by N (ascending), each as a form
    /// of its `<rest>` pairs.
    fn numbered(&self, prefix: &str, sep: &str) -> Result<Vec<Form>, SnsError> {
        let head = format!("{prefix}.{sep}.");
        let mut groups: BTreeMap<u32, Form> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix(&head) else {
                continue;
            };
            let (n, tail) = rest.split_once('.').unwrap_or((rest, ""));
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| SnsError::invalid(prefix))?;
            groups
                .entry(n)
                .or_default()
                .pairs
                .push((tail.to_string(), v.clone()));
        }
        Ok(groups.into_values().collect())
    }

    /// A list of strings, `<prefix>.member.N`.
    pub fn strings(&self, prefix: &str) -> Result<Vec<String>, SnsError> {
        Ok(self
            .numbered(prefix, "member")?
            .into_iter()
            .filter_map(|f| f.get("").map(str::to_string))
            .collect())
    }

    /// A list of structures, `<prefix>.member.N.<Member>`.
    pub fn structures(&self, prefix: &str) -> Result<Vec<Form>, SnsError> {
        self.numbered(prefix, "member")
    }

    /// A string map, `<prefix>.entry.N.key` / `.value`.
    pub fn map(&self, prefix: &str) -> Result<BTreeMap<String, String>, SnsError> {
        let mut out = BTreeMap::new();
        for e in self.numbered(prefix, "entry")? {
            let key = e.get("key").ok_or_else(|| SnsError::invalid(prefix))?;
            out.insert(key.to_string(), e.get("value").unwrap_or("").to_string());
        }
        Ok(out)
    }

    /// A tag list, `<prefix>.member.N.Key` / `.Value`.
    pub fn tags(&self, prefix: &str) -> Result<Vec<(String, String)>, SnsError> {
        self.structures(prefix)?
            .into_iter()
            .map(|m| {
                let key = m.get("Key").ok_or_else(|| SnsError::invalid("Tags"))?;
                Ok((key.to_string(), m.get("Value").unwrap_or("").to_string()))
            })
            .collect()
    }

    /// Message attributes, `<prefix>.entry.N.Name` / `.Value.DataType` /
    /// `.Value.StringValue` / `.Value.BinaryValue` (base64 on the wire).
    pub fn message_attributes(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, MessageAttr>, SnsError> {
        let mut out = BTreeMap::new();
        for e in self.numbered(prefix, "entry")? {
            let name = e.get("Name").ok_or_else(|| SnsError::invalid(prefix))?;
            let data_type = e.get("Value.DataType").ok_or_else(|| {
                SnsError::invalid_value(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?;
            let binary_value = e
                .get("Value.BinaryValue")
                .map(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|_| {
                            SnsError::invalid_value(format!(
                                "The message attribute '{name}' has an invalid binary value."
                            ))
                        })
                })
                .transpose()?;
            out.insert(
                name.to_string(),
                MessageAttr {
                    data_type: data_type.to_string(),
                    string_value: e.get("Value.StringValue").map(str::to_string),
                    binary_value,
                },
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_members_decode() {
        let f = Form::parse(
            b"Action=Publish&Message=a+b%2Bc&Attributes.entry.2.key=B&Attributes.entry.2.value=2\
&Attributes.entry.1.key=A&Attributes.entry.1.value=1&TagKeys.member.2=y&TagKeys.member.1=x\
&MessageAttributes.entry.1.Name=k&MessageAttributes.entry.1.Value.DataType=Binary\
&MessageAttributes.entry.1.Value.BinaryValue=AAE%3D\
&PublishBatchRequestEntries.member.1.Id=i1&PublishBatchRequestEntries.member.1.Message=m",
        );
        assert_eq!(f.get("Message"), Some("a b+c"));
        let m = f.map("Attributes").unwrap();
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.len(), 2);
        assert_eq!(f.strings("TagKeys").unwrap(), ["x", "y"]);
        let a = f.message_attributes("MessageAttributes").unwrap();
        assert_eq!(a["k"].binary_value.as_deref(), Some(&[0u8, 1][..]));
        let e = f.structures("PublishBatchRequestEntries").unwrap();
        assert_eq!(e[0].get("Id"), Some("i1"));
        assert!(Form::parse(b"Tags.member.x.Key=a").tags("Tags").is_err());
    }
}
