//! Operator-configured runtimes (`--runtime <id>=<prefix>`, `QUIVER_RUNTIMES`,
//! `<data-dir>/runtimes.json`): each prefix is resolved, its interpreter run once, and
//! anything wrong refuses the start, naming the id, the prefix and what was found —
//! a server that starts must be able to run every runtime it lists.

use std::path::Path;

use anyhow::{bail, Context};
use quiver_model::runtime_config::{
    check_bind_target, fallback_in_prefix, interpreter_in_prefix, merge, parse_runtimes_file,
    reported_version,
};
use quiver_model::{AvailableRuntime, PrefixRuntime, RuntimeCatalogue};

use super::runtimes::version_output;

/// The configuration file in the data dir; absent means none.
pub const FILE: &str = "runtimes.json";

/// The file's entries overridden by the flags' (or `QUIVER_RUNTIMES`').
pub fn configured(data_dir: &Path, flags: &[PrefixRuntime]) -> anyhow::Result<Vec<PrefixRuntime>> {
    let path = data_dir.join(FILE);
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => parse_runtimes_file(&text).with_context(|| format!("in {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(merge(file, flags.to_vec())?)
}

/// Resolves one configured runtime: the prefix exists (symlinks resolved, since that
/// real path is what gets bound), its interpreter is there, inside it, and reports the
/// version the id promises.
pub fn resolve(p: &PrefixRuntime) -> anyhow::Result<AvailableRuntime> {
    let shown = p.prefix.display();
    let prefix = p
        .prefix
        .canonicalize()
        .with_context(|| format!("runtime {}: prefix {shown} does not exist", p.id))?;
    if !prefix.is_dir() {
        bail!("runtime {}: prefix {shown} is not a directory", p.id);
    }
    check_bind_target(&p.id, &prefix)?;
    let Some(bin) = interpreter_in_prefix(&p.kind, &prefix) else {
        bail!("runtime {} cannot come from an install prefix", p.id);
    };
    if !bin.is_file() {
        let found = fallback_in_prefix(&p.kind, &prefix)
            .filter(|f| f.is_file())
            .and_then(|f| version_output(&f).map(|v| format!("; it holds {v} ({})", f.display())))
            .unwrap_or_default();
        bail!(
            "runtime {}: prefix {shown} has no {}{found}",
            p.id,
            bin.strip_prefix(&prefix).unwrap_or(&bin).display()
        );
    }
    // What the sandbox will exec must be inside what it is shown.
    let real = bin
        .canonicalize()
        .with_context(|| format!("runtime {}: cannot resolve {}", p.id, bin.display()))?;
    if !real.starts_with(&prefix) {
        bail!(
            "runtime {}: {} resolves to {}, outside the prefix {shown}; give the prefix that holds it",
            p.id,
            bin.display(),
            real.display()
        );
    }
    let Some(output) = version_output(&real) else {
        bail!(
            "runtime {}: {} --version failed (prefix {shown})",
            p.id,
            real.display()
        );
    };
    let Some(version) = reported_version(&p.kind, &output) else {
        bail!(
            "runtime {}: prefix {shown} holds {output:?} ({}), not the version {} needs",
            p.id,
            real.display(),
            p.id
        );
    };
    // The built-in Java bootstrap is compiled by the javac next to this java.
    if matches!(p.kind, quiver_model::RuntimeKind::Java { .. })
        && !real.with_file_name("javac").is_file()
    {
        bail!(
            "runtime {}: prefix {shown} is a JRE (no bin/javac next to {}); give the JAVA_HOME of a JDK {}",
            p.id,
            real.display(),
            version
        );
    }
    Ok(AvailableRuntime::prefix(&p.id, prefix, real, &version))
}

/// The host's catalogue with the configured runtimes added; a configured id replaces
/// the host's (the operator asked for that install).
pub fn catalogue(
    host: RuntimeCatalogue,
    configured: &[PrefixRuntime],
) -> anyhow::Result<RuntimeCatalogue> {
    let mut added = Vec::new();
    for p in configured {
        let rt = resolve(p)?;
        if let Some(h) = host.get(&rt.id) {
            tracing::info!(runtime = %rt.id, host_version = %h.version, "the configured prefix replaces the host's interpreter");
        }
        added.push(rt);
    }
    Ok(RuntimeCatalogue::new(host.iter().cloned().chain(added)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    /// A prefix whose `bin/<name>` is a script printing `says`.
    fn fake_prefix(root: &Path, dir: &str, name: &str, says: &str) -> PathBuf {
        let prefix = root.join(dir);
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        let bin = prefix.join("bin").join(name);
        std::fs::write(&bin, format!("#!/bin/sh\necho '{says}'\n")).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        prefix
    }

    fn spec(s: &str) -> PrefixRuntime {
        quiver_model::runtime_config::parse_prefix_runtime(s).unwrap()
    }

    #[test]
    fn prefixes_are_checked_before_the_server_starts() {
        // Not under /tmp: a sandbox mounts its own /tmp, so prefixes there are refused.
        let root = PathBuf::from(format!(
            "/var/tmp/quiver-prefix-test-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let r = root.display();
        let good = fake_prefix(&root, "py312", "python3.12", "Python 3.12.7");
        fake_prefix(&root, "wrong", "python3.12", "Python 3.11.2");
        fake_prefix(&root, "other", "python3", "Python 3.13.0");
        fake_prefix(&root, "node", "node", "v22.3.0");
        std::fs::create_dir_all(root.join("escape/bin")).unwrap();
        std::os::unix::fs::symlink(
            good.join("bin/python3.12"),
            root.join("escape/bin/python3.12"),
        )
        .unwrap();
        let rt = resolve(&spec(&format!("python3.12={r}/py312"))).unwrap();
        assert_eq!(rt.version, "3.12.7");
        assert_eq!(
            rt.interpreter.as_deref(),
            Some(good.join("bin/python3.12").as_path())
        );
        assert_eq!(rt.binds(), vec![good.clone()]);
        assert_eq!(
            resolve(&spec(&format!("nodejs22.x={r}/node")))
                .unwrap()
                .version,
            "22.3.0"
        );
        let table: &[(String, String)] = &[
            (
                format!("python3.12={r}/wrong"),
                format!("runtime python3.12: prefix {r}/wrong holds \"Python 3.11.2\""),
            ),
            (
                format!("python3.12={r}/other"),
                format!("prefix {r}/other has no bin/python3.12; it holds Python 3.13.0"),
            ),
            (
                format!("nodejs20.x={r}/node"),
                "holds \"v22.3.0\"".to_string(),
            ),
            (
                format!("python3.12={r}/missing"),
                "does not exist".to_string(),
            ),
            (
                format!("python3.12={r}/escape"),
                "outside the prefix".to_string(),
            ),
        ];
        for (s, wanted) in table {
            let e = format!("{:#}", resolve(&spec(s)).unwrap_err());
            assert!(e.contains(wanted.as_str()), "{s}: {e}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_file_is_optional_and_flags_replace_its_entries() {
        let dir = std::env::temp_dir().join(format!("quiver-rtfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(configured(&dir, &[]).unwrap().is_empty());
        std::fs::write(
            dir.join(FILE),
            r#"{"python3.12": "/a", "nodejs22.x": "/b"}"#,
        )
        .unwrap();
        let got = configured(&dir, &[spec("python3.12=/c")]).unwrap();
        let mut got: Vec<String> = got
            .iter()
            .map(|p| format!("{}={}", p.id, p.prefix.display()))
            .collect();
        got.sort();
        assert_eq!(got, ["nodejs22.x=/b", "python3.12=/c"]);
        std::fs::write(dir.join(FILE), "{oops").unwrap();
        let e = format!("{:#}", configured(&dir, &[]).unwrap_err());
        assert!(
            e.contains("runtimes.json") && e.contains("JSON object"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
