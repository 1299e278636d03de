//! Resolves the runtime catalogue against this host, once, at server start.
//!
//! Interpreters are looked up by exact name in system directories only (never a PATH
//! lookup: a pyenv/nvm shim adds 100+ ms per start and may resolve differently per
//! directory), symlinks are resolved, and each is run once with an empty environment so
//! the version reported is the real one.

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

fn resolve(id: &str) -> Option<AvailableRuntime> {
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
        RuntimeKind::Provided if id != "provided" => Some(AvailableRuntime::package(id)),
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
