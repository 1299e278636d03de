"""Registry pulls (`quiver runtime pull <id> --image REF`, docs/wire.md §19) from a real
registry on loopback: Debian's docker-registry (the CNCF distribution server) on
127.0.0.1, holding the python3.13 OCI image built by scripts/build-images.sh, pushed
over the distribution API. A pull by tag becomes the python3.13 runtime a function runs
on; a pull by digest pins the manifest; a blob that does not hash to its digest, a
hostile layer or an unknown repository/tag is refused with nothing stored; an index
yields its linux/amd64 image; a registry that wants a bearer token gets one from its
token endpoint (a small front written here, as public registries do it)."""
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import QUIVER_BIN, Server
from invokeutil import FIXTURES, assert_ok, create, invoke, make_zip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

IMAGE = os.path.join(FIXTURES, "python3.13-image.tar")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR = "application/vnd.oci.image.layer.v1.tar"


def quiver(*args, timeout=300):
    return subprocess.run([QUIVER_BIN, *args], capture_output=True, text=True, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """docker-registry serving a temp storage dir on 127.0.0.1:<free port>."""

    def __init__(self):
        if not shutil.which("docker-registry"):
            pytest.fail("docker-registry is missing: run scripts/install-deps.sh")
        self.dir = tempfile.mkdtemp(prefix="quiver-test-registry-")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {self.dir}/storage
http:
  addr: 127.0.0.1:{self.port}
""")
        self.proc = subprocess.Popen(["docker-registry", "serve", config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request("GET", "/v2/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                pytest.fail("docker-registry did not start")
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def push_blob(self, repo, data):
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        loc = urllib.parse.urlsplit(headers["Location"])
        sep = "&" if loc.query else ""
        path = f"{loc.path}?{loc.query}{sep}digest={sha(data)}"
        status, _, body = self.request("PUT", path, data, {"Content-Type": "application/octet-stream",
                                                           "Content-Length": str(len(data))})
        assert status == 201, (status, body)
        return {"digest": sha(data), "size": len(data)}

    def push_manifest(self, repo, ref, doc, media):
        data = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media})
        assert status == 201, (status, body)
        return {"mediaType": media, "digest": sha(data), "size": len(data)}

    def blob_file(self, digest):
        h = digest[7:]
        return os.path.join(self.dir, "storage", "docker", "registry", "v2", "blobs", "sha256", h[:2], h, "data")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def push_small(reg, repo, tag, layers, arch="amd64"):
    """A small provided.al2023-style image of uncompressed `layers`; returns its manifest descriptor."""
    descs = [dict(reg.push_blob(repo, l), mediaType=TAR) for l in layers]
    config = json.dumps({"os": "linux", "architecture": arch, "config": {"Entrypoint": ["/bin/bootstrap"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in layers]}}).encode()
    cdesc = dict(reg.push_blob(repo, config), mediaType="application/vnd.oci.image.config.v1+json")
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}
    return reg.push_manifest(repo, tag, m, OCI_MANIFEST), cdesc["digest"]


@pytest.fixture(scope="module")
def registry():
    if not os.path.exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: run scripts/build-images.sh")
    reg = Registry()
    try:
        # The python3.13 layout, pushed blob by blob (its layers keep their digests).
        with tarfile.open(IMAGE) as t:
            index = json.load(t.extractfile("index.json"))
            mdesc = index["manifests"][0]
            raw = t.extractfile("blobs/sha256/" + mdesc["digest"][7:]).read()
            manifest = json.loads(raw)
            for d in [manifest["config"], *manifest["layers"]]:
                assert reg.push_blob("lambda/python", t.extractfile("blobs/sha256/" + d["digest"][7:]).read())["digest"] == d["digest"]
        reg.python = reg.push_manifest("lambda/python", "3.13", raw, manifest.get("mediaType", OCI_MANIFEST))
        reg.python_config = manifest["config"]["digest"]
        reg.python_config_size = manifest["config"]["size"]
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="quiver-test-pull-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def assert_nothing_stored(data):
    images = os.path.join(data, "images")
    assert sorted(os.listdir(images)) == ["roots", "runtimes"], "no work dir left"
    assert os.listdir(os.path.join(images, "roots")) == []
    assert os.listdir(os.path.join(images, "runtimes")) == []


def test_pull_by_tag_then_a_function_runs_on_it(registry, data_dir):
    ref = f"{registry.host}/lambda/python:3.13"
    p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
    assert p.returncode == 0, p.stderr
    pinned = f"{ref}@{registry.python['digest']}"
    assert p.stdout.startswith(f"pulled {pinned} as python3.13: {registry.python_config} (oci image, "), p.stdout
    root = os.path.join(data_dir, "images", "roots", registry.python_config[7:])
    assert os.path.isfile(os.path.join(root, "var", "runtime", "bootstrap"))
    rec = json.load(open(os.path.join(data_dir, "images", "runtimes", "python3.13.json")))
    assert (rec["imported_from"], rec["reference"], rec["digest"]) == (ref, pinned, registry.python_config)
    # Pulling again finds the root: only the manifest and config are fetched.
    p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
    assert p.returncode == 0, p.stderr
    assert f", {registry.python['size'] + registry.python_config_size} bytes downloaded, " in p.stdout, p.stdout
    s = Server(data_dir).start()
    try:
        lam = s.client()
        name = create(lam, make_zip({"app.py": "import sys\ndef handler(e, c):\n    return [sys.version.split()[0], sys.executable]\n"}),
                      runtime="python3.13", memory=512)
        resp, _, doc = invoke(lam, name)
        assert_ok(resp, doc)
        assert doc[0].startswith("3.13."), doc
        out = quiver("runtime", "ls", "--json", "--endpoint", s.endpoint)
        rt = {r["Id"]: r for r in json.loads(out.stdout)["Runtimes"]}["python3.13"]
        assert rt["Source"] == "image"
        assert rt["Image"]["Digest"] == registry.python_config
        assert rt["Image"]["Reference"] == pinned
        out = quiver("runtime", "ls", "--endpoint", s.endpoint)
        row = [l for l in out.stdout.splitlines() if l.startswith("python3.13 ")][0]
        assert row.split()[3:] == [registry.python_config, "at", root, "from", pinned], row
    finally:
        s.stop()


def test_pull_by_digest_pins_the_manifest(registry, data_dir):
    ref = f"{registry.host}/lambda/python@{registry.python['digest']}"
    p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"pulled {ref} as python3.13: {registry.python_config} "), p.stdout
    # A digest the registry does not hold is not found, whatever the tag says.
    other = "sha256:" + "0" * 64
    p = quiver("runtime", "pull", "python3.12", "--image", f"{registry.host}/lambda/python:3.13@{other}",
               "--data-dir", data_dir)
    assert p.returncode == 1
    assert f"has no image lambda/python:{other} (manifest unknown)" in p.stderr, p.stderr
    assert os.listdir(os.path.join(data_dir, "images", "runtimes")) == ["python3.13.json"]


def test_a_blob_that_does_not_match_its_digest_is_refused_nothing_stored(registry, data_dir):
    good = layer_tar([("bin", None, 0o755), ("bin/bootstrap", b"#!/bin/sh\n" + uuid.uuid4().bytes.hex().encode(), 0o755)])
    desc, _ = push_small(registry, "tampered", "1", [good])
    # The registry's storage is changed behind its back: same size, other bytes.
    with open(registry.blob_file(sha(good)), "r+b") as f:
        f.seek(len(good) - 600)
        f.write(b"X" * 10)
    p = quiver("runtime", "pull", "provided.al2023", "--image", f"{registry.host}/tampered:1", "--data-dir", data_dir)
    assert p.returncode == 1, p.stdout
    assert f"cannot pull {registry.host}/tampered:1" in p.stderr, p.stderr
    assert f"image refused: digest mismatch: blob {sha(good)} hashes to sha256:" in p.stderr, p.stderr
    assert_nothing_stored(data_dir)


def test_an_index_yields_its_linux_amd64_image(registry, data_dir):
    arm, _ = push_small(registry, "multi", "arm64", [layer_tar([("bin", None, 0o755), ("bin/bootstrap", b"arm", 0o755)])],
                        arch="arm64")
    amd, amd_config = push_small(registry, "multi", "amd64",
                                 [layer_tar([("bin", None, 0o755), ("bin/bootstrap", b"amd", 0o755)])])
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(arm, platform={"os": "linux", "architecture": "arm64"}),
        dict(amd, platform={"os": "linux", "architecture": "amd64"}),
    ]}
    idx = registry.push_manifest("multi", "latest", index, OCI_INDEX)
    p = quiver("runtime", "pull", "provided.al2023", "--image", f"{registry.host}/multi", "--data-dir", data_dir)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"pulled {registry.host}/multi:latest@{idx['digest']} as provided.al2023: {amd_config} "), p.stdout
    root = os.path.join(data_dir, "images", "roots", amd_config[7:])
    assert open(os.path.join(root, "bin", "bootstrap"), "rb").read() == b"amd"
    # An index without this host's platform says which it has.
    only_arm = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [dict(arm, platform={"os": "linux", "architecture": "arm64"})]}
    registry.push_manifest("multi", "arm-only", only_arm, OCI_INDEX)
    p = quiver("runtime", "pull", "provided.al2", "--image", f"{registry.host}/multi:arm-only", "--data-dir", data_dir)
    assert p.returncode == 1
    assert "the image has no manifest for linux/amd64 (it has linux/arm64)" in p.stderr, p.stderr


def test_a_hostile_layer_is_refused_as_on_import(registry, data_dir):
    outside = tempfile.mkdtemp(prefix="quiver-test-outside-")
    try:
        hostile = layer_tar([("bin", None, 0o755), ("../../../../../../.." + outside + "/canary", b"pwned", 0o644)])
        push_small(registry, "hostile", "1", [hostile])
        p = quiver("runtime", "pull", "provided.al2023", "--image", f"{registry.host}/hostile:1", "--data-dir", data_dir)
        assert p.returncode == 1, p.stdout
        assert f"cannot import {registry.host}/hostile:1 as provided.al2023" in p.stderr, p.stderr
        assert f"image refused: ../../../../../../..{outside}/canary: `..` in path (entries must stay inside the image)" in p.stderr, p.stderr
        assert os.listdir(outside) == []
        assert_nothing_stored(data_dir)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_unknown_repository_or_tag_is_a_clear_error(registry, data_dir):
    for ref, want in [(f"{registry.host}/lambda/python:9.99", "has no image lambda/python:9.99 (manifest unknown)"),
                      (f"{registry.host}/nothing/here:1", "has no image nothing/here:1 (manifest unknown)")]:
        p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
        assert p.returncode == 1, p.stdout
        assert f"cannot pull {ref}" in p.stderr and want in p.stderr, p.stderr
    for ref, want in [("python:3.13", "Docker Hub short names are not supported"),
                      (f"{registry.host}/Lambda/python:1", "the repository is lowercase")]:
        p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
        assert p.returncode == 1
        assert f"invalid image reference {ref!r}".replace("'", '"') in p.stderr and want in p.stderr, p.stderr
    p = quiver("runtime", "pull", "go1.x", "--data-dir", data_dir)
    assert p.returncode == 1
    assert 'AWS publishes no base image for "go1.x"' in p.stderr, p.stderr
    # Nothing listening: the registry cannot be reached, said so.
    p = quiver("runtime", "pull", "python3.13", "--image", f"127.0.0.1:{free_port()}/a:b", "--data-dir", data_dir)
    assert p.returncode == 1
    assert "cannot reach the registry http://127.0.0.1:" in p.stderr, p.stderr
    assert_nothing_stored(data_dir)


class TokenFront:
    """Answers 401 + `WWW-Authenticate: Bearer` unless the request carries a token from
    its own /token endpoint, and forwards authorised requests to the registry."""

    def __init__(self, registry):
        self.tokens = set()
        self.token_queries = []
        self.unauthorised = 0
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/token":
                    front.token_queries.append(urllib.parse.parse_qs(url.query))
                    tok = "tok-" + uuid.uuid4().hex
                    front.tokens.add(tok)
                    body = json.dumps({"token": tok, "expires_in": 300}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in front.tokens:
                    front.unauthorised += 1
                    body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", f'Bearer realm="http://{front.host}/token",'
                                     'service="quiver-test-registry",scope="repository:lambda/python:pull"')
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                accept = self.headers.get("Accept", "")
                status, headers, body = registry.request("GET", self.path, headers={"Accept": accept})
                self.send_response(status)
                for k in ("Content-Type", "Docker-Content-Digest"):
                    if k in headers:
                        self.send_header(k, headers[k])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_bearer_token_flow(registry, data_dir):
    front = TokenFront(registry)
    try:
        ref = f"{front.host}/lambda/python:3.13"
        p = quiver("runtime", "pull", "python3.13", "--image", ref, "--data-dir", data_dir)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(f"pulled {ref}@{registry.python['digest']} as python3.13: {registry.python_config} "), p.stdout
        # One challenge, one token, asked for with the challenge's service and scope.
        assert front.unauthorised == 1
        assert front.token_queries == [{"service": ["quiver-test-registry"], "scope": ["repository:lambda/python:pull"]}]
    finally:
        front.stop()


def test_the_refusal_of_a_missing_runtime_names_the_pull(tmp_path):
    s = Server(str(tmp_path / "data")).start()
    try:
        lam = s.client()
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            create(lam, make_zip({"app.py": "def handler(e, c):\n    return 1\n"}), runtime="java25")
        assert ("Or pull its image (with no server running on the data dir): quiver runtime pull java25 "
                "(default public.ecr.aws/lambda/java:25).") in str(e.value), str(e.value)
    finally:
        s.stop()
