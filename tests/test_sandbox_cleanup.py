"""Nothing is left behind: after SIGTERM, after SIGKILL + restart, and a sweep never
touches another instance's sandboxes."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "sandbox_probe"))
from harness import (  # noqa: E402,F401
    sbx_dir,
    clean_env, cmd, instance_id, instance_leftovers, pids_in_pidns_of, requires_root, run, sandbox_cgroups,
)

pytestmark = requires_root


def start(data_dir, seconds="60"):
    p = subprocess.Popen(cmd(data_dir, ["spin", seconds], memory=128), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=clean_env())
    inst = instance_id(data_dir)
    deadline = time.time() + 20
    while time.time() < deadline:
        for d in sandbox_cgroups(inst):
            if "/memory/" in d:
                try:
                    procs = open(os.path.join(d, "cgroup.procs")).read().split()
                except OSError:
                    procs = []
                if len(procs) >= 2:
                    init = min(int(x) for x in procs)
                    return p, init
        time.sleep(0.02)
    p.kill()
    p.wait()
    raise AssertionError("sandbox did not start")


def spawner_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == pid and b"__spawner" in open(f"/proc/{p}/cmdline", "rb").read():
                    out.append(int(p))
            except (OSError, ValueError):
                pass
    return out


def netns_users(ns):
    n = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/net") == ns:
                    n += 1
            except OSError:
                pass
    return n


def host_mounts_mentioning(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if real in l]


def wait_until(cond, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def assert_nothing_left(data_dir, init_pid, netns):
    inst = instance_id(data_dir)
    assert wait_until(lambda: pids_in_pidns_of(init_pid) == []), "sandbox processes survived"
    assert wait_until(lambda: netns_users(netns) == 0), "a process still uses the sandbox netns"
    assert instance_leftovers(inst) == [], instance_leftovers(inst)
    assert host_mounts_mentioning(data_dir) == []
    assert not os.listdir(os.path.join(data_dir, "sandboxes")) if os.path.isdir(os.path.join(data_dir, "sandboxes")) else True


def test_sigterm_of_owner_cleans_everything(sbx_dir):
    p, init = start(sbx_dir)
    netns = os.readlink(f"/proc/{init}/ns/net")
    assert netns != os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{init}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert host_mounts_mentioning(sbx_dir) == [], "sandbox mounts leaked into the host namespace"
    spawners = spawner_of(p.pid)
    assert len(spawners) == 1
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 143
    assert not os.path.exists(f"/proc/{spawners[0]}")
    assert_nothing_left(sbx_dir, init, netns)


def test_sigkill_of_owner_alone_spawner_cleans_up(sbx_dir):
    p, init = start(sbx_dir)
    netns = os.readlink(f"/proc/{init}/ns/net")
    spawner = spawner_of(p.pid)[0]
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    # EOF on its socket: the spawner kills every sandbox, removes their cgroups, exits.
    assert wait_until(lambda: not os.path.exists(f"/proc/{spawner}")), "spawner outlived its server"
    assert wait_until(lambda: pids_in_pidns_of(init) == [])
    assert wait_until(lambda: netns_users(netns) == 0)
    assert sandbox_cgroups(instance_id(sbx_dir)) == []
    # The empty instance directories go with the next start's shutdown.
    r = run(sbx_dir, ["connect", "1"])
    assert r.returncode == 0, r
    assert instance_leftovers(instance_id(sbx_dir)) == []


def test_sigkill_then_restart_sweeps_leftovers(sbx_dir):
    p, init = start(sbx_dir)
    netns = os.readlink(f"/proc/{init}/ns/net")
    spawner = spawner_of(p.pid)[0]
    # Kill the owner AND its spawner at once: only init's parent-death signal and
    # the next start's sweep are left to clean up. Both are stopped first, so neither
    # sees the other die and tidies up in the moment between the two kills (the
    # spawner does clean up when its owner goes away, which is right but not this test).
    os.kill(spawner, signal.SIGSTOP)
    os.kill(p.pid, signal.SIGSTOP)
    os.kill(p.pid, signal.SIGKILL)
    os.kill(spawner, signal.SIGKILL)
    p.wait(timeout=10)
    assert wait_until(lambda: pids_in_pidns_of(init) == []), "init did not die with its spawner"
    leftover = sandbox_cgroups(instance_id(sbx_dir))
    assert leftover, "expected the killed run to leave cgroups for the sweep"
    r = run(sbx_dir, ["connect", "1"])  # the restart
    assert r.returncode == 0, r
    assert_nothing_left(sbx_dir, init, netns)


def test_sweep_leaves_other_instances_alone(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    os.makedirs(a)
    os.makedirs(b)
    pa, init_a = start(a)
    pb, init_b = start(b)
    try:
        os.kill(pa.pid, signal.SIGKILL)
        for sp in spawner_of(pa.pid):
            os.kill(sp, signal.SIGKILL)
        pa.wait(timeout=10)
        r = run(a, ["connect", "1"])
        assert r.returncode == 0, r
        assert instance_leftovers(instance_id(a)) == []
        # B's sandbox is untouched: still running, cgroups intact.
        assert len(pids_in_pidns_of(init_b)) >= 2
        assert sandbox_cgroups(instance_id(b))
        assert pb.poll() is None
        # A second manager for B's data dir is refused while B lives.
        r = run(b, ["connect", "1"])
        assert r.returncode != 0 and "another quiver instance" in r.stderr, r
        assert len(pids_in_pidns_of(init_b)) >= 2
    finally:
        pb.send_signal(signal.SIGTERM)
        pb.wait(timeout=20)
        if pa.poll() is None:
            pa.kill()
    assert instance_leftovers(instance_id(b)) == []
