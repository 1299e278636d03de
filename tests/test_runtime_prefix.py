"""Runtimes from operator-configured install prefixes (`quiver serve --runtime
python3.12=<prefix>`, `QUIVER_RUNTIMES`, `<data-dir>/runtimes.json`): pyenv's CPython
3.12 and 3.13 run the built-in Python bootstrap in real sandboxes, with Lambda's
context, error shape and logs; the prefix is shown read-only, and only to its own
runtime's sandboxes; a prefix that does not hold what its id promises stops the server
at start; `quiver runtime ls` shows where each runtime comes from; a Lambda runtime id
the server cannot offer is an InvalidParameterValueException naming what is available.

The pyenv installs are facts of the test host, not of the repository: without them
the tests that need them are skipped, saying so."""
import errno
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import QUIVER_BIN
from invokeutil import (
    FAST_MB,
    ROLE,
    assert_ok,
    assert_unhandled,
    create,
    invoke,
    make_zip,
    request_id,
    tail_lines,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

PY312 = "/root/.pyenv/versions/3.12.1"
PY313 = "/root/.pyenv/versions/3.13.0"
PREFIXES = {"python3.12": PY312, "python3.13": PY313}


def need_pyenv():
    """The one allowed skip: this host has no pyenv CPython 3.12.1 / 3.13.0."""
    missing = [p for p in (PY312, PY313) if not os.path.isdir(p)]
    if missing:
        reason = f"pyenv CPython installs missing on this host: {', '.join(missing)} (install them with pyenv to run the prefix tests)"
        print(reason, file=sys.stderr)
        pytest.skip(reason)


def prefix_args():
    return [a for rt, p in PREFIXES.items() for a in ("--runtime", f"{rt}={p}")]


@pytest.fixture
def prefix_server(server_factory):
    need_pyenv()
    return server_factory(extra_args=prefix_args())


PROBE = r'''
import os, sys
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("fail"):
        raise ValueError("broken on purpose")
    print("printed by", sys.version.split()[0])
    prefix = event.get("prefix")
    out = {
        "count": COUNT,
        "version": sys.version,
        "version_info": list(sys.version_info[:2]),
        "prefix": sys.prefix,
        "executable": sys.executable,
        "flags": [sys.flags.isolated, sys.flags.no_site],
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "uid": os.getuid(),
    }
    if prefix:
        out["prefix_exists"] = os.path.isdir(prefix)
        try:
            with open(os.path.join(prefix, "quiver-write-test"), "w") as f:
                f.write("x")
            out["write_errno"] = 0
        except OSError as e:
            out["write_errno"] = e.errno
        with open("/proc/self/mountinfo") as f:
            mounts = [l.split() for l in f]
        opts = [m[5].split(",") for m in mounts if m[4] == prefix]
        out["prefix_mount_opts"] = opts[0] if opts else None
    return out
'''


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_prefix_python_runs_with_lambda_context_errors_and_logs(prefix_server, runtime):
    lam = prefix_server.client()
    prefix = PREFIXES[runtime]
    minor = int(runtime.split(".")[1])
    name = create(lam, make_zip({"app.py": PROBE}), runtime=runtime, memory=FAST_MB)
    assert lam.get_function(FunctionName=name)["Configuration"]["Runtime"] == runtime

    resp, body, doc = invoke(lam, name, {"prefix": prefix}, LogType="Tail")
    assert_ok(resp, body)
    assert doc["version_info"] == [3, minor], doc["version"]
    assert doc["version"].startswith(f"3.{minor}."), doc["version"]
    assert doc["prefix"] == prefix, "sys.prefix is the install's own: its stdlib is found"
    assert doc["executable"] == f"{prefix}/bin/{runtime}"
    assert doc["flags"] == [1, 1], "the bootstrap runs with -I -S on every interpreter"
    assert doc["aws_request_id"] == request_id(resp)
    assert doc["function_name"] == name
    assert doc["memory_limit_in_mb"] == str(FAST_MB)
    assert doc["uid"] == 993

    # Shown read-only at the same path: writing under it fails, its mount is `ro`.
    assert doc["prefix_exists"] is True
    assert doc["write_errno"] in (errno.EROFS, errno.EACCES), doc["write_errno"]
    assert doc["prefix_mount_opts"] is not None and "ro" in doc["prefix_mount_opts"], doc
    assert not os.path.exists(os.path.join(prefix, "quiver-write-test"))

    lines = tail_lines(resp)
    assert any(l.startswith("START RequestId: " + request_id(resp)) for l in lines), lines
    assert f"printed by {doc['version'].split()[0]}" in lines, lines
    assert any(l.startswith("REPORT RequestId: ") and "Init Duration" in l for l in lines), lines

    resp, body, doc = invoke(lam, name, {"fail": True})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "ValueError", doc
    assert doc["errorMessage"] == "broken on purpose", doc
    assert isinstance(doc["stackTrace"], list) and doc["stackTrace"], doc
    assert any("app.py" in frame and "handler" in frame for frame in doc["stackTrace"]), doc
    assert doc.get("requestId") == request_id(resp), doc

    # The error did not cost the environment: the next invoke is warm.
    resp, body, doc = invoke(lam, name, {})
    assert_ok(resp, body)
    assert doc["count"] == 3, doc


ENV_PROBE = r'''
import os
def handler(event, context):
    return {p: os.path.exists(p) for p in event["paths"]}
'''


def test_prefix_is_shown_only_to_its_own_runtime_and_never_via_a_premade_sandbox(server_factory):
    need_pyenv()
    server = server_factory(extra_args=prefix_args() + ["--prewarm", "2"])
    lam = server.client()
    host = create(lam, make_zip({"app.py": ENV_PROBE}), runtime="python3.11")
    resp, body, doc = invoke(lam, host, {"paths": [PY312, PY313, "/root/.pyenv"]})
    assert_ok(resp, body)
    assert doc == {PY312: False, PY313: False, "/root/.pyenv": False}, "other runtimes see no prefix"

    ps = lambda: json.loads(subprocess.run(  # noqa: E731
        [QUIVER_BIN, "ps", "--endpoint", server.endpoint, "--json"], capture_output=True, timeout=30, check=True
    ).stdout)
    end = time.time() + 15
    while ps()["PremadeSandboxes"] < 2 and time.time() < end:
        time.sleep(0.1)
    assert ps()["PremadeSandboxes"] == 2, "pre-made sandboxes are ready for the next cold start"

    # A cold start of a prefix runtime builds its sandbox (with the bind) instead.
    name = create(lam, make_zip({"app.py": ENV_PROBE}), runtime="python3.12")
    resp, body, doc = invoke(lam, name, {"paths": [PY312, PY313]})
    assert_ok(resp, body)
    assert doc == {PY312: True, PY313: False}, "a runtime sees its own prefix only"
    env = [e for e in ps()["Environments"] if e["function"] == name]
    assert len(env) == 1 and env[0]["cold_start"]["premade"] is False, env
    assert ps()["PremadeSandboxes"] == 2, "the stock was left for runtimes that can use it"


def serve_refused(data_dir, *args, env=None):
    """Runs `quiver serve` expecting it to refuse to start; returns its stderr."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(
        [QUIVER_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, *args],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL, env=full_env,
    )
    assert p.returncode != 0, p
    assert b"quiver listening" not in p.stdout, p.stdout
    return p.stderr.decode()


def test_mismatched_prefix_refuses_to_start(data_dir):
    need_pyenv()
    err = serve_refused(data_dir, "--runtime", f"python3.12={PY313}")
    assert f"runtime python3.12: prefix {PY313} has no bin/python3.12; it holds Python 3.13.0" in err, err


def test_prefix_whose_interpreter_is_another_version_or_elsewhere_refuses_to_start(data_dir, tmp_path):
    need_pyenv()
    # Not under /tmp: sandboxes mount their own /tmp, so such prefixes are refused early.
    prefix = os.path.join("/var/tmp", "quiver-" + os.path.basename(str(tmp_path)))
    os.makedirs(os.path.join(prefix, "bin"))
    try:
        # bin/python3.12 that is really 3.13 (a copy; it finds its libpython by RUNPATH).
        shutil.copy(f"{PY313}/bin/python3.13", os.path.join(prefix, "bin", "python3.12"))
        err = serve_refused(data_dir, "--runtime", f"python3.12={prefix}")
        assert f"runtime python3.12: prefix {prefix} holds \"Python 3.13.0\"" in err, err
        assert "not the version python3.12 needs" in err, err
        # bin/python3.12 that points out of the prefix: the sandbox would not see it.
        os.unlink(os.path.join(prefix, "bin", "python3.12"))
        os.symlink(f"{PY312}/bin/python3.12", os.path.join(prefix, "bin", "python3.12"))
        err = serve_refused(data_dir, "--runtime", f"python3.12={prefix}")
        assert "resolves to" in err and f"outside the prefix {prefix}" in err, err
    finally:
        shutil.rmtree(prefix)


def test_nonexistent_prefix_refuses_to_start(data_dir):
    err = serve_refused(data_dir, "--runtime", "python3.12=/nonexistent/quiver-python")
    assert "runtime python3.12: prefix /nonexistent/quiver-python does not exist" in err, err
    err = serve_refused(data_dir, env={"QUIVER_RUNTIMES": "nodejs22.x=/nonexistent/node22"})
    assert "runtime nodejs22.x: prefix /nonexistent/node22 does not exist" in err, err
    err = serve_refused(data_dir, "--runtime", "python3.12")
    assert "expected <runtime id>=<install prefix>" in err, err
    with open(os.path.join(data_dir, "runtimes.json"), "w") as f:
        f.write('{"python3.12": "/nonexistent/from-file"}')
    err = serve_refused(data_dir)
    assert "runtime python3.12: prefix /nonexistent/from-file does not exist" in err, err


def runtimes_line(server):
    """The ids of the start line `quiver runtimes: …` (the third line of stdout)."""
    end = time.time() + 10
    while time.time() < end:
        for line in list(server.stdout_lines):
            if line.startswith("quiver runtimes: "):
                return line[len("quiver runtimes: "):].strip()
        time.sleep(0.05)
    raise AssertionError(f"no runtimes line in {server.stdout_lines}")


def runtime_ls(server, *args):
    p = subprocess.run([QUIVER_BIN, "runtime", "ls", "--endpoint", server.endpoint, *args],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def test_runtime_ls_shows_source_version_and_interpreter(server_factory, data_dir):
    need_pyenv()
    # The file and the environment variable are both read; both ids end up offered.
    with open(os.path.join(data_dir, "runtimes.json"), "w") as f:
        json.dump({"python3.13": PY313}, f)
    server = server_factory(env={"QUIVER_RUNTIMES": f"python3.12={PY312}"})
    ids = runtimes_line(server).split(", ")
    assert "python3.12" in ids and "python3.13" in ids, ids

    doc = json.loads(runtime_ls(server, "--json"))
    by_id = {r["Id"]: r for r in doc["Runtimes"]}
    assert by_id["python3.12"] == {
        "Id": "python3.12", "Source": "prefix", "Version": "3.12.1",
        "Interpreter": f"{PY312}/bin/python3.12", "Prefix": PY312, "Binds": [PY312],
    }
    assert by_id["python3.13"]["Source"] == "prefix" and by_id["python3.13"]["Version"] == "3.13.0"
    assert by_id["python3.11"]["Source"] == "host" and by_id["python3.11"]["Binds"] == []
    assert by_id["provided.al2023"]["Source"] == "package"
    assert by_id["provided.al2023"]["Interpreter"] is None

    table = runtime_ls(server).splitlines()
    assert table[0].split() == ["ID", "SOURCE", "VERSION", "WHERE"], table
    rows = {l.split()[0]: l.split() for l in table[1:]}
    assert rows["python3.12"] == ["python3.12", "prefix", "3.12.1", f"{PY312}/bin/python3.12"]
    assert rows["python3.13"][:3] == ["python3.13", "prefix", "3.13.0"]
    assert rows["python3.11"][1] == "host"


def test_unoffered_lambda_runtime_is_invalid_parameter_naming_what_is_available(server):
    lam = server.client()
    available = runtimes_line(server)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.create_function(FunctionName="too-new", Runtime="python3.14", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})})
    msg = e.value.response["Error"]["Message"]
    assert msg == (
        f"The runtime parameter of python3.14 is not available on this server. Available: {available}. "
        "Add it with: quiver serve --runtime python3.14=<prefix of a Python 3.14 install>. "
        "Or pull its image (with no server running on the data dir): quiver runtime pull python3.14 "
        "(default public.ecr.aws/lambda/python:3.14)."
    ), msg
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Also on UpdateFunctionConfiguration.
    name = create(lam, make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=name, Runtime="nodejs24.x")
    assert e.value.response["Error"]["Message"].endswith(
        "Add it with: quiver serve --runtime nodejs24.x=<prefix of a Node.js 24 install>. "
        "Or pull its image (with no server running on the data dir): quiver runtime pull nodejs24.x "
        "(default public.ecr.aws/lambda/nodejs:24)."
    )
    # An id Lambda does not know stays a ValidationException.
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Runtime="python9.9")
    assert e.value.response["Error"]["Code"] == "ValidationException"


JDK17_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
JAVA_ECHO = """
package example;
import java.util.*;
public class Home {
    public Map<String, Object> handle(Map<String, Object> in) {
        if (in.containsKey("fail")) throw new IllegalStateException("broken on purpose");
        System.out.println("printed by " + System.getProperty("java.version"));
        Map<String, Object> out = new HashMap<>();
        out.put("home", System.getProperty("java.home"));
        out.put("version", System.getProperty("java.version"));
        return out;
    }
}
"""


def test_java_from_a_jdk_home_prefix(server_factory, tmp_path):
    """`--runtime java17=<JAVA_HOME>`: the JDK of a prefix (here Debian's own JDK 17
    home, installed by install-deps) compiles and runs the built-in Java bootstrap;
    `runtime ls` names it; a JRE-only or wrong-version home refuses the start."""
    src = tmp_path / "src" / "example" / "Home.java"
    src.parent.mkdir(parents=True)
    src.write_text(JAVA_ECHO)
    out = tmp_path / "out"
    subprocess.run([f"{JDK17_HOME}/bin/javac", "-d", str(out), str(src)], check=True, capture_output=True)
    files = {}
    for root, _, names in os.walk(out):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, out)] = f.read()
    srv = server_factory(extra_args=["--runtime", f"java17={JDK17_HOME}"])
    lam = srv.client("lambda")
    name = create(lam, make_zip(files), runtime="java17", handler="example.Home::handle", timeout=30)
    resp, _, doc = invoke(lam, name, {"x": 1}, LogType="Tail")
    assert_ok(resp, doc)
    assert doc["home"] == JDK17_HOME and doc["version"].startswith("17.")
    assert any("printed by 17." in l for l in tail_lines(resp)), tail_lines(resp)
    resp, _, doc = invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "java.lang.IllegalStateException" and doc["errorMessage"] == "broken on purpose"
    by_id = {r["Id"]: r for r in json.loads(runtime_ls(srv, "--json"))["Runtimes"]}
    assert by_id["java17"]["Source"] == "prefix" and by_id["java17"]["Prefix"] == JDK17_HOME
    assert by_id["java17"]["Interpreter"] == f"{JDK17_HOME}/bin/java"
    assert by_id["java17"]["Version"].startswith("17.")


def test_a_jre_or_another_java_version_refuses_to_start(data_dir, tmp_path):
    jre = tmp_path / "jre"
    (jre / "bin").mkdir(parents=True)
    os.symlink(f"{JDK17_HOME}/bin/java", jre / "bin" / "java")
    for spec, wanted in ((f"java17={jre}", "resolves to"),
                         (f"java21={JDK17_HOME}", "not the version java21 needs")):
        p = subprocess.run([QUIVER_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                            "--runtime", spec], capture_output=True, timeout=60)
        assert p.returncode != 0 and wanted in p.stderr.decode(), (spec, p.stderr.decode())
