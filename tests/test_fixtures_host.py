"""The official-RIC fixture packages work against Quiver's real Runtime API server.

Each package built by scripts/build-fixtures.sh (target/fixtures/*.zip: awslambdaric,
aws-lambda-ric, lambda_runtime) is unzipped to a temp dir and its `bootstrap` is run on the
host, in a clean environment, against the `serve_invocations` example of the
quiver-runtime-api crate (`RuntimeApi::serve`), which hands it events and prints how the
runtime answered. No sandbox and no quiver server are involved: this pins down that the
unchanged official clients and our Runtime API agree, and that the packages are sound
(bootstrap at the root, executable, no links) before the engine runs them.

CI builds the fixtures first (scripts/build-fixtures.sh in scripts/test.sh); a missing
package is a failure, not a skip.
"""
import json
import os
import queue
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import zipfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(ROOT, "target", "fixtures")
QUIVER_BIN = os.environ.get("QUIVER_BIN", os.path.join(ROOT, "target", "debug", "quiver"))
# `cargo build --workspace --all-targets` puts examples beside the binary.
SERVE = os.path.join(os.path.dirname(os.path.abspath(QUIVER_BIN)), "examples", "serve_invocations")

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"

# name -> (language tag in the handler's answer, how the RIC types the memory size, bad handler)
CASES = {
    # Python and Node contexts read AWS_LAMBDA_FUNCTION_MEMORY_SIZE as a string, as on AWS.
    "python-ric": ("python", "128", "app.nope"),
    "node-ric": ("node", "128", "index.nope"),
    "rust-runtime": ("rust", 128, None),
}


def package(name):
    path = os.path.join(FIXTURES, name + ".zip")
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: run scripts/build-fixtures.sh first (CI does)")
    if not os.access(SERVE, os.X_OK):
        pytest.fail(f"{SERVE} is missing: cargo build -p quiver-runtime-api --example serve_invocations")
    return path


def unzip(path, dest):
    """Extracts like Quiver will: regular files and dirs only, unix modes kept."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "bootstrap" in names, f"{path}: no bootstrap at the root"
        for info in z.infolist():
            mode = info.external_attr >> 16
            assert not stat.S_ISLNK(mode), f"{path}: {info.filename} is a symlink"
            assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
            z.extract(info, dest)
            if mode and not info.is_dir():
                os.chmod(os.path.join(dest, info.filename), stat.S_IMODE(mode))
    boot = os.path.join(dest, "bootstrap")
    assert os.stat(boot).st_mode & 0o111 == 0o111, f"{path}: bootstrap is not executable"
    return boot


class Run:
    """One example server plus one runtime; both killed by PID at the end."""

    def __init__(self, events, timeout=60):
        args = [SERVE, "--timeout-secs", str(timeout), "--arn", ARN]
        for e in events:
            args += ["--event", json.dumps(e)]
        self.server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.runtime = None
        self.runtime_log = None
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.next_line(10)
        self.addr = first["listening"]

    def _read(self):
        for raw in self.server.stdout:
            self.lines.put(json.loads(raw))
        self.lines.put(None)

    def next_line(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"example server said nothing for {timeout}s; runtime log:\n{self.log()}")
        assert line is not None, f"example server ended early; runtime log:\n{self.log()}"
        assert "error" not in line, f"{line}; runtime log:\n{self.log()}"
        return line

    def start_runtime(self, boot, extra_env=None, cwd=None):
        task = os.path.dirname(boot)
        env = {
            "AWS_LAMBDA_RUNTIME_API": self.addr,
            "AWS_LAMBDA_FUNCTION_NAME": "f",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "_HANDLER": "bootstrap",  # what a provided.* function typically has; must not matter
            "LAMBDA_TASK_ROOT": task,
            "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }
        env.update(extra_env or {})
        self.runtime_log = tempfile.TemporaryFile()
        self.runtime = subprocess.Popen(
            [boot], cwd=cwd or task, env=env, stdin=subprocess.DEVNULL, stdout=self.runtime_log, stderr=subprocess.STDOUT
        )

    def log(self):
        if self.runtime_log is None:
            return "(runtime not started)"
        self.runtime_log.seek(0)
        return self.runtime_log.read().decode(errors="replace")[-4000:]

    def close(self):
        for p in (self.runtime, self.server):
            if p is not None and p.poll() is None:
                p.kill()
            if p is not None:
                p.wait(timeout=10)
        if self.server.stdout:
            self.server.stdout.close()
        if self.server.stderr:
            self.server.stderr.close()
        if self.runtime_log:
            self.runtime_log.close()


@pytest.fixture
def task_dir():
    d = tempfile.mkdtemp(prefix="quiver-fixture-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def run_factory():
    runs = []

    def make(events, timeout=60):
        r = Run(events, timeout)
        runs.append(r)
        return r

    yield make
    for r in runs:
        r.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", list(CASES))
def test_official_client_answers_invocations(name, task_dir, run_factory):
    lang, mem, _ = CASES[name]
    boot = unzip(package(name), task_dir)
    events = [
        {"case": "first", "n": 1, "text": "h\u00e9llo \u2603"},
        {"case": "second", "nested": {"list": [1, 2.5, None, True]}},
        {"fail": "deliberate failure"},
        {"case": "after the error"},
    ]
    run = run_factory(events)
    t0 = time.monotonic()
    run.start_runtime(boot)
    init = run.next_line(30)
    assert init["init"] == "ready", f"{init}; runtime log:\n{run.log()}"

    for event in events:
        line = run.next_line(30)
        rid = line["request_id"]
        if "fail" in event:
            assert line["outcome"] == "error", line
            body = line["body"]
            assert body["errorMessage"] == "deliberate failure", body
            # Each client has its own error type for the raised error; all must name one.
            assert line["error_type"], line
            assert body["errorType"] == line["error_type"] or line["error_type"] == "unhandled", line
            continue
        assert line["outcome"] == "response", f"{line}; runtime log:\n{run.log()}"
        body = line["body"]
        assert body == {
            "ric": lang,
            "echo": event,
            "request_id": rid,
            "fn": "f",
            "version": "$LATEST",
            "mem": mem,
            "arn": ARN,
            "log_group": "/aws/lambda/f",
            "log_stream": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "remaining_ms_positive": True,
        }, f"runtime log:\n{run.log()}"
    assert run.server.wait(timeout=10) == 0
    print(f"{name}: start to 4 answers in {time.monotonic() - t0:.2f}s, init {init['ms']} ms")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[2]])
def test_official_client_reports_init_error(name, task_dir, run_factory):
    _, _, bad = CASES[name]
    boot = unzip(package(name), task_dir)
    run = run_factory([{"never": "delivered"}], timeout=30)
    run.start_runtime(boot, {"QUIVER_FIXTURE_HANDLER": bad})
    line = run.next_line(30)
    assert line["init"] == "error", f"{line}; runtime log:\n{run.log()}"
    assert line["error_type"] == "Runtime.HandlerNotFound", line
    assert line["body"]["errorType"] == "Runtime.HandlerNotFound", line
    assert "nope" in line["body"]["errorMessage"], line
    # After an init error the RIC exits on its own.
    assert run.runtime.wait(timeout=10) != 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(CASES))
def test_bootstrap_does_not_depend_on_cwd(name, task_dir, run_factory):
    """The bootstraps find their files relative to themselves, not the cwd (Quiver starts
    them in /var/task, but a host test or a different engine may not)."""
    lang = CASES[name][0]
    boot = unzip(package(name), task_dir)
    run = run_factory([{"from": "elsewhere"}], timeout=30)
    run.start_runtime(boot, cwd="/")
    assert run.next_line(30)["init"] == "ready", run.log()
    line = run.next_line(30)
    assert line["outcome"] == "response", f"{line}; runtime log:\n{run.log()}"
    assert line["body"]["ric"] == lang and line["body"]["echo"] == {"from": "elsewhere"}, line
