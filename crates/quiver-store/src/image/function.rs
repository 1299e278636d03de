//! Function images (`PackageType: Image`, docs/wire.md §17.4): the image a function's
//! `Code.ImageUri` names, pulled from its registry and unpacked into the same
//! content-addressed roots as runtime images, with the same hostile-layer checks.
//!
//! `images/functions/<manifest hex>.json` records what a manifest digest resolved to
//! (the image id, so its root, and the config's Entrypoint/Cmd/WorkingDir/Env). A
//! reference by digest that was pulled before is served from it without asking the
//! registry; a tag is always asked (it may have moved), but the layers of a root that
//! is already here are not downloaded again. Roots a function image uses are never
//! dropped by `runtime rm` (see [`ImageStore::function_uses`]); they are not garbage
//! collected yet.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use quiver_model::image_ref::{ImageRef, Reference};
use serde::{Deserialize, Serialize};

use super::registry::{Credentials, Registry};
use super::{archive, check_platform, host_arch, seal, unpack, ImageError, ImageStore, WorkDir};

/// What one function image's manifest digest resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionImageRecord {
    /// `sha256:<hex>` of the manifest (or index) the reference named.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the image config: the root's name.
    pub image_id: String,
    /// The image config's `config` object (Entrypoint, Cmd, WorkingDir, Env…).
    pub config: serde_json::Value,
    /// Bytes of regular files and entries unpacked.
    pub bytes: u64,
    pub entries: u64,
}

/// Removes a pull's layout however the pull ends.
struct Layout(PathBuf);

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl ImageStore {
    fn functions_dir(&self) -> PathBuf {
        self.dir.join("functions")
    }

    fn function_record_path(&self, manifest_digest: &str) -> PathBuf {
        self.functions_dir()
            .join(format!("{}.json", super::digest_hex(manifest_digest)))
    }

    /// The function image recorded under `manifest_digest`, if its root is still here.
    pub fn function_image(
        &self,
        manifest_digest: &str,
    ) -> Result<Option<FunctionImageRecord>, ImageError> {
        if !quiver_model::image_ref::is_sha256_digest(manifest_digest) {
            return Ok(None);
        }
        let text = match fs::read_to_string(self.function_record_path(manifest_digest)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let rec: FunctionImageRecord = serde_json::from_str(&text)
            .map_err(|e| ImageError::Format(format!("function image {manifest_digest}: {e}")))?;
        Ok(self.root_of(&rec.image_id).is_dir().then_some(rec))
    }

    /// Whether a function image record names the root `image_id`.
    pub(crate) fn function_uses(&self, image_id: &str) -> bool {
        let Ok(dir) = fs::read_dir(self.functions_dir()) else {
            return false;
        };
        dir.filter_map(Result::ok).any(|e| {
            fs::read_to_string(e.path())
                .ok()
                .and_then(|t| serde_json::from_str::<FunctionImageRecord>(&t).ok())
                .is_some_and(|r| r.image_id == image_id)
        })
    }

    /// The image `image` names, ready to run: a digest pulled before comes from the
    /// record, anything else is pulled (blocking: call it off the async runtime).
    /// [`ImageError::ImageNotFound`] when the registry has no such repository or tag.
    pub fn pull_function_image(
        &self,
        image: &ImageRef,
        credentials: Option<Credentials>,
    ) -> Result<FunctionImageRecord, ImageError> {
        if let Reference::Digest(d) = &image.reference {
            if let Some(rec) = self.function_image(d)? {
                return Ok(rec);
            }
        }
        let layout = Layout(self.work_dir()?);
        let mut registry = Registry::new(image.clone(), credentials);
        let pulled = registry.pull(host_arch(), &layout.0, |config| {
            self.root_of(config).is_dir()
        })?;
        let (image_id, config, bytes, entries) = self.unpack_layout(&layout.0)?;
        let rec = FunctionImageRecord {
            manifest_digest: pulled.manifest_digest,
            image_id,
            config,
            bytes,
            entries,
        };
        fs::create_dir_all(self.functions_dir())?;
        let tmp = layout.0.join("record.json");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(&rec).expect("a record serializes"))?;
        f.sync_all()?;
        fs::rename(&tmp, self.function_record_path(&rec.manifest_digest))?;
        tracing::info!(image = %image, digest = %rec.manifest_digest, image_id = %rec.image_id, bytes = rec.bytes, "function image pulled");
        Ok(rec)
    }

    /// Unpacks the one image of an OCI layout into its root (unless that root is here
    /// already) and returns its id, its config's `config` object and the unpacked
    /// bytes and entries. Two pulls of one image at once each unpack into their own
    /// work dir; the second to finish finds the root in place and keeps it.
    pub(super) fn unpack_layout(
        &self,
        layout: &Path,
    ) -> Result<(String, serde_json::Value, u64, u64), ImageError> {
        let blobs = archive::Blobs::Dir(layout.to_path_buf());
        let m = archive::oci(&blobs, host_arch())?;
        check_platform(&m.config)?;
        let digest = format!("sha256:{}", m.config_sha);
        let config = m.config["config"].clone();
        let final_root = self.root_of(&digest);
        if final_root.is_dir() {
            return Ok((digest, config, 0, 0));
        }
        let work = WorkDir(
            self.dir
                .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple())),
        );
        let root = work.0.join("root");
        fs::create_dir_all(&root)?;
        let mut u = unpack::Unpacker::new(root.clone(), self.limits);
        for layer in &m.layers {
            archive::with_layer(&blobs, layer, |r| u.apply_tar(r))?;
        }
        let (bytes, entries) = (u.bytes(), u.entries());
        u.finish()?;
        seal::seal(&root)?;
        if let Err(e) = fs::rename(&root, &final_root) {
            if !final_root.is_dir() {
                return Err(e.into());
            }
        }
        Ok((digest, config, bytes, entries))
    }
}
