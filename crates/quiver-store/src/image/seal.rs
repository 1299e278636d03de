//! Shaping an unpacked root for sandboxes, and reading what it runs.
//!
//! A sandbox mounts over a few paths of the image's root (docs/sandbox.md §15), and a
//! mount point must exist as the right kind of file: mounting onto a symlink would
//! follow it, possibly out of the root. So, once per import, the mount points become
//! real directories (`dev`, `proc`, `tmp`, `opt`, `var/task`) and real files (the
//! `/etc` files Quiver writes per sandbox), replacing whatever the image had there.

use std::fs;
use std::path::Path;

use quiver_model::RuntimeKind;
use serde_json::Value;

use super::ImageError;

/// Where Quiver's built-in bootstraps go in a root (docs/wire.md §17).
const RUNTIME_DIR: &str = "var/runtime";
/// Directories a sandbox mounts over.
pub const MOUNT_DIRS: &[&str] = &["dev", "proc", "tmp", "opt", "etc", "var", "var/task"];
/// `/etc` files a sandbox binds over with its own (user, hostname, resolver).
pub const ETC_FILES: &[&str] = &[
    "passwd",
    "group",
    "hosts",
    "hostname",
    "resolv.conf",
    "nsswitch.conf",
];

/// Makes the mount points real (see the module doc).
pub(crate) fn seal(root: &Path) -> Result<(), ImageError> {
    for d in MOUNT_DIRS {
        let p = root.join(d);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                fs::remove_file(&p)?;
                fs::create_dir(&p)?;
            }
            Err(_) => fs::create_dir(&p)?,
        }
    }
    // Where Quiver's built-in bootstraps are bound when the image has none of its own:
    // created if missing, never replaced (an image's own /var/runtime stays as it is).
    let rt = root.join(RUNTIME_DIR);
    if fs::symlink_metadata(&rt).is_err() {
        fs::create_dir(&rt)?;
    }
    for f in ETC_FILES {
        let p = root.join("etc").join(f);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.is_file() => {}
            Ok(md) if md.is_dir() => fs::remove_dir_all(&p)?,
            Ok(_) => fs::remove_file(&p)?,
            Err(_) => {}
        }
        if !p.exists() {
            fs::write(&p, "")?;
        }
    }
    // /tmp and /dev are mounted afresh; what an image put there is never seen.
    Ok(())
}

/// What an image runs and which version, as read from its root and config.
pub(crate) struct Probe {
    pub command: Vec<String>,
    pub handler_arg: bool,
    pub env: Vec<(String, String)>,
    pub interpreter: Option<String>,
    pub version: String,
    pub os: Option<String>,
}

/// Where images keep interpreters: AWS's base images (`/var/lang`), then the usual.
const BIN_DIRS: &[&str] = &["var/lang/bin", "usr/local/bin", "usr/bin"];

fn is_file_or_link(p: &Path) -> bool {
    fs::symlink_metadata(p)
        .map(|m| m.is_file() || m.file_type().is_symlink())
        .unwrap_or(false)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `PRETTY_NAME` from os-release (read only as a regular file: `/etc/os-release` is
/// usually a symlink, which is not followed here).
fn os_name(root: &Path) -> Option<String> {
    ["usr/lib/os-release", "etc/os-release"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| {
            fs::symlink_metadata(p)
                .map(|m| m.is_file())
                .unwrap_or(false)
        })
        .and_then(|p| fs::read_to_string(p).ok())
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
}

/// The bootstrap rule (docs/wire.md §17): `/var/runtime/bootstrap` if the image has
/// it as an executable file, else the config's Entrypoint with the handler appended,
/// else (an interpreter-only image) Quiver's built-in bootstrap of the id's kind run by
/// the image's interpreter: an empty `command`. An image with none of the three is
/// refused. The runtime version: for `python3.N` the image must hold an interpreter
/// named `python3.N` (its version is that name: running it needs a sandbox, which
/// import does not build); for a built-in bootstrap see [`builtin_interpreter`]; other
/// ids are not checked and show the version `image`.
pub(crate) fn probe(
    root: &Path,
    kind: &RuntimeKind,
    id: &str,
    config: &Value,
) -> Result<Probe, ImageError> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = root.join("var/runtime/bootstrap");
    let mut builtin = None;
    let (command, handler_arg) = match fs::symlink_metadata(&bootstrap) {
        Ok(md) if md.is_file() && md.permissions().mode() & 0o111 != 0 => {
            (vec!["/var/runtime/bootstrap".to_string()], false)
        }
        _ => {
            let entry = strings(&config["Entrypoint"]);
            if entry.is_empty() {
                builtin = Some(builtin_interpreter(root, kind, id)?);
            }
            let handler_arg = !entry.is_empty();
            (entry, handler_arg)
        }
    };
    let env = strings(&config["Env"])
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let (interpreter, version) = match (builtin, kind) {
        (Some(found), _) => found,
        (None, RuntimeKind::Python { minor }) => {
            let name = format!("python3.{minor}");
            let found = BIN_DIRS
                .iter()
                .map(|d| format!("{d}/{name}"))
                .find(|p| is_file_or_link(&root.join(p)))
                .ok_or_else(|| {
                    ImageError::Runtime(format!(
                        "the image has no {name} (looked in /{}): it cannot be {id}",
                        BIN_DIRS.join(", /")
                    ))
                })?;
            (Some(format!("/{found}")), format!("3.{minor}"))
        }
        _ => (None, "image".to_string()),
    };
    Ok(Probe {
        command,
        handler_arg,
        env,
        interpreter,
        version,
        os: os_name(root),
    })
}

/// The interpreter Quiver's built-in bootstrap of `kind` runs on in an image without a
/// bootstrap of its own, and the version it can vouch for without running it:
/// `python3.N` / `ruby3.N` by their exact names (`ruby` when the image has only that:
/// version `image`), `java` with the major from its JDK's `release` file (a different
/// major is refused), `node` (version `image`). `/var/runtime` must be a real directory
/// (the bootstraps are bound there).
fn builtin_interpreter(
    root: &Path,
    kind: &RuntimeKind,
    id: &str,
) -> Result<(Option<String>, String), ImageError> {
    let refuse = |why: String| {
        ImageError::Runtime(format!(
            "the image has neither an executable /var/runtime/bootstrap nor an Entrypoint, and {why}: nothing would run its runtime client"
        ))
    };
    let find = |name: &str| {
        BIN_DIRS
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| is_file_or_link(&root.join(p)))
            .map(|p| format!("/{p}"))
    };
    let missing = |name: &str| {
        refuse(format!(
            "it has no {name} (looked in /{}) for Quiver's built-in {id} bootstrap",
            BIN_DIRS.join(", /")
        ))
    };
    let found = match kind {
        RuntimeKind::Python { minor } => {
            let name = format!("python3.{minor}");
            (
                find(&name).ok_or_else(|| missing(&name))?,
                format!("3.{minor}"),
            )
        }
        RuntimeKind::Ruby { minor } => {
            let name = format!("ruby3.{minor}");
            match find(&name) {
                Some(p) => (p, format!("3.{minor}")),
                None => (find("ruby").ok_or_else(|| missing("ruby"))?, "image".into()),
            }
        }
        RuntimeKind::Node { .. } => (find("node").ok_or_else(|| missing("node"))?, "image".into()),
        RuntimeKind::Java { major } => {
            let java = find("java").ok_or_else(|| missing("java"))?;
            let version = jdk_version(root, &java).unwrap_or_else(|| "image".into());
            let found_major = version
                .split(['.', '_', '-', '+'])
                .next()
                .and_then(|m| m.parse::<u32>().ok());
            if let Some(m) = found_major.filter(|m| m != major) {
                return Err(ImageError::Runtime(format!(
                    "the image's java is a JDK {m} ({version}): it cannot be {id}"
                )));
            }
            (java, version)
        }
        _ => return Err(refuse(format!("Quiver has no built-in bootstrap for {id}"))),
    };
    match fs::symlink_metadata(root.join(RUNTIME_DIR)) {
        Ok(md) if md.is_dir() => Ok((Some(found.0), found.1)),
        _ => Err(refuse(
            "its /var/runtime is not a directory (Quiver's bootstraps are bound there)".into(),
        )),
    }
}

/// Follows `path` (absolute, inside `root`) through symlinks, each resolved inside
/// `root` (never the host's files), at most 16 hops.
fn resolve_in(root: &Path, path: &str) -> Option<std::path::PathBuf> {
    let mut cur = std::path::PathBuf::from(path);
    for _ in 0..16 {
        let host = root.join(cur.strip_prefix("/").ok()?);
        let md = fs::symlink_metadata(&host).ok()?;
        if !md.file_type().is_symlink() {
            return Some(cur);
        }
        let target = fs::read_link(&host).ok()?;
        cur = if target.is_absolute() {
            target
        } else {
            cur.parent()?.join(target)
        };
        // `..` stays inside the root: normalise lexically.
        let mut norm = std::path::PathBuf::from("/");
        for c in cur.components() {
            match c {
                std::path::Component::ParentDir => {
                    norm.pop();
                }
                std::path::Component::Normal(n) => norm.push(n),
                _ => {}
            }
        }
        cur = norm;
    }
    None
}

/// `JAVA_VERSION` of the `release` file of the JDK `java` (a path in `root`) is in.
fn jdk_version(root: &Path, java: &str) -> Option<String> {
    let real = resolve_in(root, java)?;
    let home = real.parent()?.parent()?;
    let text = fs::read_to_string(root.join(home.strip_prefix("/").ok()?).join("release")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("JAVA_VERSION=")
            .map(|v| v.trim_matches('"').to_string())
    })
}
