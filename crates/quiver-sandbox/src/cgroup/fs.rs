//! The seam between cgroup logic and the kernel (youki's `Syscall` idea).
//!
//! Every cgroup write goes through [`CgroupFs`], so the v1/v2/hybrid decisions are
//! unit-tested against a recording fake while production uses [`RealCgroupFs`].

use std::io;
use std::path::Path;

/// The handful of filesystem operations cgroup management needs.
pub trait CgroupFs: Send + Sync + 'static {
    /// Create one directory (the parent must exist). `AlreadyExists` is an error.
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Remove an empty cgroup directory.
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// Write a control file in a single `write(2)` (cgroup files need that).
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Read a control file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Names of the child directories (child cgroups) of `path`.
    fn subdirs(&self, path: &Path) -> io::Result<Vec<String>>;
    /// SIGKILL one process (the v1 kill-all fallback).
    fn kill_pid(&self, pid: i32) -> io::Result<()>;
}

/// The real kernel interface: plain file operations under the cgroup mounts.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealCgroupFs;

impl CgroupFs for RealCgroupFs {
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.write_all(value.as_bytes())
    }
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn subdirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }
    fn kill_pid(&self, pid: i32) -> io::Result<()> {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .map_err(io::Error::from)
    }
}

/// A fake kernel that records every mutating call, for exact-sequence tests.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct RecordingFs {
        pub log: Mutex<Vec<String>>,
        pub files: Mutex<BTreeMap<PathBuf, String>>,
        pub dirs: Mutex<BTreeSet<PathBuf>>,
    }

    impl RecordingFs {
        pub fn with_dirs(dirs: &[&str]) -> Self {
            let fs = RecordingFs::default();
            fs.dirs
                .lock()
                .unwrap()
                .extend(dirs.iter().map(PathBuf::from));
            fs
        }
        pub fn set(&self, path: &str, value: &str) {
            self.files
                .lock()
                .unwrap()
                .insert(PathBuf::from(path), value.to_string());
        }
        pub fn take_log(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    impl CgroupFs for RecordingFs {
        fn mkdir(&self, path: &Path) -> io::Result<()> {
            self.log
                .lock()
                .unwrap()
                .push(format!("mkdir {}", path.display()));
            if !self.dirs.lock().unwrap().insert(path.to_path_buf()) {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            Ok(())
        }
        fn rmdir(&self, path: &Path) -> io::Result<()> {
            self.log
                .lock()
                .unwrap()
                .push(format!("rmdir {}", path.display()));
            self.dirs.lock().unwrap().remove(path);
            Ok(())
        }
        fn write(&self, path: &Path, value: &str) -> io::Result<()> {
            self.log
                .lock()
                .unwrap()
                .push(format!("write {} {}", path.display(), value));
            Ok(())
        }
        fn read(&self, path: &Path) -> io::Result<String> {
            self.files
                .lock()
                .unwrap()
                .get(path)
                .cloned()
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        }
        fn exists(&self, path: &Path) -> bool {
            self.dirs.lock().unwrap().contains(path)
                || self.files.lock().unwrap().contains_key(path)
        }
        fn subdirs(&self, path: &Path) -> io::Result<Vec<String>> {
            Ok(self
                .dirs
                .lock()
                .unwrap()
                .iter()
                .filter(|d| d.parent() == Some(path))
                .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
                .collect())
        }
        fn kill_pid(&self, pid: i32) -> io::Result<()> {
            self.log.lock().unwrap().push(format!("kill {pid}"));
            Ok(())
        }
    }
}
