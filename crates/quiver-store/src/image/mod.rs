//! Runtime images: imported from an OCI layout, a `docker save` archive or a rootfs
//! directory, unpacked once into a content-addressed root that sandboxes show
//! read-only as their `/` (docs/sandbox.md §15).
//!
//! Layout under the data dir:
//! - `images/roots/<hex>/`      the unpacked root, named by the sha256 of the image's
//!   config (its image id) or, for a rootfs directory, of what was unpacked
//! - `images/runtimes/<id>.json` which root a runtime id runs on, with the image's
//!   command and environment ([`ImageRecord`])
//! - `images/functions/<hex>.json` which root a function image's manifest digest runs
//!   on, with its config (`function.rs`, created with the first one)
//! - `images/.tmp-*`             work dirs: a root is unpacked there and renamed into
//!   place only when complete, so a refused or crashed import leaves nothing behind
//!   (emptied when the store is opened)
//!
//! Persistent like code blobs, and like them written completely before anything
//! refers to them: a record is written (tmp + rename) only after its root exists.

mod archive;
pub mod function;
pub mod registry;
mod seal;
pub mod unpack;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use quiver_model::runtime::{kind_of, ImageRuntime};
use serde::{Deserialize, Serialize};

pub use unpack::ImageLimits;

/// Why an image was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An entry would escape the root, or is something a runtime image may not hold.
    #[error("image refused: {0}")]
    Refused(String),
    /// Over the size or entry limit.
    #[error("image refused: {0}")]
    TooLarge(String),
    /// Not a readable OCI layout, docker save archive or rootfs directory.
    #[error("not a usable image: {0}")]
    Format(String),
    /// A blob does not hash to its digest.
    #[error("image refused: digest mismatch: {0}")]
    Digest(String),
    /// The image cannot run as the runtime id it is imported as.
    #[error("{0}")]
    Runtime(String),
    /// No image runtime of this id.
    #[error("no image runtime {0} (see `quiver runtime ls`)")]
    NotFound(String),
    /// A registry pull failed (unreachable, refused, or an answer that breaks the
    /// distribution API's rules), in words an operator can act on.
    #[error("{0}")]
    Registry(String),
    /// The registry has no manifest for the reference (unknown repository or tag):
    /// CreateFunction answers Lambda's "Source image … does not exist".
    #[error("{0}")]
    ImageNotFound(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// What the store keeps about one image runtime (`images/runtimes/<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The Lambda runtime id it serves.
    pub id: String,
    /// `sha256:<hex>`: the image id (config digest) or the rootfs content digest.
    pub digest: String,
    /// "oci", "docker" or "rootfs".
    pub format: String,
    /// The path it was imported from (informational).
    pub imported_from: String,
    /// How the runtime is started: `/var/runtime/bootstrap`, or the image's Entrypoint;
    /// empty for an interpreter-only image, which runs Quiver's built-in bootstrap of
    /// the id's kind with `interpreter` (docs/wire.md §17).
    pub command: Vec<String>,
    /// The handler is passed as the last argument (an Entrypoint, as Lambda passes
    /// CMD); never for `/var/runtime/bootstrap`, which reads `_HANDLER`.
    pub handler_arg: bool,
    /// The image config's Env, applied under the function's own variables.
    pub env: Vec<(String, String)>,
    /// The interpreter the runtime id needs, found in the image (e.g. `/usr/bin/python3.13`).
    pub interpreter: Option<String>,
    /// The runtime version read from the image (see [`seal::probe`]).
    pub version: String,
    /// `PRETTY_NAME` of the image's os-release, if any.
    pub os: Option<String>,
    /// Bytes of regular files and entries unpacked.
    pub bytes: u64,
    pub entries: u64,
    /// For a registry pull: the reference pulled, pinned to the manifest's digest
    /// (`host/repo:tag@sha256:...`, docs/wire.md §19). Absent in records of imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl ImageRecord {
    /// The catalogue's view of it, with the root's path in this store.
    pub fn runtime(&self, root: PathBuf) -> ImageRuntime {
        ImageRuntime {
            digest: self.digest.clone(),
            root,
            command: self.command.clone(),
            handler_arg: self.handler_arg,
            env: self.env.clone(),
            os: self.os.clone(),
            reference: self.reference.clone(),
        }
    }
}

/// The image store of one data dir.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
    limits: ImageLimits,
}

fn digest_hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Drops a work dir however the import ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = fs::remove_dir_all(&self.0) {
                tracing::warn!(path = %self.0.display(), error = %e, "cannot remove an image work dir");
            }
        }
    }
}

impl ImageStore {
    /// Opens (creating) `<data_dir>/images` and drops work dirs a crash left.
    pub fn open(data_dir: &Path) -> Result<Self, ImageError> {
        let dir = data_dir.join("images");
        fs::create_dir_all(dir.join("roots"))?;
        fs::create_dir_all(dir.join("runtimes"))?;
        for e in fs::read_dir(&dir)? {
            let e = e?;
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                fs::remove_dir_all(e.path())?;
            }
        }
        Ok(ImageStore {
            dir,
            limits: ImageLimits::default(),
        })
    }

    pub fn with_limits(mut self, limits: ImageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Where the root of `digest` lives.
    pub fn root_of(&self, digest: &str) -> PathBuf {
        self.dir.join("roots").join(digest_hex(digest))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join("runtimes").join(format!("{id}.json"))
    }

    /// Every image runtime, sorted by id.
    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.dir.join("runtimes"))? {
            let p = e?.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let text = fs::read_to_string(&p)?;
            let rec: ImageRecord = serde_json::from_str(&text)
                .map_err(|e| ImageError::Format(format!("{}: {e}", p.display())))?;
            out.push(rec);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Imports `source` as runtime `id`, replacing an earlier image of that id.
    pub fn import(&self, id: &str, source: &Path) -> Result<ImageRecord, ImageError> {
        self.import_from(id, source, None)
    }

    /// A fresh work dir under the store (emptied at the next open if a crash leaves
    /// it), for a pull to lay its blobs out in before [`ImageStore::import_pulled`].
    pub fn work_dir(&self) -> Result<PathBuf, ImageError> {
        let d = self
            .dir
            .join(format!(".tmp-pull-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&d)?;
        Ok(d)
    }

    /// Imports an OCI layout a registry pull wrote (the same checks as [`import`]:
    /// digests, hostile layers, the bootstrap rule), recording the reference it came
    /// from: `asked` as the operator wrote it, `pinned` with the manifest's digest.
    ///
    /// [`import`]: ImageStore::import
    pub fn import_pulled(
        &self,
        id: &str,
        layout: &Path,
        asked: &str,
        pinned: &str,
    ) -> Result<ImageRecord, ImageError> {
        self.import_from(id, layout, Some((asked, pinned)))
    }

    fn import_from(
        &self,
        id: &str,
        source: &Path,
        pulled: Option<(&str, &str)>,
    ) -> Result<ImageRecord, ImageError> {
        let kind = kind_of(id).ok_or_else(|| {
            ImageError::Runtime(format!(
                "{id:?} is not a Lambda runtime id (e.g. python3.13, nodejs22.x, provided.al2023)"
            ))
        })?;
        let work = WorkDir(
            self.dir
                .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple())),
        );
        let root = work.0.join("root");
        fs::create_dir_all(&root)?;
        let mut u = unpack::Unpacker::new(root.clone(), self.limits);
        let md = fs::metadata(source)
            .map_err(|e| ImageError::Format(format!("cannot read {}: {e}", source.display())))?;
        let (blobs, manifest) = if md.is_dir() {
            let blobs = archive::Blobs::Dir(source.to_path_buf());
            if blobs.has("oci-layout") {
                let m = archive::oci(&blobs, host_arch())?;
                (Some(blobs), Some(m))
            } else if blobs.has("manifest.json") {
                let m = archive::docker(&blobs)?;
                (Some(blobs), Some(m))
            } else {
                (None, None)
            }
        } else {
            let blobs = archive::Blobs::tar(source)?;
            let m = if blobs.has("oci-layout") && blobs.has("index.json") {
                archive::oci(&blobs, host_arch())?
            } else if blobs.has("manifest.json") {
                archive::docker(&blobs)?
            } else {
                return Err(ImageError::Format(format!(
                    "{} is neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)",
                    source.display()
                )));
            };
            (Some(blobs), Some(m))
        };
        let (digest, format, config) = match (&blobs, &manifest) {
            (Some(blobs), Some(m)) => {
                check_platform(&m.config)?;
                let digest = format!("sha256:{}", m.config_sha);
                if !self.root_of(&digest).is_dir() {
                    for layer in &m.layers {
                        archive::with_layer(blobs, layer, |r| u.apply_tar(r))?;
                    }
                }
                (Some(digest), m.format, m.config["config"].clone())
            }
            _ => {
                unpack::apply_dir(&mut u, source)?;
                (None, "rootfs", serde_json::Value::Null)
            }
        };
        let (mut bytes, mut entries) = (u.bytes(), u.entries());
        let content = u.finish()?;
        let digest = digest.unwrap_or_else(|| format!("sha256:{content}"));
        let final_root = self.root_of(&digest);
        if final_root.is_dir() {
            // The same image again: its root is already here, unpacked as it was then.
            if let Some(r) = self.list()?.into_iter().find(|r| r.digest == digest) {
                (bytes, entries) = (r.bytes, r.entries);
            }
        } else {
            seal::seal(&root)?;
            fs::rename(&root, &final_root)?;
        }
        let probe = seal::probe(&final_root, &kind, id, &config).inspect_err(|_| {
            self.drop_root_if_unused(&digest, None);
        })?;
        let old = self.get(id).ok();
        let rec = ImageRecord {
            id: id.to_string(),
            digest: digest.clone(),
            format: format.to_string(),
            imported_from: match pulled {
                Some((asked, _)) => asked.to_string(),
                None => source.display().to_string(),
            },
            command: probe.command,
            handler_arg: probe.handler_arg,
            env: probe.env,
            interpreter: probe.interpreter,
            version: probe.version,
            os: probe.os,
            bytes,
            entries,
            reference: pulled.map(|(_, pinned)| pinned.to_string()),
        };
        let tmp = work.0.join("record.json");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(&rec).expect("a record serializes"))?;
        f.sync_all()?;
        fs::rename(&tmp, self.record_path(id))?;
        if let Some(old) = old.filter(|o| o.digest != digest) {
            self.drop_root_if_unused(&old.digest, None);
        }
        tracing::info!(runtime = id, digest, format, bytes, "image imported");
        Ok(rec)
    }

    pub fn get(&self, id: &str) -> Result<ImageRecord, ImageError> {
        if kind_of(id).is_none() {
            return Err(ImageError::NotFound(id.into()));
        }
        let text = fs::read_to_string(self.record_path(id)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ImageError::NotFound(id.into()),
            _ => e.into(),
        })?;
        serde_json::from_str(&text).map_err(|e| ImageError::Format(format!("{id}: {e}")))
    }

    /// Removes runtime `id`, and its root when no other id uses it.
    pub fn remove(&self, id: &str) -> Result<ImageRecord, ImageError> {
        let rec = self.get(id)?;
        fs::remove_file(self.record_path(id))?;
        self.drop_root_if_unused(&rec.digest, Some(id));
        Ok(rec)
    }

    fn drop_root_if_unused(&self, digest: &str, except: Option<&str>) {
        let used = self.list().map(|l| {
            l.iter()
                .any(|r| r.digest == digest && Some(r.id.as_str()) != except)
        });
        // A function image on the same root keeps it too.
        if let Ok(false) = used.map(|u| u || self.function_uses(digest)) {
            let root = self.root_of(digest);
            // Renamed away first, so a half-removed root is never found under its name.
            let gone = self
                .dir
                .join(format!(".tmp-rm-{}", uuid::Uuid::new_v4().simple()));
            if fs::rename(&root, &gone).is_ok() {
                let _ = fs::remove_dir_all(&gone);
            }
        }
    }
}

/// The OCI architecture name of this build.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn check_platform(config: &serde_json::Value) -> Result<(), ImageError> {
    let os = config["os"].as_str().unwrap_or("linux");
    let arch = config["architecture"].as_str().unwrap_or(host_arch());
    if os != "linux" || arch != host_arch() {
        return Err(ImageError::Runtime(format!(
            "the image is for {os}/{arch}; this host runs linux/{}",
            host_arch()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
