//! Resolves the runtime catalogue against this host, once, at server start.
//!
//! Interpreters are looked up by exact name in system directories only (never a PATH
//! lookup: a pyenv/nvm shim adds 100+ ms per start and may resolve differently per
//! directory), symlinks are resolved, and each is run once with an empty environment so
//! the version reported is the real one. Java is probed once for all `java*` ids (one
//! JVM start), and offered only with its `javac` beside it: the built-in Java bootstrap
//! is compiled with it on the first Java cold start.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use quiver_model::runtime::{kind_of, LAMBDA_RUNTIMES};
use quiver_model::{AvailableRuntime, RuntimeCatalogue, RuntimeKind};

const DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];

fn find(name: &str) -> Option<PathBuf> {
    DIRS.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// Runs `<bin> --version` with a clean environment and returns its output.
fn version_output(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .arg("--version")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(text.trim().to_string())
}

/// Runs `java -version` (every JDK has it; `--version` is 9+) and returns what it printed.
fn java_version_output(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .arg("-version")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Some(text)
}

/// `openjdk version "17.0.15" 2025-04-15` → (17, `17.0.15`); `"1.8.0_412"` → (8, …).
fn java_version(output: &str) -> Option<(u32, String)> {
    let first = output.lines().next()?;
    let v = first.split('"').nth(1)?.trim();
    let mut it = v.split(['.', '_', '-', '+']);
    let mut major: u32 = it.next()?.parse().ok()?;
    if major == 1 {
        major = it.next()?.parse().ok()?;
    }
    Some((major, v.to_string()))
}

/// The host's JDK: its real `java`, major and version, if `javac` is beside it.
fn probe_java() -> Option<(PathBuf, u32, String)> {
    let bin = find("java")?;
    let (major, v) = java_version(&java_version_output(&bin)?)?;
    let javac = bin.with_file_name("javac");
    if !javac.is_file() {
        tracing::warn!(
            java = %bin.display(),
            "java{major} not offered: no javac beside the host's java (the Java bootstrap is compiled with it; install a JDK, e.g. openjdk-{major}-jdk-headless)"
        );
        return None;
    }
    Some((bin, major, v))
}

/// `Python 3.11.2` → `3.11.2` if it is 3.<minor>.
fn python_version(output: &str, minor: u32) -> Option<String> {
    let v = output.strip_prefix("Python ")?.trim();
    let mut it = v.split('.');
    (it.next()? == "3" && it.next()?.parse::<u32>().ok()? == minor).then(|| v.to_string())
}

/// `v20.11.1` → `20.11.1` if the major matches.
fn node_version(output: &str, major: u32) -> Option<String> {
    let v = output.strip_prefix('v')?.trim();
    (v.split('.').next()?.parse::<u32>().ok()? == major).then(|| v.to_string())
}

fn resolve(id: &str, java: &OnceCell<Option<(PathBuf, u32, String)>>) -> Option<AvailableRuntime> {
    let found_rt = |bin: PathBuf, version: String| AvailableRuntime {
        id: id.to_string(),
        interpreter: Some(bin),
        version,
    };
    match kind_of(id)? {
        RuntimeKind::Python { minor } => {
            let bin = find(&format!("python3.{minor}"))?;
            let v = python_version(&version_output(&bin)?, minor)?;
            Some(found_rt(bin, v))
        }
        RuntimeKind::Node { major } => {
            let bin = find(&format!("node{major}")).or_else(|| find("node"))?;
            let v = node_version(&version_output(&bin)?, major)?;
            Some(found_rt(bin, v))
        }
        RuntimeKind::Java { major } => {
            // Exact major only: a JDK 17 is never offered as java21 (or java11).
            let (bin, found, v) = java.get_or_init(probe_java).clone()?;
            (found == major).then(|| found_rt(bin, v))
        }
        RuntimeKind::Provided if id != "provided" => Some(AvailableRuntime {
            id: id.to_string(),
            interpreter: None,
            version: "provided".into(),
        }),
        _ => None,
    }
}

/// Probes every Lambda runtime id this host might offer.
pub fn probe() -> RuntimeCatalogue {
    let java = OnceCell::new();
    RuntimeCatalogue::new(LAMBDA_RUNTIMES.iter().filter_map(|id| resolve(id, &java)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parsing() {
        assert_eq!(
            python_version("Python 3.11.2", 11).as_deref(),
            Some("3.11.2")
        );
        assert_eq!(python_version("Python 3.12.0", 11), None);
        assert_eq!(node_version("v20.20.2", 20).as_deref(), Some("20.20.2"));
        assert_eq!(node_version("v18.1.0", 20), None);
        let jdk17 = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment";
        assert_eq!(java_version(jdk17), Some((17, "17.0.15".into())));
        assert_eq!(
            java_version("openjdk version \"1.8.0_412\"\n"),
            Some((8, "1.8.0_412".into()))
        );
        assert_eq!(
            java_version("openjdk version \"21\" 2023-09-19"),
            Some((21, "21".into()))
        );
        assert_eq!(java_version("garbage"), None);
    }

    #[test]
    fn provided_runtimes_need_nothing_and_python_is_real() {
        let c = probe();
        assert!(c.get("provided.al2023").is_some());
        assert!(c.get("provided.al2").is_some());
        for rt in c.iter() {
            if let Some(bin) = &rt.interpreter {
                assert!(bin.is_absolute() && !bin.is_symlink(), "{bin:?}");
                assert!(!bin.to_string_lossy().contains("shims"), "{bin:?}");
            }
        }
    }

    #[test]
    fn java_is_offered_only_for_its_own_major_with_javac() {
        for rt in probe().iter() {
            if let Some(RuntimeKind::Java { major }) = kind_of(&rt.id) {
                let bin = rt.interpreter.as_ref().expect("java has an interpreter");
                let (found, _) = java_version(&java_version_output(bin).unwrap()).unwrap();
                assert_eq!(found, major, "{} offered on a JDK {found}", rt.id);
                assert!(bin.with_file_name("javac").is_file(), "{bin:?}");
            }
        }
    }
}
