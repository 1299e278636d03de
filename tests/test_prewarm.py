"""Pre-made empty sandboxes (`quiver serve --prewarm N`): kept ready once there is
demand (after the first cold start), used by cold starts (the environment's cold-start breakdown says so), as isolated as a sandbox
built for the function (read-only code, no other code tree or data dir reachable,
its own memory limit), refilled, let go when idle, and gone after shutdown."""
import hashlib
import json
import os
import subprocess
import time

import pytest

from conftest import QUIVER_BIN
from invokeutil import FAST_MB, assert_ok, create, invoke, make_zip
from sandbox_probe.harness import instance_id, pids_in_instance, sandbox_cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

# Looks for every way to another function's code tree the test could think of.
PROBE = r'''
import os, json, socket

def try_list(path):
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        return "err:" + type(e).__name__

def handler(event, context):
    other = event["other"]
    data_dir = event["data_dir"]
    out = {"uid": os.getuid(), "gid": os.getgid(), "task": sorted(os.listdir("/var/task"))}
    try:
        open("/var/task/new", "w")
        out["task_writable"] = True
    except OSError:
        out["task_writable"] = False
    out["opt"] = try_list("/opt")
    reached = {}
    candidates = [
        "/var/task/../" + other, "/var/task/../../" + other, "/opt/" + other, "/" + other,
        "/var/" + other, "/var/runtime/../" + other, data_dir, data_dir + "/code/" + other,
    ]
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        candidates += ["/proc/self/fd/%s/%s" % (fd, other), "/proc/self/fd/%s/../%s" % (fd, other), target]
    for pid in ("1", "self", "thread-self"):
        for fd in ("3", "4", "5", "6", "7", "8"):
            candidates += ["/proc/%s/fd/%s/%s" % (pid, fd, other), "/proc/%s/root/opt/%s" % (pid, other)]
        candidates.append("/proc/%s/cwd/../%s" % (pid, other))
    for c in candidates:
        if os.path.exists(c) and (other in c or c.startswith(data_dir)):
            reached[c] = try_list(c)
    out["reached"] = reached
    mounts = ""
    for pid in ("self", "1"):
        try:
            with open("/proc/%s/mountinfo" % pid) as f:
                mounts += f.read()
        except OSError:
            pass
    out["other_in_mountinfo"] = other in mounts
    out["opt_mounted"] = any(l.split()[4] == "/opt" for l in mounts.splitlines())
    out["hostname"] = socket.gethostname()
    out["tmp_size_mb"] = os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize // (1024 * 1024)
    out["env_keys"] = sorted(k for k in os.environ if not k.startswith(("AWS_", "LAMBDA_", "_")))
    return out
'''


def ps(server):
    out = subprocess.run([QUIVER_BIN, "ps", "--endpoint", server.endpoint, "--json"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


def wait_for(pred, timeout=15, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def premade_ready(server):
    return ps(server)["PremadeSandboxes"]


def first_cold_start(server, lam):
    """The pool follows demand: a server that has never cold-started holds none."""
    time.sleep(0.3)
    assert premade_ready(server) == 0
    name = create(lam, make_zip({"app.py": "def handler(e, c):\n    return 'first'\n"}))
    r, _, d = invoke(lam, name)
    assert_ok(r, d)
    assert d == "first"
    assert env_of(server, name)["cold_start"]["premade"] is False, "the pool was empty"


def memory_limit_bytes(cgroup_dir):
    for name in ("memory.limit_in_bytes", "memory.max"):
        path = os.path.join(cgroup_dir, name)
        if os.path.exists(path):
            with open(path) as f:
                return int(f.read())
    raise AssertionError(f"no memory limit file in {cgroup_dir}")


def env_of(server, name):
    envs = [e for e in ps(server)["Environments"] if e["function"] == name]
    assert len(envs) == 1, envs
    return envs[0]


def test_cold_start_uses_a_premade_sandbox_that_is_fully_isolated(server_factory, data_dir):
    server = server_factory(extra_args=["--prewarm", "2"])
    lam = server.client()
    inst = instance_id(data_dir)
    first_cold_start(server, lam)
    assert wait_for(lambda: premade_ready(server) == 2), ps(server)
    assert len(sandbox_cgroups(inst)) >= 3, "pre-made sandboxes have their cgroups"

    other_zip = make_zip({"secret.py": "TOKEN = 'other-function-secret'\n"})
    create(lam, other_zip)
    other_sha = hashlib.sha256(other_zip).hexdigest()
    assert os.path.isdir(os.path.join(data_dir, "code", other_sha))

    probe_zip = make_zip({"app.py": PROBE})
    name = create(lam, probe_zip, memory=FAST_MB, env={"MINE": "1"}, EphemeralStorage={"Size": 600})
    resp, body, doc = invoke(lam, name, {"other": other_sha, "data_dir": os.path.realpath(data_dir)})
    assert_ok(resp, body)
    assert doc["uid"] == 993 and doc["gid"] == 993
    assert doc["task"] == ["app.py"], "only this function's code at /var/task"
    assert doc["task_writable"] is False
    assert doc["opt"] == [], "/opt is empty again: the staged code base is gone"
    assert doc["reached"] == {}, f"another function's code or the data dir is reachable: {doc['reached']}"
    assert doc["other_in_mountinfo"] is False
    assert doc["opt_mounted"] is False
    assert doc["hostname"] == "sandbox"
    assert 590 <= doc["tmp_size_mb"] <= 600, "/tmp was resized to EphemeralStorage"
    # Only the assigned environment (Python itself adds LC_CTYPE: PEP 538 locale coercion).
    assert "MINE" in doc["env_keys"]
    assert set(doc["env_keys"]) <= {"LANG", "LC_CTYPE", "LD_LIBRARY_PATH", "MINE", "PATH", "TZ"}, doc["env_keys"]

    env = env_of(server, name)
    assert env["cold_start"]["premade"] is True, env
    # The assignment replaces clone + cgroups + mounts + pivot_root.
    assert env["cold_start"]["sandbox_ms"] < 50, env
    # The pool is refilled in the background.
    assert wait_for(lambda: premade_ready(server) == 2), ps(server)

    # A second function with a different MemorySize gets its own limit from the host.
    small = create(lam, make_zip({"app.py": "def handler(e, c):\n    return {'ok': 1}\n"}), memory=256)
    r, _, d = invoke(lam, small)
    assert_ok(r, d)
    assert d == {"ok": 1}
    env = env_of(server, small)
    assert env["cold_start"]["premade"] is True
    assert memory_limit_bytes(env["cgroup"]) == 256 * 1024 * 1024
    probe_env = env_of(server, name)
    assert memory_limit_bytes(probe_env["cgroup"]) == FAST_MB * 1024 * 1024
    swap = os.path.join(env["cgroup"], "memory.memsw.limit_in_bytes")
    if os.path.exists(swap):
        with open(swap) as f:
            assert int(f.read()) == 256 * 1024 * 1024, "no swap beyond the limit"

    assert server.stop() == 0
    assert sandbox_cgroups(inst) == [], sandbox_cgroups(inst)
    assert pids_in_instance(inst) == []


def test_premade_sandbox_is_oom_killed_at_the_functions_memory_size(server_factory):
    server = server_factory(extra_args=["--prewarm", "1"])
    lam = server.client()
    first_cold_start(server, lam)
    assert wait_for(lambda: premade_ready(server) == 1), ps(server)
    hog = "def handler(e, c):\n    b = bytearray(300 * 1024 * 1024)\n    return len(b)\n"
    name = create(lam, make_zip({"app.py": hog}), memory=128)
    resp, body, doc = invoke(lam, name)
    assert resp.get("FunctionError") == "Unhandled", body
    assert doc["errorType"] == "Runtime.OutOfMemory", doc
    # A function that fits in its limit runs fine in the next pre-made sandbox.
    fits = create(lam, make_zip({"app.py": "def handler(e, c):\n    return len(bytearray(200 * 1024 * 1024))\n"}),
                  memory=512)
    assert wait_for(lambda: premade_ready(server) == 1), ps(server)
    r, _, d = invoke(lam, fits)
    assert_ok(r, d)
    assert d == 200 * 1024 * 1024
    assert env_of(server, fits)["cold_start"]["premade"] is True


def test_pool_idles_out_and_returns_with_the_next_cold_start(server_factory, data_dir):
    server = server_factory(extra_args=["--prewarm", "2", "--idle-timeout-secs", "2"])
    lam = server.client()
    inst = instance_id(data_dir)
    first_cold_start(server, lam)
    assert wait_for(lambda: premade_ready(server) == 2), ps(server)
    # No cold start for the idle timeout: nothing of the instance is left running.
    assert wait_for(lambda: premade_ready(server) == 0, timeout=10), ps(server)
    assert wait_for(lambda: sandbox_cgroups(inst) == [], timeout=10), sandbox_cgroups(inst)
    name = create(lam, make_zip({"app.py": "def handler(e, c):\n    return 7\n"}))
    r, _, d = invoke(lam, name)
    assert_ok(r, d)
    assert d == 7
    assert env_of(server, name)["cold_start"]["premade"] is False, "the pool was empty"
    assert wait_for(lambda: premade_ready(server) == 2), ps(server)


def test_prewarm_zero_builds_every_sandbox_on_demand(server_factory, data_dir):
    server = server_factory(extra_args=["--prewarm", "0"])
    lam = server.client()
    time.sleep(0.5)
    assert premade_ready(server) == 0
    assert sandbox_cgroups(instance_id(data_dir)) == []
    name = create(lam, make_zip({"app.py": "def handler(e, c):\n    return 'built'\n"}))
    r, _, d = invoke(lam, name)
    assert_ok(r, d)
    assert d == "built"
    assert env_of(server, name)["cold_start"]["premade"] is False
    assert premade_ready(server) == 0
