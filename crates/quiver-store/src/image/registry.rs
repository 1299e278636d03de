//! A small client of the OCI distribution API v2, enough to pull one image
//! (`quiver runtime pull`, docs/wire.md §19): the manifest (an index narrowed to
//! linux/<host arch>), the config and the layer blobs, each checked against its digest
//! and size while it streams to disk, laid out as an OCI image layout that the image
//! store then imports like any other (same hostile-layer checks).
//!
//! Authentication is what registries ask for with a 401: the bearer-token flow
//! (`WWW-Authenticate: Bearer realm=,service=,scope=` → GET the realm → `token` or
//! `access_token`), anonymous unless credentials are given, or Basic. Plain HTTP only
//! for loopback registries; HTTPS (rustls, Mozilla's roots) for every other one.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use quiver_model::image_ref::{is_sha256_digest, ImageRef, Reference};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ImageError;

type Result<T> = std::result::Result<T, ImageError>;

/// An [`ImageError::Registry`] worded like `format!`.
macro_rules! fail {
    ($($t:tt)*) => { ImageError::Registry(format!($($t)*)) };
}

/// Returns early with [`fail!`].
macro_rules! bail {
    ($($t:tt)*) => { return Err(fail!($($t)*)) };
}

/// Largest manifest or index read (the image store reads JSON documents up to the same).
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Largest token answer.
const MAX_TOKEN: u64 = 1024 * 1024;
/// Largest sum of compressed blobs: Lambda's 10 GB image limit (uncompressed, so a
/// compressed image over it cannot fit either).
const MAX_TOTAL: u64 = 10 * 1024 * 1024 * 1024;

const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

fn is_index(media: &str) -> bool {
    media == MANIFEST_TYPES[0] || media == MANIFEST_TYPES[2]
}

/// Credentials for registries that want them (`--username`, `QUIVER_REGISTRY_PASSWORD`).
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    fn basic(&self) -> String {
        use base64::Engine;
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// One repository of one registry, with the authorization it has earned so far.
pub struct Registry {
    agent: ureq::Agent,
    image: ImageRef,
    credentials: Option<Credentials>,
    authorization: Option<String>,
}

/// What a pull left in the layout directory.
pub struct Pulled {
    /// The digest of the manifest (or index) the reference named: what pins it.
    pub manifest_digest: String,
    /// The image's config digest (its image id).
    pub config_digest: String,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// One `key="value"` list of a `WWW-Authenticate` header, after its scheme.
fn challenge_params(rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((key, after)) = s.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_string()));
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The registry's error document (`{"errors":[{"code","message"}]}`), in a few words.
fn error_text(resp: ureq::Response) -> String {
    let mut body = Vec::new();
    let _ = resp.into_reader().take(64 * 1024).read_to_end(&mut body);
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match v["errors"].as_array().and_then(|a| a.first()) {
        Some(e) => format!(
            "{}: {}",
            e["code"].as_str().unwrap_or("error"),
            e["message"].as_str().unwrap_or("")
        ),
        None => String::from_utf8_lossy(&body).chars().take(200).collect(),
    }
}

/// Reads at most `max` bytes of a body, refusing a longer one.
fn read_capped(resp: ureq::Response, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    resp.into_reader()
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| fail!("reading {what}: {e}"))?;
    if buf.len() as u64 > max {
        bail!("{what} is larger than {max} bytes");
    }
    Ok(buf)
}

fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Registry {
    pub fn new(image: ImageRef, credentials: Option<Credentials>) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(60))
            .user_agent(concat!("quiver/", env!("CARGO_PKG_VERSION")))
            .build();
        Registry {
            agent,
            image,
            credentials,
            authorization: None,
        }
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.image.base_url(),
            self.image.repository
        )
    }

    /// GET with the authorization earned so far; on a 401, answers its challenge once
    /// and tries again. A 404 is `Ok(None)`.
    fn get(&mut self, url: &str, accept: &str) -> Result<Option<ureq::Response>> {
        for attempt in 0..2 {
            let mut req = self.agent.get(url).set("Accept", accept);
            if let Some(a) = &self.authorization {
                req = req.set("Authorization", a);
            }
            match req.call() {
                Ok(resp) => return Ok(Some(resp)),
                Err(ureq::Error::Status(401, resp)) if attempt == 0 => {
                    let challenge = resp.header("www-authenticate").unwrap_or("").to_string();
                    self.answer(&challenge)?;
                }
                Err(ureq::Error::Status(401, resp)) => bail!(
                    "{} refused the pull (401 {}){}",
                    self.image.registry,
                    error_text(resp),
                    if self.credentials.is_none() {
                        ": give credentials with --username and QUIVER_REGISTRY_PASSWORD"
                    } else {
                        ""
                    }
                ),
                Err(ureq::Error::Status(404, _)) => return Ok(None),
                Err(ureq::Error::Status(code, resp)) => {
                    bail!(
                        "{} answered {code}: {}",
                        self.image.registry,
                        error_text(resp)
                    )
                }
                Err(ureq::Error::Transport(t)) => {
                    bail!("cannot reach the registry {}: {t}", self.image.base_url())
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Earns an authorization for a `WWW-Authenticate` challenge.
    fn answer(&mut self, challenge: &str) -> Result<()> {
        let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => {
                let params = challenge_params(rest);
                let param = |k: &str| {
                    params
                        .iter()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.clone())
                };
                let realm = param("realm")
                    .ok_or_else(|| fail!("the registry's Bearer challenge names no realm"))?;
                let realm_ok = realm.starts_with("https://")
                    || (realm.starts_with("http://") && self.image.is_loopback());
                if !realm_ok {
                    bail!("the registry's token realm {realm:?} is not HTTPS");
                }
                let scope = param("scope")
                    .unwrap_or_else(|| format!("repository:{}:pull", self.image.repository));
                let mut req = self.agent.get(&realm).query("scope", &scope);
                if let Some(service) = param("service") {
                    req = req.query("service", &service);
                }
                if let Some(c) = &self.credentials {
                    req = req.set("Authorization", &c.basic());
                }
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(code, resp)) => bail!(
                        "the token service {realm} answered {code}: {}",
                        error_text(resp)
                    ),
                    Err(ureq::Error::Transport(t)) => {
                        bail!("cannot reach the token service {realm}: {t}")
                    }
                };
                let body = read_capped(resp, MAX_TOKEN, "the token answer")?;
                let v: Value = serde_json::from_slice(&body)
                    .map_err(|e| fail!("the token service's answer is not JSON: {e}"))?;
                let token = v["token"]
                    .as_str()
                    .or(v["access_token"].as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| fail!("the token service's answer has no token"))?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
            "basic" => match &self.credentials {
                Some(c) => {
                    self.authorization = Some(c.basic());
                    Ok(())
                }
                None => bail!(
                    "{} wants credentials: give them with --username and QUIVER_REGISTRY_PASSWORD",
                    self.image.registry
                ),
            },
            _ => bail!(
                "{} answered 401 without a Bearer or Basic challenge",
                self.image.registry
            ),
        }
    }

    /// A manifest (or index) by tag or digest: its bytes, media type and digest, the
    /// digest checked when it was asked for by digest.
    fn manifest(&mut self, reference: &str) -> Result<(Vec<u8>, String, String, Value)> {
        let url = self.url("manifests", reference);
        let resp = self.get(&url, &MANIFEST_TYPES.join(", "))?.ok_or_else(|| {
            ImageError::ImageNotFound(format!(
                "{} has no image {}:{} (manifest unknown)",
                self.image.registry, self.image.repository, reference
            ))
        })?;
        let header_digest = resp.header("docker-content-digest").map(String::from);
        let content_type = resp.content_type().to_string();
        let bytes = read_capped(resp, MAX_MANIFEST, "the manifest")?;
        let digest = sha256_of(&bytes);
        if is_sha256_digest(reference) && digest != reference {
            bail!("image refused: digest mismatch: the manifest asked for as {reference} hashes to {digest}");
        }
        if let Some(h) = header_digest.filter(|h| h.starts_with("sha256:")) {
            if h != digest {
                bail!("image refused: digest mismatch: the registry calls the manifest {h}, it hashes to {digest}");
            }
        }
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| fail!("the manifest is not JSON: {e}"))?;
        if doc["schemaVersion"].as_i64() == Some(1) {
            bail!("the image has a Docker schema 1 manifest, which is not supported: push it again with a current client");
        }
        let media = if MANIFEST_TYPES.contains(&content_type.as_str()) {
            content_type
        } else {
            doc["mediaType"].as_str().unwrap_or("").to_string()
        };
        Ok((bytes, media, digest, doc))
    }

    /// Downloads a blob into `dest`, checking its size and digest as it streams.
    fn blob(&mut self, digest: &str, size: u64, dest: &Path) -> Result<()> {
        if !is_sha256_digest(digest) {
            bail!("the manifest names the blob {digest:?}: only sha256 digests are supported");
        }
        let url = self.url("blobs", digest);
        let resp = self
            .get(&url, "*/*")?
            .ok_or_else(|| fail!("the registry has no blob {digest} (blob unknown)"))?;
        let tmp = dest.with_extension("part");
        let mut out = fs::File::create(&tmp)?;
        let mut reader = resp.into_reader().take(size + 1);
        let mut hash = Sha256::new();
        let mut got = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| fail!("downloading blob {digest}: {e}"))?;
            if n == 0 {
                break;
            }
            got += n as u64;
            if got > size {
                bail!("image refused: blob {digest} is larger than the {size} bytes its descriptor says");
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        if got != size {
            bail!("image refused: blob {digest} is {got} bytes, its descriptor says {size}");
        }
        let actual = format!("sha256:{}", hex::encode(hash.finalize()));
        if actual != digest {
            bail!("image refused: digest mismatch: blob {digest} hashes to {actual}");
        }
        out.sync_all()?;
        fs::rename(&tmp, dest)?;
        Ok(())
    }

    /// Pulls the image into `layout` (an empty directory) as an OCI image layout of
    /// that one image. `have_root` says whether the store already holds a config's
    /// root, whose layers are then not downloaded again.
    pub fn pull(
        &mut self,
        arch: &str,
        layout: &Path,
        have_root: impl Fn(&str) -> bool,
    ) -> Result<Pulled> {
        let blobs = layout.join("blobs/sha256");
        fs::create_dir_all(&blobs)?;
        let put = |digest: &str, bytes: &[u8]| -> Result<()> {
            let hex = digest.trim_start_matches("sha256:");
            fs::write(blobs.join(hex), bytes)?;
            Ok(())
        };
        let top = self.image.reference.as_str().to_string();
        let (mut bytes, mut media, top_digest, mut doc) = self.manifest(&top)?;
        let mut digest = top_digest.clone();
        let mut downloaded = bytes.len() as u64;
        for _depth in 0..3 {
            if !is_index(&media) {
                break;
            }
            let list = doc["manifests"].as_array().cloned().unwrap_or_default();
            let chosen = list
                .iter()
                .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == arch)
                .ok_or_else(|| {
                    let platforms: Vec<String> = list
                        .iter()
                        .map(|m| {
                            format!(
                                "{}/{}",
                                m["platform"]["os"].as_str().unwrap_or("?"),
                                m["platform"]["architecture"].as_str().unwrap_or("?")
                            )
                        })
                        .collect();
                    fail!(
                        "the image has no manifest for linux/{arch} (it has {})",
                        platforms.join(", ")
                    )
                })?;
            let child = chosen["digest"].as_str().unwrap_or("").to_string();
            if !is_sha256_digest(&child) {
                bail!("the index names the manifest {child:?}: only sha256 digests are supported");
            }
            (bytes, media, digest, doc) = self.manifest(&child)?;
            downloaded += bytes.len() as u64;
        }
        if is_index(&media) {
            bail!("image indexes nest too deep");
        }
        if !MANIFEST_TYPES.contains(&media.as_str()) && doc["config"].is_null() {
            bail!("the registry answered a manifest of type {media:?}, not an image manifest");
        }
        put(&digest, &bytes)?;
        let descriptor = |d: &Value, what: &str| -> Result<(String, u64)> {
            let digest = d["digest"].as_str().unwrap_or("").to_string();
            let size = d["size"]
                .as_u64()
                .ok_or_else(|| fail!("the manifest's {what} has no size"))?;
            Ok((digest, size))
        };
        let (config_digest, config_size) = descriptor(&doc["config"], "config")?;
        if config_size > MAX_MANIFEST {
            bail!("image refused: the config is {config_size} bytes (at most {MAX_MANIFEST})");
        }
        let config_hex = config_digest.trim_start_matches("sha256:");
        self.blob(&config_digest, config_size, &blobs.join(config_hex))?;
        downloaded += config_size;
        let layers = doc["layers"]
            .as_array()
            .ok_or_else(|| fail!("the manifest has no layers"))?;
        let total: u64 = layers.iter().map(|l| l["size"].as_u64().unwrap_or(0)).sum();
        if total > MAX_TOTAL {
            bail!("image refused: its layers are {total} bytes compressed (at most {MAX_TOTAL})");
        }
        if !have_root(&config_digest) {
            for l in layers {
                let (d, size) = descriptor(l, "layer")?;
                let dest = blobs.join(d.trim_start_matches("sha256:"));
                if !dest.exists() {
                    self.blob(&d, size, &dest)?;
                    downloaded += size;
                }
            }
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{ "mediaType": media, "digest": digest, "size": bytes.len() }],
        });
        fs::write(layout.join("index.json"), index.to_string())?;
        fs::write(
            layout.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(Pulled {
            manifest_digest: top_digest,
            config_digest,
            bytes: downloaded,
        })
    }

    /// `host/repo:tag@sha256:...` (or `host/repo@sha256:...`): the reference, pinned.
    pub fn pinned(&self, manifest_digest: &str) -> String {
        match &self.image.reference {
            Reference::Tag(t) => format!(
                "{}/{}:{t}@{manifest_digest}",
                self.image.registry, self.image.repository
            ),
            Reference::Digest(_) => format!(
                "{}/{}@{manifest_digest}",
                self.image.registry, self.image.repository
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::challenge_params;

    #[test]
    fn bearer_challenges_parse() {
        let p = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull".into()),
            ]
        );
        let p = challenge_params(r#"realm="http://127.0.0.1:1/t", service=x"#);
        assert_eq!(p[1], ("service".to_string(), "x".to_string()));
    }
}
