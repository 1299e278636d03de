//! ListObjects / ListObjectsV2 paging over keys in UTF-8 binary order (S3 lists keys in
//! lexicographic order of their bytes).
//!
//! With a delimiter, the keys between the prefix and the next delimiter are rolled up into
//! one common prefix, which counts once towards MaxKeys; the marker of the next page is
//! the last key or common prefix returned, and a common prefix as marker skips every key
//! under it.

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Keys at or before this are skipped (Marker, StartAfter, or a continuation token).
    pub after: Option<String>,
    pub max_keys: usize,
}

/// One page: the keys (with their values), the common prefixes, and where to go on.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub contents: Vec<(String, T)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix of this page when truncated.
    pub next_marker: Option<String>,
}

/// Pages through `entries` (already in key order, starting at or before the first key
/// wanted).
pub fn list_page<T>(entries: impl IntoIterator<Item = (String, T)>, p: &ListParams) -> ListPage<T> {
    let delim = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut page = ListPage {
        contents: Vec::new(),
        common_prefixes: Vec::new(),
        truncated: false,
        next_marker: None,
    };
    let mut last_prefix: Option<String> = None;
    let marker_prefix = match (&p.after, delim) {
        (Some(a), Some(d)) if a.starts_with(&p.prefix) && a.ends_with(d) => Some(a.clone()),
        _ => None,
    };
    let mut count = 0usize;
    let mut last: Option<String> = None;
    for (key, value) in entries {
        if !key.starts_with(&p.prefix) {
            continue;
        }
        if let Some(a) = &p.after {
            if key.as_str() <= a.as_str() {
                continue;
            }
        }
        if let Some(mp) = &marker_prefix {
            if key.starts_with(mp.as_str()) {
                continue;
            }
        }
        let rolled = delim.and_then(|d| {
            key[p.prefix.len()..]
                .find(d)
                .map(|i| key[..p.prefix.len() + i + d.len()].to_string())
        });
        if let (Some(cp), Some(lp)) = (&rolled, &last_prefix) {
            if cp == lp {
                continue;
            }
        }
        if count == p.max_keys {
            page.truncated = true;
            page.next_marker = last;
            return page;
        }
        count += 1;
        match rolled {
            Some(cp) => {
                last = Some(cp.clone());
                last_prefix = Some(cp.clone());
                page.common_prefixes.push(cp);
            }
            None => {
                last = Some(key.clone());
                page.contents.push((key, value));
            }
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> Vec<(String, ())> {
        ks.iter().map(|k| (k.to_string(), ())).collect()
    }
    fn names(p: &ListPage<()>) -> Vec<&str> {
        p.contents.iter().map(|(k, _)| k.as_str()).collect()
    }

    // The example of "Organizing objects using prefixes" (S3 User Guide): keys
    // sample.jpg, photos/2006/January/sample.jpg, photos/2006/February/sample2.jpg …
    const DOC: &[&str] = &[
        "photos/2006/February/sample2.jpg",
        "photos/2006/February/sample3.jpg",
        "photos/2006/February/sample4.jpg",
        "photos/2006/January/sample.jpg",
        "sample.jpg",
    ];

    #[test]
    fn delimiter_rolls_up_common_prefixes() {
        let p = ListParams {
            delimiter: Some("/".into()),
            max_keys: 1000,
            ..Default::default()
        };
        let page = list_page(keys(DOC), &p);
        assert_eq!(names(&page), ["sample.jpg"]);
        assert_eq!(page.common_prefixes, ["photos/"]);
        let p = ListParams {
            prefix: "photos/2006/".into(),
            delimiter: Some("/".into()),
            max_keys: 1000,
            ..Default::default()
        };
        let page = list_page(keys(DOC), &p);
        assert!(page.contents.is_empty());
        assert_eq!(
            page.common_prefixes,
            ["photos/2006/February/", "photos/2006/January/"]
        );
        assert!(!page.truncated);
    }

    #[test]
    fn max_keys_counts_prefixes_and_markers_continue() {
        let p = ListParams {
            prefix: "photos/2006/".into(),
            delimiter: Some("/".into()),
            max_keys: 1,
            ..Default::default()
        };
        let page = list_page(keys(DOC), &p);
        assert_eq!(page.common_prefixes, ["photos/2006/February/"]);
        assert!(page.truncated);
        let next = ListParams {
            after: page.next_marker.clone(),
            ..p
        };
        let page = list_page(keys(DOC), &next);
        assert_eq!(page.common_prefixes, ["photos/2006/January/"]);
        assert!(!page.truncated);
    }

    #[test]
    fn plain_paging_and_start_after() {
        let p = ListParams {
            max_keys: 2,
            ..Default::default()
        };
        let page = list_page(keys(DOC), &p);
        assert_eq!(names(&page), &DOC[..2]);
        assert_eq!(page.next_marker.as_deref(), Some(DOC[1]));
        let p = ListParams {
            after: Some("photos/2006/January/sample.jpg".into()),
            max_keys: 1000,
            ..Default::default()
        };
        assert_eq!(names(&list_page(keys(DOC), &p)), ["sample.jpg"]);
        let p = ListParams {
            max_keys: 0,
            ..Default::default()
        };
        assert!(list_page(keys(DOC), &p).contents.is_empty());
    }
}
