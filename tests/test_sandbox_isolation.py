"""What a runtime sees from inside a sandbox: root, identity, pids, env, network, /tmp."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "sandbox_probe"))
from harness import requires_root, run, sbx_dir  # noqa: E402,F401

pytestmark = requires_root

ALLOWED = {
    "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/opt", "/proc", "/tmp", "/var", "/var/task",
    "/etc", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/hostname", "/etc/nsswitch.conf", "/etc/resolv.conf",
    "/etc/ssl", "/etc/ssl/certs", "/etc/localtime",
    "/dev", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/shm",
    "/dev/pts", "/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr",
}


def test_root_identity_and_environment(sbx_dir):
    r = run(sbx_dir, ["report"], env=["FOO=bar", "PATH=/usr/bin:/bin"])
    assert r.returncode == 0, r
    p = r.probe
    extra = sorted(set(p["walk"]) - ALLOWED)
    assert not extra, f"unexpected paths visible in the sandbox: {extra}"
    for must in ("/usr", "/etc/passwd", "/dev/null", "/tmp", "/var/task", "/proc"):
        assert must in p["walk"]
    # Identity and hardening.
    assert (p["uid"], p["euid"], p["gid"], p["groups"]) == (993, 993, 993, [])
    assert p["user"] == "sbx_user1051"
    assert all(v == "0000000000000000" for v in p["cap"].values()), p["cap"]
    assert p["no_new_privs"] == "1"
    assert p["rlimit_core"] == [0, 0]
    assert p["rlimit_nofile"] == [1024, 1024]
    assert p["oom_score_adj"] == "1000"
    # Own pid namespace: init is 1, the probe 2, nothing of the host.
    assert p["pids"] == [1, p["pid"]], p["pids"]
    # Exactly the given environment: no HOME, NODE_EXTRA_CA_CERTS or credentials leak in.
    assert p["env"] == {"FOO": "bar", "PATH": "/usr/bin:/bin"}
    assert p["cwd"] == "/var/task" and p["hostname"] == "quiver-sandbox"
    assert p["task_write"] == "EROFS" and p["etc_write"] == "EROFS"
    assert p["fds"] == [0, 1, 2, 3]  # 3 is listdir's own fd
    assert p["shm"] and p["devnull"]
    assert r.report["exit"] == "exit status 0" and r.report["oom_killed"] is False
    # Nothing was written through the read-only bind.
    assert not os.path.exists(os.path.join(os.path.dirname(__file__), "sandbox_probe", "written-by-probe"))


def test_host_loopback_is_unreachable(sbx_dir):
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen(1)
    port = host.getsockname()[1]
    try:
        r = run(sbx_dir, ["connect", str(port)])
    finally:
        host.close()
    assert r.returncode == 0, r
    assert r.probe["connect"] == "ECONNREFUSED", r.probe


def test_tmp_is_bounded_with_enospc(sbx_dir):
    r = run(sbx_dir, ["fill_tmp"], memory=512, ephemeral=32)
    assert r.returncode == 0, r
    assert r.probe["error"] == "ENOSPC", r.probe
    assert 30 << 20 <= r.probe["written"] <= 32 << 20, r.probe
    assert r.report["oom_killed"] is False


def test_exit_status_and_stderr_are_reported(sbx_dir):
    from harness import QUIVER_BIN, clean_env
    import subprocess, json

    p = subprocess.run(
        [QUIVER_BIN, "sandbox", "run", "--data-dir", sbx_dir, "--json", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 7"],
        capture_output=True, timeout=60, env=clean_env(),
    )
    assert p.returncode == 7
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "out"
    assert json.loads(lines[-1])["exit"] == "exit status 7"
    assert "err" in p.stderr.decode()


def test_missing_program_is_exit_127(sbx_dir):
    from harness import QUIVER_BIN, clean_env
    import subprocess, json

    p = subprocess.run(
        [QUIVER_BIN, "sandbox", "run", "--data-dir", sbx_dir, "--json", "--", "/nonexistent/bootstrap"],
        capture_output=True, timeout=60, env=clean_env(),
    )
    assert p.returncode == 127
    assert json.loads(p.stdout.decode().splitlines()[-1])["exit"] == "exit status 127"
    assert "quiver-init: exec" in p.stderr.decode()
