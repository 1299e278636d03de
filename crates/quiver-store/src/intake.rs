//! Zip intake: hostile-input extraction of a code package into a fresh directory.
//!
//! The zip comes from the network, so nothing in it is trusted: sizes are counted as
//! bytes are actually written (headers can lie), paths must stay inside the root,
//! symlinks are created last (so no file is ever written through one) and must resolve
//! inside the root, special files are refused, and permission bits are sanitised.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const MAX_SYMLINK_TARGET: u64 = 4096;

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Not a readable zip (bad structure, CRC mismatch, encryption, unknown compression).
    #[error("not a valid zip file: {0}")]
    NotAZip(String),
    /// An entry that would write outside the package or create something dangerous.
    #[error("entry '{entry}': {reason}")]
    Unsafe { entry: String, reason: &'static str },
    /// More bytes would be written than allowed.
    #[error("unzipped size exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    /// More entries than allowed (an inode bomb).
    #[error("the package has more than {limit} entries")]
    TooManyEntries { limit: usize },
    /// The disk failed us, not the zip.
    #[error("I/O error while extracting: {0}")]
    Io(#[from] std::io::Error),
}

/// Limits for one extraction.
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    pub max_bytes: u64,
    pub max_entries: usize,
}

/// What an extraction produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    /// Bytes actually written to regular files.
    pub bytes: u64,
    pub files: usize,
}

/// Returns the entry name as a relative path, or None for the root itself.
fn safe_relative(name: &str) -> Result<Option<PathBuf>, IntakeError> {
    let unsafe_entry = |reason| IntakeError::Unsafe {
        entry: name.to_string(),
        reason,
    };
    if name.contains('\0') {
        return Err(unsafe_entry("NUL in file name"));
    }
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry("absolute paths are not allowed"))
            }
            Component::ParentDir => return Err(unsafe_entry("'..' would escape the package root")),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

/// Lexically resolves `target` relative to the directory of `link`; None if it leaves the root.
fn lexical_target(link: &Path, target: &str) -> Option<PathBuf> {
    if target.is_empty() || Path::new(target).is_absolute() {
        return None;
    }
    let mut parts: Vec<std::ffi::OsString> = link
        .parent()
        .map(|p| p.iter().map(|s| s.to_os_string()).collect())
        .unwrap_or_default();
    for c in Path::new(target).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Files keep their execute bits and become world-readable; setuid, setgid, sticky and
/// world-write are dropped. The sandbox runs code as an unprivileged user that must read it.
fn file_mode(mode: Option<u32>) -> u32 {
    match mode {
        Some(m) => (m & 0o775) | 0o444,
        None => 0o644,
    }
}

fn dir_mode(mode: Option<u32>) -> u32 {
    match mode {
        Some(m) => (m & 0o775) | 0o555,
        None => 0o755,
    }
}

/// Extracts `zip` into `dest` (an existing, empty directory). On error `dest` may hold
/// partial output: the caller owns it and removes it.
pub fn extract(zip: &[u8], dest: &Path, limits: IntakeLimits) -> Result<Extracted, IntakeError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| IntakeError::NotAZip(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(IntakeError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let mut written: u64 = 0;
    let mut files = 0usize;
    let mut symlinks: Vec<(PathBuf, String, String)> = Vec::new();
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];

    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| IntakeError::NotAZip(e.to_string()))?;
        let name = entry.name().to_string();
        let Some(rel) = safe_relative(&name)? else {
            continue;
        };
        let mode = entry.unix_mode();
        let kind = mode.map(|m| m & S_IFMT).unwrap_or(0);
        let path = dest.join(&rel);
        if entry.is_dir() || kind == S_IFDIR {
            fs::create_dir_all(&path)?;
            dirs.push((path, dir_mode(mode)));
        } else if kind == S_IFLNK {
            let mut target = String::new();
            (&mut entry)
                .take(MAX_SYMLINK_TARGET)
                .read_to_string(&mut target)
                .map_err(|e| IntakeError::NotAZip(e.to_string()))?;
            symlinks.push((rel, target, name));
        } else if kind == 0 || kind == S_IFREG {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            // No symlink exists in `dest` yet, so this open cannot be redirected.
            let mut out = fs::File::create(&path)?;
            loop {
                let n = entry
                    .read(&mut buf)
                    .map_err(|e| IntakeError::NotAZip(e.to_string()))?;
                if n == 0 {
                    break;
                }
                written += n as u64;
                if written > limits.max_bytes {
                    return Err(IntakeError::TooLarge {
                        limit: limits.max_bytes,
                    });
                }
                out.write_all(&buf[..n])?;
            }
            out.sync_all()?;
            fs::set_permissions(&path, fs::Permissions::from_mode(file_mode(mode)))?;
            files += 1;
        } else {
            return Err(IntakeError::Unsafe {
                entry: name,
                reason: "device files, fifos and sockets are not allowed",
            });
        }
    }

    for (rel, target, name) in &symlinks {
        if lexical_target(rel, target).is_none() {
            return Err(IntakeError::Unsafe {
                entry: name.clone(),
                reason: "symlink points outside the package",
            });
        }
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, &path)
            .map_err(|e| IntakeError::NotAZip(format!("cannot create symlink '{name}': {e}")))?;
    }
    // Chains of links can leave the root even when each one looks local: check where
    // each really lands now that all of them exist.
    let root = fs::canonicalize(dest)?;
    for (rel, _, name) in &symlinks {
        match fs::canonicalize(dest.join(rel)) {
            Ok(real) if real.starts_with(&root) => {}
            Ok(_) => {
                return Err(IntakeError::Unsafe {
                    entry: name.clone(),
                    reason: "symlink points outside the package",
                })
            }
            Err(_) => {
                return Err(IntakeError::Unsafe {
                    entry: name.clone(),
                    reason: "symlink target does not exist in the package",
                })
            }
        }
    }
    for (path, mode) in dirs {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(Extracted {
        bytes: written,
        files,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    const LIMITS: IntakeLimits = IntakeLimits {
        max_bytes: 1 << 20,
        max_entries: 1000,
    };

    /// Builds a zip: (name, content, Some(target) for a symlink).
    pub(crate) fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            if let Some(target) = name.strip_prefix("@link:") {
                let (n, t) = target.split_once("->").unwrap();
                w.add_symlink(n, t, SimpleFileOptions::default()).unwrap();
            } else if name.ends_with('/') {
                w.add_directory(*name, SimpleFileOptions::default())
                    .unwrap();
            } else {
                w.start_file(*name, SimpleFileOptions::default().unix_permissions(0o755))
                    .unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    /// Rewrites the unix mode of every central-directory entry (the zip writer masks type
    /// and setuid bits, so hostile modes have to be patched in).
    fn patch_modes(mut zip: Vec<u8>, mode: u32) -> Vec<u8> {
        let sig = [0x50u8, 0x4b, 0x01, 0x02];
        let mut i = 0;
        while i + 46 <= zip.len() {
            if zip[i..i + 4] == sig {
                zip[i + 38..i + 42].copy_from_slice(&(mode << 16).to_le_bytes());
                i += 46;
            } else {
                i += 1;
            }
        }
        zip
    }

    fn run(zip: &[u8]) -> (tempfile::TempDir, Result<Extracted, IntakeError>) {
        let dir = tempfile::tempdir().unwrap();
        let r = extract(zip, dir.path(), LIMITS);
        (dir, r)
    }

    #[test]
    fn a_normal_package_extracts_with_sane_modes() {
        let zip = make_zip(&[
            ("lib/", b""),
            ("app.py", b"print(1)"),
            ("lib/m.py", b"x=1"),
            ("@link:alias.py->app.py", b""),
        ]);
        let (dir, r) = run(&zip);
        let r = r.unwrap();
        assert_eq!(
            r,
            Extracted {
                bytes: 11,
                files: 2
            }
        );
        assert_eq!(fs::read(dir.path().join("lib/m.py")).unwrap(), b"x=1");
        assert_eq!(fs::read(dir.path().join("alias.py")).unwrap(), b"print(1)");
        let mode = fs::metadata(dir.path().join("app.py"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn zip_slip_and_absolute_paths_are_refused() {
        for name in ["../evil.py", "a/../../evil.py", "/etc/evil"] {
            let (_d, r) = run(&make_zip(&[(name, b"x")]));
            assert!(
                matches!(r, Err(IntakeError::Unsafe { .. })),
                "{name}: {r:?}"
            );
        }
        assert_eq!(
            safe_relative("./a/./b").unwrap(),
            Some(PathBuf::from("a/b"))
        );
    }

    #[test]
    fn escaping_symlinks_are_refused_even_through_chains() {
        for zip in [
            make_zip(&[("@link:l->../../etc/passwd", b"")]),
            make_zip(&[("@link:l->/etc/passwd", b"")]),
            // each link looks local, but `s/..` is the parent of the root
            make_zip(&[("@link:s->.", b""), ("@link:t->s/../outside", b"")]),
            make_zip(&[("@link:dangling->missing", b"")]),
        ] {
            let (_d, r) = run(&zip);
            assert!(matches!(r, Err(IntakeError::Unsafe { .. })), "{r:?}");
        }
        // and nothing is ever written through a link: the file lands beside it
        let zip = make_zip(&[("@link:d->sub", b""), ("sub/", b""), ("d/f.txt", b"hi")]);
        let (dir, r) = run(&zip);
        // `d/f.txt` creates a real directory `d`, so the link cannot be created over it
        assert!(r.is_err(), "{r:?}");
        assert!(fs::symlink_metadata(dir.path().join("d")).unwrap().is_dir());
    }

    #[test]
    fn device_files_and_fifos_are_refused() {
        for kind in [0o020000u32, 0o060000, 0o010000, 0o140000] {
            let zip = patch_modes(make_zip(&[("dev", b"")]), kind | 0o644);
            let (_d, r) = run(&zip);
            assert!(
                matches!(r, Err(IntakeError::Unsafe { .. })),
                "{kind:o}: {r:?}"
            );
        }
    }

    #[test]
    fn setuid_setgid_sticky_and_world_write_are_stripped() {
        let zip = patch_modes(make_zip(&[("tool", b"#!/bin/sh")]), 0o100000 | 0o7777);
        let (dir, r) = run(&zip);
        r.unwrap();
        let mode = fs::metadata(dir.path().join("tool"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o775);
    }

    #[test]
    fn bytes_written_are_counted_across_entries() {
        // Each file is under the limit; together they are not. Highly compressible, like a bomb.
        let big = vec![0u8; 600 * 1024];
        let zip = make_zip(&[("a", &big), ("b", &big)]);
        assert!(zip.len() < 20 * 1024, "compressed to {}", zip.len());
        let (_d, r) = run(&zip);
        assert!(
            matches!(r, Err(IntakeError::TooLarge { limit }) if limit == 1 << 20),
            "{r:?}"
        );
        let (_d, r) = run(&make_zip(&[("a", &big)]));
        assert_eq!(r.unwrap().bytes, 600 * 1024);
    }

    #[test]
    fn lying_headers_do_not_matter() {
        // Patch the declared uncompressed size (local + central headers) to 1 byte: the
        // extractor must still count the real bytes, or fail on the mismatch.
        let big = vec![7u8; 2 << 20];
        let mut zip = make_zip(&[("a", &big)]);
        for i in 0..zip.len().saturating_sub(4) {
            if zip[i..i + 4] == [0x50, 0x4b, 0x03, 0x04] {
                zip[i + 22..i + 26].copy_from_slice(&1u32.to_le_bytes());
            }
            if zip[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
                zip[i + 24..i + 28].copy_from_slice(&1u32.to_le_bytes());
            }
        }
        let (dir, r) = run(&zip);
        assert!(r.is_err(), "{r:?}");
        let on_disk = fs::metadata(dir.path().join("a"))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(on_disk <= 1 << 20, "wrote {on_disk} bytes past the limit");
    }

    #[test]
    fn too_many_entries_and_garbage() {
        let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let dir = tempfile::tempdir().unwrap();
        let r = extract(
            &make_zip(&entries),
            dir.path(),
            IntakeLimits {
                max_bytes: 100,
                max_entries: 4,
            },
        );
        assert!(matches!(r, Err(IntakeError::TooManyEntries { limit: 4 })));
        let (_d, r) = run(b"this is not a zip");
        assert!(matches!(r, Err(IntakeError::NotAZip(_))));
    }
}
