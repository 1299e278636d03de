//! Content-addressed code: zip blobs and their extracted trees, named by SHA-256.
//!
//! Layout under the data dir:
//! - `blobs/<hex>.zip`  the package exactly as uploaded (GetFunction's download)
//! - `code/<hex>/`      the extracted tree, bind-mounted read-only as /var/task later
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
            tmp: data_dir.join("tmp"),
            limits: IntakeLimits {
                max_bytes: UNZIPPED_MAX_BYTES,
                max_entries: ZIP_MAX_ENTRIES,
            },
        };
        for d in [&s.blobs, &s.trees] {
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
            return Ok(code);
        }
        let work = self.tmp_path("");
        fs::create_dir(&work)?;
        let extracted = extract(zip, &work, self.limits);
        if let Err(e) = extracted {
            let _ = fs::remove_dir_all(&work);
            return Err(e.into());
        }
        if dry_run {
            fs::remove_dir_all(&work)?;
            return Ok(code);
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
        Ok(code)
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
        Ok(removed)
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
}
