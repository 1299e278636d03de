"""Helpers for the sandbox tests: run `quiver sandbox run` and parse its output."""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

QUIVER_BIN = os.environ.get(
    "QUIVER_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "quiver")
)
PROBE_DIR = os.path.dirname(os.path.abspath(__file__))
PY = ["/usr/bin/python3", "-I", "-S", "/var/task/probe.py"]

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root (namespaces, cgroups)")


def cmd(data_dir, probe_args, memory=1769, ephemeral=64, extra=(), env=()):
    c = [QUIVER_BIN, "sandbox", "run", "--data-dir", data_dir, "--memory", str(memory),
         "--ephemeral", str(ephemeral), "--code", PROBE_DIR, "--json", *extra]
    for kv in env:
        c += ["--env", kv]
    return c + ["--", *PY, *probe_args]


class Result:
    def __init__(self, proc, stdout, stderr):
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr
        lines = [l for l in stdout.splitlines() if l.strip()]
        self.report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        self.probe = None
        for l in lines:
            if l.startswith("PROBE "):
                self.probe = json.loads(l[len("PROBE "):])

    def __repr__(self):
        return f"rc={self.returncode} report={self.report} probe={self.probe} stderr={self.stderr[-2000:]}"


def run(data_dir, probe_args, timeout=60, **kw):
    p = subprocess.Popen(cmd(data_dir, probe_args, **kw), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=clean_env())
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"quiver sandbox run timed out: {err.decode()[-2000:]}")
    return Result(p, out.decode(errors="replace"), err.decode(errors="replace"))


def clean_env():
    env = dict(os.environ)
    env["QUIVER_LOG"] = "info"
    # Things that must NOT leak into sandboxes.
    env["HOME"] = "/root"
    env["NODE_EXTRA_CA_CERTS"] = "/etc/ssl/certs/ca-certificates.crt"
    env["AWS_SECRET_ACCESS_KEY"] = "leak-me-not"
    return env


def instance_leftovers(instance_prefix):
    """Every cgroup directory (any hierarchy) whose name starts with the prefix."""
    found = []
    for mount in cgroup_mounts():
        for name in os.listdir(mount):
            if name.startswith(instance_prefix):
                found.append(os.path.join(mount, name))
    return found


def cgroup_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype = right.split()[0]
            if fstype in ("cgroup", "cgroup2"):
                out.append(left.split()[4])
    return out


def sandbox_cgroups(instance):
    """Child cgroups (sandboxes) of an instance dir across all hierarchies."""
    found = []
    for mount in cgroup_mounts():
        d = os.path.join(mount, instance)
        if os.path.isdir(d):
            found += [os.path.join(d, n) for n in os.listdir(d) if os.path.isdir(os.path.join(d, n))]
    return found


def instance_id(data_dir):
    import hashlib
    real = os.path.realpath(data_dir)
    return "quiver-" + hashlib.sha256(real.encode()).hexdigest()[:12]


def pids_in_instance(inst):
    """Host pids whose cgroup (any hierarchy) belongs to this server instance."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cgroup") as f:
                    if inst in f.read():
                        out.append(int(p))
            except OSError:
                pass
    return out


def pids_in_pidns_of(init_pid):
    """Host pids whose pid namespace is that of init_pid (empty if it is gone)."""
    try:
        ns = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/pid") == ns:
                    out.append(int(p))
            except OSError:
                pass
    return out


def processes_with_arg(marker):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(p))
            except OSError:
                pass
    return out


@pytest.fixture
def sbx_dir():
    d = tempfile.mkdtemp(prefix="quiver-sbx-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
