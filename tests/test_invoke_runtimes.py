"""Synchronous Invoke runs each kind of runtime in a real sandbox: Quiver's own Python
and Node bootstraps (CommonJS and both ES-module forms), a hand-written provided.al2023
runtime, and the three unchanged official runtime clients. Each answer is checked, and
the request id the function saw equals the one the caller got (x-amzn-RequestId)."""
import json

import pytest

from invokeutil import (
    FAST_MB,
    LOG_STREAM_RE,
    assert_ok,
    assert_unhandled,
    create,
    fixture_zip,
    fn_arn,
    invoke,
    make_zip,
    request_id,
)

NODE_CJS = """
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  return { kind: 'cjs', count, event, rid: context.awsRequestId };
};
"""

NODE_ESM = """
let count = 0;
export const handler = async (event, context) => {
  count += 1;
  return { kind: 'esm', count, event, rid: context.awsRequestId, esm: typeof require === 'undefined' };
};
"""

# A custom runtime as a user would write one for provided.al2023: a script that talks
# to the Runtime API itself. (/bin/sh has no HTTP client; the host's Python is visible
# in the sandbox.) One interpreter flag only: the kernel passes the rest of a shebang
# line as a single argument.
CUSTOM_BOOTSTRAP = r'''#!/usr/bin/python3.11 -IS
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
count = 0
while True:
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    count += 1
    out = {"kind": "custom", "count": count, "event": event, "rid": rid,
           "arn": r.getheader("Lambda-Runtime-Invoked-Function-Arn"),
           "deadline_ms": int(r.getheader("Lambda-Runtime-Deadline-Ms")),
           "content_type": r.getheader("Content-Type")}
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(out).encode())
    resp = c.getresponse()
    resp.read()
    assert resp.status == 202, resp.status
    c.close()
'''


def run_twice(lam, name, kind):
    """Two invokes: both answered, with the caller's request id, on a warm environment."""
    for n in (1, 2):
        resp, _, doc = invoke(lam, name, {"n": n})
        assert_ok(resp, doc)
        assert resp["ExecutedVersion"] == "$LATEST"
        assert doc["kind"] == kind, doc
        assert doc["event"] == {"n": n}
        assert doc["rid"] == request_id(resp)
        assert doc["count"] == n, f"invoke {n} was not served warm: {doc}"
    return doc


def test_python_function(lam):
    src = "count = 0\ndef handler(event, context):\n    global count\n    count += 1\n" \
          "    return {'kind': 'py', 'count': count, 'event': event, 'rid': context.aws_request_id}\n"
    name = create(lam, make_zip({"app.py": src}))
    run_twice(lam, name, "py")


def test_node_commonjs_index_js(lam):
    name = create(lam, make_zip({"index.js": NODE_CJS}), runtime="nodejs20.x", handler="index.handler")
    run_twice(lam, name, "cjs")


def test_node_esm_mjs(lam):
    name = create(lam, make_zip({"index.mjs": NODE_ESM}), runtime="nodejs20.x", handler="index.handler")
    doc = run_twice(lam, name, "esm")
    assert doc["esm"] is True, "index.mjs must load as an ES module"


def test_node_esm_type_module_package(lam):
    code = make_zip({"index.js": NODE_ESM, "package.json": json.dumps({"type": "module"})})
    name = create(lam, code, runtime="nodejs20.x", handler="index.handler")
    doc = run_twice(lam, name, "esm")
    assert doc["esm"] is True, "index.js under \"type\":\"module\" must load as an ES module"


def test_provided_hand_written_runtime(lam):
    code = make_zip({"bootstrap": CUSTOM_BOOTSTRAP}, executable={"bootstrap"})
    name = create(lam, code, runtime="provided.al2023", handler="anything", timeout=7)
    doc = run_twice(lam, name, "custom")
    assert doc["arn"] == fn_arn(name)
    assert doc["content_type"] == "application/json"
    assert doc["deadline_ms"] > 1_000_000_000_000, "deadline must be epoch milliseconds"


@pytest.mark.parametrize(
    "package,ric,fail_type",
    [
        ("python-ric.zip", "python", "ValueError"),
        ("node-ric.zip", "node", "TypeError"),
        ("rust-runtime.zip", "rust", None),
    ],
)
def test_official_runtime_clients(lam, package, ric, fail_type):
    name = create(lam, fixture_zip(package), runtime="provided.al2023", handler="app.handler", timeout=10)
    for n in (1, 2):
        resp, _, doc = invoke(lam, name, {"n": n, "s": "é"})
        assert_ok(resp, doc)
        assert doc["ric"] == ric
        assert doc["echo"] == {"n": n, "s": "é"}
        assert doc["request_id"] == request_id(resp)
        assert doc["fn"] == name
        assert doc["version"] == "$LATEST"
        assert str(doc["mem"]) == str(FAST_MB)
        assert doc["arn"] == fn_arn(name)
        assert doc["log_group"] == f"/aws/lambda/{name}"
        assert LOG_STREAM_RE.match(doc["log_stream"]), doc["log_stream"]
        assert doc["remaining_ms_positive"] is True
    # The error path of the unchanged client: Unhandled, and the environment still serves.
    resp, _, doc = invoke(lam, name, {"fail": "boom-" + ric})
    assert_unhandled(resp, doc)
    assert doc["errorMessage"] == "boom-" + ric
    if fail_type:
        assert doc["errorType"] == fail_type
    else:
        assert doc["errorType"], doc
    resp, _, doc = invoke(lam, name, {"n": 3})
    assert_ok(resp, doc)
    assert doc["request_id"] == request_id(resp)
