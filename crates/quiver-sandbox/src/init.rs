//! The sandbox side: code that runs in the cloned child, first as the environment's
//! builder, then as its PID 1.
//!
//! Runs in a fork-like child of the single-threaded spawner, so ordinary Rust is
//! fine here; the runtime's own process is forked from this (also single-threaded)
//! init and execs right after dropping privileges.

use crate::proto::SpawnRequest;
use crate::{identity, rootfs};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use std::ffi::CString;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

const SYNC_FD: RawFd = 3;
const REPORT_FD: RawFd = 4;
/// Held sandboxes wait here for one byte before the runtime starts; EOF means abort.
const GATE_FD: RawFd = 5;

/// Entry point of the cloned child. Never returns.
pub fn child_main(
    req: &SpawnRequest,
    out_w: OwnedFd,
    err_w: OwnedFd,
    sync_r: OwnedFd,
    rep_w: OwnedFd,
    gate_r: OwnedFd,
) -> ! {
    // Move the five fds we keep to fixed numbers, then close everything else
    // (other sandboxes' pipes, the Manager socket, the signalfd).
    let keep = [
        out_w.into_raw_fd(),
        err_w.into_raw_fd(),
        sync_r.into_raw_fd(),
        rep_w.into_raw_fd(),
        gate_r.into_raw_fd(),
    ];
    let mut high = [0; 5];
    for (i, fd) in keep.iter().enumerate() {
        // SAFETY: fcntl on fds we own; F_DUPFD picks a free number >= 64 so the
        // following dup2s cannot clobber a descriptor we still need.
        high[i] = unsafe { libc::fcntl(*fd, libc::F_DUPFD, 64) };
        if high[i] < 0 {
            exit_now(120);
        }
    }
    for (target, fd) in [1, 2, SYNC_FD, REPORT_FD, GATE_FD].into_iter().zip(high) {
        // SAFETY: dup2 onto fixed numbers; both fds are valid.
        if unsafe { libc::dup2(fd, target) } < 0 {
            exit_now(121);
        }
    }
    close_from(GATE_FD + 1);

    // SAFETY: prctl with integer arguments. Our parent (the spawner) is
    // single-threaded, so the "parent thread" is the spawner itself.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let mut b = [0u8; 1];
    // Held here until the spawner placed us in every cgroup; EOF means it died.
    match nix::unistd::read(SYNC_FD, &mut b) {
        Ok(1) => {}
        _ => exit_now(122),
    }
    // SAFETY: closing a fixed fd we own.
    unsafe { libc::close(SYNC_FD) };

    // Everything below happens in our own pid, mount, net, ipc and uts namespaces.
    if let Err(e) = setup(req) {
        report(format!("F{e}").as_bytes());
        exit_now(1);
    }
    let exec = if req.premade_code_base.is_some() {
        // Pre-made: built and empty. Wait for the assignment, become that function's
        // sandbox, then wait for the release like any held sandbox.
        report(b"R");
        let a = read_assignment();
        let exec = rootfs::assign(&a, &req.spec.hostname)
            .and_then(|()| identity::Exec::prepare_parts(&a.argv, &a.env, &a.cwd));
        match exec {
            Ok(x) => x,
            Err(e) => {
                report(format!("F{e}").as_bytes());
                exit_now(1);
            }
        }
    } else {
        match identity::Exec::prepare(&req.spec) {
            Ok(x) => x,
            Err(e) => {
                report(format!("F{e}").as_bytes());
                exit_now(1);
            }
        }
    };

    if req.spec.hold {
        // Built: tell the host, then wait until it has opened its listeners inside.
        if req.premade_code_base.is_none() {
            report(b"R");
        }
        let mut g = [0u8; 1];
        match nix::unistd::read(GATE_FD, &mut g) {
            Ok(1) => {}
            _ => exit_now(123),
        }
    }
    // SAFETY: closing a fixed fd we own.
    unsafe { libc::close(GATE_FD) };

    // init handles every signal synchronously (sigwait); the runtime unblocks them.
    let all = SigSet::all();
    let _ = all.thread_block();
    // SAFETY: init is single-threaded; the child only runs async-signal-safe-enough
    // code (no locks held by other threads exist) before exec.
    let runtime = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => exec.run(),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            report(format!("Ffork runtime: {e}").as_bytes());
            exit_now(1);
        }
    };
    if !req.spec.hold {
        report(b"R");
    }
    let status = supervise(runtime, &all);
    let mut msg = [0u8; 5];
    msg[0] = b'X';
    msg[1..].copy_from_slice(&status.to_le_bytes());
    report(&msg);
    // Our exit makes the kernel kill whatever else is left in the namespace.
    exit_now(0);
}

/// Reap everything; forward signals to the runtime; return its raw wait status.
fn supervise(runtime: Pid, all: &SigSet) -> i32 {
    loop {
        let sig = match all.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig == Signal::SIGCHLD {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == runtime => return code << 8,
                    Ok(WaitStatus::Signaled(pid, s, core)) if pid == runtime => {
                        return s as i32 | if core { 0x80 } else { 0 };
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        } else {
            let _ = nix::sys::signal::kill(runtime, sig);
        }
    }
}

/// Reads one length-prefixed [`crate::Assignment`] from the gate. End of file (the
/// host dropped the pre-made sandbox) ends init quietly; anything malformed is a
/// setup failure.
fn read_assignment() -> crate::Assignment {
    let mut len = [0u8; 4];
    if !read_exact(GATE_FD, &mut len) {
        exit_now(123);
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > crate::premade::MAX_ASSIGNMENT {
        report(format!("Fassignment of {len} bytes is too large").as_bytes());
        exit_now(1);
    }
    let mut body = vec![0u8; len];
    if !read_exact(GATE_FD, &mut body) {
        exit_now(123);
    }
    match crate::Assignment::decode(&body) {
        Ok(a) => a,
        Err(e) => {
            report(format!("F{e}").as_bytes());
            exit_now(1);
        }
    }
}

/// Fill `buf` from `fd`; false on end of file or error.
fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd, &mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

fn setup(req: &SpawnRequest) -> Result<(), String> {
    std::fs::write("/proc/self/oom_score_adj", "1000")
        .map_err(|e| format!("oom_score_adj: {e}"))?;
    nix::unistd::sethostname(&req.spec.hostname).map_err(|e| format!("sethostname: {e}"))?;
    crate::netns::loopback_up().map_err(|e| format!("bring up lo: {e}"))?;
    rootfs::build(&req.root_dir, &req.spec, req.premade_code_base.as_deref())
}

fn report(msg: &[u8]) {
    // SAFETY: write of a valid buffer to our report fd; a short write is not possible
    // for <= PIPE_BUF bytes.
    unsafe { libc::write(REPORT_FD, msg.as_ptr().cast(), msg.len().min(4096)) };
}

/// Close every fd >= `from`.
pub(crate) fn close_from(from: RawFd) {
    // SAFETY: close_range only closes descriptors; we own them all in this process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
    if r != 0 {
        for fd in from..4096 {
            // SAFETY: as above, fallback for kernels without close_range.
            unsafe { libc::close(fd) };
        }
    }
}

pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and stdio flushing, which belong to the spawner.
    unsafe { libc::_exit(code) }
}

pub(crate) fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("NUL byte in {s:?}"))
}
