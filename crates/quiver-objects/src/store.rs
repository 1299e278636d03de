//! Buckets and objects on disk: bodies under `<data-dir>/objects/data/`, temp files under
//! `<data-dir>/objects/tmp/`, metadata in `<data-dir>/objects.db` (WAL, synchronous=FULL).
//!
//! Durability order of a write: body streamed to a temp file and fsynced (by the caller),
//! renamed into `data/` and the directory fsynced, then the row committed; the replaced
//! body is removed after the commit. A crash before the commit leaves a file no row names,
//! which [`ObjectStore::open`] removes; it never leaves a row without its whole body.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::listing::{list_page, ListPage, ListParams};
use crate::rules;
use crate::ObjectsError;

/// A bucket as listed.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub created_ms: i64,
}

/// The headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// `x-amz-meta-*` (names lowercased, as S3 returns them).
    pub user: BTreeMap<String, String>,
}

/// A stored object's row.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub meta: ObjectMeta,
    /// The body's file (read it; never write it: a replaced body is a new file).
    pub path: PathBuf,
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
}

/// An uploaded part.
#[derive(Debug, Clone)]
pub struct PartInfo {
    pub number: i32,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

/// The object store: one SQLite connection behind a mutex (each call is one short
/// transaction; bodies are streamed by the caller outside it).
pub struct ObjectStore {
    root: PathBuf,
    db: Mutex<Connection>,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, meta TEXT NOT NULL,
  PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
  initiated_ms INTEGER NOT NULL, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, number INTEGER NOT NULL, file TEXT NOT NULL,
  size INTEGER NOT NULL, md5 BLOB NOT NULL, last_modified_ms INTEGER NOT NULL,
  PRIMARY KEY (upload_id, number));
";

impl ObjectStore {
    /// Opens (creating) the store under `data_dir`, and removes what a crash left: temp
    /// files, and body files no row refers to.
    pub fn open(data_dir: &Path) -> Result<Self, ObjectsError> {
        let root = data_dir.join("objects");
        std::fs::create_dir_all(root.join("data"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let conn = Connection::open(data_dir.join("objects.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let mut referenced = std::collections::HashSet::new();
        {
            let mut st = conn.prepare("SELECT file FROM objects UNION SELECT file FROM parts")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            for f in rows {
                referenced.insert(f?);
            }
        }
        let mut orphans = 0usize;
        for entry in std::fs::read_dir(root.join("data"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                std::fs::remove_file(entry.path())?;
                orphans += 1;
            }
        }
        if orphans > 0 {
            tracing::info!(
                orphans,
                "removed object bodies left by an interrupted write"
            );
        }
        Ok(Self {
            root,
            db: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh temp file path for a body being received.
    pub fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    fn data_path(&self, file: &str) -> PathBuf {
        self.root.join("data").join(file)
    }

    /// Moves a complete, fsynced temp file into `data/` under a new name and makes the
    /// rename durable.
    fn adopt(&self, tmp: &Path) -> Result<String, ObjectsError> {
        let file = uuid::Uuid::new_v4().to_string();
        std::fs::rename(tmp, self.data_path(&file))?;
        std::fs::File::open(self.root.join("data"))?.sync_all()?;
        Ok(file)
    }

    fn bucket_exists(conn: &Connection, bucket: &str) -> Result<bool, ObjectsError> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM buckets WHERE name = ?1",
                [bucket],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn require_bucket(conn: &Connection, bucket: &str) -> Result<(), ObjectsError> {
        if Self::bucket_exists(conn, bucket)? {
            Ok(())
        } else {
            Err(ObjectsError::NoSuchBucket)
        }
    }

    pub fn create_bucket(&self, name: &str) -> Result<(), ObjectsError> {
        rules::validate_bucket_name(name)?;
        let conn = self.conn();
        let n = conn.execute(
            "INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)",
            params![name, now_ms()],
        )?;
        if n == 0 {
            return Err(ObjectsError::BucketAlreadyOwnedByYou);
        }
        Ok(())
    }

    pub fn head_bucket(&self, name: &str) -> Result<(), ObjectsError> {
        Self::require_bucket(&self.conn(), name)
    }

    pub fn delete_bucket(&self, name: &str) -> Result<(), ObjectsError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        Self::require_bucket(&tx, name)?;
        let busy: bool = tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = ?1) OR EXISTS(SELECT 1 FROM uploads WHERE bucket = ?1)",
                [name],
                |r| r.get(0),
            )?;
        if busy {
            return Err(ObjectsError::BucketNotEmpty);
        }
        tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    pub fn list_buckets(&self) -> Result<Vec<Bucket>, ObjectsError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT name, created_ms FROM buckets ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Bucket {
                name: r.get(0)?,
                created_ms: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Makes a received body (complete and fsynced at `tmp`) the object `bucket/key`.
    /// On any error the temp file is removed and nothing is stored.
    pub fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        tmp: &Path,
        size: u64,
        etag: &str,
        meta: &ObjectMeta,
    ) -> Result<ObjectInfo, ObjectsError> {
        let r = self.commit_object_inner(bucket, key, tmp, size, etag, meta);
        let _ = std::fs::remove_file(tmp);
        r
    }

    fn commit_object_inner(
        &self,
        bucket: &str,
        key: &str,
        tmp: &Path,
        size: u64,
        etag: &str,
        meta: &ObjectMeta,
    ) -> Result<ObjectInfo, ObjectsError> {
        rules::validate_key(key)?;
        let meta_json = serde_json::to_string(meta)?;
        let mut conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let file = self.adopt(tmp)?;
        let now = now_ms();
        let tx = conn.transaction()?;
        let old: Option<String> = tx
            .query_row(
                "SELECT file FROM objects WHERE bucket = ?1 AND key = ?2",
                [bucket, key],
                |r| r.get(0),
            )
            .optional()?;
        let written = tx
            .execute(
                "INSERT OR REPLACE INTO objects (bucket, key, file, size, etag, last_modified_ms, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![bucket, key, file, size as i64, etag, now, meta_json],
            )
            .and_then(|_| tx.commit());
        if let Err(e) = written {
            let _ = std::fs::remove_file(self.data_path(&file));
            return Err(e.into());
        }
        if let Some(old) = old {
            let _ = std::fs::remove_file(self.data_path(&old));
        }
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            etag: etag.to_string(),
            last_modified_ms: now,
            meta: meta.clone(),
            path: self.data_path(&file),
        })
    }

    fn row_to_info(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<(ObjectInfo, String)> {
        let file: String = r.get(1)?;
        let meta: String = r.get(5)?;
        Ok((
            ObjectInfo {
                key: r.get(0)?,
                size: r.get::<_, i64>(2)? as u64,
                etag: r.get(3)?,
                last_modified_ms: r.get(4)?,
                meta: serde_json::from_str(&meta).unwrap_or_default(),
                path: self.data_path(&file),
            },
            file,
        ))
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectsError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        conn.query_row(
            "SELECT key, file, size, etag, last_modified_ms, meta FROM objects WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
            |r| self.row_to_info(r),
        )
        .optional()?
        .map(|(i, _)| i)
        .ok_or(ObjectsError::NoSuchKey)
    }

    /// Deletes a key; deleting a missing key succeeds, as in S3.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ObjectsError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        Self::require_bucket(&tx, bucket)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT file FROM objects WHERE bucket = ?1 AND key = ?2",
                [bucket, key],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
        )?;
        tx.commit()?;
        if let Some(old) = old {
            let _ = std::fs::remove_file(self.data_path(&old));
        }
        Ok(())
    }

    pub fn list_objects(
        &self,
        bucket: &str,
        p: &ListParams,
    ) -> Result<ListPage<ObjectInfo>, ObjectsError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let from = match &p.after {
            Some(a) if a.as_str() > p.prefix.as_str() => a.clone(),
            _ => p.prefix.clone(),
        };
        let mut st = conn.prepare(
            "SELECT key, file, size, etag, last_modified_ms, meta FROM objects WHERE bucket = ?1 AND key >= ?2 ORDER BY key",
        )?;
        let rows = st.query_map([bucket, from.as_str()], |r| self.row_to_info(r))?;
        let mut err = None;
        let entries = rows.map_while(|r| match r {
            Ok((i, _)) => Some((i.key.clone(), i)),
            Err(e) => {
                err = Some(e);
                None
            }
        });
        // Keys past the prefix's range end the scan early.
        let prefix = p.prefix.clone();
        let page = list_page(entries.take_while(|(k, _)| k.starts_with(&prefix)), p);
        if let Some(e) = err {
            return Err(e.into());
        }
        Ok(page)
    }

    // --- multipart uploads ---

    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<String, ObjectsError> {
        rules::validate_key(key)?;
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        conn.execute(
            "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, meta) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, bucket, key, now_ms(), serde_json::to_string(meta)?],
        )?;
        Ok(id)
    }

    fn require_upload(
        conn: &Connection,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<ObjectMeta, ObjectsError> {
        Self::require_bucket(conn, bucket)?;
        let meta: Option<String> = conn
            .query_row(
                "SELECT meta FROM uploads WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3",
                [id, bucket, key],
                |r| r.get(0),
            )
            .optional()?;
        let meta = meta.ok_or(ObjectsError::NoSuchUpload)?;
        Ok(serde_json::from_str(&meta)?)
    }

    /// Stores a received part (complete and fsynced at `tmp`), replacing one of the same
    /// number. The temp file is gone afterwards either way.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: i32,
        tmp: &Path,
        size: u64,
        md5: &[u8],
    ) -> Result<(), ObjectsError> {
        let r = (|| {
            let mut conn = self.conn();
            Self::require_upload(&conn, bucket, key, id)?;
            let file = self.adopt(tmp)?;
            let tx = conn.transaction()?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT file FROM parts WHERE upload_id = ?1 AND number = ?2",
                    params![id, number],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO parts (upload_id, number, file, size, md5, last_modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, number, file, size as i64, md5, now_ms()],
            )?;
            tx.commit()?;
            if let Some(old) = old {
                let _ = std::fs::remove_file(self.data_path(&old));
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(tmp);
        r
    }

    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<Vec<PartInfo>, ObjectsError> {
        let conn = self.conn();
        Self::require_upload(&conn, bucket, key, id)?;
        let mut st = conn.prepare("SELECT number, size, md5, last_modified_ms FROM parts WHERE upload_id = ?1 ORDER BY number")?;
        let rows = st.query_map([id], |r| {
            Ok(PartInfo {
                number: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                etag: hex::encode(r.get::<_, Vec<u8>>(2)?),
                last_modified_ms: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadInfo>, ObjectsError> {
        let conn = self.conn();
        Self::require_bucket(&conn, bucket)?;
        let mut st = conn.prepare("SELECT upload_id, key, initiated_ms FROM uploads WHERE bucket = ?1 ORDER BY key, initiated_ms")?;
        let rows = st.query_map([bucket], |r| {
            Ok(UploadInfo {
                upload_id: r.get(0)?,
                key: r.get(1)?,
                initiated_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_upload(&self, conn: &mut Connection, id: &str) -> Result<(), ObjectsError> {
        let tx = conn.transaction()?;
        let files: Vec<String> = {
            let mut st = tx.prepare("SELECT file FROM parts WHERE upload_id = ?1")?;
            let rows = st.query_map([id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM parts WHERE upload_id = ?1", [id])?;
        tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [id])?;
        tx.commit()?;
        for f in files {
            let _ = std::fs::remove_file(self.data_path(&f));
        }
        Ok(())
    }

    pub fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), ObjectsError> {
        let mut conn = self.conn();
        Self::require_upload(&conn, bucket, key, id)?;
        self.drop_upload(&mut conn, id)
    }

    /// Completes an upload from the listed `(part number, ETag)` pairs: checks them
    /// ([`rules::check_part_list`], `InvalidPart` for a missing part or another ETag),
    /// concatenates the parts into one new body (blocking IO: call from a blocking
    /// thread), commits it as the object, and removes the upload.
    pub fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        listed: &[(i32, String)],
    ) -> Result<ObjectInfo, ObjectsError> {
        let (meta, files, md5s, total) = {
            let conn = self.conn();
            let meta = Self::require_upload(&conn, bucket, key, id)?;
            let mut files = Vec::new();
            let mut md5s = Vec::new();
            let mut sizes = Vec::new();
            for (n, etag) in listed {
                let row: Option<(String, i64, Vec<u8>)> = conn
                    .query_row(
                        "SELECT file, size, md5 FROM parts WHERE upload_id = ?1 AND number = ?2",
                        params![id, n],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let (file, size, md5) = row.ok_or(ObjectsError::InvalidPart)?;
                if etag.trim_matches('"') != hex::encode(&md5) {
                    return Err(ObjectsError::InvalidPart);
                }
                files.push(file);
                md5s.push(md5);
                sizes.push(size as u64);
            }
            let numbers: Vec<i32> = listed.iter().map(|(n, _)| *n).collect();
            rules::check_part_list(&numbers, &sizes)?;
            (meta, files, md5s, sizes.iter().sum::<u64>())
        };
        let tmp = self.temp_path();
        let joined = (|| -> Result<(), ObjectsError> {
            let mut out = std::fs::File::create(&tmp)?;
            for f in &files {
                let mut part = std::fs::File::open(self.data_path(f))?;
                std::io::copy(&mut part, &mut out)?;
            }
            out.sync_all()?;
            Ok(())
        })();
        if let Err(e) = joined {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let etag = rules::multipart_etag(&md5s);
        let info = self.commit_object(bucket, key, &tmp, total, &etag, &meta)?;
        self.drop_upload(&mut self.conn(), id)?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &ObjectStore, b: &str, k: &str, body: &[u8]) -> Result<ObjectInfo, ObjectsError> {
        let tmp = s.temp_path();
        std::fs::write(&tmp, body).unwrap();
        let md5 = <md5::Md5 as md5::Digest>::digest(body);
        s.commit_object(
            b,
            k,
            &tmp,
            body.len() as u64,
            &rules::etag(&md5),
            &ObjectMeta::default(),
        )
    }

    #[test]
    fn objects_survive_reopen_and_orphans_go() {
        let dir = tempfile::tempdir().unwrap();
        let s = ObjectStore::open(dir.path()).unwrap();
        s.create_bucket("bkt").unwrap();
        assert!(matches!(
            s.create_bucket("bkt"),
            Err(ObjectsError::BucketAlreadyOwnedByYou)
        ));
        put(&s, "bkt", "a", b"one").unwrap();
        put(&s, "bkt", "a", b"two").unwrap();
        assert!(matches!(
            put(&s, "nope", "a", b"x"),
            Err(ObjectsError::NoSuchBucket)
        ));
        assert!(matches!(
            s.delete_bucket("bkt"),
            Err(ObjectsError::BucketNotEmpty)
        ));
        std::fs::write(dir.path().join("objects/data/orphan"), b"x").unwrap();
        std::fs::write(dir.path().join("objects/tmp/partial"), b"x").unwrap();
        drop(s);
        let s = ObjectStore::open(dir.path()).unwrap();
        let o = s.get_object("bkt", "a").unwrap();
        assert_eq!(std::fs::read(&o.path).unwrap(), b"two");
        assert_eq!(o.etag, "b8a9f715dbb64fd5c56e7783c6820a61");
        // One body (the replaced one and the orphan are gone), no temp files.
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects/data"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects/tmp"))
                .unwrap()
                .count(),
            0
        );
        s.delete_object("bkt", "a").unwrap();
        s.delete_bucket("bkt").unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects/data"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn multipart_completes_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let s = ObjectStore::open(dir.path()).unwrap();
        s.create_bucket("bkt").unwrap();
        let id = s
            .create_upload("bkt", "big", &ObjectMeta::default())
            .unwrap();
        let big = vec![7u8; rules::MIN_PART_SIZE as usize];
        let mut etags = Vec::new();
        for (n, body) in [(1, &big[..]), (2, &b"tail"[..])] {
            let tmp = s.temp_path();
            std::fs::write(&tmp, body).unwrap();
            let md5 = <md5::Md5 as md5::Digest>::digest(body).to_vec();
            s.commit_part("bkt", "big", &id, n, &tmp, body.len() as u64, &md5)
                .unwrap();
            etags.push(hex::encode(md5));
        }
        assert!(matches!(
            s.complete_upload("bkt", "big", &id, &[(1, "ffff".into())]),
            Err(ObjectsError::InvalidPart)
        ));
        assert!(matches!(
            s.complete_upload(
                "bkt",
                "big",
                &id,
                &[(2, etags[1].clone()), (1, etags[0].clone())]
            ),
            Err(ObjectsError::InvalidPartOrder)
        ));
        let o = s
            .complete_upload(
                "bkt",
                "big",
                &id,
                &[(1, etags[0].clone()), (2, etags[1].clone())],
            )
            .unwrap();
        assert!(o.etag.ends_with("-2"));
        assert_eq!(o.size, big.len() as u64 + 4);
        assert!(matches!(
            s.list_parts("bkt", "big", &id),
            Err(ObjectsError::NoSuchUpload)
        ));
    }
}
