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
use quiver_model::runtime_config::reported_version;
use quiver_model::{AvailableRuntime, RuntimeCatalogue, RuntimeKind};

const DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];

fn find(name: &str) -> Option<PathBuf> {
    DIRS.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// Runs `<bin> --version` with a clean environment and returns its output.
pub(super) fn version_output(bin: &Path) -> Option<String> {
    flag_output(bin, "--version")
}

/// Runs `java -version` (every JDK has it; `--version` is 9+); the JDK prints to stderr.
fn java_version_output(bin: &Path) -> Option<String> {
    flag_output(bin, "-version")
}

/// Runs `<bin> <flag>` with a clean environment; its stdout then stderr, trimmed.
fn flag_output(bin: &Path, flag: &str) -> Option<String> {
    let out = Command::new(bin)
        .arg(flag)
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

fn resolve(id: &str, java: &OnceCell<Option<(PathBuf, u32, String)>>) -> Option<AvailableRuntime> {
    let kind = kind_of(id)?;
    let found = |bin: PathBuf| {
        let v = reported_version(&kind, &version_output(&bin)?)?;
        Some(AvailableRuntime::host(id, bin, &v))
    };
    match kind {
        RuntimeKind::Python { minor } => found(find(&format!("python3.{minor}"))?),
        RuntimeKind::Node { major } => {
            found(find(&format!("node{major}")).or_else(|| find("node"))?)
        }
        RuntimeKind::Java { major } => {
            // Exact major only: a JDK 17 is never offered as java21 (or java11).
            let (bin, found, v) = java.get_or_init(probe_java).clone()?;
            (found == major).then(|| AvailableRuntime::host(id, bin, &v))
        }
        // Debian and Ubuntu ship `ruby3.N` behind `/usr/bin/ruby`; a host ruby whose
        // version matches no Lambda id (bookworm's 3.1) is not offered.
        RuntimeKind::Ruby { minor } => {
            found(find(&format!("ruby3.{minor}")).or_else(|| find("ruby"))?)
        }
        RuntimeKind::Provided if id != "provided" => Some(AvailableRuntime::package(id)),
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
    fn java_version_parsing() {
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
