//! The AWS query protocol's answer side: SNS's XML (`<OpResponse xmlns=...><OpResult>
//! ...</OpResult><ResponseMetadata><RequestId>`), lists as `<member>`, maps as
//! `<entry><key/><value/></entry>`, as botocore's query parser reads them.
//!
//! Written by hand rather than with an XML crate: answers are a few fixed elements
//! whose only variable part is escaped text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// SNS's XML namespace.
pub const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Escapes text for an element's content: markup characters, and the control
/// characters an XML parser would otherwise normalise away (`\r`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The inside of one `<OpResult>`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Self {
        Xml(String::new())
    }
    /// `<tag>text</tag>`.
    pub fn leaf(mut self, tag: &str, text: &str) -> Self {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", escape(text));
        self
    }
    /// `<tag>text</tag>` when there is a text.
    pub fn opt(self, tag: &str, text: Option<&str>) -> Self {
        match text {
            Some(t) => self.leaf(tag, t),
            None => self,
        }
    }
    /// `<tag>inner</tag>`.
    pub fn node(mut self, tag: &str, inner: Xml) -> Self {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", inner.0);
        self
    }
    /// `<tag><member>..</member>...</tag>`.
    pub fn members(self, tag: &str, items: impl IntoIterator<Item = Xml>) -> Self {
        let mut inner = Xml::new();
        for i in items {
            inner = inner.node("member", i);
        }
        self.node(tag, inner)
    }
    /// `<tag><entry><key>k</key><value>v</value></entry>...</tag>`.
    pub fn map(self, tag: &str, m: &BTreeMap<String, String>) -> Self {
        let mut inner = Xml::new();
        for (k, v) in m {
            inner = inner.node("entry", Xml::new().leaf("key", k).leaf("value", v));
        }
        self.node(tag, inner)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The whole answer of `op`; `result` None for operations without output members.
pub fn response(op: &str, result: Option<&Xml>, request_id: &str) -> String {
    let mut s = format!(r#"<{op}Response xmlns="{XMLNS}">"#);
    if let Some(r) = result {
        let _ = write!(s, "<{op}Result>{}</{op}Result>", r.0);
    }
    let _ = write!(
        s,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{op}Response>",
        escape(request_id)
    );
    s
}

/// An error answer.
pub fn error(fault: &str, code: &str, message: &str, request_id: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="{XMLNS}"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>"#,
        escape(code),
        escape(message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_query_shapes() {
        let mut m = BTreeMap::new();
        m.insert("Policy".to_string(), r#"{"a":"<b>"}"#.to_string());
        let x = Xml::new()
            .members("Topics", [Xml::new().leaf("TopicArn", "t&1")])
            .map("Attributes", &m)
            .opt("NextToken", None);
        assert_eq!(
            x.as_str(),
            "<Topics><member><TopicArn>t&amp;1</TopicArn></member></Topics><Attributes><entry><key>Policy</key><value>{&quot;a&quot;:&quot;&lt;b&gt;&quot;}</value></entry></Attributes>"
        );
        assert_eq!(
            response("DeleteTopic", None, "r"),
            format!(
                r#"<DeleteTopicResponse xmlns="{XMLNS}"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteTopicResponse>"#
            )
        );
        assert_eq!(escape("a\rb\u{1}"), "a&#xD;b&#x1;");
    }
}
