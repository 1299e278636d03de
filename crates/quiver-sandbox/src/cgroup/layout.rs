//! Which cgroup hierarchies this host offers: legacy (v1), hybrid, or unified (v2).
//!
//! Read from `/proc/self/mountinfo` (never hard-coded paths) and confirmed by the
//! filesystem magic of each mount point, as youki's libcgroups does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// v1 controllers quiver uses.
pub const V1_CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "freezer"];

/// The cgroup mounts found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// v1 controller name → its hierarchy's mount point.
    pub v1: BTreeMap<String, PathBuf>,
    /// The cgroup2 mount, if any.
    pub unified: Option<Unified>,
}

/// The cgroup2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    /// Where quiver's instance directory goes: the mount point joined with this
    /// process's own cgroup (a delegated subtree on systemd hosts).
    pub base: PathBuf,
    /// Controllers offered to `base` (its `cgroup.controllers`).
    pub controllers: BTreeSet<String>,
}

/// How the host's cgroups are arranged, for messages and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Legacy,
    Hybrid,
    Unified,
}

impl Layout {
    /// Parse `/proc/self/mountinfo` text. `own_v2_path` is the `0::` line of
    /// `/proc/self/cgroup`; `controllers_of` reads a `cgroup.controllers` file.
    pub fn parse(
        mountinfo: &str,
        own_v2_path: &str,
        controllers_of: impl Fn(&Path) -> String,
    ) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let mount_point = PathBuf::from(unescape(left[4]));
            match right[0] {
                "cgroup" => {
                    for opt in right[2].split(',') {
                        if V1_CONTROLLERS.contains(&opt) {
                            layout
                                .v1
                                .entry(opt.to_string())
                                .or_insert_with(|| mount_point.clone());
                        }
                    }
                }
                "cgroup2" if layout.unified.is_none() => {
                    let rel = own_v2_path.trim().trim_start_matches('/');
                    // A leaf the server moved itself into is not the delegation root.
                    let rel = rel
                        .strip_suffix(super::SERVER_LEAF)
                        .unwrap_or(rel)
                        .trim_end_matches('/');
                    let base = if rel.is_empty() {
                        mount_point.clone()
                    } else {
                        mount_point.join(rel)
                    };
                    let controllers = controllers_of(&base)
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    layout.unified = Some(Unified { base, controllers });
                }
                _ => {}
            }
        }
        layout
    }

    /// Read the real host layout, keeping only mounts whose statfs magic agrees.
    pub fn detect() -> std::io::Result<Layout> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let own_v2 = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/")
            .to_string();
        let mut layout = Layout::parse(&mountinfo, &own_v2, |p| {
            std::fs::read_to_string(p.join("cgroup.controllers")).unwrap_or_default()
        });
        layout
            .v1
            .retain(|_, p| fs_magic(p) == Some(CGROUP_SUPER_MAGIC));
        if let Some(u) = &layout.unified {
            let mount_ok = u
                .base
                .ancestors()
                .any(|a| fs_magic(a) == Some(CGROUP2_SUPER_MAGIC));
            if !mount_ok {
                layout.unified = None;
            }
        }
        Ok(layout)
    }

    pub fn mode(&self) -> Mode {
        match (&self.unified, self.v1.is_empty()) {
            (Some(_), true) => Mode::Unified,
            (Some(_), false) => Mode::Hybrid,
            (None, _) => Mode::Legacy,
        }
    }
}

const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

fn fs_magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| s.filesystem_type().0)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const THIS_HOST: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn parses_hybrid_host_with_split_cpu_and_cpuacct() {
        let l = Layout::parse(THIS_HOST, "/", |_| String::new());
        assert_eq!(l.v1["cpu"], PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(l.v1["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpuacct"));
        assert_eq!(l.v1.len(), 5);
        assert_eq!(
            l.unified.as_ref().unwrap().base,
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        assert_eq!(l.mode(), Mode::Hybrid);
    }

    #[test]
    fn parses_combined_cpu_cpuacct_and_pure_v2() {
        let v1 = "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let l = Layout::parse(v1, "/", |_| String::new());
        assert_eq!(l.v1["cpu"], l.v1["cpuacct"]);
        assert_eq!(l.mode(), Mode::Legacy);

        let v2 = "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::parse(v2, "/system.slice/quiver.service/quiver-server\n", |p| {
            assert_eq!(p, Path::new("/sys/fs/cgroup/system.slice/quiver.service"));
            "cpu memory pids".into()
        });
        let u = l.unified.unwrap();
        assert_eq!(
            u.base,
            PathBuf::from("/sys/fs/cgroup/system.slice/quiver.service")
        );
        assert!(u.controllers.contains("memory"));
        assert!(l.v1.is_empty());
    }
}
