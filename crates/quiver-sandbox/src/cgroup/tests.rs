//! Exact kernel-write sequences for legacy, hybrid and unified hosts, through the recording fake.

use super::fs::fake::RecordingFs;
use super::*;
use std::collections::BTreeSet;

const Q: &str = "quiver-0123456789ab";

fn v1_layout(with_unified: bool) -> Layout {
    let mut l = Layout::default();
    for c in ["memory", "cpu", "cpuacct", "pids", "freezer"] {
        l.v1.insert(c.into(), PathBuf::from(format!("/sys/fs/cgroup/{c}")));
    }
    if with_unified {
        l.unified = Some(Unified {
            base: "/sys/fs/cgroup/unified".into(),
            controllers: BTreeSet::new(),
        });
    }
    l
}

fn v1_fs() -> Arc<RecordingFs> {
    let fs = RecordingFs::with_dirs(&[]);
    fs.set(
        &format!("/sys/fs/cgroup/memory/{Q}/sb1/memory.memsw.limit_in_bytes"),
        "9223372036854771712",
    );
    Arc::new(fs)
}

#[test]
fn legacy_v1_sequence() {
    let fs = v1_fs();
    let inst = Instance::open(fs.clone(), &v1_layout(false), Q).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("mkdir /sys/fs/cgroup/memory/{Q}"),
            format!("mkdir /sys/fs/cgroup/cpu/{Q}"),
            format!("mkdir /sys/fs/cgroup/cpuacct/{Q}"),
            format!("mkdir /sys/fs/cgroup/pids/{Q}"),
            format!("mkdir /sys/fs/cgroup/freezer/{Q}"),
        ]
    );
    let sb = inst.sandbox("sb1");
    sb.create(256).unwrap();
    sb.apply_cpu_quota(256).unwrap();
    let m = format!("/sys/fs/cgroup/memory/{Q}/sb1");
    let c = format!("/sys/fs/cgroup/cpu/{Q}/sb1");
    assert_eq!(
        fs.take_log(),
        [
            format!("mkdir {m}"),
            format!("mkdir /sys/fs/cgroup/cpu/{Q}/sb1"),
            format!("mkdir /sys/fs/cgroup/cpuacct/{Q}/sb1"),
            format!("mkdir /sys/fs/cgroup/pids/{Q}/sb1"),
            format!("mkdir /sys/fs/cgroup/freezer/{Q}/sb1"),
            format!("write {m}/memory.limit_in_bytes 268435456"),
            format!("write {m}/memory.memsw.limit_in_bytes 268435456"),
            format!("write {c}/cpu.shares 148"),
            format!("write /sys/fs/cgroup/pids/{Q}/sb1/pids.max 1024"),
            format!("write {c}/cpu.cfs_period_us 20000"),
            format!("write {c}/cpu.cfs_quota_us 2894"),
        ]
    );
    assert_eq!(sb.procs_files().len(), 5);

    // Kill without cgroup.kill: freeze, SIGKILL each pid, thaw.
    let fz = format!("/sys/fs/cgroup/freezer/{Q}/sb1");
    fs.set(&format!("{fz}/freezer.state"), "FROZEN\n");
    fs.set(&format!("{m}/cgroup.procs"), "41\n42\n");
    sb.kill_all().unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("write {fz}/freezer.state FROZEN"),
            "kill 41".to_string(),
            "kill 42".to_string(),
            format!("write {fz}/freezer.state THAWED"),
        ]
    );
    fs.set(
        &format!("{m}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    assert_eq!(sb.oom_kills(), 2);
    fs.set(&format!("{m}/memory.max_usage_in_bytes"), "1234\n");
    assert_eq!(sb.memory_peak_bytes().unwrap(), 1234);
    fs.set(
        &format!("/sys/fs/cgroup/cpuacct/{Q}/sb1/cpuacct.usage"),
        "999\n",
    );
    assert_eq!(sb.cpu_usage_ns().unwrap(), 999);
}

#[test]
fn hybrid_uses_v1_limits_and_unified_freeze_and_kill() {
    let fs = v1_fs();
    let u = format!("/sys/fs/cgroup/unified/{Q}");
    fs.set(&format!("{u}/cgroup.freeze"), "0");
    fs.set(&format!("{u}/cgroup.kill"), "");
    let inst = Instance::open(fs.clone(), &v1_layout(true), Q).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("mkdir /sys/fs/cgroup/memory/{Q}"),
            format!("mkdir /sys/fs/cgroup/cpu/{Q}"),
            format!("mkdir /sys/fs/cgroup/cpuacct/{Q}"),
            format!("mkdir /sys/fs/cgroup/pids/{Q}"),
            format!("mkdir {u}"),
        ],
        "no v1 freezer when cgroup2 can freeze"
    );
    let sb = inst.sandbox("sb1");
    sb.create(1769).unwrap();
    let log = fs.take_log();
    assert_eq!(log[4], format!("mkdir {u}/sb1"));
    assert!(log.contains(&format!("write /sys/fs/cgroup/cpu/{Q}/sb1/cpu.shares 1024")));
    assert!(!log.iter().any(|l| l.contains("memory.max")));

    fs.set(&format!("{u}/sb1/cgroup.events"), "populated 1\nfrozen 1\n");
    sb.freeze().unwrap();
    sb.thaw().unwrap();
    sb.kill_all().unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("write {u}/sb1/cgroup.freeze 1"),
            format!("write {u}/sb1/cgroup.freeze 0"),
            format!("write {u}/sb1/cgroup.kill 1"),
        ]
    );
    assert!(!sb.is_empty());
    fs.set(&format!("{u}/sb1/cgroup.events"), "populated 0\nfrozen 0\n");
    assert!(sb.is_empty());
    sb.remove(Duration::from_millis(10)).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("rmdir {u}/sb1"),
            format!("rmdir /sys/fs/cgroup/pids/{Q}/sb1"),
            format!("rmdir /sys/fs/cgroup/cpuacct/{Q}/sb1"),
            format!("rmdir /sys/fs/cgroup/cpu/{Q}/sb1"),
            format!("rmdir /sys/fs/cgroup/memory/{Q}/sb1"),
        ]
    );
}

#[test]
fn unified_delegates_then_sets_v2_limits() {
    let base = "/sys/fs/cgroup/system.slice/quiver.service";
    let fs = Arc::new(RecordingFs::with_dirs(&[base]));
    fs.set(&format!("{base}/cgroup.procs"), "100\n101\n");
    fs.set(&format!("{base}/cgroup.type"), "domain");
    let q = format!("{base}/{Q}");
    fs.set(&format!("{q}/cgroup.freeze"), "0");
    fs.set(&format!("{q}/cgroup.kill"), "");
    let layout = Layout {
        v1: Default::default(),
        unified: Some(Unified {
            base: base.into(),
            controllers: ["cpu", "memory", "pids", "io"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }),
    };
    let inst = Instance::open(fs.clone(), &layout, Q).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("mkdir {base}/quiver-server"),
            format!("write {base}/quiver-server/cgroup.procs 100"),
            format!("write {base}/quiver-server/cgroup.procs 101"),
            format!("write {base}/cgroup.subtree_control +memory +cpu +pids"),
            format!("mkdir {q}"),
            format!("write {q}/cgroup.subtree_control +memory +cpu +pids"),
        ]
    );
    let sb = inst.sandbox("sb1");
    sb.create(128).unwrap();
    sb.apply_cpu_quota(128).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("mkdir {q}/sb1"),
            format!("write {q}/sb1/memory.max 134217728"),
            format!("write {q}/sb1/memory.swap.max 0"),
            format!("write {q}/sb1/memory.oom.group 1"),
            format!("write {q}/sb1/cpu.weight 3"),
            format!("write {q}/sb1/pids.max 1024"),
            format!("write {q}/sb1/cpu.max 1447 20000"),
        ]
    );
    assert_eq!(
        sb.procs_files(),
        [PathBuf::from(format!("{q}/sb1/cgroup.procs"))]
    );
    fs.set(
        &format!("{q}/sb1/memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 1\n",
    );
    assert_eq!(sb.oom_kills(), 1);
    fs.set(
        &format!("{q}/sb1/cpu.stat"),
        "usage_usec 1500\nuser_usec 1000\n",
    );
    assert_eq!(sb.cpu_usage_ns().unwrap(), 1_500_000);
    fs.set(&format!("{q}/sb1/memory.peak"), "4096\n");
    assert_eq!(sb.memory_peak_bytes().unwrap(), 4096);
}

#[test]
fn sweep_touches_only_its_own_instance() {
    let fs = v1_fs();
    let u = format!("/sys/fs/cgroup/unified/{Q}");
    fs.set(&format!("{u}/cgroup.freeze"), "0");
    fs.set(&format!("{u}/cgroup.kill"), "");
    let other = "/sys/fs/cgroup/memory/quiver-ffffffffffff/old";
    fs.dirs
        .lock()
        .unwrap()
        .insert(PathBuf::from("/sys/fs/cgroup/memory/quiver-ffffffffffff"));
    fs.dirs.lock().unwrap().insert(PathBuf::from(other));
    fs.dirs
        .lock()
        .unwrap()
        .insert(PathBuf::from(format!("/sys/fs/cgroup/memory/{Q}")));
    fs.dirs
        .lock()
        .unwrap()
        .insert(PathBuf::from(format!("/sys/fs/cgroup/memory/{Q}/left")));
    let inst = Instance::open(fs.clone(), &v1_layout(true), Q).unwrap();
    fs.take_log();
    assert_eq!(inst.sweep(), ["left"]);
    let log = fs.take_log();
    assert_eq!(log[0], format!("write {u}/left/cgroup.freeze 0"));
    assert_eq!(log[1], format!("write {u}/left/cgroup.kill 1"));
    assert!(
        log.iter().all(|l| !l.contains("quiver-ffffffffffff")),
        "{log:?}"
    );
    assert!(fs.dirs.lock().unwrap().contains(Path::new(other)));
}

#[test]
fn missing_memory_controller_is_named() {
    let mut l = v1_layout(false);
    l.v1.remove("memory");
    let err = Instance::open(v1_fs(), &l, Q).err().unwrap().to_string();
    assert!(err.contains("memory controller"), "{err}");
}

#[test]
fn cpu_math_follows_lambda_ratio() {
    assert_eq!(cpu_shares(1769), 1024);
    assert_eq!(cpu_shares(128), 74);
    assert_eq!(cpu_quota_us(1769), 20_000);
    assert_eq!(cpu_quota_us(3538), 40_000);
    assert_eq!(cpu_quota_us(16), 1000);
    assert_eq!(cpu_weight(1769), 39);
}

#[test]
fn resize_keeps_memsw_above_the_limit_at_every_step() {
    let fs = v1_fs();
    let inst = Instance::open(fs.clone(), &v1_layout(false), Q).unwrap();
    let sb = inst.sandbox("sb1");
    sb.create(64).unwrap();
    fs.take_log();
    let m = format!("/sys/fs/cgroup/memory/{Q}/sb1");
    let c = format!("/sys/fs/cgroup/cpu/{Q}/sb1");
    sb.resize(64, 256).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("write {m}/memory.memsw.limit_in_bytes 268435456"),
            format!("write {m}/memory.limit_in_bytes 268435456"),
            format!("write {c}/cpu.shares 148"),
        ],
        "growing: memsw first"
    );
    sb.resize(256, 128).unwrap();
    assert_eq!(
        fs.take_log(),
        [
            format!("write {m}/memory.limit_in_bytes 134217728"),
            format!("write {m}/memory.memsw.limit_in_bytes 134217728"),
            format!("write {c}/cpu.shares 74"),
        ],
        "shrinking: limit first"
    );
}

#[test]
fn resize_on_unified_writes_memory_max_and_weight() {
    let base = "/sys/fs/cgroup/q";
    let fs = Arc::new(RecordingFs::with_dirs(&[base]));
    fs.set(&format!("{base}/cgroup.procs"), "");
    fs.set(&format!("{base}/cgroup.type"), "domain");
    fs.set(&format!("{base}/{Q}/cgroup.freeze"), "0");
    fs.set(&format!("{base}/{Q}/cgroup.kill"), "");
    let layout = Layout {
        v1: Default::default(),
        unified: Some(Unified {
            base: base.into(),
            controllers: ["cpu", "memory", "pids"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }),
    };
    let inst = Instance::open(fs.clone(), &layout, Q).unwrap();
    let sb = inst.sandbox("sb1");
    sb.create(64).unwrap();
    fs.take_log();
    sb.resize(64, 1769).unwrap();
    let q = format!("{base}/{Q}/sb1");
    assert_eq!(
        fs.take_log(),
        [
            format!("write {q}/memory.max 1854930944"),
            format!("write {q}/cpu.weight 39")
        ]
    );
}
