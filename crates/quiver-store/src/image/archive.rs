//! Reading an image from what an operator has: an OCI image layout or a `docker save`
//! output, each as a tar archive or unpacked into a directory.
//!
//! The outer archive is indexed once (name → offset and size of each regular file) and
//! blobs are then read in place, in the order the manifest gives; nothing of it is
//! extracted. Every blob the manifest names is checked against its digest while it is
//! read (OCI: the blob's own sha256; docker save: the config's `diff_ids`), so a
//! tampered layer fails the import. A registry pull (a later source) fits the same
//! shape: it yields the manifest, the config and the layer blobs by digest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::unpack::clean;
use super::ImageError;

/// Largest JSON document (index, manifest, config) read into memory.
const MAX_JSON: u64 = 4 * 1024 * 1024;

fn bad(m: impl Into<String>) -> ImageError {
    ImageError::Format(m.into())
}

/// Where the blobs of an archive are.
pub(crate) enum Blobs {
    /// A directory (an unpacked layout).
    Dir(PathBuf),
    /// A tar file: name → (data offset, size).
    Tar {
        file: PathBuf,
        index: HashMap<String, (u64, u64)>,
    },
}

impl Blobs {
    /// Indexes a tar archive's regular files (names cleaned; others are never looked up).
    pub fn tar(path: &Path) -> Result<Self, ImageError> {
        let mut f = File::open(path)?;
        let mut magic = [0u8; 2];
        if f.read(&mut magic)? == 2 && magic == [0x1f, 0x8b] {
            return Err(bad(
                "the archive is gzip-compressed: give the .tar itself (gunzip it first)",
            ));
        }
        f.seek(SeekFrom::Start(0))?;
        let mut index = HashMap::new();
        let mut archive = tar::Archive::new(BufReader::new(f));
        for entry in archive
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?
        {
            let entry = entry.map_err(|e| bad(format!("not a tar archive: {e}")))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            if let Ok(Some(name)) = clean(&entry.path_bytes()) {
                if let Some(name) = name.to_str() {
                    index.insert(name.to_string(), (entry.raw_file_position(), entry.size()));
                }
            }
        }
        Ok(Blobs::Tar {
            file: path.to_path_buf(),
            index,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        match self {
            Blobs::Dir(d) => std::fs::symlink_metadata(d.join(name))
                .map(|m| m.is_file())
                .unwrap_or(false),
            Blobs::Tar { index, .. } => index.contains_key(name),
        }
    }

    /// Opens the file `name` (a path inside the archive, checked like a layer path).
    pub fn open(&self, name: &str) -> Result<Box<dyn Read>, ImageError> {
        let rel = clean(name.as_bytes())
            .map_err(|e| bad(format!("the image names a file outside its archive: {e}")))?
            .ok_or_else(|| bad("the image names an empty file name"))?;
        let missing = || bad(format!("the archive has no {name}"));
        match self {
            Blobs::Dir(d) => {
                let p = d.join(&rel);
                if !std::fs::symlink_metadata(&p)
                    .map(|m| m.is_file())
                    .unwrap_or(false)
                {
                    return Err(missing());
                }
                Ok(Box::new(BufReader::new(File::open(p)?)))
            }
            Blobs::Tar { file, index } => {
                let key = rel.to_str().ok_or_else(missing)?;
                let &(offset, size) = index.get(key).ok_or_else(missing)?;
                let mut f = File::open(file)?;
                f.seek(SeekFrom::Start(offset))?;
                Ok(Box::new(BufReader::new(f).take(size)))
            }
        }
    }

    fn read_json(&self, name: &str) -> Result<(Vec<u8>, Value), ImageError> {
        let mut buf = Vec::new();
        self.open(name)?.take(MAX_JSON + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_JSON {
            return Err(bad(format!("{name} is larger than {MAX_JSON} bytes")));
        }
        let v = serde_json::from_slice(&buf).map_err(|e| bad(format!("{name}: {e}")))?;
        Ok((buf, v))
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    /// Look at the first bytes (docker save does not say).
    Sniff,
}

/// One layer: where its bytes are and what they must hash to.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub name: String,
    pub compression: Compression,
    /// Expected sha256 (hex) of the blob as stored (OCI) ...
    pub blob_sha: Option<String>,
    /// ... or of the uncompressed tar (docker save's diff_ids).
    pub diff_sha: Option<String>,
}

/// An image found in an archive: its config and its layers in order.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    /// sha256 (hex) of the config JSON: the image's id, the store's key.
    pub config_sha: String,
    pub config: Value,
    pub layers: Vec<Layer>,
    /// "oci" or "docker".
    pub format: &'static str,
}

fn sha_hex(digest: &str) -> Result<String, ImageError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| bad(format!("unsupported digest {digest:?} (sha256 only)")))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("malformed digest {digest:?}")));
    }
    Ok(hex.to_ascii_lowercase())
}

fn blob_name(digest: &str) -> Result<String, ImageError> {
    Ok(format!("blobs/sha256/{}", sha_hex(digest)?))
}

/// Reads a blob fully, checking its digest (small JSON documents only).
fn read_verified(blobs: &Blobs, digest: &str) -> Result<Value, ImageError> {
    let name = blob_name(digest)?;
    let (bytes, v) = blobs.read_json(&name)?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha_hex(digest)? {
        return Err(ImageError::Digest(format!(
            "{name} hashes to sha256:{got}, not {digest}"
        )));
    }
    Ok(v)
}

fn str_of<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, ImageError> {
    v[key]
        .as_str()
        .ok_or_else(|| bad(format!("{what} has no string {key:?}")))
}

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The image of an OCI layout: index.json → (nested index →) manifest → config, layers.
/// With several manifests, the one for linux/`arch` is taken.
pub(crate) fn oci(blobs: &Blobs, arch: &str) -> Result<Manifest, ImageError> {
    let (_, mut index) = blobs.read_json("index.json")?;
    for _depth in 0..3 {
        let list = index["manifests"]
            .as_array()
            .ok_or_else(|| bad("index.json has no manifests"))?;
        let fits = |m: &&Value| {
            let p = &m["platform"];
            p.is_null() || (p["os"] == "linux" && p["architecture"] == arch)
        };
        let candidates: Vec<&Value> = list.iter().filter(fits).collect();
        let chosen = match candidates.as_slice() {
            [one] => *one,
            [] => return Err(bad(format!("the image has no manifest for linux/{arch}"))),
            _ => {
                return Err(bad(format!(
                    "the index holds {} images: an archive of one image is needed",
                    candidates.len()
                )))
            }
        };
        let digest = str_of(chosen, "digest", "a manifest descriptor")?;
        let doc = read_verified(blobs, digest)?;
        let media = chosen["mediaType"].as_str().or(doc["mediaType"].as_str());
        if media.is_some_and(|m| INDEX_TYPES.contains(&m)) {
            index = doc;
            continue;
        }
        return oci_manifest(blobs, &doc);
    }
    Err(bad("image indexes nest too deep"))
}

fn oci_manifest(blobs: &Blobs, doc: &Value) -> Result<Manifest, ImageError> {
    let config_digest = str_of(&doc["config"], "digest", "the manifest's config")?;
    let config = read_verified(blobs, config_digest)?;
    let mut layers = Vec::new();
    for l in doc["layers"]
        .as_array()
        .ok_or_else(|| bad("the manifest has no layers"))?
    {
        let digest = str_of(l, "digest", "a layer descriptor")?;
        let media = l["mediaType"].as_str().unwrap_or("");
        let compression = if media.ends_with("+gzip") || media.ends_with(".tar.gzip") {
            Compression::Gzip
        } else if media.ends_with(".tar") || media.ends_with("+tar") || media.is_empty() {
            Compression::None
        } else {
            return Err(bad(format!(
                "layer {digest} has media type {media:?}: only tar and tar+gzip layers are supported"
            )));
        };
        layers.push(Layer {
            name: blob_name(digest)?,
            compression,
            blob_sha: Some(sha_hex(digest)?),
            diff_sha: None,
        });
    }
    Ok(Manifest {
        config_sha: sha_hex(config_digest)?,
        config,
        layers,
        format: "oci",
    })
}

/// The image of a `docker save` archive: manifest.json → config, layers.
pub(crate) fn docker(blobs: &Blobs) -> Result<Manifest, ImageError> {
    let (_, manifest) = blobs.read_json("manifest.json")?;
    let list = manifest
        .as_array()
        .ok_or_else(|| bad("manifest.json is not a list"))?;
    let [one] = list.as_slice() else {
        return Err(bad(format!(
            "manifest.json lists {} images: an archive of one image is needed",
            list.len()
        )));
    };
    let config_name = str_of(one, "Config", "manifest.json")?;
    let (bytes, config) = blobs.read_json(config_name)?;
    let config_sha = hex::encode(Sha256::digest(&bytes));
    let names = one["Layers"]
        .as_array()
        .ok_or_else(|| bad("manifest.json has no Layers"))?;
    let diff_ids = config["rootfs"]["diff_ids"].as_array();
    if diff_ids.is_some_and(|d| d.len() != names.len()) {
        return Err(bad(
            "the config's diff_ids do not match manifest.json's Layers",
        ));
    }
    let mut layers = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let name = n
            .as_str()
            .ok_or_else(|| bad("a layer name in manifest.json is not a string"))?;
        let diff_sha = match diff_ids.map(|d| &d[i]) {
            Some(v) => Some(sha_hex(v.as_str().unwrap_or(""))?),
            None => None,
        };
        layers.push(Layer {
            name: name.to_string(),
            compression: Compression::Sniff,
            blob_sha: None,
            diff_sha,
        });
    }
    Ok(Manifest {
        config_sha,
        config,
        layers,
        format: "docker",
    })
}

/// A reader that hashes what passes through it.
pub(crate) struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
        }
    }
    /// Reads what is left (tar stops at its end marker) and returns the hex digest.
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex::encode(self.hash.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens a layer as its uncompressed tar stream, and checks its digests once `apply`
/// has consumed it.
pub(crate) fn with_layer(
    blobs: &Blobs,
    layer: &Layer,
    apply: impl FnOnce(&mut dyn Read) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let mut raw = Hashing::new(BufReader::new(blobs.open(&layer.name)?));
    let gzip = match layer.compression {
        Compression::Gzip => true,
        Compression::None => false,
        Compression::Sniff => raw.inner.fill_buf()?.starts_with(&[0x1f, 0x8b]),
    };
    // A damaged stream (bad gzip, bad tar) surfaces as an I/O error of the reader:
    // name the layer.
    let named = |e: ImageError| match e {
        ImageError::Io(e) => bad(format!("layer {}: {e}", layer.name)),
        e => e,
    };
    let diff_sha = if gzip {
        let mut tar = Hashing::new(flate2::read::GzDecoder::new(&mut raw));
        apply(&mut tar).map_err(named)?;
        tar.finish().map_err(|e| named(e.into()))?
    } else {
        let mut tar = Hashing::new(&mut raw);
        apply(&mut tar).map_err(named)?;
        tar.finish().map_err(|e| named(e.into()))?
    };
    let blob_sha = raw.finish().map_err(|e| named(e.into()))?;
    let check = |want: &Option<String>, got: &str, what: &str| match want {
        Some(w) if w != got => Err(ImageError::Digest(format!(
            "layer {} {what} hashes to sha256:{got}, not sha256:{w}",
            layer.name
        ))),
        _ => Ok(()),
    };
    check(&layer.blob_sha, &blob_sha, "blob")?;
    check(&layer.diff_sha, &diff_sha, "(uncompressed)")
}
