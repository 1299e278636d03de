//! Content-addressed code: zip blobs and their extracted trees, named by SHA-256.
//!
//! Layout under the data dir:
//! - `blobs/<hex>.zip`  the package exactly as uploaded (GetFunction's download)
//! - `code/<hex>/`      the extracted tree, bind-mounted read-only as /var/task later
//! - `opt/<hex>/`       the merged `/opt` of an ordered list of layers, named by the
//!   SHA-256 of their digests in order; rebuilt on demand from the layer trees, so
//!   garbage collection simply empties it
//! - `tmp/`             work area; emptied at start, never referenced by metadata
//!
//! Both are written completely (fsync) and then renamed into place, and that happens
//! before any metadata references them: a crash leaves at worst an unreferenced blob,
//! which [`CodeStore::collect_garbage`] removes at the next start.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use quiver_model::limits::{UNZIPPED_MAX_BYTES, ZIP_MAX_ENTRIES};
use quiver_model::CodeRef;
use sha2::{Digest, Sha256};

use crate::intake::{extract, IntakeLimits};
use crate::StoreError;

/// The blob and tree store.
#[derive(Debug, Clone)]
pub struct CodeStore {
    blobs: PathBuf,
    trees: PathBuf,
    opt: PathBuf,
    tmp: PathBuf,
    limits: IntakeLimits,
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn is_sha_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl CodeStore {
    /// Opens (creating) the layout under `data_dir` and empties `tmp/`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let s = Self {
            blobs: data_dir.join("blobs"),
            trees: data_dir.join("code"),
            opt: data_dir.join("opt"),
            tmp: data_dir.join("tmp"),
            limits: IntakeLimits {
                max_bytes: UNZIPPED_MAX_BYTES,
                max_entries: ZIP_MAX_ENTRIES,
            },
        };
        for d in [&s.blobs, &s.trees, &s.opt] {
            fs::create_dir_all(d)?;
        }
        if s.tmp.exists() {
            fs::remove_dir_all(&s.tmp)?;
        }
        fs::create_dir_all(&s.tmp)?;
        Ok(s)
    }

    /// Overrides the intake limits (tests).
    pub fn with_limits(mut self, limits: IntakeLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn blob_path(&self, sha_hex: &str) -> PathBuf {
        self.blobs.join(format!("{sha_hex}.zip"))
    }

    /// The directory holding every extracted tree, one `<sha256>` subdirectory each
    /// ([`CodeStore::tree_path`] is a child of it). The engine assigns pre-made
    /// sandboxes only code that lives directly under it.
    pub fn trees_dir(&self) -> &Path {
        &self.trees
    }

    /// The extracted tree of a package (what /var/task will be).
    pub fn tree_path(&self, sha_hex: &str) -> PathBuf {
        self.trees.join(sha_hex)
    }

    fn tmp_path(&self, suffix: &str) -> PathBuf {
        self.tmp
            .join(format!("{}{suffix}", uuid::Uuid::new_v4().simple()))
    }

    /// Hashes and validates a package and, unless `dry_run`, makes blob and tree durable.
    /// A refused package leaves nothing behind.
    pub fn ingest(&self, zip: &[u8], dry_run: bool) -> Result<CodeRef, StoreError> {
        self.ingest_checked(zip, dry_run, &|_| Ok(()))
            .map(|(code, _)| code)
    }

    /// [`CodeStore::ingest`], showing `check` the unzipped size before anything is made
    /// durable (a function's code must fit next to its layers); its refusal comes back
    /// as [`StoreError::Invalid`] and leaves nothing behind. Returns the unzipped size.
    pub fn ingest_checked(
        &self,
        zip: &[u8],
        dry_run: bool,
        check: &dyn Fn(u64) -> Result<(), quiver_model::ModelError>,
    ) -> Result<(CodeRef, u64), StoreError> {
        let digest = Sha256::digest(zip);
        let code = CodeRef {
            sha256_hex: hex::encode(digest),
            sha256_b64: base64::engine::general_purpose::STANDARD.encode(digest),
            size: zip.len() as u64,
        };
        let tree = self.tree_path(&code.sha256_hex);
        let blob = self.blob_path(&code.sha256_hex);
        if tree.is_dir() && blob.is_file() {
            // Same bytes were accepted before: already validated and durable.
            let size = tree_bytes(&tree)?;
            check(size)?;
            return Ok((code, size));
        }
        let work = self.tmp_path("");
        fs::create_dir(&work)?;
        let size = match extract(zip, &work, self.limits) {
            Ok(x) => x.bytes,
            Err(e) => {
                let _ = fs::remove_dir_all(&work);
                return Err(e.into());
            }
        };
        if let Err(e) = check(size) {
            let _ = fs::remove_dir_all(&work);
            return Err(e.into());
        }
        if dry_run {
            fs::remove_dir_all(&work)?;
            return Ok((code, size));
        }
        let result = self.write_blob(zip, &blob).and_then(|()| {
            match fs::rename(&work, &tree) {
                Ok(()) => fsync_dir(&self.trees),
                // A concurrent ingest of the same bytes won the race: identical content.
                Err(_) if tree.is_dir() => Ok(()),
                Err(e) => Err(e),
            }
        });
        if work.exists() {
            let _ = fs::remove_dir_all(&work);
        }
        result?;
        Ok((code, size))
    }

    /// tmp + fsync + rename + fsync(dir).
    fn write_blob(&self, zip: &[u8], dest: &Path) -> std::io::Result<()> {
        if dest.is_file() {
            return Ok(());
        }
        let tmp = self.tmp_path(".zip");
        let r = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(zip)?;
            f.sync_all()?;
            fs::rename(&tmp, dest)?;
            fsync_dir(&self.blobs)
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    /// Re-extracts a tree that is missing (e.g. removed by hand) from its blob.
    pub fn ensure_tree(&self, sha_hex: &str) -> Result<(), StoreError> {
        if self.tree_path(sha_hex).is_dir() {
            return Ok(());
        }
        let zip = fs::read(self.blob_path(sha_hex))?;
        self.ingest(&zip, false).map(|_| ())
    }

    /// Removes blobs and trees that no version references. Only safe while no request
    /// is being served (the server calls it before it starts listening).
    pub fn collect_garbage(&self, referenced: &HashSet<String>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let sha = name.strip_suffix(".zip").unwrap_or("");
            if !(is_sha_hex(sha) && referenced.contains(sha)) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        for entry in fs::read_dir(&self.trees)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(is_sha_hex(&name) && referenced.contains(&name)) {
                fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        // Merged /opt trees are a cache of the layer trees: the first cold start after
        // this rebuilds the ones still in use.
        for entry in fs::read_dir(&self.opt)? {
            let entry = entry?;
            make_removable(&entry.path());
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Extracted trees are read-only for everyone (so a sandbox can never change them);
/// restore write permission on directories before removing a tree.
fn make_removable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(md) = fs::symlink_metadata(dir) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    let _ = fs::set_permissions(
        dir,
        fs::Permissions::from_mode(md.permissions().mode() | 0o700),
    );
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            make_removable(&e.path());
        }
    }
}

/// Bytes of the regular files under `dir` (what the 250 MB rule counts).
fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let md = fs::symlink_metadata(e.path())?;
        if md.is_dir() {
            total = total.saturating_add(tree_bytes(&e.path())?);
        } else if md.is_file() {
            total = total.saturating_add(md.len());
        }
    }
    Ok(total)
}

/// Lays `src` over `dest` the way Lambda extracts layers one after another into `/opt`:
/// a later file replaces an earlier one at the same path, directories merge, and a
/// file or symlink where the other had a directory (or the reverse) replaces it.
/// Regular files are hard links into the layer trees (same file system, never
/// written: the merged tree is bound read-only), copied if linking fails.
fn overlay(src: &Path, dest: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(src)? {
        let e = e?;
        let from = e.path();
        let to = dest.join(e.file_name());
        let md = fs::symlink_metadata(&from)?;
        let existing = fs::symlink_metadata(&to).ok();
        if md.is_dir() {
            match existing {
                Some(x) if x.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to)?;
                    fs::create_dir(&to)?;
                }
                None => fs::create_dir(&to)?,
            }
            overlay(&from, &to)?;
            continue;
        }
        match existing {
            Some(x) if x.is_dir() => fs::remove_dir_all(&to)?,
            Some(_) => fs::remove_file(&to)?,
            None => {}
        }
        if md.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

impl CodeStore {
    /// Bytes the extracted tree of a package holds (its unzipped size).
    pub fn unzipped_size(&self, sha_hex: &str) -> Result<u64, StoreError> {
        self.ensure_tree(sha_hex)?;
        Ok(tree_bytes(&self.tree_path(sha_hex))?)
    }

    /// Where the merged `/opt` of these layer digests (in order) lives.
    pub fn opt_path(&self, layers: &[&str]) -> PathBuf {
        let mut h = Sha256::new();
        for l in layers {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        self.opt.join(hex::encode(h.finalize()))
    }

    /// Builds (once) the merged `/opt` of `layers`, in order, and returns it. Each
    /// layer's tree is re-extracted from its blob first if it went missing. Built in
    /// `tmp/` and renamed into place, so a tree that exists is complete.
    pub fn ensure_opt(&self, layers: &[&str]) -> Result<PathBuf, StoreError> {
        let dest = self.opt_path(layers);
        if dest.is_dir() {
            return Ok(dest);
        }
        for l in layers {
            if !is_sha_hex(l) {
                return Err(StoreError::Corrupt(format!("layer digest {l:?}")));
            }
            self.ensure_tree(l)?;
        }
        let work = self.tmp_path("");
        fs::create_dir(&work)?;
        let built = layers
            .iter()
            .try_for_each(|l| overlay(&self.tree_path(l), &work))
            .and_then(|()| match fs::rename(&work, &dest) {
                Ok(()) => fsync_dir(&self.opt),
                Err(_) if dest.is_dir() => Ok(()),
                Err(e) => Err(e),
            });
        if work.exists() {
            make_removable(&work);
            let _ = fs::remove_dir_all(&work);
        }
        built?;
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::tests::make_zip;

    fn entries(dir: &Path) -> usize {
        fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    #[test]
    fn ingest_writes_blob_and_tree_named_by_sha() {
        let data = tempfile::tempdir().unwrap();
        let cs = CodeStore::open(data.path()).unwrap();
        let zip = make_zip(&[("app.py", b"def h(e, c): return 1")]);
        let code = cs.ingest(&zip, false).unwrap();
        assert_eq!(code.size, zip.len() as u64);
        assert_eq!(code.sha256_hex, hex::encode(Sha256::digest(&zip)));
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&code.sha256_b64)
                .unwrap(),
            Sha256::digest(&zip).to_vec()
        );
        assert_eq!(fs::read(cs.blob_path(&code.sha256_hex)).unwrap(), zip);
        assert!(cs.tree_path(&code.sha256_hex).join("app.py").is_file());
        // idempotent
        assert_eq!(cs.ingest(&zip, false).unwrap(), code);
        assert_eq!(entries(&data.path().join("tmp")), 0);
    }

    #[test]
    fn bad_or_dry_run_packages_leave_nothing_behind() {
        let data = tempfile::tempdir().unwrap();
        let cs = CodeStore::open(data.path()).unwrap();
        assert!(cs
            .ingest(&make_zip(&[("ok.py", b"x"), ("../evil", b"x")]), false)
            .is_err());
        assert!(cs.ingest(b"garbage", false).is_err());
        cs.ingest(&make_zip(&[("ok.py", b"x")]), true).unwrap();
        for d in ["blobs", "code", "tmp"] {
            assert_eq!(entries(&data.path().join(d)), 0, "{d}");
        }
    }

    #[test]
    fn garbage_collection_keeps_only_referenced_code() {
        let data = tempfile::tempdir().unwrap();
        let cs = CodeStore::open(data.path()).unwrap();
        let a = cs.ingest(&make_zip(&[("a.py", b"a")]), false).unwrap();
        let b = cs.ingest(&make_zip(&[("b.py", b"b")]), false).unwrap();
        let keep: HashSet<String> = [a.sha256_hex.clone()].into();
        assert_eq!(cs.collect_garbage(&keep).unwrap(), 2);
        assert!(cs.blob_path(&a.sha256_hex).is_file());
        assert!(!cs.blob_path(&b.sha256_hex).exists());
        assert!(!cs.tree_path(&b.sha256_hex).exists());
        fs::remove_dir_all(cs.tree_path(&a.sha256_hex)).unwrap();
        cs.ensure_tree(&a.sha256_hex).unwrap();
        assert!(cs.tree_path(&a.sha256_hex).join("a.py").is_file());
    }

    #[test]
    fn a_refused_size_check_leaves_nothing_behind() {
        let data = tempfile::tempdir().unwrap();
        let cs = CodeStore::open(data.path()).unwrap();
        let zip = make_zip(&[("a.py", b"12345")]);
        let refuse = |n: u64| Err(quiver_model::ModelError::InvalidParameter(format!("{n}")));
        assert!(matches!(
            cs.ingest_checked(&zip, false, &refuse),
            Err(StoreError::Invalid(_))
        ));
        for d in ["blobs", "code", "tmp"] {
            assert_eq!(entries(&data.path().join(d)), 0, "{d}");
        }
        let (code, size) = cs.ingest_checked(&zip, false, &|_| Ok(())).unwrap();
        assert_eq!(size, 5);
        // Already stored: the check still sees the size, and may still refuse.
        assert!(cs.ingest_checked(&zip, false, &refuse).is_err());
        assert_eq!(cs.ingest(&zip, false).unwrap(), code);
    }

    #[test]
    fn merged_opt_lays_later_layers_over_earlier_ones() {
        let data = tempfile::tempdir().unwrap();
        let cs = CodeStore::open(data.path()).unwrap();
        let a = cs
            .ingest(
                &make_zip(&[("python/m.py", b"A"), ("bin/x", b"a"), ("only_a", b"1")]),
                false,
            )
            .unwrap();
        let b = cs
            .ingest(
                &make_zip(&[("python/m.py", b"B"), ("bin/x/inner", b"b")]),
                false,
            )
            .unwrap();
        assert_eq!(cs.unzipped_size(&a.sha256_hex).unwrap(), 3);
        let ab = cs.ensure_opt(&[&a.sha256_hex, &b.sha256_hex]).unwrap();
        assert_eq!(fs::read(ab.join("python/m.py")).unwrap(), b"B");
        assert_eq!(fs::read(ab.join("bin/x/inner")).unwrap(), b"b");
        assert!(ab.join("only_a").is_file());
        let ba = cs.ensure_opt(&[&b.sha256_hex, &a.sha256_hex]).unwrap();
        assert_ne!(ab, ba, "order is part of the name");
        assert_eq!(fs::read(ba.join("python/m.py")).unwrap(), b"A");
        assert!(ba.join("bin/x").is_file());
        // The layer trees are untouched by the merge.
        assert_eq!(
            fs::read(cs.tree_path(&a.sha256_hex).join("python/m.py")).unwrap(),
            b"A"
        );
        let keep: HashSet<String> = [a.sha256_hex.clone(), b.sha256_hex.clone()].into();
        cs.collect_garbage(&keep).unwrap();
        assert!(!ab.exists());
        assert_eq!(cs.ensure_opt(&[&a.sha256_hex, &b.sha256_hex]).unwrap(), ab);
        assert_eq!(entries(&data.path().join("tmp")), 0);
    }
}
