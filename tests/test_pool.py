"""Warm pool and scaling (issue: warm pool): many copies for simultaneous events,
account concurrency, memory-budget eviction, draining on update, idle reaping,
freezing, and a soak test. Everything through boto3 against the real binary, with
functions running in real sandboxes (root only)."""
import base64
import io
import json
import os
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import QUIVER_BIN
from sandbox_probe.harness import instance_id, pids_in_instance, sandbox_cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# A module-level id tells environments apart; the counter shows warm reuse.
HANDLER = r'''
import os, time, uuid, threading
ENV_ID = uuid.uuid4().hex
count = 0
VERSION = "%(version)s"
def handler(event, context):
    global count
    count += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("spin_after"):
        def spin():
            while True:
                pass
        threading.Thread(target=spin, daemon=True).start()
    return {"env": ENV_ID, "count": count, "version": VERSION}
'''


def zip_of(version="v1"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", HANDLER % {"version": version})
    return buf.getvalue()


def create(lam, name, memory=256, version="v1", timeout=30):
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": zip_of(version)}, MemorySize=memory, Timeout=timeout,
    )


def invoke(lam, name, event=None):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def ps(server):
    out = subprocess.run([QUIVER_BIN, "ps", "--endpoint", server.endpoint, "--json"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)["Environments"]


def wait_for(pred, timeout=15, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def test_twenty_simultaneous_calls_run_on_twenty_environments(server, lam):
    create(lam, "par", memory=256)
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: invoke(lam, "par", {"sleep": 1}), range(20)))
    envs = {r["env"] for r in results}
    # Twenty environments for twenty calls: none waited for another's to come free.
    assert len(envs) == 20, f"{len(envs)} environments for 20 simultaneous calls"
    idle = [e for e in ps(server) if e["function"] == "par"]
    assert len(idle) == 20 and all(e["state"] in ("idle", "frozen") for e in idle)
    # Warm: the next call reuses one of them (its counter goes to 2).
    again = invoke(lam, "par")
    assert again["env"] in envs and again["count"] == 2


def test_account_concurrency_limit_throttles_the_21st(server_factory):
    server = server_factory(extra_args=["--max-concurrency", "20"])
    lam = server.client("lambda")
    create(lam, "lim", memory=256)
    errors, oks = [], []

    def call(_):
        try:
            oks.append(invoke(lam, "lim", {"sleep": 2}))
        except lam.exceptions.TooManyRequestsException as e:
            errors.append(e.response)

    with ThreadPoolExecutor(21) as pool:
        list(pool.map(call, range(21)))
    assert len(oks) == 20 and len(errors) == 1, (len(oks), len(errors))
    err = errors[0]
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["Reason"] == "ConcurrentInvocationLimitExceeded"
    # Nothing leaked: 20 environments, all back in the pool, none busy.
    envs = ps(server)
    assert len(envs) == 20, envs
    assert all(e["state"] in ("idle", "frozen") for e in envs)
    # And the limit is free again.
    assert invoke(lam, "lim")["count"] >= 1


def test_drain_on_update_code(server, lam):
    create(lam, "drain", memory=256, version="old")
    assert invoke(lam, "drain")["version"] == "old"
    box = {}
    t = threading.Thread(target=lambda: box.update(r=invoke(lam, "drain", {"sleep": 3})))
    t.start()
    time.sleep(0.8)  # the long call is in flight on the old code
    lam.update_function_code(FunctionName="drain", ZipFile=zip_of("new"))
    fresh = invoke(lam, "drain")
    assert fresh["version"] == "new"
    assert any(e["state"] == "draining" for e in ps(server)), "the old in-flight env is shown draining"
    t.join(30)
    assert box["r"]["version"] == "old", "the in-flight call finished on the old code"
    # Old environments never serve again.
    for _ in range(3):
        assert invoke(lam, "drain")["version"] == "new"
    envs = ps(server)
    assert all(e["state"] != "draining" for e in envs)
    assert len([e for e in envs if e["function"] == "drain"]) == 1


def test_idle_environments_are_reaped(server_factory):
    server = server_factory(extra_args=["--idle-timeout-secs", "2"])
    lam = server.client("lambda")
    create(lam, "reap")
    first = invoke(lam, "reap")
    assert len(ps(server)) == 1
    inst = instance_id(server.data_dir)
    assert sandbox_cgroups(inst), "the environment has cgroups while alive"
    assert wait_for(lambda: ps(server) == [], timeout=15), ps(server)
    assert wait_for(lambda: sandbox_cgroups(inst) == [], timeout=10), sandbox_cgroups(inst)
    again = invoke(lam, "reap")
    assert again["env"] != first["env"] and again["count"] == 1


def test_frozen_environment_uses_no_cpu_and_serves_next_call(server_factory):
    server = server_factory(extra_args=["--freeze-after-ms", "100"])
    lam = server.client("lambda")
    create(lam, "frz", memory=1769)
    # The handler leaves a thread spinning after it returns: only freezing stops it.
    first = invoke(lam, "frz", {"spin_after": True})
    env = wait_for(lambda: [e for e in ps(server) if e["state"] == "frozen"], timeout=10)
    assert env, ps(server)
    cpu1 = env[0]["cpu_ms"]
    time.sleep(1.0)
    env2 = [e for e in ps(server) if e["id"] == env[0]["id"]][0]
    assert env2["state"] == "frozen"
    assert env2["cpu_ms"] - cpu1 <= 5, f"frozen env used {env2['cpu_ms'] - cpu1} ms CPU in 1 s"
    nxt = invoke(lam, "frz")
    assert nxt["env"] == first["env"] and nxt["count"] == 2


def test_memory_budget_evicts_idle_environments_of_other_functions(server_factory):
    server = server_factory(extra_args=["--memory-budget-mb", "1536"])
    lam = server.client("lambda")
    create(lam, "idle-a", memory=512)
    create(lam, "busy-b", memory=512)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: invoke(lam, "idle-a", {"sleep": 0.5}), range(2)))
    assert len([e for e in ps(server) if e["function"] == "idle-a"]) == 2
    # Three simultaneous 512 MB calls of B need the whole budget: A's idle envs go.
    with ThreadPoolExecutor(3) as pool:
        res = list(pool.map(lambda _: invoke(lam, "busy-b", {"sleep": 1.5}), range(3)))
    assert len({r["env"] for r in res}) == 3
    assert [e for e in ps(server) if e["function"] == "idle-a"] == []
    # Four simultaneous calls cannot fit: one is throttled, the host is not overcommitted.
    throttled = []

    def call(_):
        try:
            invoke(lam, "busy-b", {"sleep": 1.5})
        except lam.exceptions.TooManyRequestsException as e:
            throttled.append(e.response["Reason"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, range(4)))
    assert throttled == ["ConcurrentInvocationLimitExceeded"]


def test_soak_5000_invocations_concurrency_16_three_functions(server):
    lam = server.client("lambda")
    names = ["soak-a", "soak-b", "soak-c"]
    for n in names:
        create(lam, n, memory=512)
    errors = []
    counts = {n: 0 for n in names}
    lock = threading.Lock()

    def call(i):
        n = names[i % 3]
        try:
            r = lam.invoke(FunctionName=n, Payload=b'{"i": %d}' % i)
            body = r["Payload"].read()
            if "FunctionError" in r or r["StatusCode"] != 200:
                errors.append(body)
            with lock:
                counts[n] += 1
        except Exception as e:  # noqa: BLE001 - every failure counts
            errors.append(repr(e))

    start = time.time()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(call, range(5000)))
    took = time.time() - start
    print(f"soak: 5000 invocations in {took:.1f}s ({5000 / took:.0f}/s), "
          f"{len(ps(server))} environments")
    assert errors == []
    assert sum(counts.values()) == 5000
    inst = instance_id(server.data_dir)
    assert sandbox_cgroups(inst)
    assert server.stop() == 0
    assert sandbox_cgroups(inst) == [], sandbox_cgroups(inst)
    assert pids_in_instance(inst) == []

