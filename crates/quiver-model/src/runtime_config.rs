//! Runtimes an operator adds from install prefixes outside the system directories
//! (pyenv, asdf, nvm, a hand-built `/opt/python3.12`): `--runtime <id>=<prefix>`,
//! `QUIVER_RUNTIMES`, `<data-dir>/runtimes.json`; how an interpreter's `--version`
//! output is read; and the hint a refusal gives for a runtime this server lacks.
//!
//! Pure: the binary checks the paths, runs the interpreters and builds the catalogue.

use std::path::{Component, Path, PathBuf};

use crate::runtime::{kind_of, RuntimeCatalogue, RuntimeKind};
use crate::ModelError;

/// One operator-configured runtime: a Lambda runtime id and the install prefix whose
/// interpreter runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRuntime {
    pub id: String,
    pub kind: RuntimeKind,
    /// Absolute, as written (the binary resolves symlinks before binding it).
    pub prefix: PathBuf,
}

fn bad(m: String) -> ModelError {
    ModelError::RuntimeConfig(m)
}

/// Where `kind`'s interpreter lives in an install prefix; None for kinds that cannot
/// come from one (no interpreter or no built-in bootstrap). A Java prefix is a
/// `JAVA_HOME` (SDKMAN's, a JDK tarball's, `/usr/lib/jvm/...`): the built-in bootstrap
/// is compiled by the `javac` next to its `java`, so it must be a JDK.
pub fn interpreter_in_prefix(kind: &RuntimeKind, prefix: &Path) -> Option<PathBuf> {
    match kind {
        // The exact minor's name: `bin/python3` may be re-pointed by a later install.
        RuntimeKind::Python { minor } => Some(prefix.join(format!("bin/python3.{minor}"))),
        RuntimeKind::Node { .. } => Some(prefix.join("bin/node")),
        RuntimeKind::Java { .. } => Some(prefix.join("bin/java")),
        RuntimeKind::Ruby { .. } => Some(prefix.join("bin/ruby")),
        _ => None,
    }
}

/// A second name to run when the exact interpreter is missing, only to say in the
/// refusal which version the prefix holds instead.
pub fn fallback_in_prefix(kind: &RuntimeKind, prefix: &Path) -> Option<PathBuf> {
    match kind {
        RuntimeKind::Python { .. } => Some(prefix.join("bin/python3")),
        _ => None,
    }
}

/// `id` and `prefix` as one configured runtime, or why not.
pub fn prefix_runtime(id: &str, prefix: &str) -> Result<PrefixRuntime, ModelError> {
    let id = id.trim();
    let prefix = prefix.trim();
    let kind = kind_of(id).ok_or_else(|| {
        bad(format!(
            "{id:?} is not a Lambda runtime id (e.g. python3.12, nodejs22.x)"
        ))
    })?;
    if interpreter_in_prefix(&kind, Path::new("/")).is_none() {
        return Err(bad(match kind {
            RuntimeKind::Provided => format!(
                "{id} needs no interpreter (the function's package brings its bootstrap); it takes no prefix"
            ),
            RuntimeKind::Unsupported => format!(
                "{id} cannot come from an install prefix: Quiver has no bootstrap for it (package the function as provided.al2023 with its own bootstrap)"
            ),
            _ => format!(
                "{id} cannot come from an install prefix (prefixes are for python3.x, nodejsNN.x, javaNN and ruby3.x)"
            ),
        }));
    }
    if prefix.is_empty() {
        return Err(bad(format!("{id}= names no install prefix")));
    }
    let path = Path::new(prefix);
    if !path.is_absolute() {
        return Err(bad(format!(
            "the prefix of {id} must be an absolute path (it is shown inside sandboxes at the same path): {prefix:?}"
        )));
    }
    // `/a/../b` would bind something else than it reads as.
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad(format!(
            "the prefix of {id} must not contain .. components: {prefix:?}"
        )));
    }
    Ok(PrefixRuntime {
        id: id.to_string(),
        kind,
        prefix: path.components().collect(),
    })
}

/// One `<id>=<prefix>` entry (a `--runtime` flag or an item of `QUIVER_RUNTIMES`).
pub fn parse_prefix_runtime(spec: &str) -> Result<PrefixRuntime, ModelError> {
    let (id, prefix) = spec.split_once('=').ok_or_else(|| {
        bad(format!(
            "expected <runtime id>=<install prefix>, e.g. python3.12=/root/.pyenv/versions/3.12.1, got {spec:?}"
        ))
    })?;
    prefix_runtime(id, prefix)
}

/// `runtimes.json`: one object mapping runtime ids to prefixes,
/// `{"python3.12": "/root/.pyenv/versions/3.12.1", "nodejs22.x": "/opt/node22"}`.
/// JSON because the workspace already reads it and the file needs no more.
pub fn parse_runtimes_file(text: &str) -> Result<Vec<PrefixRuntime>, ModelError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "expected one JSON object of runtime id to install prefix: {e}"
            ))
        })?;
    map.iter()
        .map(|(id, v)| match v.as_str() {
            Some(prefix) => prefix_runtime(id, prefix),
            None => Err(bad(format!("the prefix of {id} must be a string, got {v}"))),
        })
        .collect()
}

/// The file's entries, then the flags' (or `QUIVER_RUNTIMES`'): a flag replaces the
/// file's entry for the same id (the operator said so last); the same id twice among
/// the flags is refused (which one was meant?).
pub fn merge(
    file: Vec<PrefixRuntime>,
    flags: Vec<PrefixRuntime>,
) -> Result<Vec<PrefixRuntime>, ModelError> {
    for (i, a) in flags.iter().enumerate() {
        if let Some(b) = flags[..i].iter().find(|b| b.id == a.id) {
            return Err(bad(format!(
                "{} is given twice: {} and {}",
                a.id,
                b.prefix.display(),
                a.prefix.display()
            )));
        }
    }
    let mut out: Vec<PrefixRuntime> = file
        .into_iter()
        .filter(|f| !flags.iter().any(|x| x.id == f.id))
        .collect();
    out.extend(flags);
    Ok(out)
}

/// Sandbox paths a bind at the same path would hide or be hidden by: the root itself,
/// the directories every sandbox mounts afresh, and the ones it writes.
const RESERVED: &[&str] = &["/etc", "/dev", "/proc", "/tmp", "/var/task", "/var/runtime"];

/// Refuses a (resolved) prefix that cannot be shown at the same path inside a sandbox.
pub fn check_bind_target(id: &str, resolved: &Path) -> Result<(), ModelError> {
    let reserved = resolved.parent().is_none()
        || RESERVED.iter().any(|r| {
            let r = Path::new(r);
            resolved.starts_with(r) || r.starts_with(resolved)
        });
    if reserved {
        return Err(bad(format!(
            "the prefix of {id} resolves to {}, which sandboxes cannot show at the same path (it is /, or under or above one of {})",
            resolved.display(),
            RESERVED.join(", ")
        )));
    }
    Ok(())
}

/// The version an interpreter printed for `--version`, if it is the one `kind` needs:
/// `Python 3.12.1` for python3.12, `v22.3.0` for nodejs22.x.
pub fn reported_version(kind: &RuntimeKind, output: &str) -> Option<String> {
    match kind {
        RuntimeKind::Python { minor } => {
            let v = output.trim().strip_prefix("Python ")?.trim();
            let mut it = v.split('.');
            (it.next()? == "3" && it.next()?.parse::<u32>().ok()? == *minor).then(|| v.to_string())
        }
        RuntimeKind::Node { major } => {
            let v = output.trim().strip_prefix('v')?.trim();
            (v.split('.').next()?.parse::<u32>().ok()? == *major).then(|| v.to_string())
        }
        // `openjdk 17.0.13 2024-10-15` (`java --version`, JDK 9 and later; Oracle's
        // builds say `java 21.0.1 ...`)
        RuntimeKind::Java { major } => {
            let first = output.trim().lines().next()?;
            let v = first
                .strip_prefix("openjdk ")
                .or_else(|| first.strip_prefix("java "))?
                .split_whitespace()
                .next()?;
            (v.split(['.', '+', '-']).next()?.parse::<u32>().ok()? == *major).then(|| v.to_string())
        }
        // `ruby 3.3.8 (2025-04-09 revision b200bad6cd) [x86_64-linux-gnu]`
        RuntimeKind::Ruby { minor } => {
            let v = output
                .trim()
                .strip_prefix("ruby ")?
                .split_whitespace()
                .next()?;
            let v = v.split_once('p').map_or(v, |(a, _)| a);
            let mut it = v.split('.');
            (it.next()? == "3" && it.next()?.parse::<u32>().ok()? == *minor).then(|| v.to_string())
        }
        _ => None,
    }
}

/// What kind of install a prefix for `kind` must hold, for messages.
fn install_of(kind: &RuntimeKind) -> Option<String> {
    match kind {
        RuntimeKind::Python { minor } => Some(format!("a Python 3.{minor} install")),
        RuntimeKind::Node { major } => Some(format!("a Node.js {major} install")),
        RuntimeKind::Java { major } => Some(format!("a JDK {major} with javac (a JAVA_HOME)")),
        RuntimeKind::Ruby { minor } => Some(format!("a Ruby 3.{minor} install")),
        _ => None,
    }
}

/// Lambda's refusal of a runtime id it knows but this server cannot offer, with the
/// same opening words as AWS's own ("The runtime parameter of python2.7 is no longer
/// supported …"), what is available and how to add it.
pub fn unavailable_message(id: &str, catalogue: &RuntimeCatalogue) -> String {
    let available = catalogue.ids();
    let available = if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    };
    let hint = match kind_of(id) {
        None => String::new(),
        Some(RuntimeKind::Provided) => {
            "Use provided.al2023 or provided.al2 (the package brings its bootstrap).".into()
        }
        Some(RuntimeKind::Unsupported) => format!(
            "Quiver has no built-in runtime for {id}: package the function as provided.al2023 with its own bootstrap."
        ),
        Some(kind) => match install_of(&kind) {
            Some(install) => {
                let also = match kind {
                    RuntimeKind::Java { major } => format!(
                        ", or install a JDK {major} with javac as the host's java (e.g. openjdk-{major}-jdk-headless) and restart the server"
                    ),
                    RuntimeKind::Ruby { minor } => format!(
                        ", or import a runtime image that holds Ruby 3.{minor} (quiver runtime import {id} <image>)"
                    ),
                    _ => String::new(),
                };
                format!("Add it with: quiver serve --runtime {id}=<prefix of {install}>{also}.")
            }
            None => "Install its interpreter on this host and restart the server.".into(),
        },
    };
    // AWS publishes a base image for most ids: pulling it is the shortest way in.
    let hint = match crate::image_ref::default_image(id) {
        Some(image) => format!(
            "{hint}{} Or pull its image (with no server running on the data dir): quiver runtime pull {id} (default {image}).",
            if hint.is_empty() || hint.ends_with('.') { "" } else { "." }
        ),
        None => hint,
    };
    format!("The runtime parameter of {id} is not available on this server. Available: {available}. {hint}")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::AvailableRuntime;

    #[test]
    fn prefix_specs() {
        let ok = |s: &str, id: &str, prefix: &str| {
            let p = parse_prefix_runtime(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (p.id.as_str(), p.prefix.to_str().unwrap()),
                (id, prefix),
                "{s}"
            );
        };
        ok(
            "python3.12=/root/.pyenv/versions/3.12.1",
            "python3.12",
            "/root/.pyenv/versions/3.12.1",
        );
        ok(" nodejs22.x = /opt/node22/ ", "nodejs22.x", "/opt/node22");
        ok("python3.13=/opt//py", "python3.13", "/opt/py");
        ok("python3.12=/opt/a=b", "python3.12", "/opt/a=b");
        // `.` components vanish when the path is read; `..` cannot.
        ok("python3.12=/opt/./py", "python3.12", "/opt/py");
        ok(
            "java21=/root/.sdkman/candidates/java/21.0.2-tem",
            "java21",
            "/root/.sdkman/candidates/java/21.0.2-tem",
        );
        ok("ruby3.3=/opt/ruby", "ruby3.3", "/opt/ruby");
        let table: &[(&str, &str)] = &[
            ("python3.12", "expected <runtime id>=<install prefix>"),
            ("python3.12=", "names no install prefix"),
            ("python3.12=relative/dir", "must be an absolute path"),
            ("python3.12=/opt/../root", "must not contain .."),
            ("python9.9=/opt/py", "is not a Lambda runtime id"),
            ("Python3.12=/opt/py", "is not a Lambda runtime id"),
            ("provided.al2023=/opt/x", "takes no prefix"),
            ("dotnet8=/opt/dotnet", "Quiver has no bootstrap for it"),
            ("=/opt/py", "is not a Lambda runtime id"),
        ];
        for (spec, wanted) in table {
            let e = parse_prefix_runtime(spec).unwrap_err().to_string();
            assert!(e.contains(wanted), "{spec}: {e}");
        }
    }

    #[test]
    fn interpreters_in_prefixes() {
        let p = Path::new("/p");
        let py = RuntimeKind::Python { minor: 12 };
        let node = RuntimeKind::Node { major: 22 };
        assert_eq!(
            interpreter_in_prefix(&py, p).unwrap(),
            Path::new("/p/bin/python3.12")
        );
        assert_eq!(
            interpreter_in_prefix(&node, p).unwrap(),
            Path::new("/p/bin/node")
        );
        assert_eq!(
            interpreter_in_prefix(&RuntimeKind::Java { major: 21 }, p).unwrap(),
            Path::new("/p/bin/java")
        );
        assert_eq!(
            interpreter_in_prefix(&RuntimeKind::Ruby { minor: 3 }, p).unwrap(),
            Path::new("/p/bin/ruby")
        );
        assert_eq!(interpreter_in_prefix(&RuntimeKind::Provided, p), None);
        assert_eq!(
            fallback_in_prefix(&py, p).unwrap(),
            Path::new("/p/bin/python3")
        );
        assert_eq!(fallback_in_prefix(&node, p), None);
    }

    #[test]
    fn runtimes_file_and_merge() {
        let file =
            parse_runtimes_file(r#"{"python3.12": "/opt/py312", "nodejs22.x": "/opt/node22"}"#)
                .unwrap();
        assert_eq!(file.len(), 2);
        for (text, wanted) in [
            ("[]", "expected one JSON object"),
            ("{\"python3.12\": 3}", "must be a string"),
            ("{\"python3.12\": \"rel\"}", "absolute"),
        ] {
            let e = parse_runtimes_file(text).unwrap_err().to_string();
            assert!(e.contains(wanted), "{text}: {e}");
        }
        let flag = parse_prefix_runtime("python3.12=/root/py").unwrap();
        let merged = merge(file.clone(), vec![flag.clone()]).unwrap();
        let mut got: Vec<(String, PathBuf)> =
            merged.into_iter().map(|p| (p.id, p.prefix)).collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("nodejs22.x".to_string(), PathBuf::from("/opt/node22")),
                ("python3.12".to_string(), PathBuf::from("/root/py")),
            ]
        );
        let e = merge(vec![], vec![flag.clone(), flag])
            .unwrap_err()
            .to_string();
        assert!(e.contains("python3.12 is given twice"), "{e}");
    }

    #[test]
    fn bind_targets() {
        for ok in [
            "/root/.pyenv/versions/3.12.1",
            "/opt/py",
            "/usr/local/py",
            "/var/lib/py",
        ] {
            assert!(
                check_bind_target("python3.12", Path::new(ok)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "/",
            "/tmp/py",
            "/etc",
            "/var/task/x",
            "/var",
            "/dev/shm/py",
            "/proc",
        ] {
            assert!(
                check_bind_target("python3.12", Path::new(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn versions_must_match_the_id() {
        let py = |m| RuntimeKind::Python { minor: m };
        let node = |m| RuntimeKind::Node { major: m };
        let table: &[(RuntimeKind, &str, Option<&str>)] = &[
            (py(12), "Python 3.12.1", Some("3.12.1")),
            (py(12), "Python 3.12.1\n", Some("3.12.1")),
            (py(13), "Python 3.13.0", Some("3.13.0")),
            (py(12), "Python 3.13.0", None),
            (py(1), "Python 3.12.0", None),
            (py(12), "Python 2.12.0", None),
            (py(12), "3.12.1", None),
            (node(22), "v22.3.0", Some("22.3.0")),
            (node(22), "v20.11.1", None),
            (node(2), "v22.3.0", None),
            (node(22), "22.3.0", None),
            (RuntimeKind::Provided, "v22.3.0", None),
            (
                RuntimeKind::Ruby { minor: 3 },
                "ruby 3.3.8 (2025-04-09 revision b200bad6cd) [x86_64-linux-gnu]",
                Some("3.3.8"),
            ),
            (
                RuntimeKind::Ruby { minor: 3 },
                "ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]",
                None,
            ),
            (
                RuntimeKind::Ruby { minor: 1 },
                "ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]",
                Some("3.1.2"),
            ),
            (RuntimeKind::Ruby { minor: 3 }, "jruby 9.4.0", None),
            (
                RuntimeKind::Java { major: 17 },
                "openjdk 17.0.13 2024-10-15\nOpenJDK Runtime Environment (build 17.0.13+11-Debian-2deb12u1)",
                Some("17.0.13"),
            ),
            (
                RuntimeKind::Java { major: 21 },
                "java 21.0.1 2023-10-17 LTS\nJava(TM) SE Runtime Environment",
                Some("21.0.1"),
            ),
            (RuntimeKind::Java { major: 21 }, "openjdk 21 2023-09-19", Some("21")),
            (RuntimeKind::Java { major: 21 }, "openjdk 17.0.13 2024-10-15", None),
            (RuntimeKind::Java { major: 17 }, "openjdk version \"17.0.13\"", None),
        ];
        for (kind, out, wanted) in table {
            assert_eq!(
                reported_version(kind, out).as_deref(),
                *wanted,
                "{kind:?} {out:?}"
            );
        }
    }

    #[test]
    fn refusal_names_what_is_available_and_how_to_add_it() {
        let c = RuntimeCatalogue::new([
            AvailableRuntime::host("python3.11", "/usr/bin/python3.11", "3.11.2"),
            AvailableRuntime::package("provided.al2023"),
        ]);
        let table: &[(&str, &str)] = &[
            (
                "python3.12",
                "Add it with: quiver serve --runtime python3.12=<prefix of a Python 3.12 install>",
            ),
            (
                "nodejs22.x",
                "Add it with: quiver serve --runtime nodejs22.x=<prefix of a Node.js 22 install>",
            ),
            ("provided", "Use provided.al2023 or provided.al2"),
            ("dotnet8", "Quiver has no built-in runtime for dotnet8"),
            (
                "ruby3.3",
                "Add it with: quiver serve --runtime ruby3.3=<prefix of a Ruby 3.3 install>, or import a runtime image that holds Ruby 3.3 (quiver runtime import ruby3.3 <image>).",
            ),
            (
                "java21",
                "Add it with: quiver serve --runtime java21=<prefix of a JDK 21 with javac (a JAVA_HOME)>, or install a JDK 21",
            ),
            (
                "java21",
                "Or pull its image (with no server running on the data dir): quiver runtime pull java21 (default public.ecr.aws/lambda/java:21).",
            ),
        ];
        for (id, hint) in table {
            let m = unavailable_message(id, &c);
            assert!(
                m.starts_with(&format!(
                    "The runtime parameter of {id} is not available on this server. Available: provided.al2023, python3.11. "
                )),
                "{m}"
            );
            assert!(m.contains(hint), "{m}");
        }
        assert!(
            unavailable_message("python3.12", &RuntimeCatalogue::default())
                .contains("Available: none.")
        );
        assert!(!unavailable_message("python2.7", &c).contains("quiver runtime pull"));
    }
}
