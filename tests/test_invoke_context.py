"""What a function sees from inside its sandbox: the context object, the environment
variables, its working directory and user — for Quiver's Python and Node bootstraps and
for a provided.al2023 runtime — and that nothing of the host leaks in."""
import base64
import json
import re

from invokeutil import (
    FAST_MB,
    LOG_STREAM_RE,
    PY_PROBE,
    assert_ok,
    create,
    create_py,
    fn_arn,
    invoke,
    make_zip,
    request_id,
)

# Secrets and host settings the server process has; none may reach a function.
HOST_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDHOSTLEAK",
    "AWS_SECRET_ACCESS_KEY": "host-secret-leak",
    "AWS_SESSION_TOKEN": "host-token-leak",
    "HOME": "/root/host-home-leak",
    "QUIVER_HOST_ONLY": "leak",
    "PYTHONPATH": "/host/pythonpath/leak",
    "NODE_OPTIONS": "--require=/host/leak.js",
}

# Every variable the platform sets (docs/wire.md §5.3), without AWS_EXECUTION_ENV.
PLATFORM_KEYS = {
    "_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH",
}
# Set by the language runtimes themselves inside the process, not by the platform:
# Python's locale coercion (PEP 538) and the Node bootstrap's NODE_PATH.
RUNTIME_ADDED = {"LC_CTYPE", "NODE_PATH", "_X_AMZN_TRACE_ID"}

USER_ENV = {"MY_SETTING": "hello world", "ANOTHER": "x=y;z", "UNICODE": "é日本", "EMPTY": "",
            "QUOTES": "it's \"quoted\" $HOME `x`"}

NODE_PROBE = """
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  return {
    count, event,
    aws_request_id: context.awsRequestId,
    function_name: context.functionName,
    function_version: context.functionVersion,
    memory_limit_in_mb: context.memoryLimitInMB,
    invoked_function_arn: context.invokedFunctionArn,
    log_group_name: context.logGroupName,
    log_stream_name: context.logStreamName,
    remaining_ms: context.getRemainingTimeInMillis(),
    client_custom: context.clientContext ? context.clientContext.custom : null,
    env: { ...process.env },
    cwd: process.cwd(),
    uid: process.getuid(),
    gid: process.getgid(),
  };
};
"""

# A provided.al2023 runtime (hand-written) that reports its environment and process.
PROVIDED_PROBE = r'''#!/usr/bin/python3.11 -IS
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    out = {"env": dict(os.environ), "cwd": os.getcwd(), "uid": os.getuid(), "rid": rid}
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(out).encode())
    c.getresponse().read()
'''


def check_environment(env, name, *, version="$LATEST", memory=FAST_MB, execution_env):
    """The environment Lambda gives a function, exactly; returns nothing, asserts all."""
    assert env["_HANDLER"]
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == version
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(memory)
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert re.match(r"^\d{4}/\d\d/\d\d/\[" + re.escape(version) + r"\][0-9a-f]{32}$", stream), stream
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] in ("UTC", ":UTC")
    assert env["LANG"] == "en_US.UTF-8"
    assert env["PATH"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert env["LD_LIBRARY_PATH"] == (
        "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
    )
    if execution_env is None:
        assert "AWS_EXECUTION_ENV" not in env, "provided.* runtimes get no AWS_EXECUTION_ENV"
    else:
        assert env["AWS_EXECUTION_ENV"] == execution_env
    for k, v in USER_ENV.items():
        assert env.get(k) == v, k
    # Nothing else: no host variable, no credential, no HOME.
    allowed = PLATFORM_KEYS | {"AWS_EXECUTION_ENV"} | set(USER_ENV) | RUNTIME_ADDED
    extra = set(env) - allowed
    assert not extra, f"unexpected variables in the sandbox: {sorted(extra)}"
    for k, v in HOST_ENV.items():
        assert k not in env, f"{k} leaked into the sandbox"
        assert v not in json.dumps(env), f"value of {k} leaked"


def check_context(doc, name, resp, *, arn, version="$LATEST", timeout):
    assert doc["aws_request_id"] == request_id(resp)
    assert doc["function_name"] == name
    assert doc["function_version"] == version
    assert doc["memory_limit_in_mb"] == str(FAST_MB)
    assert doc["invoked_function_arn"] == arn
    assert doc["log_group_name"] == f"/aws/lambda/{name}"
    assert doc["log_stream_name"] == doc["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    if version == "$LATEST":
        assert LOG_STREAM_RE.match(doc["log_stream_name"]), doc["log_stream_name"]
    assert 0 < doc["remaining_ms"] <= timeout * 1000
    assert doc["cwd"] == "/var/task"
    assert doc["uid"] == 993


def test_python_context_and_environment(server_factory):
    server = server_factory(env=HOST_ENV)
    lam = server.client()
    name = create_py(lam, PY_PROBE, env=USER_ENV, timeout=7)
    resp, _, doc = invoke(lam, name, {"k": "v"})
    assert_ok(resp, doc)
    assert doc["event"] == {"k": "v"}
    check_context(doc, name, resp, arn=fn_arn(name), timeout=7)
    assert doc["gid"] == 993
    assert doc["client_custom"] is None
    check_environment(doc["env"], name, execution_env="AWS_Lambda_python3.11")
    assert doc["env"]["_HANDLER"] == "app.handler"


def test_node_context_and_environment(server_factory):
    server = server_factory(env=HOST_ENV)
    lam = server.client()
    name = create(lam, make_zip({"index.js": NODE_PROBE}), runtime="nodejs20.x",
                  handler="index.handler", env=USER_ENV, timeout=5)
    resp, _, doc = invoke(lam, name, {"k": 1})
    assert_ok(resp, doc)
    check_context(doc, name, resp, arn=fn_arn(name), timeout=5)
    check_environment(doc["env"], name, execution_env="AWS_Lambda_nodejs20.x")
    assert doc["env"]["_HANDLER"] == "index.handler"


def test_provided_environment_has_no_execution_env(server_factory):
    server = server_factory(env=HOST_ENV)
    lam = server.client()
    code = make_zip({"bootstrap": PROVIDED_PROBE}, executable={"bootstrap"})
    name = create(lam, code, runtime="provided.al2023", handler="my.handler", env=USER_ENV)
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert doc["rid"] == request_id(resp)
    assert doc["cwd"] == "/var/task"
    assert doc["uid"] == 993
    check_environment(doc["env"], name, execution_env=None)
    assert doc["env"]["_HANDLER"] == "my.handler"


def test_qualifier_runs_published_version_with_qualified_arn(lam):
    name = create_py(lam, PY_PROBE + "\nVERSION_MARK = 'one'\n", env=USER_ENV, timeout=6)
    v = lam.publish_version(FunctionName=name)
    assert v["Version"] == "1"
    # $LATEST moves on; version 1 must keep running the code it was published with.
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'latest'\n"}))
    resp, _, doc = invoke(lam, name, {"q": 1}, Qualifier="1")
    assert_ok(resp, doc)
    assert resp["ExecutedVersion"] == "1"
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "1"
    check_context(doc, name, resp, arn=fn_arn(name, "1"), version="1", timeout=6)
    check_environment(doc["env"], name, version="1", execution_env="AWS_Lambda_python3.11")
    # The same through a qualified name, and $LATEST runs the new code.
    resp, _, doc = invoke(lam, f"{name}:1")
    assert_ok(resp, doc)
    assert resp["ExecutedVersion"] == "1"
    assert doc["invoked_function_arn"] == fn_arn(name, "1")
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert resp["ExecutedVersion"] == "$LATEST"
    assert doc == "latest"
    resp, _, doc = invoke(lam, name, Qualifier="$LATEST")
    assert resp["ExecutedVersion"] == "$LATEST"
    assert doc == "latest"


def test_client_context_reaches_python_and_node(lam):
    cc = {"custom": {"tenant": "t-1", "n": 5}, "env": {"locale": "en"}, "client": {"app_title": "quiver"}}
    b64 = base64.b64encode(json.dumps(cc).encode()).decode()
    py = create_py(lam, PY_PROBE)
    resp, _, doc = invoke(lam, py, ClientContext=b64)
    assert_ok(resp, doc)
    assert doc["client_custom"] == cc["custom"]
    assert doc["client_env"] == cc["env"]
    assert doc["client_app_title"] == "quiver"
    # Without a client context on the next (warm) invoke, none is seen.
    resp, _, doc = invoke(lam, py)
    assert doc["count"] == 2 and doc["client_custom"] is None
    node = create(lam, make_zip({"index.js": NODE_PROBE}), runtime="nodejs20.x", handler="index.handler")
    resp, _, doc = invoke(lam, node, ClientContext=b64)
    assert_ok(resp, doc)
    assert doc["client_custom"] == cc["custom"]
