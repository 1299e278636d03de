//! Raw query-string parsing (repeated keys such as `tagKeys` need the whole list).

use percent_encoding::percent_decode_str;

/// Decoded (key, value) pairs in order; `+` is a literal plus, as AWS clients encode spaces as %20.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (d(k), d(v))
        })
        .collect()
}

/// The first value of `key`.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every value of `key`.
pub fn all<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_repeats() {
        let p = pairs(Some("Qualifier=%24LATEST&tagKeys=a&tagKeys=b%20c&flag"));
        assert_eq!(first(&p, "Qualifier"), Some("$LATEST"));
        assert_eq!(all(&p, "tagKeys"), vec!["a", "b c"]);
        assert_eq!(first(&p, "flag"), Some(""));
        assert!(pairs(None).is_empty());
    }
}
