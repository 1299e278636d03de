"""Function failures through Invoke, each with Lambda's exact error shape: HTTP 200,
`X-Amz-Function-Error: Unhandled`, the error JSON as the payload. After a failure that
kills the environment (exit, crash, timeout, OOM, init failure) the next invoke runs on a
fresh environment (its module-level counter starts again at 1); after a handler
exception the environment stays warm."""
import re

from invokeutil import (
    assert_ok,
    assert_unhandled,
    create,
    create_py,
    invoke,
    make_zip,
    request_id,
)

# One Python function that fails in the way its event asks.
PY_MODES = r'''
import sys
COUNT = 0

class QuiverTestError(Exception):
    pass

def handler(event, context):
    global COUNT
    COUNT += 1
    mode = event.get("mode")
    if mode == "raise":
        raise QuiverTestError("bad thing: %d" % COUNT)
    if mode == "exit":
        sys.exit(3)
    if mode == "segv":
        import ctypes
        ctypes.string_at(0)
    if mode == "loop":
        while True:
            pass
    if mode == "hog":
        chunks = []
        while True:
            chunks.append(b"x" * (16 << 20))
    if mode == "big":
        return "a" * (6 * 1024 * 1024 + 1000)
    return {"count": COUNT}
'''

NODE_MODES = r'''
let count = 0;
class QuiverNodeError extends Error {}
QuiverNodeError.prototype.name = 'QuiverNodeError';
exports.handler = async (event) => {
  count += 1;
  if (event.mode === 'throw') throw new QuiverNodeError(`node bad ${count}`);
  if (event.mode === 'exit') process.exit(1);
  if (event.mode === 'loop') for (;;) {}
  return { count };
};
'''


def modes_fn(lam, **kw):
    return create_py(lam, PY_MODES, **kw)


def count_of(lam, name):
    resp, _, doc = invoke(lam, name, {"mode": "ok"})
    assert_ok(resp, doc)
    return doc["count"]


def exit_message(rid, how):
    return f"RequestId: {rid} Error: Runtime exited with error: {how}"


def test_python_handler_exception_keeps_environment(lam):
    name = modes_fn(lam)
    assert count_of(lam, name) == 1
    resp, _, doc = invoke(lam, name, {"mode": "raise"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "QuiverTestError"
    assert doc["errorMessage"] == "bad thing: 2"
    assert doc["requestId"] == request_id(resp)
    trace = doc["stackTrace"]
    assert isinstance(trace, list) and trace, doc
    assert all(isinstance(t, str) for t in trace)
    assert any('/var/task/app.py' in t and "in handler" in t for t in trace), trace
    assert not any("bootstrap.py" in t for t in trace), "platform frames must not show"
    # A handled error does not cost the environment.
    assert count_of(lam, name) == 3


def test_node_handler_exception_keeps_environment(lam):
    name = create(lam, make_zip({"index.js": NODE_MODES}), runtime="nodejs20.x", handler="index.handler")
    resp, _, doc = invoke(lam, name, {"mode": "throw"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "QuiverNodeError"
    assert doc["errorMessage"] == "node bad 1"
    assert isinstance(doc["trace"], list) and doc["trace"][0].startswith("QuiverNodeError: node bad 1")
    assert any("/var/task/index.js" in t for t in doc["trace"]), doc["trace"]
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
    assert doc == {"count": 2}


def check_init_error(lam, name, error_type, message):
    """An init failure: reported on every invoke (each on a new environment), with the
    runtime's own error JSON."""
    for _ in range(2):
        resp, _, doc = invoke(lam, name, {})
        assert_unhandled(resp, doc)
        assert doc["errorType"] == error_type, doc
        if isinstance(message, re.Pattern):
            assert message.search(doc["errorMessage"]), doc
        else:
            assert doc["errorMessage"] == message, doc
    return doc


def test_python_import_error_then_fixed_code_runs(lam):
    name = create_py(lam, "import quiver_no_such_module\ndef handler(e, c):\n    return 1\n")
    doc = check_init_error(
        lam, name, "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'quiver_no_such_module'",
    )
    assert doc["stackTrace"] == []
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": PY_MODES}))
    assert count_of(lam, name) == 1


def test_python_syntax_error(lam):
    name = create_py(lam, "def handler(e, c)\n    return 1\n")
    doc = check_init_error(
        lam, name, "Runtime.UserCodeSyntaxError",
        re.compile(r"^Syntax error in module 'app': (invalid syntax|expected ':') \(app\.py, line 1\)$"),
    )
    assert doc["stackTrace"] and "app.py" in doc["stackTrace"][0]


def test_python_missing_handler(lam):
    name = create_py(lam, "def other(e, c):\n    return 1\n")
    check_init_error(lam, name, "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'")


def test_python_missing_module_file(lam):
    name = create(lam, make_zip({"other.py": "x = 1\n"}), handler="app.handler")
    check_init_error(lam, name, "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'app'")


def test_python_exception_during_init(lam):
    name = create_py(lam, "raise RuntimeError('init went wrong')\ndef handler(e, c):\n    return 1\n")
    doc = check_init_error(lam, name, "RuntimeError", "init went wrong")
    assert any("/var/task/app.py" in t for t in doc["stackTrace"]), doc


def test_node_init_errors(lam):
    cases = [
        ({"index.js": "require('quiver-no-such-pkg');\nexports.handler = async () => 1;\n"},
         "Runtime.ImportModuleError", re.compile(r"^Error: Cannot find module 'quiver-no-such-pkg'")),
        ({"index.js": "exports.handler = async () => {\n"},
         "Runtime.UserCodeSyntaxError", re.compile(r"^SyntaxError: Unexpected end of input")),
        ({"index.js": "exports.other = async () => 1;\n"},
         "Runtime.HandlerNotFound", "index.handler is undefined or not exported"),
        ({"other.js": "exports.handler = async () => 1;\n"},
         "Runtime.ImportModuleError", re.compile(r"^Error: Cannot find module 'index'")),
    ]
    for files, error_type, message in cases:
        name = create(lam, make_zip(files), runtime="nodejs20.x", handler="index.handler")
        doc = check_init_error(lam, name, error_type, message)
        assert isinstance(doc.get("trace"), list), doc


def test_sys_exit_is_exit_error_and_environment_is_replaced(lam):
    name = modes_fn(lam)
    assert count_of(lam, name) == 1
    resp, _, doc = invoke(lam, name, {"mode": "exit"})
    assert_unhandled(resp, doc)
    assert doc == {"errorType": "Runtime.ExitError", "errorMessage": exit_message(request_id(resp), "exit status 3")}
    assert count_of(lam, name) == 1, "the next invoke must run on a fresh environment"


def test_node_process_exit(lam):
    name = create(lam, make_zip({"index.js": NODE_MODES}), runtime="nodejs20.x", handler="index.handler")
    assert invoke(lam, name, {})[2] == {"count": 1}
    resp, _, doc = invoke(lam, name, {"mode": "exit"})
    assert_unhandled(resp, doc)
    assert doc == {"errorType": "Runtime.ExitError", "errorMessage": exit_message(request_id(resp), "exit status 1")}
    assert invoke(lam, name, {})[2] == {"count": 1}


def test_segfault(lam):
    name = modes_fn(lam)
    assert count_of(lam, name) == 1
    resp, _, doc = invoke(lam, name, {"mode": "segv"})
    assert_unhandled(resp, doc)
    assert doc == {
        "errorType": "Runtime.ExitError",
        "errorMessage": exit_message(request_id(resp), "signal: segmentation fault"),
    }
    assert count_of(lam, name) == 1


def test_timeout(lam):
    name = modes_fn(lam, timeout=2)
    assert count_of(lam, name) == 1
    resp, _, doc = invoke(lam, name, {"mode": "loop"})
    assert_unhandled(resp, doc)
    rid = request_id(resp)
    assert doc["errorType"] == "Sandbox.Timedout"
    m = re.fullmatch(
        r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) Task timed out after (\d+\.\d\d) seconds",
        doc["errorMessage"],
    )
    assert m, doc
    assert m.group(2) == rid
    assert 2.0 <= float(m.group(3)) < 2.1, doc
    assert count_of(lam, name) == 1, "a timed-out environment must not serve again"


def test_node_timeout(lam):
    name = create(lam, make_zip({"index.js": NODE_MODES}), runtime="nodejs20.x", handler="index.handler", timeout=2)
    assert invoke(lam, name, {})[2] == {"count": 1}
    resp, _, doc = invoke(lam, name, {"mode": "loop"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Sandbox.Timedout"
    assert re.search(r" Task timed out after 2\.0\d seconds$", doc["errorMessage"]), doc
    assert invoke(lam, name, {})[2] == {"count": 1}


def test_out_of_memory(lam):
    name = modes_fn(lam, memory=128, timeout=20)
    assert count_of(lam, name) == 1
    resp, _, doc = invoke(lam, name, {"mode": "hog"})
    assert_unhandled(resp, doc)
    assert doc == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": exit_message(request_id(resp), "signal: killed"),
    }
    assert count_of(lam, name) == 1


def test_response_too_large(lam):
    name = modes_fn(lam)
    resp, body, doc = invoke(lam, name, {"mode": "big"})
    assert_unhandled(resp, doc)
    size = 6 * 1024 * 1024 + 1000 + 2  # the JSON string's quotes
    assert doc == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size (6291556 bytes).",
    }
    assert len(body) < 1000
    # The function did nothing wrong to its environment: it may stay warm or not, but
    # the next invoke must work.
    resp, _, doc = invoke(lam, name, {"mode": "ok"})
    assert_ok(resp, doc)


def test_python_unserializable_result_is_marshal_error(lam):
    name = create_py(lam, "COUNT = 0\ndef handler(e, c):\n    global COUNT\n    COUNT += 1\n"
                          "    return {1, 2} if e.get('set') else COUNT\n")
    assert invoke(lam, name, {})[2] == 1
    resp, _, doc = invoke(lam, name, {"set": True})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert invoke(lam, name, {})[2] == 3, "a marshal error keeps the environment"


NODE_FATAL = r'''
let count = 0;
exports.handler = (event, context, callback) => {
  count += 1;
  if (event.mode === 'reject') {
    Promise.reject(new Error('nobody catches me'));
    return callback(null, 'ignored');
  }
  if (event.mode === 'late-throw') {
    setTimeout(() => { throw new RangeError('thrown after return'); }, 10);
    return;
  }
  callback(null, { count });
};
'''


def test_node_unhandled_rejection_and_late_throw_replace_the_environment(lam):
    # The Node clients post the error and then exit on purpose (128 / 129): the caller
    # sees the function's error, and the *next* invoke must not pay for that exit.
    name = create(lam, make_zip({"index.js": NODE_FATAL}), runtime="nodejs20.x", handler="index.handler")
    assert invoke(lam, name, {})[2] == {"count": 1}
    resp, _, doc = invoke(lam, name, {"mode": "reject"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert doc["errorMessage"] == "Error: nobody catches me"
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
    assert doc == {"count": 1}, "a fresh environment serves the next invoke"
    resp, _, doc = invoke(lam, name, {"mode": "late-throw"})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "RangeError"
    assert doc["errorMessage"] == "thrown after return"
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
    assert doc == {"count": 1}


def test_runtime_exiting_during_init(lam):
    cases = [
        (create_py(lam, "import sys\nsys.exit(5)\ndef handler(e, c):\n    return 1\n"), "exit status 5"),
        (create(lam, make_zip({"index.js": "process.exit(2);\nexports.handler = async () => 1;\n"}),
                runtime="nodejs20.x", handler="index.handler"), "exit status 2"),
        (create(lam, make_zip({"bootstrap": "#!/bin/sh\necho no runtime here\nexit 7\n"}, executable={"bootstrap"}),
                runtime="provided.al2023", handler="x"), "exit status 7"),
    ]
    for name, how in cases:
        resp, _, doc = invoke(lam, name, {})
        assert_unhandled(resp, doc)
        assert doc == {"errorType": "Runtime.ExitError", "errorMessage": exit_message(request_id(resp), how)}


def test_provided_package_without_executable_bootstrap(lam):
    name = create(lam, make_zip({"bootstrap": "#!/bin/sh\nexit 0\n"}), runtime="provided.al2023", handler="x")
    resp, _, doc = invoke(lam, name, {})
    assert_unhandled(resp, doc)
    assert doc["errorType"].startswith("Runtime."), doc
    assert request_id(resp) in doc["errorMessage"] or doc["errorMessage"], doc


def test_init_that_never_finishes_times_out(lam):
    # Lambda gives INIT 10 s, then retries it inside the invoke, bounded by the timeout.
    name = create_py(lam, "import time\ntime.sleep(600)\ndef handler(e, c):\n    return 1\n", timeout=2)
    resp, _, doc = invoke(lam, name, {})
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Sandbox.Timedout"
    assert re.search(r" Task timed out after \d+\.\d\d seconds$", doc["errorMessage"]), doc


def test_node_out_of_memory(lam):
    # Buffers live outside V8's heap: the memory cgroup's OOM killer ends the runtime.
    src = "const keep = [];\nexports.handler = async (e) => {\n" \
          "  if (e.hog) for (;;) keep.push(Buffer.alloc(32 * 1024 * 1024, 1));\n  return keep.length;\n};\n"
    name = create(lam, make_zip({"index.js": src}), runtime="nodejs20.x", handler="index.handler",
                  memory=128, timeout=20)
    resp, _, doc = invoke(lam, name, {"hog": True})
    assert_unhandled(resp, doc)
    assert doc == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": exit_message(request_id(resp), "signal: killed"),
    }
    resp, _, doc = invoke(lam, name, {})
    assert_ok(resp, doc)
    assert doc == 0, "a fresh environment: nothing kept"


def test_out_of_memory_during_init(lam):
    name = create_py(lam, "x = [b'x' * (16 << 20) for _ in range(40)]\ndef handler(e, c):\n    return 1\n", memory=128)
    resp, _, doc = invoke(lam, name, {})
    assert_unhandled(resp, doc)
    assert doc == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": exit_message(request_id(resp), "signal: killed"),
    }
