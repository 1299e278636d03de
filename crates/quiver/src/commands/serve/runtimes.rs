//! Resolves the runtime catalogue against this host, once, at server start.
//!
//! Interpreters are looked up by exact name in system directories only (never a PATH
//! lookup: a pyenv/nvm shim adds 100+ ms per start and may resolve differently per
//! directory), symlinks are resolved, and each is run once with an empty environment so
//! the version reported is the real one.

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

fn resolve(id: &str) -> Option<AvailableRuntime> {
    let found = |bin: PathBuf, version: String| AvailableRuntime {
        id: id.to_string(),
        interpreter: Some(bin),
        version,
    };
    match kind_of(id)? {
        RuntimeKind::Python { minor } => {
            let bin = find(&format!("python3.{minor}"))?;
            let v = python_version(&version_output(&bin)?, minor)?;
            Some(found(bin, v))
        }
        RuntimeKind::Node { major } => {
            let bin = find(&format!("node{major}")).or_else(|| find("node"))?;
            let v = node_version(&version_output(&bin)?, major)?;
            Some(found(bin, v))
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
    RuntimeCatalogue::new(LAMBDA_RUNTIMES.iter().filter_map(|id| resolve(id)))
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
}
