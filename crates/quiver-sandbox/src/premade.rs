//! Pre-made ("deferred") sandboxes: built empty ahead of demand, given their code at
//! assignment. Plain data plus its wire form on the gate pipe.
//!
//! A cold start pays ~8–16 ms for clone, cgroups, mounts and `pivot_root` before the
//! runtime can even start (SOCK, USENIX ATC'18: namespace and cgroup creation dominate).
//! A [`PremadeSpec`] sandbox does all of that without knowing which function it will
//! run; an [`Assignment`] later names the code tree, the command line and the limits.
//!
//! How the code gets in without leaving the host visible: before `pivot_root`, init
//! binds the host's *code base* (`<data_dir>/code`, whose children are trees named by
//! SHA-256) read-only at `/opt`, the one directory a normal root has empty. At
//! assignment init binds `/opt/<sha>` read-only at `/var/task` and lazily unmounts
//! `/opt`, so the root ends exactly as a normal sandbox's: `/opt` empty, only this tree
//! at `/var/task`, no fd into the host. Only init (root, our code) runs while the code
//! base is staged; the runtime is forked after it is gone.
//!
//! Why not keep an `O_PATH` fd to the code base across `pivot_root` and bind
//! `/proc/self/fd/N/<sha>`: after the old root is detached (`umount2(MNT_DETACH)`), its
//! mounts belong to no namespace, and the kernel refuses to bind from a mount outside
//! the caller's namespace (`do_loopback` → `check_mnt` → EINVAL). The staged bind lives
//! in the sandbox's own namespace, so binding from it works on every kernel.

use crate::SandboxError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Largest assignment message accepted on the gate (Lambda caps variables at 4 KB;
/// this leaves room for long command lines without letting a bug allocate unbounded).
pub(crate) const MAX_ASSIGNMENT: usize = 1024 * 1024;

/// How to build an empty sandbox that waits for an [`Assignment`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PremadeSpec {
    /// Memory limit while empty (raised at assignment; the sandbox holds only init).
    pub memory_mb: u32,
    /// Size of `/tmp` while empty (resized at assignment).
    pub ephemeral_mb: u32,
    /// Host directory whose children are code trees named by 64 lowercase hex digits.
    pub code_base: PathBuf,
    /// Host directory shown read-only at `/var/runtime` (same for every function).
    pub runtime_dir: Option<PathBuf>,
    /// UTS hostname the root is built with (an assignment may change it).
    pub hostname: String,
}

impl PremadeSpec {
    pub fn validate(&self) -> Result<(), SandboxError> {
        crate::spec::check_limits_and_dirs(
            self.memory_mb,
            self.ephemeral_mb,
            ("code_base", &self.code_base),
            self.runtime_dir.as_deref(),
        )?;
        check_hostname(&self.hostname)
    }

    /// The sandbox spec init builds the root from: no code, no command (never run).
    pub(crate) fn to_spec(&self) -> crate::SandboxSpec {
        crate::SandboxSpec {
            memory_mb: self.memory_mb,
            ephemeral_mb: self.ephemeral_mb,
            code_dir: self.code_base.clone(),
            extra_ro_binds: Vec::new(),
            argv: Vec::new(),
            env: Vec::new(),
            cwd: "/".into(),
            hostname: self.hostname.clone(),
            runtime_dir: self.runtime_dir.clone(),
            image_root: None,
            hold: true,
            opt_dir: None,
        }
    }
}

/// What a pre-made sandbox becomes: written by [`crate::Sandbox::assign`] to its gate
/// as a 4-byte little-endian length and this JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Name of the code tree under the code base: 64 lowercase hex digits, never a path.
    pub code: String,
    /// The runtime's command line; `argv[0]` without `/` is searched in the env's PATH.
    pub argv: Vec<String>,
    /// The runtime's entire environment.
    pub env: Vec<(String, String)>,
    /// Working directory inside the sandbox.
    pub cwd: String,
    pub hostname: String,
    /// Size of `/tmp`.
    pub ephemeral_mb: u32,
    /// cgroup memory limit (set by the host before the message is written).
    pub memory_mb: u32,
}

/// A code tree's name: exactly 64 lowercase hex digits (so never `..`, `/` or empty).
pub fn is_code_name(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_hostname(h: &str) -> Result<(), SandboxError> {
    if h.is_empty() || h.len() > 64 || h.contains('\0') || h.contains('\n') {
        return Err(SandboxError::Spec(
            "hostname must be 1..=64 bytes without NUL or newline".into(),
        ));
    }
    Ok(())
}

impl Assignment {
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad = |m: String| Err(SandboxError::Spec(m));
        if !is_code_name(&self.code) {
            return bad(format!(
                "code name {:?} is not 64 lowercase hex digits",
                self.code
            ));
        }
        if self.argv.is_empty() {
            return bad("argv is empty".into());
        }
        if self.memory_mb < 16 {
            return bad(format!("memory_mb {} is below 16", self.memory_mb));
        }
        if self.ephemeral_mb == 0 {
            return bad("ephemeral_mb is 0".into());
        }
        if !self.cwd.starts_with('/') {
            return bad(format!("cwd {:?} is not absolute", self.cwd));
        }
        let has_nul = |s: &str| s.contains('\0');
        if self.argv.iter().any(|a| has_nul(a))
            || self
                .env
                .iter()
                .any(|(k, v)| has_nul(k) || has_nul(v) || k.contains('=') || k.is_empty())
            || has_nul(&self.cwd)
        {
            return bad("NUL byte or malformed environment name".into());
        }
        check_hostname(&self.hostname)
    }

    /// Length-prefixed JSON for the gate pipe.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, SandboxError> {
        let body = serde_json::to_vec(self).map_err(|e| SandboxError::Spec(e.to_string()))?;
        if body.len() > MAX_ASSIGNMENT {
            return Err(SandboxError::Spec(format!(
                "assignment of {} bytes exceeds {MAX_ASSIGNMENT}",
                body.len()
            )));
        }
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Inverse of [`encode`](Self::encode)'s body; validates (init trusts nothing it reads).
    pub(crate) fn decode(body: &[u8]) -> Result<Assignment, String> {
        let a: Assignment =
            serde_json::from_slice(body).map_err(|e| format!("bad assignment: {e}"))?;
        a.validate().map_err(|e| e.to_string())?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Assignment {
        Assignment {
            code: "ab".repeat(32),
            argv: vec!["/usr/bin/python3".into(), "-I".into()],
            env: vec![("A".into(), "1".into())],
            cwd: "/var/task".into(),
            hostname: "sandbox".into(),
            ephemeral_mb: 512,
            memory_mb: 128,
        }
    }

    #[test]
    fn code_names_are_sha_hex_only() {
        assert!(is_code_name(&"0123456789abcdef".repeat(4)));
        for bad in [
            "",
            "..",
            "../x",
            &"AB".repeat(32),
            &"ab".repeat(31),
            &format!("{}/", "a".repeat(63)),
            &"g".repeat(64),
        ] {
            assert!(!is_code_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn round_trip_and_validation() {
        let a = sample();
        let wire = a.encode().unwrap();
        let len = u32::from_le_bytes(wire[..4].try_into().unwrap()) as usize;
        assert_eq!(len, wire.len() - 4);
        assert_eq!(Assignment::decode(&wire[4..]).unwrap(), a);
        let mut p = sample();
        p.code = format!("../{}", "a".repeat(61));
        assert!(p.validate().is_err());
        assert!(
            Assignment::decode(&serde_json::to_vec(&p).unwrap()).is_err(),
            "init re-validates"
        );
        let mut e = sample();
        e.env.push(("X=Y".into(), "1".into()));
        assert!(e.validate().is_err());
        let mut h = sample();
        h.hostname = "a\nb".into();
        assert!(h.validate().is_err());
    }
}
