//! Image references for registry pulls (`quiver runtime pull`, docs/wire.md §19): how a
//! reference is written, where it is fetched from, and AWS's base image for each
//! runtime id. Pure: the HTTP side lives in the binary.

use std::fmt;

/// A parsed `host[:port]/repository(:tag|@sha256:<hex>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host` or `host:port`, as written.
    pub registry: String,
    /// `lambda/python`: lowercase path components separated by `/`.
    pub repository: String,
    pub reference: Reference,
}

/// What in the repository is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    /// `sha256:<64 lowercase hex>`: the manifest's digest, which pins its content.
    Digest(String),
}

impl Reference {
    /// The last path segment of the manifest URL.
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) | Reference::Digest(t) => t,
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            Reference::Tag(t) => write!(f, "{}/{}:{t}", self.registry, self.repository),
            Reference::Digest(d) => write!(f, "{}/{}@{d}", self.registry, self.repository),
        }
    }
}

/// `sha256:<hex>` with exactly 64 lowercase hex digits.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn repo_component_ok(c: &str) -> bool {
    // The distribution spec's path component: [a-z0-9]+ joined by `.`, `_`, `__` or `-`s.
    !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
}

fn tag_ok(t: &str) -> bool {
    // [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
    (1..=128).contains(&t.len())
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn host_ok(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(']') || h.starts_with('[') => (n, Some(p)),
        _ => (h, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    name_ok && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok())
}

impl ImageRef {
    /// Parses `host[:port]/repo[/more]:tag`, `...@sha256:<hex>` (or both: the digest wins,
    /// as in Docker). The host is required (no Docker Hub short names): it is the part
    /// before the first `/`, and must hold a `.` or `:` or be `localhost`.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        let bad = |why: &str| format!("invalid image reference {s:?}: {why}");
        if s.len() > 1024 {
            return Err(bad("longer than 1024 characters"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !is_sha256_digest(d) {
                    return Err(bad("the digest must be sha256:<64 lowercase hex digits>"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (registry, path) = rest.split_once('/').ok_or_else(|| {
            bad("expected host[:port]/repository[:tag] (Docker Hub short names are not supported)")
        })?;
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost")
            || !host_ok(registry)
        {
            return Err(bad(
                "the registry host comes first (e.g. public.ecr.aws/lambda/python:3.13); Docker Hub short names are not supported",
            ));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) => (r, Some(t)),
            None => (path, None),
        };
        if !repository.split('/').all(repo_component_ok) {
            return Err(bad(
                "the repository is lowercase letters, digits and . _ - between slashes",
            ));
        }
        if let Some(t) = tag {
            if !tag_ok(t) {
                return Err(bad(
                    "a tag is up to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
                ));
            }
        }
        let reference = match (digest, tag) {
            (Some(d), _) => Reference::Digest(d),
            (None, Some(t)) => Reference::Tag(t.to_string()),
            (None, None) => Reference::Tag("latest".to_string()),
        };
        Ok(ImageRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    /// Whether the registry is this host's loopback, spoken to over plain HTTP
    /// (`localhost`, `127.x.x.x`, `[::1]`, with any port); every other registry is
    /// HTTPS only.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        host == "localhost"
            || host == "[::1]"
            || host.strip_prefix("127.").is_some_and(|r| {
                r.split('.').count() == 3 && r.split('.').all(|o| o.parse::<u8>().is_ok())
            })
    }

    /// `http://host` or `https://host`, see [`ImageRef::is_loopback`].
    pub fn base_url(&self) -> String {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.registry)
    }
}

/// AWS's public base image for a runtime id (the Lambda base images on ECR Public), the
/// default of `quiver runtime pull <id>`. Only ids AWS publishes an image for.
pub fn default_image(id: &str) -> Option<String> {
    let (repo, tag) = match id {
        "python3.8" | "python3.9" | "python3.10" | "python3.11" | "python3.12" | "python3.13"
        | "python3.14" => ("python", id.strip_prefix("python")?.to_string()),
        "nodejs18.x" | "nodejs20.x" | "nodejs22.x" | "nodejs24.x" => (
            "nodejs",
            id.strip_prefix("nodejs")?.strip_suffix(".x")?.to_string(),
        ),
        "java8.al2" => ("java", "8.al2".to_string()),
        "java11" | "java17" | "java21" | "java25" => ("java", id.strip_prefix("java")?.to_string()),
        "ruby3.2" | "ruby3.3" | "ruby3.4" => ("ruby", id.strip_prefix("ruby")?.to_string()),
        "dotnet8" | "dotnet10" => ("dotnet", id.strip_prefix("dotnet")?.to_string()),
        "provided.al2" | "provided.al2023" => {
            ("provided", id.strip_prefix("provided.")?.to_string())
        }
        _ => return None,
    };
    Some(format!("public.ecr.aws/lambda/{repo}:{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse() {
        let r = ImageRef::parse("public.ecr.aws/lambda/python:3.13").unwrap();
        assert_eq!(r.registry, "public.ecr.aws");
        assert_eq!(r.repository, "lambda/python");
        assert_eq!(r.reference, Reference::Tag("3.13".into()));
        assert_eq!(r.base_url(), "https://public.ecr.aws");
        let r = ImageRef::parse(&format!("127.0.0.1:5000/py@{D}")).unwrap();
        assert_eq!(r.reference, Reference::Digest(D.into()));
        assert_eq!(r.base_url(), "http://127.0.0.1:5000");
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/py@{D}"));
        let r = ImageRef::parse(&format!("localhost:5000/a/b:t@{D}")).unwrap();
        assert_eq!(r.reference, Reference::Digest(D.into()));
        let r = ImageRef::parse("localhost/a").unwrap();
        assert_eq!(r.reference, Reference::Tag("latest".into()));
        assert!(r.is_loopback());
        assert!(!ImageRef::parse("127.example.com/a:b")
            .unwrap()
            .is_loopback());
    }

    #[test]
    fn bad_references_are_refused() {
        for s in [
            "python:3.13",
            "library/python",
            "public.ecr.aws/Lambda/python:3",
            "public.ecr.aws/lambda//python",
            "public.ecr.aws/lambda/python:",
            "public.ecr.aws/lambda/python:.x",
            "public.ecr.aws/lambda/python@sha256:abc",
            "public.ecr.aws/lambda/python@md5:0123",
            "127.0.0.1:99999/a:b",
            "public.ecr.aws/../x:y",
        ] {
            assert!(ImageRef::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn aws_base_images() {
        assert_eq!(
            default_image("python3.12").as_deref(),
            Some("public.ecr.aws/lambda/python:3.12")
        );
        assert_eq!(
            default_image("nodejs22.x").as_deref(),
            Some("public.ecr.aws/lambda/nodejs:22")
        );
        assert_eq!(
            default_image("java21").as_deref(),
            Some("public.ecr.aws/lambda/java:21")
        );
        assert_eq!(
            default_image("java8.al2").as_deref(),
            Some("public.ecr.aws/lambda/java:8.al2")
        );
        assert_eq!(
            default_image("ruby3.3").as_deref(),
            Some("public.ecr.aws/lambda/ruby:3.3")
        );
        assert_eq!(
            default_image("provided.al2023").as_deref(),
            Some("public.ecr.aws/lambda/provided:al2023")
        );
        assert_eq!(default_image("python2.7"), None);
        assert_eq!(default_image("go1.x"), None);
        for id in crate::runtime::LAMBDA_RUNTIMES {
            if let Some(i) = default_image(id) {
                assert!(ImageRef::parse(&i).is_ok(), "{i}");
            }
        }
    }
}
