"""java21 on the java21 image built by scripts/build-images.sh: Debian trixie minbase with
openjdk-21-jre-headless and nothing else - no /var/runtime/bootstrap, no Entrypoint, no
javac - so Quiver's built-in Java bootstrap runs on the image's JVM 21 (its classes
compiled once by the host's javac 17 as Java 8 bytecode, docs/wire.md §17). The host's
own JDK is 17, so java21 exists only through the image.

Handlers are compiled here with the host's javac (java_fixtures.py, as in
tests/test_invoke_java.py): a method handler with the Context getters and logs, a
RequestHandler class, an exception in Lambda's Java shape, and an init error."""
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest

from conftest import QUIVER_BIN, Server
from invokeutil import (
    FAST_MB,
    FIXTURES,
    LOG_STREAM_RE,
    assert_ok,
    assert_unhandled,
    create,
    fn_arn,
    invoke,
    request_id,
    tail_lines,
)
from java_fixtures import CORE, HANDLERS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

IMAGE = os.path.join(FIXTURES, "java21-image.tar")
JAVAC = "/usr/bin/javac"

# What only the image's JVM can answer: its version and home.
VERSION = {
    "example21/Version.java": """
package example21;
import java.util.*;
public class Version {
    public Map<String, Object> handle(Map<String, Object> in) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("version", System.getProperty("java.version"));
        out.put("home", System.getProperty("java.home"));
        out.put("execEnv", System.getenv("AWS_EXECUTION_ENV"));
        out.put("image", System.getenv("QUIVER_IMAGE"));
        return out;
    }
}
""",
}


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def code():
    """A zip of every fixture class (compiled in one host javac run) at the task root."""
    work = tempfile.mkdtemp(prefix="quiver-javac21-")
    try:
        src, out, paths = os.path.join(work, "src"), os.path.join(work, "out"), []
        for rel, text in {**CORE, **HANDLERS, **VERSION}.items():
            p = os.path.join(src, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
            paths.append(p)
        subprocess.run([JAVAC, "-encoding", "UTF-8", "-d", out, *paths], check=True, capture_output=True)
        found = {}
        for root, _, names in os.walk(out):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    found[os.path.relpath(p, out)] = f.read()
        return zip_of(found)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def quiver(*args, timeout=300):
    return subprocess.run([QUIVER_BIN, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def jserver():
    """A server whose data dir has the java21 image imported before it starts."""
    if not os.path.exists(IMAGE):
        pytest.fail(f"{IMAGE} is missing: run scripts/build-images.sh java21")
    d = tempfile.mkdtemp(prefix="quiver-test-java21-")
    s = None
    try:
        p = quiver("runtime", "import", "java21", IMAGE, "--data-dir", d)
        assert p.returncode == 0, p.stderr
        s = Server(d).start()
        yield s
    finally:
        if s is not None:
            s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def jlam(jserver):
    return jserver.client("lambda")


def jfn(lam, code, handler, **kw):
    return create(lam, code, runtime="java21", handler=handler, **kw)


def test_the_image_is_java21_with_its_jdk_version(jserver):
    p = quiver("runtime", "ls", "--json", "--endpoint", jserver.endpoint)
    assert p.returncode == 0, p.stderr
    rts = {r["Id"]: r for r in json.loads(p.stdout)["Runtimes"]}
    rt = rts["java21"]
    assert rt["Source"] == "image", rt
    assert rt["Interpreter"] == "/usr/bin/java", rt
    assert re.match(r"^21(\.|$)", rt["Version"]), rt
    assert rt["Image"]["Command"] == [], "no command of its own: the built-in bootstrap runs"
    assert rt["Image"]["Os"] == "Debian GNU/Linux 13 (trixie)"


def test_runs_on_the_images_jvm_21(jlam, code):
    name = jfn(jlam, code, "example21.Version::handle")
    resp, _, doc = invoke(jlam, name, {})
    assert_ok(resp, doc)
    assert doc["version"].startswith("21."), doc
    assert doc["home"].startswith("/usr/lib/jvm/java-21-openjdk"), doc
    assert doc["execEnv"] == "AWS_Lambda_java21"
    assert doc["image"] == "java21"


def test_map_handler_context_and_logs(jlam, code):
    name = jfn(jlam, code, "example.MapHandler::handle", timeout=9)
    event = {"m": "one", "s": "é", "nested": {"k": [1, 2]}}
    resp, _, doc = invoke(jlam, name, event, LogType="Tail")
    assert_ok(resp, doc)
    assert doc["count"] == 1
    assert doc["echo"] == event
    assert doc["requestId"] == request_id(resp)
    assert doc["functionName"] == name
    assert doc["functionVersion"] == "$LATEST"
    assert doc["arn"] == fn_arn(name)
    assert doc["logGroup"] == f"/aws/lambda/{name}"
    assert LOG_STREAM_RE.match(doc["logStream"]), doc["logStream"]
    assert 0 < doc["remaining"] <= 9000
    assert doc["memory"] == FAST_MB
    assert 0.7 * FAST_MB <= doc["maxHeapMb"] <= 0.9 * FAST_MB, "Lambda's -Xmx from the memory size"
    assert doc["charset"] == "UTF-8"
    # java.security of the image's own JDK (its /etc/java-21-openjdk) is readable.
    assert re.match(r"^[0-9a-f]{64}$", doc["sha256"]), doc
    lines = tail_lines(resp)
    assert "MARK-stdout one é" in lines, lines
    assert "MARK-stderr one" in lines, lines
    assert "MARK-logger one" in lines, lines
    resp, _, doc = invoke(jlam, name, {"m": "two"})
    assert_ok(resp, doc)
    assert doc["count"] == 2, "the second invoke must reuse the warm JVM"


def test_request_handler_class(jlam, code):
    name = jfn(jlam, code, "example.Typed")
    resp, _, doc = invoke(jlam, name, {"a": 2, "b": 3})
    assert_ok(resp, doc)
    assert doc["sum"] == 5 and doc["rid"] == request_id(resp)


def test_exception_in_lambda_java_shape(jlam, code):
    name = jfn(jlam, code, "example.Plain::boom")
    resp, _, doc = invoke(jlam, name, {"n": 7}, LogType="Tail")
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "java.lang.IllegalStateException"
    assert doc["errorMessage"] == "boom 7"
    trace = doc["stackTrace"]
    assert re.match(r"^example\.Plain\.boom\(Plain\.java:\d+\)$", trace[0]), trace
    assert not any("quiver.runtime" in t for t in trace), "platform frames must not show"
    assert doc["cause"]["errorType"] == "java.lang.IllegalArgumentException"
    assert "boom 7: java.lang.IllegalStateException" in tail_lines(resp)


def test_init_error_in_lambda_java_shape(jlam, code):
    name = jfn(jlam, code, "example.Nope::handle")
    for _ in range(2):
        resp, _, doc = invoke(jlam, name, {})
        assert_unhandled(resp, doc)
        assert doc["errorMessage"] == "Class not found: example.Nope", doc
        assert doc["errorType"] == "java.lang.ClassNotFoundException", doc
