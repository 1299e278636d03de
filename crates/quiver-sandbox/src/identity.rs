//! The runtime's identity: non-root uid/gid 993, no groups, no capabilities,
//! no_new_privs, Lambda's rlimits, a clean environment, then exec.

use crate::init::{close_from, cstr, exit_now};
use crate::rootfs::{SANDBOX_GID, SANDBOX_UID};
use crate::spec::SandboxSpec;
use std::ffi::CString;

/// Everything the runtime's exec needs, allocated before the fork.
pub struct Exec {
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
}

impl Exec {
    pub fn prepare(spec: &SandboxSpec) -> Result<Exec, String> {
        Self::prepare_parts(&spec.argv, &spec.env, &spec.cwd)
    }

    /// Same from the pieces (a pre-made sandbox gets them with its assignment).
    pub fn prepare_parts(
        args: &[String],
        env: &[(String, String)],
        cwd: &str,
    ) -> Result<Exec, String> {
        let argv: Vec<CString> = args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
        let envp: Vec<CString> = env
            .iter()
            .map(|(k, v)| cstr(&format!("{k}={v}")))
            .collect::<Result<_, _>>()?;
        let prog = args.first().ok_or("argv is empty")?;
        let candidates = if prog.contains('/') {
            vec![cstr(prog)?]
        } else {
            let path = env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_str())
                .unwrap_or("/usr/local/bin:/usr/bin:/bin");
            path.split(':')
                .filter(|d| !d.is_empty())
                .map(|d| cstr(&format!("{d}/{prog}")))
                .collect::<Result<_, _>>()?
        };
        Ok(Exec {
            candidates,
            argv,
            envp,
            cwd: cstr(cwd)?,
        })
    }

    /// In the forked runtime process: drop everything and exec. Never returns.
    pub fn run(self) -> ! {
        if let Err(step) = self.harden() {
            fail(step);
        }
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        for c in &self.candidates {
            // SAFETY: NUL-terminated strings and NULL-terminated arrays that outlive the call.
            unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        }
        fail("exec");
    }

    fn harden(&self) -> Result<(), &'static str> {
        // SAFETY: plain syscalls with integer or valid pointer arguments, in a
        // single-threaded child that is about to exec.
        unsafe {
            if libc::setsid() < 0 {
                return Err("setsid");
            }
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            // Default dispositions (the Rust runtime ignores SIGPIPE) and nothing blocked.
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

            let core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            let nofile = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &core) != 0
                || libc::setrlimit(libc::RLIMIT_NOFILE, &nofile) != 0
            {
                return Err("setrlimit");
            }
            if libc::chdir(self.cwd.as_ptr()) != 0 {
                return Err("chdir");
            }
            // Empty the bounding set while we still hold CAP_SETPCAP.
            let mut cap = 0;
            while libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) >= 0 {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err("drop bounding capabilities");
                }
                cap += 1;
            }
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            );
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err("setgroups");
            }
            if libc::setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID) != 0 {
                return Err("setresgid");
            }
            // Leaving uid 0 clears the permitted and effective sets (no KEEP_CAPS).
            if libc::setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) != 0 {
                return Err("setresuid");
            }
            // ... and capset clears the inheritable set too.
            #[repr(C)]
            struct Header {
                version: u32,
                pid: i32,
            }
            #[repr(C)]
            #[derive(Clone, Copy)]
            struct Data {
                effective: u32,
                permitted: u32,
                inheritable: u32,
            }
            let header = Header {
                version: 0x2008_0522,
                pid: 0,
            };
            let data = [Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            if libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) != 0 {
                return Err("capset");
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err("no_new_privs");
            }
        }
        close_from(3);
        Ok(())
    }
}

fn fail(step: &str) -> ! {
    let err = std::io::Error::last_os_error();
    let msg = format!("quiver-init: {step}: {err}\n");
    // SAFETY: write of a valid buffer to stderr.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    exit_now(127)
}
