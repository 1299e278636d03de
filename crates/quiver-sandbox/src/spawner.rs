//! The spawner: a single-threaded process (`quiver __spawner`) that clones sandboxes.
//!
//! Why a separate process: cloning into new namespaces, `PR_SET_PDEATHSIG` and
//! running Rust code between fork and exec are only sound in a single-threaded
//! process (docs/sandbox.md §2). It serves [`Request`]s over a socketpair, reaps inits
//! and reports their end. End of file on the socket means the server died or shut
//! down: every sandbox is SIGKILLed and its cgroups removed before it exits.

use crate::proto::{self, Event, Request, SpawnRequest};
use crate::SandboxError;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Namespaces every sandbox gets.
const CLONE_FLAGS: libc::c_int = libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

struct Child {
    id: String,
    report: Option<OwnedFd>,
    buf: Vec<u8>,
    cgroup_dirs: Vec<PathBuf>,
}

/// Run the spawner loop on `sock` until the Manager's end closes. Never call this
/// from a multi-threaded process.
pub fn run(sock: OwnedFd) -> Result<(), SandboxError> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block()
        .map_err(|e| SandboxError::io("block SIGCHLD", e.into()))?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| SandboxError::io("signalfd", e.into()))?;
    let mut children: HashMap<i32, Child> = HashMap::new();
    let mut buf = vec![0u8; proto::MAX_MSG];
    let s = sock.as_raw_fd();

    loop {
        let report_fds: Vec<(i32, RawFd)> = children
            .iter()
            .filter_map(|(pid, c)| c.report.as_ref().map(|r| (*pid, r.as_raw_fd())))
            .collect();
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
        ];
        for (_, fd) in &report_fds {
            // SAFETY: the fd is owned by `children` and stays open during this poll.
            fds.push(PollFd::new(
                unsafe { BorrowedFd::borrow_raw(*fd) },
                PollFlags::POLLIN,
            ));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(SandboxError::io("poll", e.into())),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        for (i, (pid, _)) in report_fds.iter().enumerate() {
            if ready[2 + i] {
                if let Some(c) = children.get_mut(pid) {
                    drain_report(s, c);
                }
            }
        }
        if ready[1] {
            while let Ok(Some(_)) = sfd.read_signal() {}
            reap(s, &mut children, false);
        }
        if ready[0] {
            match proto::recv::<Request>(s, &mut buf) {
                Ok(Some((Request::Spawn(req), _))) => {
                    let reqno = req.req;
                    match spawn(&req) {
                        Ok((pid, out, err, pidfd, report, gate)) => {
                            let mut fds = vec![out.as_raw_fd(), err.as_raw_fd(), pidfd.as_raw_fd()];
                            fds.extend(gate.as_ref().map(|g| g.as_raw_fd()));
                            let sent = proto::send(
                                s,
                                &Event::Spawned {
                                    req: reqno,
                                    id: req.id.clone(),
                                    init_pid: pid,
                                },
                                &fds,
                            );
                            let cgroup_dirs = req
                                .procs_files
                                .iter()
                                .filter_map(|p| p.parent().map(PathBuf::from))
                                .collect();
                            children.insert(
                                pid,
                                Child {
                                    id: req.id,
                                    report: Some(report),
                                    buf: Vec::new(),
                                    cgroup_dirs,
                                },
                            );
                            if sent.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = proto::send(
                                s,
                                &Event::SpawnFailed {
                                    req: reqno,
                                    error: e.to_string(),
                                },
                                &[],
                            );
                        }
                    }
                }
                Ok(None) => break,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    eprintln!("quiver spawner: bad request: {e}");
                }
                Err(_) => break,
            }
        }
    }
    shutdown(s, &mut children);
    Ok(())
}

/// The server is gone: kill every sandbox, reap, remove cgroups. Nothing outlives us.
fn shutdown(sock: RawFd, children: &mut HashMap<i32, Child>) {
    for pid in children.keys() {
        // Killing a pid namespace's init kills every process in it.
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut dirs: Vec<PathBuf> = Vec::new();
    while !children.is_empty() && Instant::now() < deadline {
        for c in children.values() {
            for d in &c.cgroup_dirs {
                if !dirs.contains(d) {
                    dirs.push(d.clone());
                }
            }
        }
        reap(sock, children, true);
        std::thread::sleep(Duration::from_millis(2));
    }
    for d in dirs.iter().rev() {
        while std::fs::remove_dir(d).is_err_and(|e| e.raw_os_error() == Some(libc::EBUSY))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn reap(sock: RawFd, children: &mut HashMap<i32, Child>, quiet: bool) {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                let Some(pid) = status.pid() else { return };
                let raw = match status {
                    WaitStatus::Exited(_, code) => code << 8,
                    WaitStatus::Signaled(_, sig, core) => sig as i32 | if core { 0x80 } else { 0 },
                    _ => continue,
                };
                if let Some(mut c) = children.remove(&pid.as_raw()) {
                    drain_report(sock, &mut c);
                    let runtime_status = parse_exit(&c.buf);
                    if !quiet {
                        let _ = proto::send(
                            sock,
                            &Event::Exited {
                                id: c.id,
                                init_status: raw,
                                runtime_status,
                            },
                            &[],
                        );
                    }
                }
            }
        }
    }
}

/// init's report pipe carries: `R` (ready), `F<text>` (setup or assignment failed), `X<i32 le>` (runtime ended).
fn drain_report(sock: RawFd, c: &mut Child) {
    let Some(fd) = c.report.as_ref() else { return };
    let mut tmp = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut tmp) {
            Ok(0) => {
                c.report = None;
                // `F` first: the build failed; `RF`: a pre-made sandbox's assignment failed.
                let after_ready = c.buf.strip_prefix(b"R").unwrap_or(&c.buf);
                if let Some(rest) = after_ready.strip_prefix(b"F") {
                    let error = String::from_utf8_lossy(rest).into_owned();
                    let _ = proto::send(
                        sock,
                        &Event::SetupFailed {
                            id: c.id.clone(),
                            error,
                        },
                        &[],
                    );
                }
                return;
            }
            Ok(n) => {
                let was_empty = c.buf.is_empty();
                c.buf.extend_from_slice(&tmp[..n]);
                if was_empty && c.buf[0] == b'R' {
                    let _ = proto::send(sock, &Event::Ready { id: c.id.clone() }, &[]);
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

fn parse_exit(buf: &[u8]) -> Option<i32> {
    let pos = buf.iter().position(|b| *b == b'X')?;
    let bytes: [u8; 4] = buf.get(pos + 1..pos + 5)?.try_into().ok()?;
    Some(i32::from_le_bytes(bytes))
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SandboxError::io("pipe", e.into()))
}

/// pid, stdout, stderr, pidfd, report pipe, and the gate's write end for held sandboxes.
type Spawned = (i32, OwnedFd, OwnedFd, OwnedFd, OwnedFd, Option<OwnedFd>);

/// clone init into fresh namespaces, place it in its cgroups, then release it.
fn spawn(req: &SpawnRequest) -> Result<Spawned, SandboxError> {
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (sync_r, sync_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    let (gate_r, gate_w) = pipe()?;
    nix::fcntl::fcntl(
        rep_r.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| SandboxError::io("report pipe", e.into()))?;

    // SAFETY: fork-like clone (no new stack: the child continues on a copy of ours).
    // This process is single-threaded, so the child may allocate and run ordinary
    // Rust until it execs or exits; it never returns from `init::child_main`.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (CLONE_FLAGS | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(SandboxError::io(
            "clone sandbox namespaces",
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        crate::init::child_main(req, out_w, err_w, sync_r, rep_w, gate_r);
    }
    let pid = pid as i32;
    drop((out_w, err_w, sync_r, rep_w, gate_r));
    let gate_w = req.spec.hold.then_some(gate_w);
    let fail = |e: SandboxError| {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        e
    };
    // SAFETY: plain syscall; returns a new fd we own or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(fail(SandboxError::io(
            "pidfd_open",
            std::io::Error::last_os_error(),
        )));
    }
    // SAFETY: pidfd_open just returned this fd (O_CLOEXEC by default); we own it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    for f in &req.procs_files {
        if let Err(e) = std::fs::write(f, pid.to_string()) {
            return Err(fail(SandboxError::cg("place pid", f, e)));
        }
    }
    if let Err(e) = nix::unistd::write(&sync_w, b"G") {
        return Err(fail(SandboxError::io("release init", e.into())));
    }
    drop(sync_w);
    Ok((pid, out_r, err_r, pidfd, rep_r, gate_w))
}
