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
/// it as an executable file, else the config's Entrypoint with the handler appended;
/// an image with neither is refused. The runtime version: for `python3.N` the image
/// must hold an interpreter named `python3.N` (its version is that name: running it
/// needs a sandbox, which import does not build); other ids are not checked and show
/// the version `image`.
pub(crate) fn probe(
    root: &Path,
    kind: &RuntimeKind,
    id: &str,
    config: &Value,
) -> Result<Probe, ImageError> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = root.join("var/runtime/bootstrap");
    let (command, handler_arg) = match fs::symlink_metadata(&bootstrap) {
        Ok(md) if md.is_file() && md.permissions().mode() & 0o111 != 0 => {
            (vec!["/var/runtime/bootstrap".to_string()], false)
        }
        _ => {
            let entry = strings(&config["Entrypoint"]);
            if entry.is_empty() {
                return Err(ImageError::Runtime(
                    "the image has neither an executable /var/runtime/bootstrap nor an Entrypoint: nothing would run its runtime client".into(),
                ));
            }
            (entry, true)
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
    let (interpreter, version) = match kind {
        RuntimeKind::Python { minor } => {
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
