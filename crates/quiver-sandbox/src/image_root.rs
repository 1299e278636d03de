//! A sandbox root made of a runtime image (docs/sandbox.md §15).
//!
//! The image's unpacked root (the image store made its mount points real directories
//! and files at import) is bound read-only as the new root, in place of the tmpfs
//! holding the host's `/usr`. Quiver's own `/etc` files (the sandbox user, hostname,
//! resolver) are written to a scratch tmpfs and bound over the image's, which keeps the
//! rest of its `/etc` (alternatives, ld.so.cache, certificates, os-release). `/dev`,
//! `/proc`, `/var/task`, `/opt` and `/tmp` are mounted over it as in every sandbox.
//!
//! The root stays a bind mount to its end: it is never remounted without `MS_BIND`,
//! which would change the flags of the host filesystem the image store lives on.

use std::path::Path;

use nix::mount::{umount2, MntFlags, MsFlags};

use crate::rootfs::{bind_ro, m, write_etc_files};

/// The `/etc` files a sandbox brings; the image store guarantees each exists as a
/// regular file in every image root (a bind onto a symlink would follow it).
pub const ETC_FILES: &[&str] = &[
    "passwd",
    "group",
    "hosts",
    "hostname",
    "resolv.conf",
    "nsswitch.conf",
];

/// Binds `image` read-only at `root` and Quiver's `/etc` files over the image's.
pub(crate) fn mount(image: &Path, root: &Path, hostname: &str) -> Result<(), String> {
    bind_ro(image, root)?;
    // Scratch space for the generated files: the image's /tmp, which gets its own
    // tmpfs later anyway.
    let scratch = root.join("tmp");
    m(
        Some(Path::new("tmpfs")),
        &scratch,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k,nr_inodes=64"),
    )?;
    let written = write_etc_files(&scratch, hostname).and_then(|()| {
        ETC_FILES.iter().try_for_each(|f| {
            let target = root.join("etc").join(f);
            match std::fs::symlink_metadata(&target) {
                Ok(md) if md.is_file() => bind_ro(&scratch.join(f), &target),
                _ => Err(format!(
                    "image root {} lacks a regular /etc/{f} (re-import the image)",
                    image.display()
                )),
            }
        })
    });
    // The binds keep the scratch files alive; the scratch mount itself goes.
    umount2(&scratch, MntFlags::MNT_DETACH).map_err(|e| format!("unmount scratch /tmp: {e}"))?;
    written
}
