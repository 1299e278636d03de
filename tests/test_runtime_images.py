"""Runtime images (`quiver runtime import <id> <image>`): the python3.13 image built by
scripts/build-images.sh (Debian trixie minbase + the unchanged official awslambdaric as
its /var/runtime/bootstrap, two OCI layers with whiteouts and a hard link) becomes the
python3.13 runtime: a function created with it runs on the image's root, with Lambda's
context, error shape and logs; `quiver runtime ls` shows it; `quiver runtime rm` takes
it away again. Hostile images (escapes by `..`, absolute paths, symlinks and hard links,
device nodes) are refused with a clear error and leave nothing behind."""
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import QUIVER_BIN, Server
from invokeutil import (
    FIXTURES,
    LOG_STREAM_RE,
    assert_ok,
    assert_unhandled,
    create,
    invoke,
    make_zip,
    request_id,
    tail_lines,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

IMAGE = os.path.join(FIXTURES, "python3.13-image.tar")

PROBE = r'''
import errno, os, sys

def handler(event, context):
    print("hello from the image", flush=True)
    if "fail" in event:
        raise ValueError(event["fail"])
    try:
        open("/usr/lib/quiver-probe", "w")
        ro = "writable"
    except OSError as e:
        ro = errno.errorcode[e.errno]
    with open("/tmp/scratch", "w") as f:
        f.write("ok")
    ric = sys.modules.get("awslambdaric")
    return {
        "version": sys.version.split()[0],
        "executable": sys.executable,
        "ric": ric.__file__ if ric else None,
        "fn": context.function_name,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "mem": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining_ms_positive": context.get_remaining_time_in_millis() > 0,
        "env": {k: os.environ.get(k) for k in (
            "QUIVER_IMAGE", "LANG", "PATH", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_RUNTIME_API", "_HANDLER")},
        "os": [l for l in open("/etc/os-release").read().splitlines() if l.startswith("VERSION_CODENAME=")],
        "passwd": open("/etc/passwd").read(),
        "hostname": open("/etc/hostname").read().strip(),
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "doc": sorted(os.listdir("/usr/share/doc")),
        "man": os.path.exists("/usr/share/man"),
        "hard_link": os.path.samefile("/usr/bin/python3-image", "/usr/bin/python3.13"),
        "opt": os.listdir("/opt"),
        "root_write": ro,
        "task": sorted(os.listdir("/var/task")),
    }
'''


def quiver(*args, timeout=300):
    return subprocess.run([QUIVER_BIN, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def imported():
    """A data dir with the python3.13 image imported (once for the module)."""
    if not os.path.exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: run scripts/build-images.sh")
    d = tempfile.mkdtemp(prefix="quiver-test-images-")
    try:
        started = time.monotonic()
        p = quiver("runtime", "import", "python3.13", IMAGE, "--data-dir", d)
        assert p.returncode == 0, p.stderr
        yield d, p.stdout, time.monotonic() - started
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def image_server(imported):
    s = Server(imported[0]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def probe_fn(image_server):
    lam = image_server.client()
    return create(lam, make_zip({"app.py": PROBE}), runtime="python3.13", memory=512,
                  env={"LANG": "en_GB.UTF-8"})


def digest_of(stdout):
    m = re.search(r"as python3\.13: sha256:([0-9a-f]{64}) \(oci image, (\d+) files, (\d+) bytes", stdout)
    assert m, stdout
    return m.group(1)


def test_import_keys_the_root_by_the_image_digest_and_ls_shows_it(imported, image_server):
    data, stdout, _ = imported
    digest = digest_of(stdout)
    # The key is the image id: the sha256 of the config named by the OCI manifest.
    with tarfile.open(IMAGE) as t:
        index = json.load(t.extractfile("index.json"))
        manifest = json.load(t.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    assert manifest["config"]["digest"] == "sha256:" + digest
    root = os.path.join(data, "images", "roots", digest)
    assert os.path.isfile(os.path.join(root, "var", "runtime", "bootstrap"))
    assert [n for n in os.listdir(os.path.join(data, "images")) if n.startswith(".tmp-")] == []
    p = quiver("runtime", "ls", "--endpoint", image_server.endpoint)
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0]: l.split() for l in p.stdout.splitlines()[1:]}
    assert rows["python3.13"] == ["python3.13", "image", "3.13", "sha256:" + digest, "at", root]
    assert rows["python3.11"][1] == "host"
    p = quiver("runtime", "ls", "--json", "--endpoint", image_server.endpoint)
    rt = {r["Id"]: r for r in json.loads(p.stdout)["Runtimes"]}["python3.13"]
    assert rt["Source"] == "image"
    assert rt["Interpreter"] == "/usr/bin/python3.13"
    assert rt["Image"]["Digest"] == "sha256:" + digest
    assert rt["Image"]["Command"] == ["/var/runtime/bootstrap"]
    assert rt["Image"]["Os"] == "Debian GNU/Linux 13 (trixie)"
    assert rt["Binds"] == []
    host = {r["Id"]: r for r in json.loads(p.stdout)["Runtimes"]}["python3.11"]
    assert "Image" not in host


def test_python313_function_runs_awslambdaric_on_the_image_root(image_server, probe_fn):
    lam = image_server.client()
    resp, _, doc = invoke(lam, probe_fn, {"k": 1}, LogType="Tail")
    assert_ok(resp, doc)
    rid = request_id(resp)
    assert doc["version"].startswith("3.13."), doc
    assert doc["executable"] == "/usr/bin/python3.13"
    # The unchanged official client from the image's /var/runtime, not Quiver's bootstrap.
    assert doc["ric"].startswith("/var/runtime/awslambdaric/"), doc["ric"]
    assert doc["fn"] == probe_fn
    assert doc["arn"].endswith(":function:" + probe_fn)
    assert doc["request_id"] == rid
    assert doc["mem"] == "512"
    assert doc["log_group"] == "/aws/lambda/" + probe_fn
    assert LOG_STREAM_RE.match(doc["log_stream"]), doc["log_stream"]
    assert doc["remaining_ms_positive"] is True
    env = doc["env"]
    assert env["QUIVER_IMAGE"] == "python3.13", "the image config's Env applies"
    assert env["LANG"] == "en_GB.UTF-8", "the function's own variable wins over the image's"
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert (env["LAMBDA_TASK_ROOT"], env["LAMBDA_RUNTIME_DIR"]) == ("/var/task", "/var/runtime")
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["_HANDLER"] == "app.handler"
    # The image's root, its layers applied in order.
    assert doc["os"] == ["VERSION_CODENAME=trixie"]
    assert doc["doc"] == ["quiver-image"], "layer 2's opaque whiteout emptied layer 1's /usr/share/doc"
    assert doc["man"] is False, "layer 2's whiteout removed /usr/share/man"
    assert doc["hard_link"] is True
    # Quiver's own parts of every sandbox.
    assert "sbx_user1051:x:993:993::/tmp:" in doc["passwd"]
    assert doc["hostname"] == "sandbox"
    assert doc["uid"] == 993
    assert doc["cwd"] == "/var/task"
    assert doc["task"] == ["app.py"]
    assert doc["opt"] == []
    assert doc["root_write"] == "EROFS"
    lines = tail_lines(resp)
    start = next(i for i, l in enumerate(lines) if l.startswith(f"START RequestId: {rid}"))
    end = next(i for i, l in enumerate(lines) if l.startswith(f"END RequestId: {rid}"))
    assert "hello from the image" in lines[start + 1:end], lines


def test_an_error_has_lambdas_shape_from_the_official_client(image_server, probe_fn):
    lam = image_server.client()
    resp, _, doc = invoke(lam, probe_fn, {"fail": "boom"}, LogType="Tail")
    assert_unhandled(resp, doc)
    assert doc["errorMessage"] == "boom"
    assert doc["errorType"] == "ValueError"
    assert isinstance(doc["stackTrace"], list) and doc["stackTrace"], doc
    assert any('File "/var/task/app.py"' in frame for frame in doc["stackTrace"]), doc["stackTrace"]
    log = "\n".join(tail_lines(resp))
    assert "hello from the image" in log
    assert "ValueError" in log and "boom" in log, log


def test_host_runtimes_run_beside_the_image(image_server):
    lam = image_server.client()
    name = create(lam, make_zip({"app.py": "import sys\ndef handler(e, c):\n    return sys.version\n"}))
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert doc.startswith("3.11."), doc


def test_import_and_rm_refuse_while_a_server_runs_then_rm_removes_the_runtime(imported, image_server):
    data, stdout, _ = imported
    digest = digest_of(stdout)
    p = quiver("runtime", "rm", "python3.13", "--data-dir", data)
    assert p.returncode == 1
    assert "runtime images are changed while no server runs on the data dir" in p.stderr, p.stderr
    assert "already in use by another quiver server" in p.stderr, p.stderr
    image_server.stop()
    p = quiver("runtime", "rm", "python3.13", "--data-dir", data)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"removed image runtime python3.13 (sha256:{digest})"
    assert not os.path.exists(os.path.join(data, "images", "roots", digest))
    p = quiver("runtime", "rm", "python3.13", "--data-dir", data)
    assert p.returncode == 1
    assert "no image runtime python3.13" in p.stderr, p.stderr
    s = Server(data).start()
    try:
        lam = s.client()
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            create(lam, make_zip({"app.py": PROBE}), runtime="python3.13")
        msg = e.value.response["Error"]["Message"]
        assert msg.startswith("The runtime parameter of python3.13 is not available on this server. Available: "), msg
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    finally:
        s.stop()


# ---- hostile images ---------------------------------------------------------------

def entry(name, kind="file", data=b"x", link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
               "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    ti.linkname = link
    if kind == "file":
        ti.size = len(data)
        return ti, io.BytesIO(data)
    return ti, None


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, data)
    return buf.getvalue()


def docker_save(path, layers):
    """A `docker save` archive (manifest.json, config, layer tars) of `layers`."""
    import hashlib
    tars = [layer_tar(l) for l in layers]
    config = json.dumps({
        "os": "linux", "architecture": "amd64",
        "config": {"Entrypoint": ["/bin/bootstrap"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]},
    }).encode()
    names = [f"{i}/layer.tar" for i in range(len(tars))]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["hostile:1"], "Layers": names}]).encode()
    with tarfile.open(path, "w") as out:
        for name, data in [("manifest.json", manifest), ("config.json", config), *zip(names, tars)]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))


@pytest.fixture
def outside():
    """A directory outside the image store with a canary file an escape would hit."""
    d = tempfile.mkdtemp(prefix="quiver-test-outside-")
    with open(os.path.join(d, "canary"), "w") as f:
        f.write("untouched")
    yield d
    shutil.rmtree(d, ignore_errors=True)


UP = "../../../../../../../.."

# case: (layers after a harmless first one, given the outside dir; the refusal, given it)
HOSTILE = {
    "dotdot": (lambda out: [[entry(UP + out + "/canary", data=b"pwned")]],
               lambda out: f"{UP}{out}/canary: `..` in path (entries must stay inside the image)"),
    "absolute": (lambda out: [[entry(out + "/canary", data=b"pwned")]],
                 lambda out: f"{out}/canary: absolute path (entries must stay inside the image)"),
    "symlink_then_write": (lambda out: [[entry("esc", "symlink", link=out)], [entry("esc/canary", data=b"pwned")]],
                           lambda out: "esc/canary: written through the symlink esc (layers may not write through links)"),
    "symlinked_dir_same_layer": (lambda out: [[entry("usr", "dir", mode=0o755), entry("usr/lib", "symlink", link=out),
                                               entry("usr/lib/new", data=b"pwned")]],
                                 lambda out: "usr/lib/new: written through the symlink usr/lib"),
    "hardlink_outside": (lambda out: [[entry("h", "hardlink", link=UP + out + "/canary")]],
                         lambda out: f"h: hard link target refused: {UP}{out}/canary: `..` in path"),
    "hardlink_absolute": (lambda out: [[entry("h", "hardlink", link=out + "/canary")]],
                          lambda out: f"h: hard link target refused: {out}/canary: absolute path"),
    "hardlink_through_symlink": (lambda out: [[entry("esc", "symlink", link=out),
                                               entry("h", "hardlink", link="esc/canary")]],
                                 lambda out: "h: hard link through or to the symlink esc/canary"),
    "device_node": (lambda out: [[entry("dev", "dir", mode=0o755), entry("dev/sda", "chr")]],
                    lambda out: "dev/sda: device node or fifo (runtime images may not hold them)"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_images_are_refused_leaving_nothing_behind(case, outside, tmp_path):
    build, message = HOSTILE[case]
    archive = str(tmp_path / "hostile.tar")
    # Everything before the hostile entry is harmless and would unpack fine.
    docker_save(archive, [[entry("bin", "dir", mode=0o755), entry("bin/bootstrap", mode=0o755)], *build(outside)])
    data = str(tmp_path / "data")
    before = sorted(os.listdir(outside))
    p = quiver("runtime", "import", "provided.al2023", archive, "--data-dir", data)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert f"cannot import {archive} as provided.al2023" in p.stderr, p.stderr
    assert f"image refused: {message(outside)}" in p.stderr, p.stderr
    with open(os.path.join(outside, "canary")) as f:
        assert f.read() == "untouched"
    assert sorted(os.listdir(outside)) == before, "nothing written outside the image store"
    images = os.path.join(data, "images")
    assert sorted(os.listdir(images)) == ["roots", "runtimes"], "no work dir left"
    assert os.listdir(os.path.join(images, "roots")) == []
    assert os.listdir(os.path.join(images, "runtimes")) == []


def test_the_same_harmless_archive_imports(outside, tmp_path):
    """The control for the hostile cases: their harmless part alone is accepted."""
    archive = str(tmp_path / "ok.tar")
    docker_save(archive, [[entry("bin", "dir", mode=0o755), entry("bin/bootstrap", mode=0o755)],
                          [entry("esc", "symlink", link=outside)]])
    p = quiver("runtime", "import", "provided.al2023", archive, "--data-dir", str(tmp_path / "data"))
    assert p.returncode == 0, p.stderr
    assert "as provided.al2023: sha256:" in p.stdout and "(docker image, 3 files" in p.stdout, p.stdout
