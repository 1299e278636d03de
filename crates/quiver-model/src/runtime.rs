//! The runtime catalogue: Lambda's runtime ids, and which of them this host can offer.
//!
//! Probing the host (finding and running interpreters) is IO and lives in the binary;
//! this module only holds the table and the resolved, immutable result.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every value of Lambda's `Runtime` enum (botocore model), deprecated ones included:
/// an id outside this list is a ValidationException, an id inside it that the host
/// cannot run is an InvalidParameterValueException.
pub const LAMBDA_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// How Quiver would run a runtime id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `python3.<minor>`: needs an interpreter named exactly `python3.<minor>`.
    Python { minor: u32 },
    /// `nodejs<major>.x`: needs a `node` whose major version is `major`.
    Node { major: u32 },
    /// `java<major>` (and `java8.al2`): needs a `java` whose major version is `major`, and
    /// its `javac` (the built-in bootstrap is compiled with it).
    Java { major: u32 },
    /// `ruby3.<minor>` (3.2 and later): needs a `ruby` of that version. No Debian or
    /// Ubuntu host ships one that matches a Lambda id (bookworm has 3.1), so in practice
    /// it runs on a runtime image that holds the interpreter (docs/wire.md §17).
    Ruby { minor: u32 },
    /// `provided*`: the package brings its own `bootstrap`; no interpreter.
    Provided,
    /// Any other Lambda runtime (.NET, the Ruby 2.x ids, the Amazon Linux 1 `java8`, …):
    /// Quiver has no bootstrap for it.
    Unsupported,
}

/// Classifies a Lambda runtime id (None when it is not a Lambda enum value).
pub fn kind_of(id: &str) -> Option<RuntimeKind> {
    if !LAMBDA_RUNTIMES.contains(&id) {
        return None;
    }
    if let Some(minor) = id.strip_prefix("python3.").and_then(|m| m.parse().ok()) {
        return Some(RuntimeKind::Python { minor });
    }
    if let Some(major) = id
        .strip_prefix("nodejs")
        .and_then(|m| m.strip_suffix(".x"))
        .and_then(|m| m.parse().ok())
    {
        return Some(RuntimeKind::Node { major });
    }
    // `java8` ran on Amazon Linux 1 and is deprecated; `java8.al2` is its successor.
    if let Some(major) = id
        .strip_prefix("java")
        .map(|m| m.strip_suffix(".al2").unwrap_or(m))
        .filter(|m| *m != "8" || id == "java8.al2")
        .and_then(|m| m.parse().ok())
    {
        return Some(RuntimeKind::Java { major });
    }
    // ruby2.5 and ruby2.7 are long deprecated and not runnable on any current Ruby.
    if let Some(minor) = id
        .strip_prefix("ruby3.")
        .and_then(|m| m.parse().ok())
        .filter(|m| *m >= 2)
    {
        return Some(RuntimeKind::Ruby { minor });
    }
    if id.starts_with("provided") {
        return Some(RuntimeKind::Provided);
    }
    Some(RuntimeKind::Unsupported)
}

/// Where a runtime of the catalogue comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeSource {
    /// An interpreter found at its exact name in the host's system directories.
    Host,
    /// An operator-configured install prefix (`--runtime <id>=<prefix>`, symlinks
    /// resolved), shown read-only at the same path in the sandboxes that run it.
    Prefix(PathBuf),
    /// `provided*`: the function's package brings its own `bootstrap`.
    Package,
    /// An imported runtime image (`quiver runtime import`): its root is the sandbox's
    /// `/` and its own bootstrap runs (docs/wire.md §17).
    Image(ImageRuntime),
}

/// A runtime image as the engine needs it: where its root is and how it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRuntime {
    /// `sha256:<hex>` of the image's config (its image id) or of a rootfs import.
    pub digest: String,
    /// The unpacked, read-only root on the host.
    pub root: PathBuf,
    /// The runtime's command: `/var/runtime/bootstrap` or the image's Entrypoint; empty
    /// when the image holds only an interpreter and Quiver's built-in bootstrap of the
    /// id's kind runs on it (docs/wire.md §17).
    pub command: Vec<String>,
    /// Whether the function's handler is appended to `command` (an Entrypoint).
    pub handler_arg: bool,
    /// The image config's Env (under the function's own variables).
    pub env: Vec<(String, String)>,
    /// The image's os-release `PRETTY_NAME`.
    pub os: Option<String>,
    /// The registry reference it was pulled from, pinned to the manifest's digest
    /// (`host/repo:tag@sha256:...`); `None` for an imported archive or directory.
    pub reference: Option<String>,
}

impl RuntimeSource {
    /// The word `quiver runtime ls` and the admin endpoint show.
    pub fn label(&self) -> &'static str {
        match self {
            RuntimeSource::Host => "host",
            RuntimeSource::Prefix(_) => "prefix",
            RuntimeSource::Package => "package",
            RuntimeSource::Image(_) => "image",
        }
    }
}

/// One runtime this host can run, resolved at server start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableRuntime {
    pub id: String,
    /// The real interpreter binary (symlinks resolved); None for `provided*`.
    pub interpreter: Option<PathBuf>,
    /// The version the interpreter reported when run, e.g. `3.11.2`; `provided` for provided.*.
    pub version: String,
    pub source: RuntimeSource,
}

impl AvailableRuntime {
    /// An interpreter of the host's system directories.
    pub fn host(id: &str, interpreter: impl Into<PathBuf>, version: &str) -> Self {
        Self {
            id: id.into(),
            interpreter: Some(interpreter.into()),
            version: version.into(),
            source: RuntimeSource::Host,
        }
    }

    /// An interpreter inside an operator-configured install prefix.
    pub fn prefix(
        id: &str,
        prefix: impl Into<PathBuf>,
        interpreter: impl Into<PathBuf>,
        version: &str,
    ) -> Self {
        Self {
            id: id.into(),
            interpreter: Some(interpreter.into()),
            version: version.into(),
            source: RuntimeSource::Prefix(prefix.into()),
        }
    }

    /// A runtime image imported into the image store; `interpreter` is the path the
    /// runtime id's interpreter has inside the image, if it needs one.
    pub fn image(
        id: &str,
        interpreter: Option<PathBuf>,
        version: &str,
        image: ImageRuntime,
    ) -> Self {
        Self {
            id: id.into(),
            interpreter,
            version: version.into(),
            source: RuntimeSource::Image(image),
        }
    }

    /// The image this runtime runs on, if it is an image runtime.
    pub fn image_runtime(&self) -> Option<&ImageRuntime> {
        match &self.source {
            RuntimeSource::Image(i) => Some(i),
            _ => None,
        }
    }

    /// A `provided*` runtime: nothing to run but the package's bootstrap.
    pub fn package(id: &str) -> Self {
        Self {
            id: id.into(),
            interpreter: None,
            version: "provided".into(),
            source: RuntimeSource::Package,
        }
    }

    /// Host paths a sandbox running this runtime must show read-only at the same path,
    /// beyond `/usr`: the install prefix, or for a host interpreter whose real file is
    /// outside `/usr` (`/usr/local/bin/node` → `/opt/node/bin/node`) the directory
    /// above its `bin`. Sandboxes of other runtimes do not see them.
    pub fn binds(&self) -> Vec<PathBuf> {
        match (&self.source, &self.interpreter) {
            // Paths inside an image are the image's, not the host's.
            (RuntimeSource::Image(_), _) => Vec::new(),
            (RuntimeSource::Prefix(p), _) => vec![p.clone()],
            (RuntimeSource::Host, Some(bin)) if !bin.starts_with("/usr") => bin
                .parent()
                .and_then(std::path::Path::parent)
                .filter(|p| p.parent().is_some())
                .map(|p| vec![p.to_path_buf()])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// The resolved catalogue: immutable after start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeCatalogue {
    available: BTreeMap<String, AvailableRuntime>,
}

impl RuntimeCatalogue {
    pub fn new(runtimes: impl IntoIterator<Item = AvailableRuntime>) -> Self {
        Self {
            available: runtimes.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&AvailableRuntime> {
        self.available.get(id)
    }

    /// Sorted ids, for messages and start-up output.
    pub fn ids(&self) -> Vec<&str> {
        self.available.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &AvailableRuntime> {
        self.available.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_classified() {
        assert_eq!(
            kind_of("python3.11"),
            Some(RuntimeKind::Python { minor: 11 })
        );
        assert_eq!(kind_of("nodejs20.x"), Some(RuntimeKind::Node { major: 20 }));
        assert_eq!(kind_of("provided.al2023"), Some(RuntimeKind::Provided));
        assert_eq!(kind_of("java21"), Some(RuntimeKind::Java { major: 21 }));
        assert_eq!(kind_of("java17"), Some(RuntimeKind::Java { major: 17 }));
        assert_eq!(kind_of("java8.al2"), Some(RuntimeKind::Java { major: 8 }));
        assert_eq!(kind_of("java8"), Some(RuntimeKind::Unsupported));
        assert_eq!(kind_of("ruby3.3"), Some(RuntimeKind::Ruby { minor: 3 }));
        assert_eq!(kind_of("ruby3.2"), Some(RuntimeKind::Ruby { minor: 2 }));
        assert_eq!(kind_of("ruby3.4"), Some(RuntimeKind::Ruby { minor: 4 }));
        assert_eq!(kind_of("ruby2.7"), Some(RuntimeKind::Unsupported));
        assert_eq!(kind_of("dotnet8"), Some(RuntimeKind::Unsupported));
        assert_eq!(kind_of("python4.0"), None);
        assert_eq!(kind_of("Python3.11"), None);
    }

    #[test]
    fn catalogue_lists_ids_sorted() {
        let c = RuntimeCatalogue::new([
            AvailableRuntime::host("python3.11", "/usr/bin/python3.11", "3.11.2"),
            AvailableRuntime::host("nodejs20.x", "/usr/bin/node", "20.1.0"),
        ]);
        assert_eq!(c.ids(), vec!["nodejs20.x", "python3.11"]);
        assert_eq!(c.get("python3.11").unwrap().version, "3.11.2");
        assert!(c.get("python3.12").is_none());
    }

    #[test]
    fn binds_only_what_is_outside_usr() {
        let table: &[(AvailableRuntime, &[&str])] = &[
            (
                AvailableRuntime::host("python3.11", "/usr/bin/python3.11", "3.11.2"),
                &[],
            ),
            (
                AvailableRuntime::host("nodejs20.x", "/opt/node/bin/node", "20.1.0"),
                &["/opt/node"],
            ),
            (AvailableRuntime::host("nodejs20.x", "/node", "20.1.0"), &[]),
            (
                AvailableRuntime::prefix(
                    "python3.12",
                    "/root/py",
                    "/root/py/bin/python3.12",
                    "3.12.1",
                ),
                &["/root/py"],
            ),
            (
                AvailableRuntime::prefix(
                    "python3.12",
                    "/usr/local/py",
                    "/usr/local/py/bin/python3.12",
                    "3.12.1",
                ),
                &["/usr/local/py"],
            ),
            (AvailableRuntime::package("provided.al2023"), &[]),
        ];
        for (rt, wanted) in table {
            let got = rt.binds();
            let got: Vec<&str> = got.iter().map(|p| p.to_str().unwrap()).collect();
            assert_eq!(&got, wanted, "{rt:?}");
        }
        assert_eq!(
            AvailableRuntime::package("provided.al2").source.label(),
            "package"
        );
    }
}
