"""Invoke API edge cases (docs/wire.md §2): how payloads reach the function, what is refused
before any function runs, DryRun, unknown functions and versions, InvocationType Event
(accepted, run later), and code/configuration updates taking effect at the next invoke."""
import json
import uuid

import botocore.exceptions
import pytest

from invokeutil import (
    ARN_PREFIX,
    UUID_RE,
    wait_until,
    assert_ok,
    create,
    create_py,
    fn_arn,
    invoke,
    make_zip,
    request_id,
)

ECHO = (
    "COUNT = 0\n"
    "def handler(event, context):\n"
    "    global COUNT\n"
    "    COUNT += 1\n"
    "    return {'count': COUNT, 'event': event, 'size': len(event) if isinstance(event, str) else None}\n"
)

NODE_ECHO = "exports.handler = async (event) => ({ event });\n"

MAX_SYNC = 6_291_456


def client_error(fn, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kw)
    return e.value.response


def assert_error(resp, status, code, message=None):
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, resp
    assert resp["Error"]["Code"] == code, resp
    if message is not None:
        assert resp["Error"]["Message"] == message, resp


def test_empty_payload_is_delivered_as_empty_object(lam):
    py = create_py(lam, ECHO)
    node = create(lam, make_zip({"index.js": NODE_ECHO}), runtime="nodejs20.x", handler="index.handler")
    resp = lam.invoke(FunctionName=py)  # no Payload at all
    doc = json.loads(resp["Payload"].read())
    assert_ok(resp, doc)
    assert doc["event"] == {}
    for name in (py, node):
        resp, _, doc = invoke(lam, name, b"")
        assert_ok(resp, doc)
        assert doc["event"] == {}


def test_json_payloads_arrive_unchanged(lam):
    name = create_py(lam, ECHO)
    for value in ["hi", 42, 1.5, [1, "two", None], None, True, {"nested": {"é": "ü", "list": []}}]:
        resp, _, doc = invoke(lam, name, json.dumps(value).encode())
        assert_ok(resp, doc)
        assert doc["event"] == value


def test_non_json_payload_is_refused(lam):
    name = create_py(lam, ECHO)
    for bad in (b"not json", b"{", b"{'single': 1}", b"\xff\xfe"):
        r = client_error(lam.invoke, FunctionName=name, Payload=bad)
        assert_error(r, 400, "InvalidRequestContentException")
        assert r["Error"]["Message"].startswith("Could not parse request body into json"), r
    # Nothing ran: the first real invoke is the environment's first.
    resp, _, doc = invoke(lam, name, {})
    assert doc["count"] == 1


def test_payload_size_limit(lam):
    name = create_py(lam, ECHO, timeout=20)
    # Exactly the limit is accepted (a JSON string: two quote bytes + letters).
    at_limit = b'"' + b"a" * (MAX_SYNC - 2) + b'"'
    resp, _, doc = invoke(lam, name, at_limit)
    assert_ok(resp, doc)
    assert doc["size"] == MAX_SYNC - 2
    over = b'"' + b"a" * (MAX_SYNC - 1) + b'"'
    r = client_error(lam.invoke, FunctionName=name, Payload=over)
    assert_error(r, 413, "RequestEntityTooLargeException",
                 f"Request must be smaller than {MAX_SYNC} bytes for the InvokeFunction operation")


def test_dry_run(lam):
    name = create_py(lam, ECHO)
    resp = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"x": 1}')
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp
    # DryRun checks the function exists, and runs nothing.
    r = client_error(lam.invoke, FunctionName=name + "-nope", InvocationType="DryRun")
    assert_error(r, 404, "ResourceNotFoundException")
    resp, _, doc = invoke(lam, name)
    assert doc["count"] == 1


def test_unknown_function_and_version(lam):
    missing = "quiver-missing-fn"
    r = client_error(lam.invoke, FunctionName=missing, Payload=b"{}")
    assert_error(r, 404, "ResourceNotFoundException", f"Function not found: {fn_arn(missing)}")
    assert r["ResponseMetadata"]["RequestId"]
    name = create_py(lam, ECHO)
    r = client_error(lam.invoke, FunctionName=name, Qualifier="7", Payload=b"{}")
    assert_error(r, 404, "ResourceNotFoundException", f"Function not found: {fn_arn(name, '7')}")
    # By full ARN it is found.
    resp, _, doc = invoke(lam, ARN_PREFIX + name)
    assert_ok(resp, doc)


def test_event_invocation_is_accepted_and_runs(server, lam):
    # Asynchronous invocation: 202, no body, a request id; the function runs later, as
    # its log shows (CloudWatch Logs API of the same server).
    name = create_py(lam, "def handler(event, context):\n    print('ASYNC-RAN', event['token'], context.aws_request_id)\n")
    token = uuid.uuid4().hex
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"token": token}))
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp
    rid = resp["ResponseMetadata"]["RequestId"]
    assert UUID_RE.match(rid)
    logs = server.client("logs")

    def ran():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="ASYNC-RAN")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return [e["message"] for e in events if token in e["message"]]

    lines = wait_until(ran, timeout=15, interval=0.3)
    assert lines, "the Event invocation never ran"
    assert lines[0].split()[-1] == rid, "the async run has the request id the caller got"


def test_bad_headers_are_validation_errors(lam):
    name = create_py(lam, ECHO)
    r = client_error(lam.invoke, FunctionName=name, LogType="Everything")
    assert_error(r, 400, "ValidationException")
    r = client_error(lam.invoke, FunctionName=name, ClientContext="%%% not base64")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400, r


def test_code_update_runs_new_code_next(lam):
    name = create_py(lam, "def handler(e, c):\n    return 'v1'\n")
    resp, _, doc = invoke(lam, name)
    assert doc == "v1"
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert doc == "v2"


def test_configuration_update_runs_with_new_configuration(lam):
    src = "import os\nCOUNT = 0\ndef handler(e, c):\n    global COUNT\n    COUNT += 1\n" \
          "    return [os.environ.get('MODE'), c.memory_limit_in_mb, COUNT]\n"
    name = create_py(lam, src, env={"MODE": "a"})
    assert invoke(lam, name)[2] == ["a", "1769", 1]
    assert invoke(lam, name)[2] == ["a", "1769", 2]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "b"}}, MemorySize=2048)
    assert invoke(lam, name)[2] == ["b", "2048", 1]


def test_request_ids_are_unique_per_invoke(lam):
    name = create_py(lam, "def handler(e, c):\n    return c.aws_request_id\n")
    seen = set()
    for _ in range(5):
        resp, _, doc = invoke(lam, name)
        assert doc == request_id(resp)
        seen.add(doc)
    assert len(seen) == 5


def test_deleted_function_cannot_be_invoked(lam):
    name = create_py(lam, ECHO)
    assert invoke(lam, name)[2]["count"] == 1
    lam.delete_function(FunctionName=name)
    r = client_error(lam.invoke, FunctionName=name, Payload=b"{}")
    assert_error(r, 404, "ResourceNotFoundException")
    # A new function of the same name is a new function: its own code, a fresh environment.
    create_py(lam, "def handler(e, c):\n    return 'reborn'\n", name=name)
    assert invoke(lam, name)[2] == "reborn"


def client_context_of_length(n):
    """A base64 client context exactly `n` characters long (n a multiple of 4)."""
    import base64
    doc = {"custom": {"pad": ""}}
    base = len(json.dumps(doc).encode())
    pad = n * 3 // 4 - base
    doc["custom"]["pad"] = "x" * pad
    out = base64.b64encode(json.dumps(doc).encode()).decode()
    assert len(out) == n, len(out)
    return out


def test_client_context_size_limit_is_on_the_base64_header(lam):
    # "Up to 3,583 bytes of base64-encoded data": 3580 characters is the largest valid
    # base64 length under it; 3584 is over, although it decodes to only 2688 bytes.
    name = create_py(lam, "def handler(e, c):\n    return len(c.client_context.custom['pad'])\n")
    resp, _, doc = invoke(lam, name, ClientContext=client_context_of_length(3580))
    assert_ok(resp, doc)
    assert doc > 2600
    r = client_error(lam.invoke, FunctionName=name, ClientContext=client_context_of_length(3584), Payload=b"{}")
    assert_error(r, 400, "InvalidParameterValueException")
