"""The built-in Java runtime (java17 on this host's JDK 17): handlers compiled here with the
host's javac, packaged the way Lambda takes Java code (classes at the root, jars under
lib/), invoked through the real server. Covers Map/POJO/String/scalar input and output,
RequestHandler and RequestStreamHandler against a bundled copy of the core interfaces,
the Context getters, logs, the error shapes of Lambda's Java runtime, warm reuse, and the
bootstrap compiled once per data dir.

One server for the module: the first Java cold start compiles the bootstrap (seconds of
javac), which every test would otherwise pay again."""
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import Server
from invokeutil import (
    FAST_MB,
    LOG_STREAM_RE,
    assert_ok,
    assert_unhandled,
    create,
    fn_arn,
    invoke,
    request_id,
    tail_lines,
)
from java_fixtures import CORE, HANDLERS, JAR_HANDLER

JAVAC = "/usr/bin/javac"
COMPILED_LINE = "compiled the built-in Java bootstrap"


def host_java_major():
    out = subprocess.run(["/usr/bin/java", "-version"], capture_output=True, text=True, check=True).stderr
    v = out.split('"')[1]
    parts = v.split(".")
    return int(parts[1]) if parts[0] == "1" else int(re.split(r"[.+-]", v)[0])


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def classes():
    """{path.class: bytes} of every fixture source, compiled in one javac run."""
    work = tempfile.mkdtemp(prefix="quiver-javac-")
    try:
        src = os.path.join(work, "src")
        out = os.path.join(work, "out")
        paths = []
        for rel, text in {**CORE, **HANDLERS, **JAR_HANDLER}.items():
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
        return found
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pick(classes, *prefixes):
    return {k: v for k, v in classes.items() if k.startswith(prefixes)}


@pytest.fixture(scope="module")
def full_zip(classes):
    """Handlers plus the bundled core interfaces, classes at the task root."""
    return zip_of(pick(classes, "example/", "com/"))


@pytest.fixture(scope="module")
def plain_zip(classes):
    """POJO and scalar handlers only: no aws-lambda-java-core at all."""
    return zip_of(pick(classes, "example/Plain", "example/Person", "example/Address",
                       "example/Greeting", "example/PojoHandler"))


@pytest.fixture(scope="module")
def jserver():
    d = tempfile.mkdtemp(prefix="quiver-java-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def jlam(jserver):
    return jserver.client("lambda")


def jfn(lam, code, handler, **kw):
    return create(lam, code, runtime="java17", handler=handler, **kw)


def test_map_handler_context_logs_and_warm_reuse(jlam, full_zip):
    name = jfn(jlam, full_zip, "example.MapHandler::handle", timeout=9,
               env={"JAVA_TOOL_OPTIONS": "-Dquiver.tool.option=yes"})
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
    assert doc["identity"] is None and doc["appTitle"] is None
    assert doc["toolOption"] == "yes", "JAVA_TOOL_OPTIONS must reach the JVM"
    assert 0.7 * FAST_MB <= doc["maxHeapMb"] <= 0.9 * FAST_MB, doc["maxHeapMb"]
    assert doc["sha256"] == hashlib.sha256(b"quiver").hexdigest()
    assert re.match(r"^[0-9a-f-]{36}$", doc["uuid"]), doc["uuid"]
    assert doc["charset"] == "UTF-8", "Lambda's Java runtimes run with a UTF-8 default charset"
    lines = tail_lines(resp)
    assert "MARK-stdout one é" in lines, lines
    assert "MARK-stderr one" in lines, lines
    assert "MARK-logger one" in lines, lines
    assert any(l.startswith("Picked up JAVA_TOOL_OPTIONS") for l in lines), lines

    cc = {"custom": {"tenant": "t-1"}, "env": {"locale": "en"}, "client": {"app_title": "quiver"}}
    b64 = base64.b64encode(json.dumps(cc).encode()).decode()
    resp, _, doc = invoke(jlam, name, {"m": "two"}, ClientContext=b64)
    assert_ok(resp, doc)
    assert doc["count"] == 2, "the second invoke must reuse the warm JVM"
    assert doc["requestId"] == request_id(resp)
    assert doc["appTitle"] == "quiver"
    assert doc["custom"] == {"tenant": "t-1"}
    assert doc["clientEnv"] == {"locale": "en"}


def test_pojo_in_and_out_without_core_interfaces(jlam, plain_zip):
    name = jfn(jlam, plain_zip, "example.PojoHandler::greet")
    person = {"name": "Ada", "age": 36, "nickname": "countess", "address": {"city": "London"},
              "scores": [1, 2, 3], "notAField": True}
    resp, _, doc = invoke(jlam, name, person)
    assert_ok(resp, doc)
    assert doc == {"message": "Hello Ada (countess)", "adult": True, "doubled": [2, 4, 6], "city": "London"}


def test_string_scalar_and_no_input_methods(jlam, plain_zip):
    cases = [
        ("example.Plain::upper", "quiver é", "QUIVER É"),
        ("example.Plain::square", 12, 144),
        ("example.Plain::square", "7", 49),
        ("example.Plain::nothing", {"ignored": 1}, [1, "two", None, True, 2.5]),
    ]
    for handler, event, want in cases:
        name = jfn(jlam, plain_zip, handler)
        resp, _, doc = invoke(jlam, name, json.dumps(event))
        assert_ok(resp, doc)
        assert doc == want, (handler, doc)


def test_json_round_trip_through_the_bootstrap_parser(jlam, plain_zip):
    name = jfn(jlam, plain_zip, "example.Plain::echo")
    doc_in = {
        "s": 'quote" back\\ nl\n tab\t ctl\u0001 é 😀 \u2028',
        "i": 1, "neg": -42, "big": 12345678901234, "huge": 123456789012345678901234567890,
        "f": 2.5, "tiny": 1e-7, "t": True, "no": False, "n": None, "empty": "",
        "arr": [[], {}, [1, [2, [3]]]], "unicode_key_é": {"ключ": "значение"},
    }
    for payload in (json.dumps(doc_in), json.dumps(doc_in, ensure_ascii=False, indent=2)):
        resp, body, doc = invoke(jlam, name, payload.encode())
        assert_ok(resp, doc)
        assert doc == doc_in, body
    resp, _, doc = invoke(jlam, name, b'"just a string"')
    assert doc == "just a string"
    resp, _, doc = invoke(jlam, name, b"[1, 2.0, -3e2]")
    assert doc == [1, 2.0, -300.0]


def test_input_that_does_not_fit_is_a_json_parsing_error(jlam, plain_zip):
    name = jfn(jlam, plain_zip, "example.Plain::square")
    resp, _, doc = invoke(jlam, name, {"a": 1})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "java.lang.RuntimeException"
    assert doc["errorMessage"] == "An error occurred during JSON parsing"
    assert "Integer" in doc["cause"]["errorMessage"], doc


def test_request_handler_class_with_bundled_interfaces(jlam, full_zip):
    name = jfn(jlam, full_zip, "example.Typed")
    resp, _, first = invoke(jlam, name, {"a": 2, "b": 3})
    assert_ok(resp, first)
    assert first["sum"] == 5 and first["count"] == 1
    assert first["rid"] == request_id(resp)
    resp, _, second = invoke(jlam, name, {"a": 10, "b": -1})
    assert_ok(resp, second)
    assert second["sum"] == 9 and second["count"] == 2
    assert second["made"] == first["made"], "one handler instance per environment"


def test_request_stream_handler_gets_raw_bytes(jlam, full_zip):
    name = jfn(jlam, full_zip, "example.Echo")
    resp, _, doc = invoke(jlam, name, b'{"x": [1, 2], "s": "\xc3\xa9"}')
    assert_ok(resp, doc)
    assert doc == {"rid": request_id(resp), "raw": {"x": [1, 2], "s": "é"}}


def test_exception_is_unhandled_in_lambda_java_shape(jlam, plain_zip):
    name = jfn(jlam, plain_zip, "example.Plain::boom")
    for n in (3, 4):
        resp, _, doc = invoke(jlam, name, {"n": n}, LogType="Tail")
        assert_unhandled(resp, doc)
        assert doc["errorType"] == "java.lang.IllegalStateException"
        assert doc["errorMessage"] == f"boom {n}"
        trace = doc["stackTrace"]
        assert isinstance(trace, list) and all(isinstance(t, str) for t in trace), doc
        assert re.match(r"^example\.Plain\.boom\(Plain\.java:\d+\)$", trace[0]), trace
        assert not any("quiver.runtime" in t for t in trace), "platform frames must not show"
        assert doc["cause"]["errorType"] == "java.lang.IllegalArgumentException"
        assert doc["cause"]["errorMessage"] == f"root cause {n}"
        lines = tail_lines(resp)
        assert f"boom {n}: java.lang.IllegalStateException" in lines, lines


def check_init_error(lam, name, message, error_type):
    for _ in range(2):
        resp, _, doc = invoke(lam, name, {})
        assert_unhandled(resp, doc)
        assert doc["errorMessage"] == message, doc
        assert doc.get("errorType") == error_type, doc


def test_init_errors_as_lambda_words_them(jlam, full_zip):
    cases = [
        ("example.Nope::handle", "Class not found: example.Nope", "java.lang.ClassNotFoundException"),
        ("example.Plain::nothere",
         "No public method named nothere with appropriate method signature found on class example.Plain", None),
        ("example.Plain", "Class does not implement an appropriate handler interface: example.Plain", None),
        ("::x", "Invalid handler: `::x'", None),
    ]
    for handler, message, error_type in cases:
        name = jfn(jlam, full_zip, handler)
        check_init_error(jlam, name, message, error_type)


def test_handler_packaged_as_a_jar_under_lib(jlam, classes):
    jar = zip_of({**pick(classes, "jarred/"), "jarred/note.txt": "from the jar\n"})
    name = jfn(jlam, zip_of({"lib/app.jar": jar}), "jarred.InJar::handle")
    resp, _, doc = invoke(jlam, name, {"k": "v"})
    assert_ok(resp, doc)
    assert doc == {"from": "jar", "loader": "URLClassLoader", "resource": "from the jar"}


def test_only_the_host_jdk_major_is_offered(jlam, plain_zip):
    major = host_java_major()
    for rid, want in (("java8.al2", 8), ("java11", 11), ("java17", 17), ("java21", 21)):
        if want == major:
            name = create(jlam, plain_zip, runtime=rid, handler="example.Plain::upper")
            resp, _, doc = invoke(jlam, name, '"x"')
            assert_ok(resp, doc)
            assert doc == "X"
            continue
        with pytest.raises(ClientError) as e:
            create(jlam, plain_zip, runtime=rid, handler="example.Plain::upper")
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException", rid
        assert f"The runtime parameter of {rid} is not available on this server" in e.value.response["Error"]["Message"]


def test_bootstrap_is_compiled_once_per_data_dir(jserver, jlam, plain_zip):
    # Every test above cold-started Java on this server: one compile.
    name = jfn(jlam, plain_zip, "example.Plain::upper")
    assert invoke(jlam, name, '"a"')[2] == "A"
    assert jserver.stderr().count(COMPILED_LINE) == 1, jserver.stderr()
    stamp = os.path.join(jserver.data_dir, "runtime", "java", "classes", ".quiver-stamp")
    assert os.path.isfile(stamp)
    jserver.stop()
    again = Server(jserver.data_dir).start()
    try:
        lam = again.client("lambda")
        resp, _, doc = invoke(lam, name, '"b"')
        assert_ok(resp, doc)
        assert doc == "B"
        assert COMPILED_LINE not in again.stderr(), "a restarted server reuses the compiled classes"
    finally:
        again.stop()
