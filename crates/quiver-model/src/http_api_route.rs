//! HTTP API (apigatewayv2) route keys and the choice of a route for a request. Pure:
//! the API layer parses `RouteKey` members with [`RouteKey::parse`], the trigger asks
//! [`select`] which stored route a request reaches. Contracts: docs/wire.md §22.
//!
//! Why a table of ranks rather than "first match wins": API Gateway does not honour
//! creation order. A request goes to the route whose path is most specific (literal
//! segments beat `{var}`, which beats a trailing `{var+}`), then to the route whose
//! method is the request's own rather than `ANY`, and only then to `$default`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Methods a route key may name; `ANY` stands for every method without its own route.
pub const METHODS: [&str; 8] = [
    "ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
];

/// API Gateway's resource ids (ApiId, RouteId, IntegrationId): 10 characters of `[a-z0-9]`.
pub const RESOURCE_ID_LEN: usize = 10;

const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A resource id from caller-supplied randomness, so id minting stays pure and testable;
/// the store draws the bytes and retries on the (rare) collision.
pub fn resource_id(random: [u8; RESOURCE_ID_LEN]) -> String {
    random
        .iter()
        .map(|b| ID_ALPHABET[usize::from(*b) % ID_ALPHABET.len()] as char)
        .collect()
}

/// Whether `s` has the shape of a resource id; a path `/v2/apis/{id}` that does not is
/// answered with NotFound without a store lookup.
pub fn is_resource_id(s: &str) -> bool {
    s.len() == RESOURCE_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Why a `RouteKey` was refused; the API layer answers `BadRequestException` with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid route key: {key}. {reason}")]
pub struct RouteKeyError {
    pub key: String,
    pub reason: &'static str,
}

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches exactly this text (compared after percent-decoding the request).
    Literal(String),
    /// `{name}`: exactly one non-empty request segment.
    Var(String),
    /// `{name+}`: one or more trailing request segments, joined with `/`.
    Greedy(String),
}

impl Segment {
    /// Lower is more specific; the order the precedence rules name.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Var(_) => 1,
            Segment::Greedy(_) => 2,
        }
    }
}

/// A parsed `RouteKey`: `$default`, or a method and a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Default,
    Path {
        /// One of [`METHODS`].
        method: String,
        /// Empty for the root path `/`.
        segments: Vec<Segment>,
    },
}

impl RouteKey {
    /// Parses a `RouteKey` member: `$default` or `METHOD /path` with one space.
    pub fn parse(key: &str) -> Result<Self, RouteKeyError> {
        let bad = |reason| RouteKeyError {
            key: key.to_string(),
            reason,
        };
        if key == "$default" {
            return Ok(RouteKey::Default);
        }
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| bad("A route key must be $default or a method and a path."))?;
        if !METHODS.contains(&method) {
            return Err(bad(
                "The method must be one of ANY, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT.",
            ));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| bad("The path must start with '/'."))?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            let last = parts.len() - 1;
            let mut names = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let seg = parse_segment(part).map_err(bad)?;
                if let Segment::Var(n) | Segment::Greedy(n) = &seg {
                    if names.contains(n) {
                        return Err(bad("A path variable may appear only once."));
                    }
                    names.push(n.clone());
                }
                if matches!(seg, Segment::Greedy(_)) && i != last {
                    return Err(bad(
                        "A greedy path variable must be the last segment of the path.",
                    ));
                }
                segments.push(seg);
            }
        }
        Ok(RouteKey::Path {
            method: method.to_string(),
            segments,
        })
    }
}

fn parse_segment(part: &str) -> Result<Segment, &'static str> {
    if part.is_empty() {
        return Err("The path may not contain empty segments.");
    }
    if let Some(inner) = part.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or("A path variable must span a whole segment, as in {name}.")?;
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(n) => (n, true),
            None => (inner, false),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if !valid {
            return Err("A path variable name must be non-empty and alphanumeric.");
        }
        return Ok(if greedy {
            Segment::Greedy(name.to_string())
        } else {
            Segment::Var(name.to_string())
        });
    }
    if part.contains(['{', '}']) {
        return Err("A path variable must span a whole segment, as in {name}.");
    }
    Ok(Segment::Literal(part.to_string()))
}

/// `%XX` decoded; unlike a query, `+` in a path is a plus. Invalid escapes stay as sent.
fn decode_path_segment(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path parameters of a match, decoded, in the `pathParameters` event member's form.
fn match_path(template: &[Segment], raw_path: &str) -> Option<BTreeMap<String, String>> {
    let rest = raw_path.strip_prefix('/')?;
    let request: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let mut params = BTreeMap::new();
    for (i, seg) in template.iter().enumerate() {
        match seg {
            Segment::Literal(text) => {
                if decode_path_segment(request.get(i)?) != *text {
                    return None;
                }
            }
            Segment::Var(name) => {
                let value = request.get(i).filter(|v| !v.is_empty())?;
                params.insert(name.clone(), decode_path_segment(value));
            }
            Segment::Greedy(name) => {
                let tail = request.get(i..).filter(|t| !t.is_empty())?;
                let joined: Vec<String> = tail.iter().map(|s| decode_path_segment(s)).collect();
                let value = joined.join("/");
                if value.is_empty() {
                    return None;
                }
                params.insert(name.clone(), value);
                return Some(params);
            }
        }
    }
    (request.len() == template.len()).then_some(params)
}

/// The route a request reached and what its path variables captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected<'a, T> {
    pub route: &'a T,
    /// Empty for `$default` and for templates without variables.
    pub path_parameters: BTreeMap<String, String>,
}

/// Picks the route for `method raw_path` among `routes` (each with its parsed key), by
/// API Gateway's precedence: the most specific path (segment by segment, literal before
/// `{var}` before `{var+}`, then the longer template), then the request's own method
/// before `ANY`, then `$default`. `None` means API Gateway's 404 `{"message":"Not Found"}`.
pub fn select<'a, T>(
    routes: &'a [(RouteKey, T)],
    method: &str,
    raw_path: &str,
) -> Option<Selected<'a, T>> {
    let mut best: Option<(&'a [Segment], bool, Selected<'a, T>)> = None;
    let mut default = None;
    for (key, route) in routes {
        let (route_method, segments) = match key {
            RouteKey::Default => {
                default = Some(route);
                continue;
            }
            RouteKey::Path { method, segments } => (method, segments),
        };
        let exact = route_method == method;
        if !exact && route_method != "ANY" {
            continue;
        }
        let Some(path_parameters) = match_path(segments, raw_path) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((b_segments, b_exact, _)) => match specificity(segments, b_segments) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => exact && !b_exact,
            },
        };
        if better {
            let selected = Selected {
                route,
                path_parameters,
            };
            best = Some((segments.as_slice(), exact, selected));
        }
    }
    best.map(|(_, _, s)| s).or_else(|| {
        default.map(|route| Selected {
            route,
            path_parameters: BTreeMap::new(),
        })
    })
}

/// `Less` when `a` is the more specific template of two that matched the same path.
fn specificity(a: &[Segment], b: &[Segment]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.rank().cmp(&y.rank()) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    // Same kinds up to the shorter one: only a greedy tail can make them differ in
    // length, and the template that spells out more segments is the more specific.
    b.len().cmp(&a.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> Vec<(RouteKey, String)> {
        keys.iter()
            .map(|k| (RouteKey::parse(k).unwrap(), (*k).to_string()))
            .collect()
    }

    fn pick(routes: &[(RouteKey, String)], method: &str, path: &str) -> Option<String> {
        select(routes, method, path).map(|s| s.route.clone())
    }

    /// The precedence table: each row is (routes present, request, route reached).
    /// The first rows are the worked example of AWS's "Routing API requests" section
    /// (`GET /pets/dog/1`, `GET /pets/dog/{id}`, `GET /pets/{proxy+}`, `ANY /{proxy+}`,
    /// `$default`); the rest pin down method, root, greedy and fallback behaviour.
    #[test]
    fn precedence_table() {
        let aws = table(&[
            "$default",
            "ANY /{proxy+}",
            "GET /pets/{proxy+}",
            "GET /pets/dog/{id}",
            "GET /pets/dog/1",
        ]);
        let methods = table(&["ANY /items/{id}", "GET /items/{id}", "POST /items"]);
        let no_default = table(&["GET /items", "GET /items/{id}"]);
        let mixed = table(&["ANY /a/b", "GET /a/{x}", "GET /{proxy+}"]);
        type Row<'a> = (&'a [(RouteKey, String)], &'a str, &'a str, Option<&'a str>);
        #[rustfmt::skip]
        let rows: &[Row] = &[
            // 1. full match of path and method wins over everything else.
            (&aws, "GET", "/pets/dog/1", Some("GET /pets/dog/1")),
            // 2. a path variable beats a greedy variable.
            (&aws, "GET", "/pets/dog/2", Some("GET /pets/dog/{id}")),
            // 3. the greedy route of the request's method catches deeper paths.
            (&aws, "GET", "/pets/cat/1", Some("GET /pets/{proxy+}")),
            // 4. no route of that method: the ANY greedy route takes it.
            (&aws, "POST", "/pets/dog/1", Some("ANY /{proxy+}")),
            // 5. a greedy variable needs at least one segment; `/` falls to $default.
            (&aws, "GET", "/", Some("$default")),
            // 6. `/pets` alone is not caught by `/pets/{proxy+}` but by `/{proxy+}`.
            (&aws, "GET", "/pets", Some("ANY /{proxy+}")),
            // 7. same template: the request's own method beats ANY.
            (&methods, "GET", "/items/7", Some("GET /items/{id}")),
            // 8. same template, other method: ANY.
            (&methods, "DELETE", "/items/7", Some("ANY /items/{id}")),
            // 9. a method route does not serve other methods: no $default, so 404.
            (&methods, "GET", "/items", None),
            // 10. exact method and path.
            (&methods, "POST", "/items", Some("POST /items")),
            // 11. without $default an unmatched path is 404.
            (&no_default, "GET", "/other", None),
            // 12. a variable matches one segment only, never two.
            (&no_default, "GET", "/items/7/parts", None),
            // 13. path specificity is judged before method: literal ANY beats GET {x}.
            (&mixed, "GET", "/a/b", Some("ANY /a/b")),
            // 14. GET {x} beats the GET greedy route.
            (&mixed, "GET", "/a/c", Some("GET /a/{x}")),
            // 15. a method no route names, no $default: 404 even though greedy GET exists.
            (&mixed, "PUT", "/a/c", None),
            // 16. literals compare after percent-decoding the request segment.
            (&aws, "GET", "/pets/dog/%31", Some("GET /pets/dog/1")),
        ];
        for (i, (routes, method, path, want)) in rows.iter().enumerate() {
            assert_eq!(
                pick(routes, method, path).as_deref(),
                *want,
                "row {}: {method} {path}",
                i + 1
            );
        }
    }

    #[test]
    fn path_parameters_are_captured_and_decoded() {
        let routes = table(&["GET /items/{id}", "GET /files/{path+}", "GET /u/{a}/{b}"]);
        let s = select(&routes, "GET", "/items/a%20b").unwrap();
        assert_eq!(s.path_parameters["id"], "a b");
        let s = select(&routes, "GET", "/files/x/y/z.txt").unwrap();
        assert_eq!(s.path_parameters["path"], "x/y/z.txt");
        let s = select(&routes, "GET", "/u/1/2").unwrap();
        assert_eq!(s.path_parameters.len(), 2);
        assert_eq!(
            (&*s.path_parameters["a"], &*s.path_parameters["b"]),
            ("1", "2")
        );
        let routes = table(&["$default"]);
        assert!(select(&routes, "GET", "/x")
            .unwrap()
            .path_parameters
            .is_empty());
    }

    #[test]
    fn route_keys_parse() {
        assert_eq!(RouteKey::parse("$default").unwrap(), RouteKey::Default);
        assert_eq!(
            RouteKey::parse("GET /").unwrap(),
            RouteKey::Path {
                method: "GET".into(),
                segments: vec![]
            }
        );
        assert_eq!(
            RouteKey::parse("ANY /{proxy+}").unwrap(),
            RouteKey::Path {
                method: "ANY".into(),
                segments: vec![Segment::Greedy("proxy".into())]
            }
        );
        for bad in [
            "",
            "GET",
            "get /items",
            "FETCH /items",
            "GET items",
            "GET  /items",
            "GET /items/",
            "GET /a//b",
            "GET /{proxy+}/tail",
            "GET /x{id}",
            "GET /{}",
            "GET /{id}/{id}",
            "$default ",
        ] {
            let err = RouteKey::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("Invalid route key"), "{bad}");
        }
    }

    #[test]
    fn ids() {
        let id = resource_id([0, 1, 25, 26, 35, 36, 255, 100, 7, 9]);
        assert_eq!(id, "abz09ad2hj");
        assert!(is_resource_id(&id));
        assert!(!is_resource_id("ABCDEFGHIJ"));
        assert!(!is_resource_id("abc"));
        assert!(!is_resource_id("abcdefghi-"));
    }
}
