"""`quiver serve` and its sandboxes: clear refusal on a host where isolation can't
work, and nothing of an instance left after SIGTERM or after SIGKILL + restart."""
import io
import json
import os
import signal
import subprocess
import time
import zipfile

import pytest

from conftest import QUIVER_BIN
from sandbox_probe.harness import instance_id, pids_in_instance, sandbox_cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = "import os\ndef handler(e, c):\n    return {'pid': os.getpid()}\n"


def make_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", CODE)
    return buf.getvalue()


def start_function(server, name="f"):
    lam = server.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip()}, MemorySize=256)
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in r
    return lam


def test_refuses_to_start_without_root():
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="quiver-nonroot-")
    os.chmod(base, 0o777)  # the unprivileged user must be able to create its data dir
    d = os.path.join(base, "d")
    # A copy the unprivileged user can execute wherever the checkout lives.
    exe = os.path.join(base, "quiver")
    shutil.copy(QUIVER_BIN, exe)
    os.chmod(exe, 0o755)
    try:
        p = run_unprivileged(exe, d)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert "needs root" in err and "uid 65534" in err, err
    assert b"quiver listening" not in p.stdout


def run_unprivileged(exe, d):
    return subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
         exe, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(d)],
        capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
    )


def test_sigterm_leaves_nothing_of_the_instance(server):
    start_function(server)
    inst = instance_id(server.data_dir)
    assert sandbox_cgroups(inst) and pids_in_instance(inst)
    assert server.stop() == 0
    assert sandbox_cgroups(inst) == []
    assert pids_in_instance(inst) == []


def test_sigkill_then_restart_sweeps_and_other_instance_untouched(server_factory, data_dir, tmp_path):
    other = server_factory(data_dir_override=str(tmp_path / "other"))
    start_function(other, "keep")
    other_inst = instance_id(other.data_dir)
    other_cgroups = set(sandbox_cgroups(other_inst))
    assert other_cgroups

    victim = server_factory()
    start_function(victim)
    inst = instance_id(data_dir)
    before = set(sandbox_cgroups(inst))
    assert before
    victim.stop(sig=signal.SIGKILL)
    # The spawner sees its server vanish and takes the sandboxes down; a restart
    # sweeps whatever could survive (e.g. frozen tasks).
    again = server_factory()
    deadline = time.time() + 15
    while time.time() < deadline and (set(sandbox_cgroups(inst)) & before or pids_in_instance(inst)):
        time.sleep(0.2)
    assert set(sandbox_cgroups(inst)) & before == set()
    assert pids_in_instance(inst) == []
    # The restarted server works, and the other instance was never touched.
    r = again.client("lambda").invoke(FunctionName="f", Payload=b"{}")
    assert "FunctionError" not in r, r["Payload"].read()
    assert other_cgroups <= set(sandbox_cgroups(other_inst))
    r = other.client("lambda").invoke(FunctionName="keep", Payload=b"{}")
    assert "FunctionError" not in r


def test_sigterm_does_not_wait_for_a_long_invocation(server):
    import threading
    lam = server.client("lambda")
    code = "import time\ndef handler(e, c):\n    time.sleep(120)\n    return 1\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    lam.create_function(FunctionName="long", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": buf.getvalue()}, MemorySize=256, Timeout=300)
    t = threading.Thread(target=lambda: _swallow(lambda: lam.invoke(FunctionName="long", Payload=b"{}")), daemon=True)
    t.start()
    time.sleep(2)
    inst = instance_id(server.data_dir)
    start = time.time()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    took = time.time() - start
    assert took < 25, f"shutdown took {took:.1f}s"
    assert sandbox_cgroups(inst) == [] and pids_in_instance(inst) == []


def _swallow(f):
    try:
        f()
    except Exception:  # noqa: BLE001 - the connection is cut by the shutdown
        pass
