"""Warm environments: reused across invokes (a module-level counter keeps growing),
replaced after a failure that kills them, separate per version, released when the
function goes away, and nothing left on the host when the server stops."""
import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time

from invokeutil import (
    REPORT_RE,
    alive,
    assert_ok,
    assert_unhandled,
    cmdline,
    create,
    create_py,
    instance_dirs,
    invoke,
    make_zip,
    request_id,
    sandbox_cgroups,
    sandbox_pids,
    tail_lines,
    wait_until,
)

PY_COUNTER = r'''
import sys, time
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("crash"):
        import os
        os.kill(os.getpid(), 9)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"count": COUNT, "rid": context.aws_request_id}
'''

NODE_COUNTER = """
let count = 0;
exports.handler = async (event) => {
  count += 1;
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));
  return { count };
};
"""

PROVIDED_COUNTER = r'''#!/usr/bin/python3.11 -IS
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
count = 0
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    count += 1
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps({"count": count}).encode())
    c.getresponse().read()
'''


def init_reported(resp):
    lines = [l for l in tail_lines(resp) if l.startswith("REPORT ")]
    assert len(lines) == 1, lines
    m = REPORT_RE.match(lines[0])
    assert m, lines[0]
    return m.group(6) is not None


def test_counter_grows_on_warm_environments(lam):
    fns = [
        create_py(lam, PY_COUNTER),
        create(lam, make_zip({"index.js": NODE_COUNTER}), runtime="nodejs20.x", handler="index.handler"),
        create(lam, make_zip({"bootstrap": PROVIDED_COUNTER}, executable={"bootstrap"}),
               runtime="provided.al2023", handler="x"),
    ]
    for name in fns:
        for n in range(1, 6):
            resp, _, doc = invoke(lam, name, {}, LogType="Tail")
            assert_ok(resp, doc)
            assert doc["count"] == n, (name, doc)
            assert init_reported(resp) == (n == 1), "Init Duration only on the cold start"


def test_crash_gives_a_fresh_environment_then_it_is_warm_again(lam):
    name = create_py(lam, PY_COUNTER)
    assert [invoke(lam, name)[2]["count"] for _ in range(3)] == [1, 2, 3]
    resp, _, doc = invoke(lam, name, {"crash": True}, LogType="Tail")
    assert_unhandled(resp, doc)
    assert doc["errorType"] == "Runtime.ExitError"
    assert doc["errorMessage"].endswith("Runtime exited with error: signal: killed")
    resp, _, doc = invoke(lam, name, {}, LogType="Tail")
    assert doc["count"] == 1
    assert init_reported(resp), "the replacement environment is a cold start"
    assert invoke(lam, name)[2]["count"] == 2


def test_versions_have_their_own_warm_environments(lam):
    name = create_py(lam, PY_COUNTER)
    lam.publish_version(FunctionName=name)
    seq = []
    for q in ("1", "$LATEST", "1", "$LATEST", "1"):
        resp, _, doc = invoke(lam, name, Qualifier=q)
        assert resp["ExecutedVersion"] == q
        seq.append(doc["count"])
    assert seq == [1, 1, 2, 2, 3], f"alternating versions must not evict each other: {seq}"


def test_concurrent_invokes_each_get_an_environment(lam):
    name = create_py(lam, PY_COUNTER, timeout=10)
    assert invoke(lam, name)[2]["count"] == 1  # warm one up
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: invoke(lam, name, {"sleep": 1.0}), range(3)))
    rids = set()
    for resp, _, doc in results:
        assert_ok(resp, doc)
        assert doc["rid"] == request_id(resp)
        rids.add(doc["rid"])
    assert len(rids) == 3
    # Concurrent, not queued one after the other on the single warm environment: the
    # warm one served one call (its counter reaches 2), two new ones served one each.
    assert sorted(doc["count"] for _, _, doc in results) == [1, 1, 2]


def test_deleted_function_releases_its_environments(server, lam):
    name = create_py(lam, PY_COUNTER)
    other = create_py(lam, PY_COUNTER)
    assert invoke(lam, name)[2]["count"] == 1
    assert invoke(lam, other)[2]["count"] == 1
    before = len(sandbox_cgroups(server.data_dir))
    assert before > 0, "the running environments must be visible as cgroups"
    lam.delete_function(FunctionName=name)
    # Only the deleted function's environment goes; the other one stays warm.
    gone = wait_until(lambda: len(sandbox_cgroups(server.data_dir)) < before, timeout=5)
    assert gone, "DeleteFunction left its idle environment running"
    assert invoke(lam, other)[2]["count"] == 2


def pgrep_bootstrap():
    p = subprocess.run(["pgrep", "-f", "bootstrap"], capture_output=True, text=True)
    return {int(x) for x in p.stdout.split()}


def test_shutdown_leaves_no_sandbox_processes_or_cgroups(server_factory, data_dir):
    server = server_factory()
    lam = server.client()
    py = create_py(lam, PY_COUNTER, timeout=30)
    node = create(lam, make_zip({"index.js": NODE_COUNTER}), runtime="nodejs20.x", handler="index.handler", timeout=30)
    prov = create(lam, make_zip({"bootstrap": PROVIDED_COUNTER}, executable={"bootstrap"}),
                  runtime="provided.al2023", handler="x")
    for name in (py, node, prov):
        assert invoke(lam, name)[2]["count"] == 1
    # One more environment is busy when the signal arrives.
    slow = create_py(lam, PY_COUNTER + "\nprint('slow-ready')\n", timeout=30)
    busy = {}

    def in_flight():
        try:
            busy["result"] = invoke(server.client(), slow, {"sleep": 3})
        except Exception as e:  # reported below
            busy["error"] = e

    t = threading.Thread(target=in_flight, daemon=True)
    t.start()
    sandboxes = lambda: {c.rsplit("/", 1)[1] for c in sandbox_cgroups(data_dir)}  # noqa: E731
    assert wait_until(lambda: len(sandboxes()) >= 4, timeout=10), sandboxes()
    time.sleep(1.0)  # the slow one is now inside its handler
    assert t.is_alive()
    pids = sandbox_pids(data_dir)
    runtimes = {p for p in pids if "bootstrap" in cmdline(p)}
    assert len(runtimes) >= 4, f"expected 4 live runtimes, saw {[cmdline(p) for p in pids]}"
    assert runtimes <= pgrep_bootstrap()
    assert instance_dirs(data_dir)

    started = time.monotonic()
    rc = server.stop(signal.SIGTERM, timeout=15)
    assert time.monotonic() - started < 10, "shutdown took too long"
    assert rc == 0, server.stderr()
    t.join(5)
    # Shutdown is graceful: the invocation in flight got its answer first.
    assert "result" in busy, busy
    resp, _, doc = busy["result"]
    assert_ok(resp, doc)
    assert doc["count"] == 1
    # Nothing of the instance is left: no process, no cgroup.
    assert wait_until(lambda: not any(alive(p) for p in pids), timeout=5), \
        [cmdline(p) for p in pids if alive(p)]
    assert not (pgrep_bootstrap() & pids)
    assert sandbox_cgroups(data_dir) == []
    assert instance_dirs(data_dir) == []


ONE_SHOT = r'''#!/usr/bin/python3.11 -IS
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
c.request("GET", "/2018-06-01/runtime/invocation/next")
r = c.getresponse()
r.read()
rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, b'"one-shot"')
c.getresponse().read()
'''


def test_runtime_that_exits_while_idle_is_replaced_for_the_next_invoke(lam):
    # A custom runtime that answers one event and exits (exit status 0). Its environment
    # died idle: the next invocation must run on a fresh one, not fail with
    # Runtime.ExitError for an exit that happened before it even started.
    name = create(lam, make_zip({"bootstrap": ONE_SHOT}, executable={"bootstrap"}),
                  runtime="provided.al2023", handler="x")
    for _ in range(3):
        resp, _, doc = invoke(lam, name, {}, LogType="Tail")
        assert_ok(resp, doc)
        assert doc == "one-shot"
        assert init_reported(resp)
        time.sleep(0.3)  # the runtime has surely exited by now



def test_stray_rejection_after_answering_replaces_the_environment(lam):
    # A stray unhandled rejection: the answer is posted, then the Node client exits 128
    # (as the official one does). Once it has exited, the next invocation runs on a
    # fresh environment. (One arriving within the few ms before the exit races with it,
    # on AWS too.)
    src = "let n = 0;\nexports.handler = async (e) => { n += 1; if (e.stray) Promise.reject(new Error('stray')); return n; };\n"
    name = create(lam, make_zip({"index.js": src}), runtime="nodejs20.x", handler="index.handler")
    for _ in range(3):
        invoke(lam, name, {"stray": True})  # its own outcome may be either; not the point
        time.sleep(0.3)
        resp, body, doc = invoke(lam, name, {})
        assert_ok(resp, body)
        assert doc == 1, "a fresh environment"


def test_one_shot_runtime_invoked_back_to_back(lam):
    # A custom runtime that answers one event and exits 0, invoked again at once: the
    # runtime is still exiting when the next invocation arrives. It never asked for
    # another event, so that invocation must go to a fresh environment.
    one = create(lam, make_zip({"bootstrap": ONE_SHOT}, executable={"bootstrap"}),
                 runtime="provided.al2023", handler="x")
    for _ in range(5):
        resp, body, doc = invoke(lam, one, {})
        assert_ok(resp, body)
        assert doc == "one-shot"
