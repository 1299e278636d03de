//! Applying image layers to a root, treating every layer as hostile input (like zips).
//!
//! The tar crate's own `unpack` is not relied on: every path is checked here. An entry
//! is refused (the whole import fails, and the caller drops the half-built root) when
//! - its path is absolute or has a `..` component;
//! - any directory on its way is a symlink (no write ever goes *through* a link, be it
//!   one pointing outside the root or one an earlier entry or layer made), or a file;
//! - it is a hard link whose target is absolute, has `..`, crosses a symlink, or is not
//!   a regular file already in the root;
//! - it is a device node or a fifo (refused, not skipped: an image that needs one is
//!   not a runtime image, and skipping would hide what the image meant);
//! - the import's files add up to more than the byte or entry limit.
//!
//! setuid/setgid bits are stripped (a function runs as one unprivileged user; nothing
//! in a runtime root needs to gain privileges). Symlinks are created as written: their
//! target is only ever resolved inside a sandbox, whose root is this tree.
//!
//! Whiteouts follow the OCI image spec (`.wh.<name>` removes `<name>` of the layers
//! below; `.wh..wh..opq` empties its directory of what the layers below put there,
//! keeping what the same layer adds, whatever the entry order).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::ImageError;

/// The largest total an import may unpack to, and how many entries it may hold.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for ImageLimits {
    /// Lambda's own limit for container images: 10 GB uncompressed; entries bounded so
    /// that a layer of empty files cannot exhaust inodes.
    fn default() -> Self {
        ImageLimits {
            max_bytes: 10 * 1024 * 1024 * 1024,
            max_entries: 2_000_000,
        }
    }
}

const OPAQUE: &str = ".wh..wh..opq";
const WHITEOUT: &str = ".wh.";

/// What one entry of a layer (or of a rootfs directory) is.
pub(crate) enum Entry<'a> {
    Dir,
    File { data: &'a mut dyn Read, size: u64 },
    Symlink { target: PathBuf },
    HardLink { target: Vec<u8> },
}

/// Owner, mode and mtime of an entry, as the layer says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

/// Builds one root from layers applied in order.
pub(crate) struct Unpacker {
    root: PathBuf,
    limits: ImageLimits,
    bytes: u64,
    entries: u64,
    /// Paths the current layer wrote (an opaque whiteout keeps them).
    this_layer: HashSet<PathBuf>,
    /// Directory modes, applied at the end (a read-only directory must not stop later
    /// entries from being written into it).
    dir_modes: HashMap<PathBuf, u32>,
    /// Hash of what was applied, for roots that come with no digest (a rootfs dir).
    hash: Sha256,
}

fn refuse(path: &Path, why: impl std::fmt::Display) -> ImageError {
    ImageError::Refused(format!("{}: {why}", path.display()))
}

/// A layer path made relative and checked: None for the root itself (`./`).
pub(crate) fn clean(raw: &[u8]) -> Result<Option<PathBuf>, ImageError> {
    let p = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(
                    p,
                    "absolute path (entries must stay inside the image)",
                ))
            }
            Component::ParentDir => {
                return Err(refuse(
                    p,
                    "`..` in path (entries must stay inside the image)",
                ))
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Ownership as the layer says; ignored where the importer may not chown (not root).
fn chown(p: &Path, m: &Meta) -> io::Result<()> {
    let (Ok(uid), Ok(gid)) = (u32::try_from(m.uid), u32::try_from(m.gid)) else {
        return Ok(());
    };
    match std::os::unix::fs::lchown(p, Some(uid), Some(gid)) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        r => r,
    }
}

/// The mode bits an unpacked entry keeps: permissions and sticky, never setuid/setgid.
pub(crate) fn kept_mode(mode: u32) -> u32 {
    mode & 0o1777
}

impl Unpacker {
    pub fn new(root: PathBuf, limits: ImageLimits) -> Self {
        Unpacker {
            root,
            limits,
            bytes: 0,
            entries: 0,
            this_layer: HashSet::new(),
            dir_modes: HashMap::new(),
            hash: Sha256::new(),
        }
    }

    /// Bytes of regular files written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries applied so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Starts the next layer (opaque whiteouts keep only this layer's own paths).
    pub fn begin_layer(&mut self) {
        self.this_layer.clear();
        self.hash.update(b"\0layer\0");
    }

    /// The parent directory of `rel` on disk, created as needed; refused when any
    /// component on the way is a symlink or not a directory.
    fn parent_of(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        let mut dir = self.root.clone();
        let mut so_far = PathBuf::new();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                dir.push(c);
                so_far.push(c);
                match fs::symlink_metadata(&dir) {
                    Ok(md) if md.is_dir() => {}
                    Ok(md) if md.file_type().is_symlink() => {
                        return Err(refuse(
                            rel,
                            format!(
                            "written through the symlink {} (layers may not write through links)",
                            so_far.display()
                        ),
                        ))
                    }
                    Ok(_) => {
                        return Err(refuse(
                            rel,
                            format!("{} is not a directory", so_far.display()),
                        ))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        fs::create_dir(&dir)?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(dir)
    }

    fn count(&mut self, rel: &Path, size: u64) -> Result<(), ImageError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ImageError::TooLarge(format!(
                "the image has more than {} entries",
                self.limits.max_entries
            )));
        }
        if self.bytes.saturating_add(size) > self.limits.max_bytes {
            return Err(ImageError::TooLarge(format!(
                "the image unpacks to more than {} bytes (at {})",
                self.limits.max_bytes,
                rel.display()
            )));
        }
        Ok(())
    }

    /// Applies one entry at the (raw, unchecked) layer path `raw`.
    pub fn apply(&mut self, raw: &[u8], meta: Meta, entry: Entry<'_>) -> Result<(), ImageError> {
        let Some(rel) = clean(raw)? else {
            // `./` itself: the root's own mode is Quiver's (0755), whatever the layer says.
            return match entry {
                Entry::Dir => Ok(()),
                _ => Err(ImageError::Refused(
                    "an entry names the image root as a non-directory".into(),
                )),
            };
        };
        let name = rel
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        if name == OPAQUE.as_bytes() {
            return self.opaque(&rel);
        }
        if let Some(gone) = name.strip_prefix(WHITEOUT.as_bytes()) {
            return self.whiteout(&rel, gone);
        }
        let size = match &entry {
            Entry::File { size, .. } => *size,
            _ => 0,
        };
        self.count(&rel, size)?;
        let parent = self.parent_of(&rel)?;
        let path = parent.join(rel.file_name().expect("a cleaned path has a name"));
        self.hash.update(rel.as_os_str().as_bytes());
        self.hash
            .update(format!("\0{:o}\0{}\0{}\0", meta.mode, meta.uid, meta.gid));
        match entry {
            Entry::Dir => {
                match fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&path)?;
                        fs::create_dir(&path)?;
                    }
                    Err(_) => fs::create_dir(&path)?,
                }
                self.hash.update(b"d");
                chown(&path, &meta)?;
                self.dir_modes.insert(path, kept_mode(meta.mode));
            }
            Entry::File { data, size } => {
                remove_any(&path)?;
                // create_new: O_EXCL never follows a link, even one raced in.
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                let mut hashing = HashingWriter {
                    inner: &mut f,
                    hash: &mut self.hash,
                };
                let copied = io::copy(&mut data.take(size), &mut hashing)?;
                if copied != size {
                    return Err(refuse(&rel, format!("truncated: {copied} of {size} bytes")));
                }
                self.bytes += copied;
                f.set_permissions(fs::Permissions::from_mode(kept_mode(meta.mode)))?;
                f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(meta.mtime))?;
                drop(f);
                chown(&path, &meta)?;
            }
            Entry::Symlink { target } => {
                if target.as_os_str().is_empty() {
                    return Err(refuse(&rel, "symlink with an empty target"));
                }
                remove_any(&path)?;
                std::os::unix::fs::symlink(&target, &path)?;
                self.hash.update(b"l");
                self.hash.update(target.as_os_str().as_bytes());
                chown(&path, &meta)?;
            }
            Entry::HardLink { target } => {
                let source = self.link_source(&rel, &target)?;
                if source != path {
                    remove_any(&path)?;
                    fs::hard_link(&source, &path)?;
                }
                self.hash.update(b"h");
                self.hash.update(&target);
            }
        }
        // The entry and the directories on its way (a layer need not list them) are
        // this layer's: an opaque marker later in the layer keeps them.
        for p in rel.ancestors().filter(|p| !p.as_os_str().is_empty()) {
            if !self.this_layer.insert(p.to_path_buf()) {
                break;
            }
        }
        Ok(())
    }

    /// The existing regular file a hard link entry names, checked like any path.
    fn link_source(&self, rel: &Path, raw: &[u8]) -> Result<PathBuf, ImageError> {
        let target = clean(raw)
            .map_err(|e| match e {
                ImageError::Refused(m) => refuse(rel, format!("hard link target refused: {m}")),
                e => e,
            })?
            .ok_or_else(|| refuse(rel, "hard link to the image root"))?;
        let mut p = self.root.clone();
        let n = target.components().count();
        for (i, c) in target.components().enumerate() {
            p.push(c);
            let md = fs::symlink_metadata(&p).map_err(|_| {
                refuse(
                    rel,
                    format!(
                        "hard link to {}, which the image does not hold",
                        target.display()
                    ),
                )
            })?;
            let last = i + 1 == n;
            if md.file_type().is_symlink() {
                return Err(refuse(
                    rel,
                    format!("hard link through or to the symlink {}", target.display()),
                ));
            }
            if (!last && !md.is_dir()) || (last && !md.is_file()) {
                return Err(refuse(
                    rel,
                    format!(
                        "hard link to {}, which is not a regular file",
                        target.display()
                    ),
                ));
            }
        }
        Ok(p)
    }

    fn whiteout(&mut self, rel: &Path, gone: &[u8]) -> Result<(), ImageError> {
        let parent_rel = rel.parent().unwrap_or(Path::new(""));
        let gone_rel = clean(&[parent_rel.as_os_str().as_bytes(), b"/", gone].concat())?;
        let Some(gone_rel) = gone_rel.filter(|g| g.parent() == Some(parent_rel)) else {
            return Err(refuse(rel, "whiteout of no single name"));
        };
        let parent = self.parent_of(rel)?;
        remove_any(&parent.join(gone_rel.file_name().expect("one name")))?;
        self.hash.update(b"w");
        self.hash.update(gone_rel.as_os_str().as_bytes());
        Ok(())
    }

    fn opaque(&mut self, rel: &Path) -> Result<(), ImageError> {
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let dir = self.parent_of(rel)?;
        for child in fs::read_dir(&dir)? {
            let child = child?;
            let child_rel = parent_rel.join(child.file_name());
            if !self.this_layer.contains(&child_rel) {
                remove_any(&child.path())?;
            }
        }
        self.hash.update(b"o");
        self.hash.update(parent_rel.as_os_str().as_bytes());
        Ok(())
    }

    /// Applies one layer tar (already decompressed).
    pub fn apply_tar(&mut self, reader: impl Read) -> Result<(), ImageError> {
        self.begin_layer();
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let header = entry.header();
            let ty = header.entry_type();
            let meta = Meta {
                mode: header.mode().unwrap_or(0o644),
                uid: header.uid().unwrap_or(0),
                gid: header.gid().unwrap_or(0),
                mtime: header.mtime().unwrap_or(0),
            };
            let path = entry.path_bytes().into_owned();
            let link = entry.link_name_bytes().map(|l| l.into_owned());
            use tar::EntryType as T;
            match ty {
                T::Directory => self.apply(&path, meta, Entry::Dir)?,
                T::Regular | T::Continuous | T::GNUSparse => {
                    let size = entry.size();
                    self.apply(
                        &path,
                        meta,
                        Entry::File {
                            data: &mut entry,
                            size,
                        },
                    )?
                }
                T::Symlink => {
                    let target = link.ok_or_else(|| {
                        refuse(
                            Path::new(std::ffi::OsStr::from_bytes(&path)),
                            "symlink without a target",
                        )
                    })?;
                    let target = PathBuf::from(std::ffi::OsStr::from_bytes(&target));
                    self.apply(&path, meta, Entry::Symlink { target })?
                }
                T::Link => {
                    let target = link.ok_or_else(|| {
                        refuse(
                            Path::new(std::ffi::OsStr::from_bytes(&path)),
                            "hard link without a target",
                        )
                    })?;
                    self.apply(&path, meta, Entry::HardLink { target })?
                }
                T::Char | T::Block | T::Fifo => {
                    return Err(refuse(
                        Path::new(std::ffi::OsStr::from_bytes(&path)),
                        "device node or fifo (runtime images may not hold them)",
                    ))
                }
                T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
                other => {
                    return Err(refuse(
                        Path::new(std::ffi::OsStr::from_bytes(&path)),
                        format!("unsupported tar entry type {:?}", other.as_byte() as char),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Applies the directory modes, and returns the hash of everything applied.
    pub fn finish(mut self) -> Result<String, ImageError> {
        let mut dirs: Vec<(PathBuf, u32)> = self.dir_modes.drain().collect();
        // Deepest first, so a read-only parent is set after its children.
        dirs.sort_by(|a, b| b.0.cmp(&a.0));
        for (path, mode) in dirs {
            if fs::symlink_metadata(&path)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            }
        }
        Ok(hex::encode(self.hash.finalize()))
    }
}

struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hash: &'a mut Sha256,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Applies a rootfs directory as one layer: walked without following links, sorted,
/// hard links kept (same inode twice), anything that is not a file, directory or
/// symlink refused like a layer's device node.
pub(crate) fn apply_dir(u: &mut Unpacker, src: &Path) -> Result<(), ImageError> {
    u.begin_layer();
    let mut seen: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = fs::read_dir(src.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        // Reverse onto the stack so directories come out in sorted order.
        let mut subdirs = Vec::new();
        for name in names {
            let r = rel.join(&name);
            let full = src.join(&r);
            let md = fs::symlink_metadata(&full)?;
            let meta = Meta {
                mode: md.mode(),
                uid: md.uid().into(),
                gid: md.gid().into(),
                mtime: u64::try_from(md.mtime()).unwrap_or(0),
            };
            let raw = r.as_os_str().as_bytes().to_vec();
            let ft = md.file_type();
            if ft.is_dir() {
                u.apply(&raw, meta, Entry::Dir)?;
                subdirs.push(r);
            } else if ft.is_symlink() {
                let target = fs::read_link(&full)?;
                u.apply(&raw, meta, Entry::Symlink { target })?;
            } else if ft.is_file() {
                if md.nlink() > 1 {
                    if let Some(first) = seen.get(&(md.dev(), md.ino())) {
                        let target = first.clone();
                        u.apply(&raw, meta, Entry::HardLink { target })?;
                        continue;
                    }
                    seen.insert((md.dev(), md.ino()), raw.clone());
                }
                let mut f = fs::File::open(&full)?;
                let size = md.len();
                u.apply(&raw, meta, Entry::File { data: &mut f, size })?;
            } else {
                return Err(refuse(
                    &r,
                    "device node, fifo or socket (runtime images may not hold them)",
                ));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
pub(crate) mod tests;
