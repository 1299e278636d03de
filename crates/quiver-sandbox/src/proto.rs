//! Messages between the Manager (in the server) and the spawner, over a
//! `SOCK_SEQPACKET` socketpair: one JSON message per packet, fds by SCM_RIGHTS.

use crate::spec::SandboxSpec;
use crate::SandboxError;
use serde::{Deserialize, Serialize};
use std::io::IoSlice;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// Largest message: a spec with a big environment still fits.
pub const MAX_MSG: usize = 256 * 1024;

/// Manager → spawner.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Spawn(SpawnRequest),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SpawnRequest {
    pub req: u64,
    pub id: String,
    /// Empty host directory to mount the sandbox's tmpfs root on (inside its own mount ns).
    pub root_dir: PathBuf,
    /// `cgroup.procs` files to place init in before it may run.
    pub procs_files: Vec<PathBuf>,
    pub spec: SandboxSpec,
    /// Pre-made form: the host code base staged at `/opt` until an assignment arrives
    /// on the gate (see `premade.rs`); `spec` then carries no code and no command.
    #[serde(default)]
    pub premade_code_base: Option<PathBuf>,
}

/// Spawner → Manager.
#[derive(Debug, Serialize, Deserialize)]
pub enum Event {
    /// Carries fds: runtime stdout read end, stderr read end, pidfd of init, and for
    /// held sandboxes the write end of the start gate.
    Spawned {
        req: u64,
        id: String,
        init_pid: i32,
    },
    SpawnFailed {
        req: u64,
        error: String,
    },
    /// init built the root and started the runtime.
    Ready {
        id: String,
    },
    /// init could not build the environment.
    SetupFailed {
        id: String,
        error: String,
    },
    /// init was reaped. `runtime_status` is the runtime's raw wait status when init saw it end.
    Exited {
        id: String,
        init_status: i32,
        runtime_status: Option<i32>,
    },
}

/// Send one message with optional fds.
pub fn send<T: Serialize>(sock: RawFd, msg: &T, fds: &[RawFd]) -> Result<(), SandboxError> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let body = serde_json::to_vec(msg).map_err(|e| SandboxError::Spawner(e.to_string()))?;
    let iov = [IoSlice::new(&body)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(SandboxError::io("send to spawner socket", e.into())),
        }
    }
}

/// Receive one message. `Ok(None)` is end of file (the peer is gone);
/// `Err(WouldBlock)` is surfaced as an io error so async callers can wait.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: RawFd,
    buf: &mut [u8],
) -> std::io::Result<Option<(T, Vec<OwnedFd>)>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let (len, fds) = loop {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        match recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for c in msg.cmsgs().map_err(std::io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: the kernel just installed these descriptors in our table
                        // (SCM_RIGHTS); nothing else owns them.
                        fds.extend(
                            raw.into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                break (msg.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if len == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..len])
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(Some((msg, fds)))
}

/// A connected `SOCK_SEQPACKET` pair, both ends close-on-exec.
pub fn socketpair() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| SandboxError::io("socketpair", e.into()))
}
