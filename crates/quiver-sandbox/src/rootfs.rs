//! The sandbox's minimal root, built inside its own mount namespace.
//!
//! A tmpfs root holding read-only binds of `/usr` (+ merged-usr symlinks) and the
//! spec's extra runtime prefixes, a synthetic `/etc`, a minimal `/dev`, a fresh
//! `/proc`, `/var/task` (read-only code), an empty `/opt` and a size-bounded `/tmp`;
//! then `pivot_root` and detach the old root. Nothing is mounted in the host's
//! namespace: `/` is made recursively private first.
//!
//! `/tmp` is a tmpfs of `size=EphemeralStorage`: a full `/tmp` gives ENOSPC; its pages
//! are charged to the sandbox's memory cgroup (documented deviation, see ARCHITECTURE.md).

use crate::spec::SandboxSpec;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// uid and gid of the sandbox user, as on Lambda.
pub const SANDBOX_UID: u32 = 993;
pub const SANDBOX_GID: u32 = 993;
pub const SANDBOX_USER: &str = "sbx_user1051";

pub(crate) fn m(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), String> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        format!(
            "mount {} on {}: {e}",
            src.map_or("-".into(), |s| s.display().to_string()),
            target.display()
        )
    })
}

/// Bind `src` at `target` read-only, nosuid, nodev (the flags need a second remount).
pub(crate) fn bind_ro(src: &Path, target: &Path) -> Result<(), String> {
    m(
        Some(src),
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    m(
        None,
        target,
        None,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None,
    )
}

fn mkdirs(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

fn write(p: &Path, s: &str) -> Result<(), String> {
    std::fs::write(p, s).map_err(|e| format!("write {}: {e}", p.display()))
}

fn under(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Mount point for a bind of `src`: a directory or an empty file, like `src`.
fn make_target(src: &Path, target: &Path) -> Result<(), String> {
    if src.is_dir() {
        mkdirs(target)
    } else {
        if let Some(parent) = target.parent() {
            mkdirs(parent)?;
        }
        std::fs::File::create(target)
            .map(|_| ())
            .map_err(|e| format!("create {}: {e}", target.display()))
    }
}

/// Build the root at `root_dir` and switch to it. Runs as root in fresh namespaces.
/// With `code_base` (a pre-made sandbox) `/var/task` stays an empty mount point and the
/// code base is staged read-only at `/opt` until [`assign`] (see `premade.rs`).
pub fn build(root_dir: &Path, spec: &SandboxSpec, code_base: Option<&Path>) -> Result<(), String> {
    m(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    let root = root_dir;
    // A runtime image replaces the host's /usr and the generated /etc (image_root.rs).
    match &spec.image_root {
        Some(image) => crate::image_root::mount(image, root, &spec.hostname)?,
        None => host_root(root, spec)?,
    }
    build_dev(root)?;

    let proc_dir = root.join("proc");
    mkdirs(&proc_dir)?;
    // We are PID 1 of the new pid namespace: this proc shows only our processes.
    m(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;

    let task = root.join("var/task");
    mkdirs(&task)?;
    if code_base.is_none() {
        bind_ro(&spec.code_dir, &task)?;
    }
    if let Some(runtime_dir) = &spec.runtime_dir {
        let rt = root.join("var/runtime");
        mkdirs(&rt)?;
        bind_ro(runtime_dir, &rt)?;
    }
    mkdirs(&root.join("opt"))?;
    if let Some(base) = code_base {
        bind_ro(base, &root.join("opt"))?;
    } else if let Some(layers) = &spec.opt_dir {
        // The function's layers, merged in order (a sandbox with layers is never
        // pre-made: docs/sandbox.md §12).
        bind_ro(layers, &root.join("opt"))?;
    } else if spec.image_root.is_some() {
        // /opt is where layers go, not the image's own files: empty, read-only.
        m(
            Some(Path::new("tmpfs")),
            &root.join("opt"),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RDONLY,
            Some("mode=0755,size=4k,nr_inodes=16"),
        )?;
    }
    let tmp = root.join("tmp");
    mkdirs(&tmp)?;
    m(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&format!("mode=1777,size={}m", spec.ephemeral_mb)),
    )?;

    // pivot_root(".", ".") then detach the old root stacked on top (as runc does).
    std::env::set_current_dir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("detach old root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    // The root tmpfs itself (with /etc and the mount points) becomes read-only. An
    // image root is a read-only bind already: remounting it without MS_BIND would
    // change the flags of the host filesystem under the image store.
    if spec.image_root.is_none() {
        m(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            None,
        )?;
    }
    // stdin: /dev/null of the new root.
    let null = std::fs::OpenOptions::new()
        .read(true)
        .open("/dev/null")
        .map_err(|e| format!("open /dev/null: {e}"))?;
    // SAFETY: dup2 of a valid fd onto 0.
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    Ok(())
}

/// The root of a sandbox on the host's system: a tmpfs with `/usr` (and the
/// merged-usr links) and the runtime's extra binds read-only, and a generated `/etc`.
fn host_root(root: &Path, spec: &SandboxSpec) -> Result<(), String> {
    m(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m,nr_inodes=4096"),
    )?;

    // /usr and the merged-usr links (or binds where the host has real directories).
    mkdirs(&root.join("usr"))?;
    bind_ro(Path::new("/usr"), &root.join("usr"))?;
    for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(md) if md.file_type().is_symlink() => {
                let target = std::fs::read_link(&host)
                    .map_err(|e| format!("readlink {}: {e}", host.display()))?;
                symlink(&target, root.join(name)).map_err(|e| format!("symlink {name}: {e}"))?;
            }
            Ok(md) if md.is_dir() => {
                mkdirs(&root.join(name))?;
                bind_ro(&host, &root.join(name))?;
            }
            _ => {}
        }
    }
    for extra in &spec.extra_ro_binds {
        if extra.starts_with("/usr") {
            continue;
        }
        let t = under(root, extra);
        make_target(extra, &t)?;
        bind_ro(extra, &t)?;
    }

    build_etc(root, spec)?;
    Ok(())
}

fn build_etc(root: &Path, spec: &SandboxSpec) -> Result<(), String> {
    let etc = root.join("etc");
    mkdirs(&etc)?;
    write_etc_files(&etc, &spec.hostname)?;
    let certs = Path::new("/etc/ssl/certs");
    if certs.is_dir() {
        let t = etc.join("ssl/certs");
        mkdirs(&t)?;
        bind_ro(certs, &t)?;
    }
    let lt = Path::new("/etc/localtime");
    if let Ok(target) = std::fs::read_link(lt) {
        symlink(target, etc.join("localtime")).map_err(|e| format!("symlink localtime: {e}"))?;
    } else if lt.is_file() {
        std::fs::copy(lt, etc.join("localtime")).map_err(|e| format!("copy localtime: {e}"))?;
    }
    Ok(())
}

/// The `/etc` files every sandbox gets from Quiver (`image_root::ETC_FILES`): the
/// sandbox user, the hostname, no resolver.
pub(crate) fn write_etc_files(etc: &Path, hostname: &str) -> Result<(), String> {
    write(
        &etc.join("passwd"),
        &format!("root:x:0:0:root:/root:/usr/sbin/nologin\n{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
    )?;
    write(
        &etc.join("group"),
        &format!("root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"),
    )?;
    write_hostname_files(etc, hostname)?;
    write(
        &etc.join("nsswitch.conf"),
        "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
    )?;
    // Loopback only for now: no resolver to point at (outbound networking is a later seam).
    write(
        &etc.join("resolv.conf"),
        "# quiver sandbox: no outbound network\noptions ndots:0\n",
    )
}

fn write_hostname_files(etc: &Path, hostname: &str) -> Result<(), String> {
    write(
        &etc.join("hosts"),
        &format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
    )?;
    write(&etc.join("hostname"), &format!("{hostname}\n"))
}

/// Turns a pre-made root (after `pivot_root`) into the assigned function's: its code
/// tree read-only at `/var/task`, the code base unmounted (so `/opt` is empty again and
/// no other tree is reachable), `/tmp` resized, the hostname set. Runs in init as root
/// before the runtime exists.
pub fn assign(a: &crate::Assignment, built_hostname: &str) -> Result<(), String> {
    if !crate::is_code_name(&a.code) {
        return Err(format!(
            "code name {:?} is not 64 lowercase hex digits",
            a.code
        ));
    }
    let src = Path::new("/opt").join(&a.code);
    // A real directory only: a symlink here would be followed by mount(2).
    match std::fs::symlink_metadata(&src) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => return Err(format!("code tree {} is not a directory", a.code)),
        Err(e) => return Err(format!("code tree {}: {e}", a.code)),
    }
    bind_ro(&src, Path::new("/var/task"))?;
    umount2("/opt", MntFlags::MNT_DETACH)
        .map_err(|e| format!("unmount the staged code base: {e}"))?;
    m(
        None,
        Path::new("/tmp"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&format!("mode=1777,size={}m", a.ephemeral_mb)),
    )?;
    if a.hostname != built_hostname {
        nix::unistd::sethostname(&a.hostname).map_err(|e| format!("sethostname: {e}"))?;
        let ro = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        m(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            None,
        )?;
        let written = write_hostname_files(Path::new("/etc"), &a.hostname);
        m(None, Path::new("/"), None, ro, None)?;
        written?;
    }
    Ok(())
}

fn build_dev(root: &Path) -> Result<(), String> {
    let dev = root.join("dev");
    mkdirs(&dev)?;
    m(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k,nr_inodes=64"),
    )?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = Path::new("/dev").join(name);
        let t = dev.join(name);
        std::fs::File::create(&t).map_err(|e| format!("create {}: {e}", t.display()))?;
        // Device nodes keep working through a bind (this bind is not nodev).
        m(Some(&host), &t, None, MsFlags::MS_BIND, None)?;
        m(
            None,
            &t,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            None,
        )?;
    }
    let shm = dev.join("shm");
    mkdirs(&shm)?;
    m(
        Some(Path::new("tmpfs")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=64m"),
    )?;
    let pts = dev.join("pts");
    mkdirs(&pts)?;
    m(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    symlink("pts/ptmx", dev.join("ptmx")).map_err(|e| format!("symlink ptmx: {e}"))?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(name)).map_err(|e| format!("symlink /dev/{name}: {e}"))?;
    }
    m(
        None,
        &dev,
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k,nr_inodes=64"),
    )
}
