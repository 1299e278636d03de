//! The data directory and its lock: one server per data dir.
//!
//! The lock is an `flock` on `<data-dir>/quiver.lock`. The kernel drops it when the
//! process dies, however it dies, so a restart after `kill -9` needs no cleanup.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};

/// Holds the lock for as long as it lives.
pub struct DataDir {
    pub path: PathBuf,
    _lock: Flock<File>,
}

impl DataDir {
    /// Creates the directory if needed and takes the lock, or explains who holds it.
    pub fn lock(path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create data dir {}", path.display()))?;
        let path = path
            .canonicalize()
            .with_context(|| format!("cannot resolve data dir {}", path.display()))?;
        let lock_path = path.join("quiver.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open lock file {}", lock_path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                };
                anyhow::bail!(
                    "data dir {} is already in use by another quiver server{who}: lock {} is held. \
                     Stop that server or start this one with a different --data-dir.",
                    path.display(),
                    lock_path.display()
                );
            }
            Err((_, e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        };
        // Record who holds it, for the message above.
        lock.set_len(0)?;
        lock.rewind()?;
        write!(lock, "{}", std::process::id())?;
        lock.flush()?;
        Ok(Self { path, _lock: lock })
    }

    pub fn metadata_db(&self) -> PathBuf {
        self.path.join("metadata.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("quiver-lock-test-{}", std::process::id()));
        let _cleanup = Cleanup(dir.clone());
        let first = DataDir::lock(&dir).unwrap();
        let err = DataDir::lock(&dir)
            .err()
            .expect("second lock must fail")
            .to_string();
        assert!(
            err.contains("already in use by another quiver server"),
            "{err}"
        );
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDir::lock(&dir).unwrap();
    }
}
