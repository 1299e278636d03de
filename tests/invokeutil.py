"""Helpers for the end-to-end Invoke tests (tests/test_invoke_*.py).

Functions are real code packages built in memory, created through boto3 and invoked
through the real server, which runs them in real sandboxes. Nothing here imitates the
server: every helper only builds inputs or decodes what the server answered.
"""
import base64
import io
import json
import os
import re
import stat
import time
import uuid
import zipfile

import pytest

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ACCOUNT = "000000000000"
REGION = "us-east-1"
ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

# Tests that are not about CPU or memory use a size whose CPU quota is a whole core:
# the quota is applied after INIT and small sizes make everything slow.
FAST_MB = 1769

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "target", "fixtures")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LOG_STREAM_RE = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
REPORT_RE = re.compile(
    r"^REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\t"
    r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(Init Duration: ([\d.]+) ms\t)?"
)


def unique_name(prefix="inv"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def fn_arn(name, qualifier=None):
    return ARN_PREFIX + name + (f":{qualifier}" if qualifier else "")


def make_zip(files, executable=()):
    """A zip from {name: bytes|str}; names in `executable` get mode 0755, others 0644."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            if isinstance(data, str):
                data = data.encode()
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            mode = 0o755 if name in executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def fixture_zip(name):
    """The bytes of an official-client fixture package (scripts/build-fixtures.sh)."""
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run scripts/build-fixtures.sh")
    with open(path, "rb") as f:
        return f.read()


def create(lam, code, runtime="python3.11", handler="app.handler", memory=FAST_MB, timeout=10,
           env=None, name=None, **kw):
    """Creates a function from zip bytes; returns its name."""
    name = name or unique_name()
    args = dict(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": code},
        MemorySize=memory,
        Timeout=timeout,
        **kw,
    )
    if env:
        args["Environment"] = {"Variables": env}
    lam.create_function(**args)
    return name


def create_py(lam, source, **kw):
    """A python3.11 function whose app.py is `source`."""
    return create(lam, make_zip({"app.py": source}), **kw)


def invoke(lam, name, payload=b"{}", **kw):
    """Invokes synchronously; returns (response dict, payload bytes, decoded JSON or None)."""
    if not isinstance(payload, (bytes, str)):
        payload = json.dumps(payload)
    resp = lam.invoke(FunctionName=name, Payload=payload, **kw)
    body = resp["Payload"].read()
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    return resp, body, doc


def request_id(resp):
    """The request id the server sent (x-amzn-RequestId → ResponseMetadata.RequestId)."""
    rid = resp["ResponseMetadata"]["RequestId"]
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amzn-requestid") == rid
    return rid


def tail_lines(resp):
    """The decoded X-Amz-Log-Result, as a list of lines."""
    assert "LogResult" in resp, f"no LogResult in {sorted(resp)}"
    return base64.b64decode(resp["LogResult"]).decode("utf-8", "replace").split("\n")


def assert_ok(resp, doc=None):
    assert resp["StatusCode"] == 200, resp
    assert "FunctionError" not in resp, doc


def assert_unhandled(resp, doc):
    """A function error: HTTP 200 with X-Amz-Function-Error: Unhandled."""
    assert resp["StatusCode"] == 200, resp
    assert resp.get("FunctionError") == "Unhandled", (resp, doc)
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-function-error") == "Unhandled"
    assert resp.get("ExecutedVersion"), "X-Amz-Executed-Version is sent on function errors too"
    assert isinstance(doc, dict), doc


def wait_until(pred, timeout=10.0, interval=0.1):
    """Polls `pred` until it returns a truthy value or `timeout` passes; returns the last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


# A Python handler that reports what a function sees from inside: its context, its
# environment, its process. Used by the context/environment tests of every runtime
# that can run Python (python3.11 itself and the hand-written provided runtime).
PY_PROBE = r'''
import os, json
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    cc = context.client_context
    return {
        "count": COUNT,
        "event": event,
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_custom": cc.custom if cc is not None else None,
        "client_env": cc.env if cc is not None else None,
        "client_app_title": cc.client.app_title if cc is not None and cc.client is not None else None,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "gid": os.getgid(),
    }
'''


# ---------------------------------------------------------------- sandboxes on the host


def instance_id(data_dir):
    """The cgroup directory name of the server using `data_dir` (quiver-sandbox names
    its instance after the data dir, so concurrent servers never touch each other's)."""
    import hashlib

    return "quiver-" + hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:12]


def cgroup_roots():
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 tree)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                out.append(left.split()[4])
    return out


def sandbox_cgroups(data_dir):
    """The per-sandbox cgroup dirs of this server's instance, in every hierarchy."""
    inst = instance_id(data_dir)
    found = []
    for root in cgroup_roots():
        d = os.path.join(root, inst)
        if os.path.isdir(d):
            found += [os.path.join(d, n) for n in os.listdir(d) if os.path.isdir(os.path.join(d, n))]
    return found


def instance_dirs(data_dir):
    """The instance's own cgroup dirs (they must be gone after a clean shutdown)."""
    inst = instance_id(data_dir)
    return [os.path.join(r, inst) for r in cgroup_roots() if os.path.isdir(os.path.join(r, inst))]


def sandbox_pids(data_dir):
    """Host pids of every process in this instance's sandboxes."""
    pids = set()
    for d in sandbox_cgroups(data_dir):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def alive(pid):
    """Whether `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
