//! The sandbox's network namespace: loopback only, plus host-side listeners inside it.

use crate::SandboxError;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

/// Bring `lo` up in the current (fresh) network namespace. A bind to 127.0.0.1
/// succeeds while lo is down but clients then get ENETUNREACH.
pub fn loopback_up() -> std::io::Result<()> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| {
        // No address is configured yet in a fresh netns; an unbound socket is enough.
        // SAFETY: socket(2) with constant arguments; ownership moves into UdpSocket.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nobody else.
        Ok(unsafe { <std::net::UdpSocket as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    })?;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo\0".iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    // SAFETY: ioctls on a valid socket with a properly sized ifreq.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Open a TCP listener inside the network namespace of `pid`, from a dedicated
/// thread (never a tokio worker): `setns(CLONE_NEWNET)` is per-thread and the socket
/// keeps its namespace after the thread ends. Non-blocking, close-on-exec, ready for
/// `tokio::net::TcpListener::from_std`.
pub fn listen_in(pid: i32, addr: SocketAddr) -> Result<TcpListener, SandboxError> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| SandboxError::io(format!("open netns of pid {pid}"), e))?;
    let handle = std::thread::Builder::new()
        .name("quiver-netns".into())
        .spawn(move || -> std::io::Result<TcpListener> {
            // SAFETY: setns on a valid namespace fd; affects only this thread, which
            // exits right after creating the socket.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .map_err(|e| SandboxError::io("spawn netns thread", e))?;
    handle
        .join()
        .map_err(|_| SandboxError::Spawner("netns thread panicked".into()))?
        .map_err(|e| SandboxError::io(format!("listen on {addr} in sandbox netns"), e))
}
