"""`quiver serve` as a process: first stdout line, data-dir lock, signals, kill -9, restart.

These drive the real binary (conftest.Server) and check only what a user or a tool sees:
stdout, exit codes, stderr messages and the Lambda API.
"""
import base64
import hashlib
import io
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
import zipfile

import pytest

from conftest import QUIVER_BIN, Server

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def _zip(marker):
    """Deterministic bytes per marker (fixed timestamps), so downloads can be compared."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("app.py", f"def handler(event, context):\n    return {marker!r}\n"),
                           ("lib/data.txt", "x" * 1000)):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _full_state(lam, names):
    """Everything GetFunction/ListVersions/ListTags say about `names`, minus download URLs."""
    state = {}
    for name in names:
        versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
        for v in versions:
            g = lam.get_function(FunctionName=name, Qualifier=v["Version"])
            g.pop("ResponseMetadata")
            location = g["Code"].pop("Location")
            state[(name, v["Version"])] = (g, location)
        g = lam.get_function(FunctionName=name)
        g.pop("ResponseMetadata")
        g["Code"].pop("Location")
        state[(name, None)] = (g, None)
    return state


def _populate(lam):
    a, b = f"life-a-{os.getpid()}", f"life-b-{os.getpid()}"
    lam.create_function(FunctionName=a, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": _zip("a1")}, Publish=True, Description="first",
                        Environment={"Variables": {"K1": "v1", "K2": "v2"}}, Tags={"team": "core"},
                        MemorySize=256, Timeout=30, EphemeralStorage={"Size": 1024})
    lam.update_function_code(FunctionName=a, ZipFile=_zip("a2"), Publish=True)
    lam.update_function_configuration(FunctionName=a, Description="now different", Timeout=60)
    lam.create_function(FunctionName=b, Runtime="provided.al2023", Role=ROLE, Handler="bootstrap",
                        Code={"ZipFile": _zip("b1")})
    return [a, b]


def test_first_stdout_line_and_data_line(server_factory, data_dir):
    s = server_factory()
    assert re.fullmatch(r"quiver listening on http://127\.0\.0\.1:\d+\n", s.stdout_lines[0]), s.stdout_lines
    port = int(s.endpoint.rsplit(":", 1)[1])
    assert port != 0
    with urllib.request.urlopen(f"{s.endpoint}/healthz", timeout=10) as r:
        assert r.status == 200
    deadline = time.time() + 10
    while len(s.stdout_lines) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.realpath(data_dir) in s.stdout_lines[1], s.stdout_lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(server_factory, sig):
    s = server_factory()
    s.signal(sig)
    assert s.wait(timeout=20) == 0, s.stderr()


def test_second_server_on_same_data_dir_is_refused(server_factory, data_dir):
    first = server_factory()
    p = subprocess.run([QUIVER_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert b"quiver listening" not in p.stdout
    err = p.stderr.decode()
    assert "already in use by another quiver server" in err, err
    assert str(first.proc.pid) in err, err
    # The first server is unaffected.
    first.client("lambda").list_functions()


def test_env_vars_choose_listen_address_and_data_dir():
    d = tempfile.mkdtemp(prefix="quiver-env-")
    env = dict(os.environ, QUIVER_LISTEN="127.0.0.1:0", QUIVER_DATA_DIR=d)
    proc = subprocess.Popen([QUIVER_BIN, "serve"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env)
    try:
        first = proc.stdout.readline().decode()
        assert re.fullmatch(r"quiver listening on http://127\.0\.0\.1:\d+\n", first), first
        assert os.path.exists(os.path.join(d, "quiver.lock"))
        assert os.path.exists(os.path.join(d, "metadata.db"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    assert proc.returncode == 0


def test_restart_after_kill_9_keeps_every_function_exactly(server_factory):
    s1 = server_factory()
    lam = s1.client("lambda")
    names = _populate(lam)
    before = _full_state(lam, names)
    settings_before = lam.get_account_settings()["AccountUsage"]
    s1.signal(signal.SIGKILL)
    s1.wait(timeout=20)

    s2 = server_factory()  # same data dir: the lock died with the process
    lam2 = s2.client("lambda")
    after = _full_state(lam2, names)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key][0] == before[key][0], key
    assert lam2.get_account_settings()["AccountUsage"] == settings_before
    # Download URLs from the new server serve the exact bytes of each version.
    expected = {"1": _zip("a1"), "2": _zip("a2"), "$LATEST": _zip("a2")}
    for (name, version), (g, location) in after.items():
        if name == names[0] and version in expected:
            with urllib.request.urlopen(location, timeout=30) as r:
                body = r.read()
            assert body == expected[version], version
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            assert g["Configuration"]["CodeSha256"] == digest
    # Version numbers continue where they were.
    r = lam2.update_function_code(FunctionName=names[0], ZipFile=_zip("a3"), Publish=True)
    assert r["Version"] == "3"


def test_restart_after_clean_stop_keeps_functions(server_factory):
    s1 = server_factory()
    lam = s1.client("lambda")
    names = _populate(lam)
    before = _full_state(lam, names)
    assert s1.stop() == 0
    s2 = server_factory()
    after = _full_state(s2.client("lambda"), names)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}


def test_kill_9_during_creates_leaves_only_whole_functions(server_factory, data_dir):
    """Creates race a SIGKILL: after restart every listed function is complete (its code
    downloads and hashes to CodeSha256, its tree exists) and no unreferenced blob is left."""
    import threading

    s1 = server_factory()
    lam = s1.client("lambda")
    stop = threading.Event()
    zips = []
    for i in range(200):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("app.py", f"def handler(e, c):\n    return {i}\n")
            zf.writestr("pad.bin", os.urandom(256 * 1024))  # larger writes widen the window for the kill
        zips.append(buf.getvalue())

    def spam():
        for i, z in enumerate(zips):
            if stop.is_set():
                return
            try:
                lam.create_function(FunctionName=f"crash-{i}", Runtime="python3.11", Role=ROLE,
                                    Handler="app.handler", Code={"ZipFile": z})
            except Exception:
                return  # the server died under us

    t = threading.Thread(target=spam, daemon=True)
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline and len(lam.list_functions(MaxItems=5)["Functions"]) < 3:
        time.sleep(0.01)
    s1.signal(signal.SIGKILL)
    s1.wait(timeout=20)
    stop.set()
    t.join(timeout=60)

    s2 = server_factory()
    lam2 = s2.client("lambda")
    listed = []
    marker = None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = lam2.list_functions(**kw)
        listed += page["Functions"]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert listed, "no create finished before the kill"
    shas = set()
    for f in listed:
        g = lam2.get_function(FunctionName=f["FunctionName"])
        with urllib.request.urlopen(g["Code"]["Location"], timeout=30) as r:
            body = r.read()
        digest = hashlib.sha256(body)
        assert base64.b64encode(digest.digest()).decode() == g["Configuration"]["CodeSha256"]
        shas.add(digest.hexdigest())
        assert os.path.isfile(os.path.join(data_dir, "code", digest.hexdigest(), "app.py"))
    blobs = {n.removesuffix(".zip") for n in os.listdir(os.path.join(data_dir, "blobs"))}
    trees = set(os.listdir(os.path.join(data_dir, "code")))
    assert blobs == shas, "unreferenced or missing blobs after restart"
    assert trees == shas, "unreferenced or missing trees after restart"
    assert os.listdir(os.path.join(data_dir, "tmp")) == []
