#!/usr/bin/env python3
"""Invoke-path benchmarks, each against a baseline measured in the same run.

Usage (as root, release build):
  target/venv/bin/python benches/invoke.py [--bin target/release/quiver] \
      [warm] [cold] [throughput] [idle]        # default: all four

  warm        warm invoke round trip (python3.11, nodejs20.x no-op, MemorySize 1769)
              vs POST /_quiver/echo on the same server, one keep-alive connection each;
              --alias adds the Python function through alias `plain` (-> version 1) and
              alias `split` (-> 1, 0.5 to version 2, same code), interleaved with the
              unqualified invokes
  cold        first invoke after CreateFunction / UpdateFunctionConfiguration vs the
              bare interpreter start (`/usr/bin/python3.11 -S -c pass`, `/usr/bin/node -e 0`,
              empty environment); plus `quiver ps --json` cold_start breakdown and the
              REPORT line's Init Duration. `--prefix-runtime python3.12=<prefix>` (repeatable)
              adds a runtime from an install prefix, measured interleaved with the others;
              `--server-arg=--prewarm=0` compares without pre-made sandboxes;
              `--image-runtime python3.13=<archive>` (repeatable) imports a runtime image
              into the server's data dir first (reporting the unpack time and the root's
              disk use) and measures its cold starts too, against the image's own
              interpreter started bare in a chroot of the image's root
  layers      cold start of a python3.11 function with 0 vs 2 layers, interleaved per round;
              each round publishes two new layer versions (--layer-files files of
              --layer-file-kb KiB each, a Python package per layer), so the 2-layer
              function's first invoke after CreateFunction builds the merged /opt tree and
              its first invoke after UpdateFunctionConfiguration reuses it; the bare
              interpreter start is the baseline, as in `cold`
  throughput  invokes/s of the no-op Python function at concurrency 1 and 16 vs the echo
              route, same client machinery (one process + keep-alive connection per worker)
  idle        host memory per frozen Python environment (MemorySize 128) vs the PSS of a
              bare `python3.11 -I -S` process that imported json, socket, time

Only the dev-mode Authorization header is sent (the server parses, not verifies, SigV4),
so no client-side signing cost is inside the clock. Everything talks to 127.0.0.1 only and
every loop is bounded in count or time. Servers are stopped by PID, data dirs removed.
"""
import argparse
import base64
import http.client
import json
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    AUTH, ROLE, Server, header, invoke_path, loadavg, meminfo, row, timed_loop, zip_of,
)

PY_NOOP = ("app.py", "def handler(e, c):\n    return {}\n", "app.handler", "python3.11")
NODE_NOOP = ("index.js", "exports.handler = async () => ({});\n", "index.handler", "nodejs20.x")
PY_SLEEP = ("app.py", "import time\n\ndef handler(e, c):\n    time.sleep(0.5)\n    return {}\n",
            "app.handler", "python3.11")
CLEAN_PY = ["/usr/bin/python3.11", "-S", "-c", "pass"]
CLEAN_NODE = ["/usr/bin/node", "-e", "0"]


# ---------------------------------------------------------------- 1. warm

def bench_warm(args):
    """With --baseline-bin, a second server runs the older binary at the same time and
    its invokes are interleaved with the new one's, each server with its own echo
    baseline: before/after in one run, under the same load."""
    print(f"\n## warm invoke round trip (load before: {loadavg()})", flush=True)
    servers = {"": Server(args.bin)}
    if args.baseline_bin:
        servers = {"new ": servers[""], "old ": Server(args.baseline_bin)}
    try:
        targets = {}
        for tag, srv in servers.items():
            srv.create("noop-py", PY_NOOP)
            srv.create("noop-node", NODE_NOOP)
            targets[tag + "echo"] = (srv, "/_quiver/echo", {"Content-Type": "application/json"})
            targets[tag + "python3.11"] = (srv, invoke_path("noop-py"), AUTH)
            targets[tag + "nodejs20.x"] = (srv, invoke_path("noop-node"), AUTH)
            if args.alias:
                # Version 2 differs from 1 only in a setting (the same code would not
                # publish a new version), so both aliases run the same handler.
                assert srv.publish("noop-py") == "1"
                srv.update_config("noop-py", Timeout=31)
                assert srv.publish("noop-py") == "2"
                srv.create_alias("noop-py", "plain", "1")
                srv.create_alias("noop-py", "split", "1", {"2": 0.5})
                for alias in ("1", "plain", "split"):
                    targets[f"{tag}python3.11:{alias}"] = (
                        srv, invoke_path("noop-py") + f"?Qualifier={alias}", AUTH)
        conns = {k: srv.conn() for k, (srv, _, _) in targets.items()}
        for k, (_, path, h) in targets.items():
            timed_loop(conns[k], path, b"{}", h, 200)  # warm-up (also cold-starts the env)
        res = {k: [] for k in targets}
        thaw = {k: [] for k in targets}
        # Interleave blocks so that load changes on the shared machine hit all alike.
        # An environment idle for longer than --freeze-after-ms (200) is frozen meanwhile:
        # the first call of each block thaws it, so it is reported apart, not as warm.
        for _ in range(args.rounds):
            for k, (_, path, h) in targets.items():
                thaw[k] += timed_loop(conns[k], path, b"{}", h, 1)
                res[k] += timed_loop(conns[k], path, b"{}", h, args.warm_n // args.rounds)
        header("ms")
        for tag, srv in servers.items():
            base = row(f"{tag}baseline: POST /_quiver/echo `{{}}`", res[tag + "echo"])
            row(f"{tag}invoke python3.11 no-op (1769 MB)", res[tag + "python3.11"], base)
            row(f"{tag}invoke nodejs20.x no-op (1769 MB)", res[tag + "nodejs20.x"], base)
            if args.alias:
                py = row(f"{tag}python3.11 unqualified (reference for the aliases)", res[tag + "python3.11"])
                row(f"{tag}python3.11 version 1 (Qualifier=1, no alias)", res[tag + "python3.11:1"], py)
                row(f"{tag}python3.11 through alias `plain` (-> 1)", res[tag + "python3.11:plain"], py)
                row(f"{tag}python3.11 through alias `split` (1, 0.5 -> 2)", res[tag + "python3.11:split"], py)
            row(f"{tag}python3.11: first call of a block (thaw)", thaw[tag + "python3.11"], base)
            row(f"{tag}nodejs20.x: first call of a block (thaw)", thaw[tag + "nodejs20.x"], base)
            envs = srv.ps()
            print(f"{tag}environments after the run: {len(envs)} "
                  f"({', '.join(e['function'] + ':' + e['state'] for e in envs)})")
        print(f"load after: {loadavg()}")
    finally:
        for srv in servers.values():
            srv.stop()


# ---------------------------------------------------------------- 2. cold

def bare_start(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, env={}, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


REPORT_INIT = re.compile(r"Init Duration: ([0-9.]+) ms")


def cold_invoke(srv, name):
    h = dict(AUTH, **{"X-Amz-Log-Type": "Tail"})
    conn = srv.conn()
    t0 = time.perf_counter()
    st, payload, r = srv.call("POST", invoke_path(name), b"{}", h, conn)
    dt = time.perf_counter() - t0
    conn.close()
    assert st == 200 and r.getheader("X-Amz-Function-Error") is None, (st, payload[:300])
    log = base64.b64decode(r.getheader("X-Amz-Log-Result") or "").decode(errors="replace")
    m = REPORT_INIT.search(log)
    return dt, float(m.group(1)) / 1000 if m else None


def cold_runtimes(args):
    """(runtime id, code, bare interpreter start) of every runtime the cold mode measures:
    the host's python3.11 and nodejs20.x, and each --prefix-runtime id=prefix."""
    out = [("python3.11", PY_NOOP, CLEAN_PY), ("nodejs20.x", NODE_NOOP, CLEAN_NODE)]
    for spec in args.prefix_runtime:
        rt, prefix = spec.split("=", 1)
        if rt.startswith("python3."):
            out.append((rt, PY_NOOP[:3] + (rt,), [f"{prefix}/bin/{rt}", "-S", "-c", "pass"]))
        elif rt.startswith("nodejs"):
            out.append((rt, NODE_NOOP[:3] + (rt,), [f"{prefix}/bin/node", "-e", "0"]))
        else:
            raise SystemExit(f"--prefix-runtime {spec}: only python3.x and nodejsNN.x")
    return out


IMPORTED = re.compile(r"as (\S+): (sha256:[0-9a-f]{64}) \((\w+) image, (\d+) files, (\d+) bytes, [0-9.]+ s\) at (\S+)")


def import_images(args, data, runtimes):
    """`quiver runtime import` of each --image-runtime into `data`: prints the unpack time
    and the root's disk use, and adds the runtime to `runtimes` (bare start: the image's
    interpreter in a chroot of its root)."""
    for spec in args.image_runtime:
        rt, archive = spec.split("=", 1)
        if not rt.startswith("python3."):
            raise SystemExit(f"--image-runtime {spec}: only python3.x")
        t0 = time.perf_counter()
        out = subprocess.run([args.bin, "runtime", "import", rt, archive, "--data-dir", data],
                             capture_output=True, text=True, check=True, timeout=900).stdout
        took = time.perf_counter() - t0
        m = IMPORTED.search(out)
        assert m, out
        root = m.group(6)
        disk_kb = int(subprocess.run(["du", "-sk", root], capture_output=True, text=True,
                                     check=True).stdout.split()[0])
        print(f"image {rt}: {os.path.getsize(archive) / 2**20:.1f} MiB archive ({m.group(3)}), "
              f"unpacked in {took:.2f} s to {int(m.group(4))} files, "
              f"{int(m.group(5)) / 2**20:.1f} MiB of file data, {disk_kb / 1024:.1f} MiB on disk "
              f"({m.group(2)[:19]}...)", flush=True)
        runtimes.append((rt, PY_NOOP[:3] + (rt,), ["/usr/sbin/chroot", root, f"/usr/bin/{rt}", "-S", "-c", "pass"]))


def bench_cold(args):
    print(f"\n## cold start (load before: {loadavg()})", flush=True)
    runtimes = cold_runtimes(args)
    extra = [a for spec in args.prefix_runtime for a in ("--runtime", spec)] + args.server_arg
    if extra:
        print(f"server args: {' '.join(extra)}")
    srv = Server(args.bin, extra, prepare=lambda data: import_images(args, data, runtimes))
    try:
        out = {rt: ([], [], [], [], {"sandbox_ms": [], "runtime_api_ms": [], "runtime_init_ms": []}, bare, [])
               for rt, _, bare in runtimes}
        # Runtimes interleaved per round, so that a shared machine's load hits all alike.
        for i in range(args.cold_n):
            for rt, code, bare in runtimes:
                first, upd, init, bases, breakdown, _, premade = out[rt]
                name = f"cold-{rt.replace('.', '-')}-{i}"
                srv.create(name, code)
                bases.append(bare_start(bare))  # interleaved with the cold starts
                dt, ini = cold_invoke(srv, name)
                first.append(dt)
                if ini is not None:
                    init.append(ini)
                # A config change gives a new revision: the next call needs a new environment.
                envs = srv.ps()
                srv.update_env(name, {"REV": "1"})
                bases.append(bare_start(bare))
                dt, ini = cold_invoke(srv, name)
                upd.append(dt)
                if ini is not None:
                    init.append(ini)
                seen = set()
                for e in envs + srv.ps():
                    cs = e.get("cold_start")
                    if e["function"] == name and cs and e["id"] not in seen:
                        seen.add(e["id"])
                        premade.append(bool(cs.get("premade")))
                        for k in breakdown:
                            breakdown[k].append(cs[k] / 1000)
                srv.delete(name)  # retire its environments so they do not pile up
        header("ms")
        for rt, (first, upd, init, bases, breakdown, bare, premade) in out.items():
            base = row(f"baseline: env -i {' '.join(bare)}", bases)
            row(f"{rt}: first invoke after CreateFunction", first, base)
            row(f"{rt}: first invoke after UpdateFunctionConfig", upd, base)
            row(f"{rt}: REPORT Init Duration", init, base)
            for k, xs in breakdown.items():
                if xs:
                    row(f"{rt}: ps cold_start.{k}", xs)
            if premade:
                print(f"{rt}: {sum(premade)}/{len(premade)} cold starts used a pre-made sandbox")
        print(f"load after: {loadavg()}")
    finally:
        srv.stop()


# ---------------------------------------------------------------- 2b. layers

# Same code with and without layers: it only looks whether /opt has the layers' packages.
PY_OPT = ("app.py", "import os\n\ndef handler(e, c):\n    return {'opt': os.path.isdir('/opt/python')}\n",
          "app.handler", "python3.11")


def layer_zip(tag, files, kb):
    """A layer of one Python package `/opt/python/<tag>/` with `files` modules of `kb` KiB."""
    import io
    import zipfile
    buf = io.BytesIO()
    filler = "# " + "x" * 98 + "\n"
    body = filler * (kb * 1024 // len(filler))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"python/{tag}/__init__.py", "")
        for i in range(files):
            zf.writestr(f"python/{tag}/m{i:04d}.py", f"VALUE = {i}\n" + body)
    return base64.b64encode(buf.getvalue()).decode()


def publish_layer(srv, name, zip_b64):
    body = json.dumps({"Content": {"ZipFile": zip_b64}, "CompatibleRuntimes": ["python3.11"]})
    st, payload, _ = srv.call("POST", f"/2018-10-31/layers/{name}/versions", body.encode())
    assert st == 201, (st, payload[:400])
    return json.loads(payload)["LayerVersionArn"]


def create_with_layers(srv, name, layers):
    fname, text, handler, runtime = PY_OPT
    body = {"FunctionName": name, "Runtime": runtime, "Role": ROLE, "Handler": handler,
            "MemorySize": 1769, "Timeout": 30, "Code": {"ZipFile": zip_of(fname, text)},
            "Layers": layers}
    st, payload, _ = srv.call("POST", "/2015-03-31/functions", json.dumps(body).encode())
    assert st == 201, (st, payload[:400])


def opt_invoke(srv, name, want_opt):
    """cold_invoke, also checking what the function saw at /opt."""
    h = dict(AUTH, **{"X-Amz-Log-Type": "Tail"})
    conn = srv.conn()
    t0 = time.perf_counter()
    st, payload, r = srv.call("POST", invoke_path(name), b"{}", h, conn)
    dt = time.perf_counter() - t0
    conn.close()
    assert st == 200 and json.loads(payload) == {"opt": want_opt}, (st, payload[:300])
    log = base64.b64decode(r.getheader("X-Amz-Log-Result") or "").decode(errors="replace")
    m = REPORT_INIT.search(log)
    return dt, float(m.group(1)) / 1000 if m else None


def bench_layers(args):
    print(f"\n## cold start with 0 vs 2 layers (load before: {loadavg()})", flush=True)
    print(f"each layer: {args.layer_files} files of {args.layer_file_kb} KiB", flush=True)
    srv = Server(args.bin, args.server_arg)
    try:
        keys = ["0 layers: first invoke after CreateFunction",
                "0 layers: first invoke after UpdateFunctionConfig",
                "2 layers: first invoke after CreateFunction (merges /opt)",
                "2 layers: first invoke after UpdateFunctionConfig (reuses /opt)",
                "0 layers: REPORT Init Duration", "2 layers: REPORT Init Duration"]
        out = {k: [] for k in keys}
        bases = []
        # `quiver ps` cold_start breakdown per layer count: where the difference goes.
        parts = {n: {"sandbox_ms": [], "runtime_init_ms": [], "premade": []} for n in (0, 2)}
        for i in range(args.cold_n):
            arns = [publish_layer(srv, f"bench-l{j}", layer_zip(f"pkg{j}_{i}", args.layer_files,
                                                                  args.layer_file_kb))
                    for j in (1, 2)]
            for n_layers in (0, 2):
                name = f"layers{n_layers}-{i}"
                create_with_layers(srv, name, arns[:n_layers])
                bases.append(bare_start(CLEAN_PY))
                dt, ini = opt_invoke(srv, name, n_layers > 0)
                out[keys[0 if n_layers == 0 else 2]].append(dt)
                if ini is not None:
                    out[keys[4 if n_layers == 0 else 5]].append(ini)
                envs = srv.ps()
                srv.update_env(name, {"REV": "1"})
                bases.append(bare_start(CLEAN_PY))
                dt, ini = opt_invoke(srv, name, n_layers > 0)
                out[keys[1 if n_layers == 0 else 3]].append(dt)
                if ini is not None:
                    out[keys[4 if n_layers == 0 else 5]].append(ini)
                seen = set()
                for e in envs + srv.ps():
                    cs = e.get("cold_start")
                    if e["function"] == name and cs and e["id"] not in seen:
                        seen.add(e["id"])
                        parts[n_layers]["premade"].append(bool(cs.get("premade")))
                        for k in ("sandbox_ms", "runtime_init_ms"):
                            parts[n_layers][k].append(cs[k] / 1000)
                srv.delete(name)
        header("ms")
        base = row(f"baseline: env -i {' '.join(CLEAN_PY)}", bases)
        for k in keys:
            row(k, out[k], base)
        for n, p in parts.items():
            for k in ("sandbox_ms", "runtime_init_ms"):
                row(f"{n} layers: ps cold_start.{k}", p[k])
            print(f"{n} layers: {sum(p['premade'])}/{len(p['premade'])} cold starts used a pre-made sandbox")
        print(f"load after: {loadavg()}")
    finally:
        srv.stop()


# ---------------------------------------------------------------- 3. throughput

def _tp_worker(host, port, path, headers, start_at, duration, q):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    n = errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        conn.request("POST", path, body=b"{}", headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            n += 1
        else:
            errors += 1
    t = os.times()
    q.put((n, errors, t.user + t.system))


def tp_run(srv, path, headers, conc, duration):
    """Returns (calls/s, errors, client CPU s, server CPU s, sandbox CPU s)."""
    q = multiprocessing.Queue()
    start_at = time.time() + 1.0  # let every worker connect and import first
    procs = [multiprocessing.Process(target=_tp_worker,
                                     args=(srv.host, srv.port, path, headers, start_at, duration, q))
             for _ in range(conc)]
    for p in procs:
        p.start()
    while time.time() < start_at:
        time.sleep(0.005)
    s0, c0 = srv.cpu_s(), sandbox_cpu_s(srv)
    res = [q.get(timeout=duration + 60) for _ in procs]
    s1, c1 = srv.cpu_s(), sandbox_cpu_s(srv)
    for p in procs:
        p.join(timeout=30)
    n = sum(r[0] for r in res)
    return n / duration, sum(r[1] for r in res), sum(r[2] for r in res), s1 - s0, c1 - c0


_SANDBOX_PARENT = {}


def sandbox_cpu_s(srv):
    """cpuacct.usage of the parent cgroup of the server's sandboxes (hierarchical, so it
    keeps the CPU of environments that are already gone)."""
    parent = _SANDBOX_PARENT.get(srv.pid)
    if parent is None:
        return 0.0
    with open(os.path.join(parent, "cpuacct.usage")) as f:
        return int(f.read()) / 1e9


def bench_throughput(args):
    print(f"\n## throughput, {args.duration:.0f} s per cell (load before: {loadavg()})", flush=True)
    # 16 busy environments of 1769 MB are 28 GB of *budget* (not of memory): raise the budget.
    srv = Server(args.bin, ["--memory-budget-mb", "40000"])
    try:
        srv.create("tp-py", PY_NOOP)
        c = srv.conn()
        timed_loop(c, invoke_path("tp-py"), b"{}", AUTH, 50)
        c.close()
        cg = next(e["cgroup"] for e in srv.ps() if e.get("cgroup"))
        _SANDBOX_PARENT[srv.pid] = os.path.dirname(cg.replace("/memory/", "/cpuacct/", 1))
        print(f"sandbox cpuacct parent: {_SANDBOX_PARENT[srv.pid]}")
        print("| what                          | conc | calls/s | errors | client CPU s | server CPU s | sandbox CPU s | ratio |")
        print("|-------------------------------|------|---------|--------|--------------|--------------|---------------|-------|")
        for conc in args.conc:
            # Warm the pool to this concurrency before the clock (cold starts are not throughput).
            tp_run(srv, invoke_path("tp-py"), AUTH, conc, 2.0)
            cells = []
            for label, path, h in (("baseline: echo route", "/_quiver/echo", {"Content-Type": "application/json"}),
                                   ("invoke python3.11 no-op", invoke_path("tp-py"), AUTH)):
                rate, err, ccpu, scpu, bcpu = tp_run(srv, path, h, conc, args.duration)
                cells.append(rate)
                ratio = f"{rate / cells[0]:.2f}" if len(cells) > 1 else "—"
                print(f"| {label:<29} | {conc:4d} | {rate:7.0f} | {err:6d} | {ccpu:12.2f} | {scpu:12.2f} | "
                      f"{bcpu:13.2f} | {ratio:>5} |", flush=True)
        envs = srv.ps()
        print(f"environments after: {len(envs)}; load after: {loadavg()}")
    finally:
        srv.stop()


# ---------------------------------------------------------------- 4. idle memory

def pss_of(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def bare_idle_baseline():
    p = subprocess.Popen(["/usr/bin/python3.11", "-I", "-S", "-c", "import json,socket,time; time.sleep(30)"],
                         env={}, stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        return pss_of(p.pid)
    finally:
        p.kill()
        p.wait()


def bare_idle_many(n):
    """MemAvailable drop per process for n bare idle interpreters started alike."""
    m0 = meminfo()["MemAvailable"]
    ps = [subprocess.Popen(["/usr/bin/python3.11", "-I", "-S", "-c", "import json,socket,time; time.sleep(60)"],
                           env={}, stdin=subprocess.DEVNULL) for _ in range(n)]
    try:
        time.sleep(2.0)
        priv = sum((lambda s: s["Private_Clean"] + s["Private_Dirty"])(pss_of(p.pid)) for p in ps) / n
        return (m0 - meminfo()["MemAvailable"]) / n, priv
    finally:
        for p in ps:
            p.kill()
        for p in ps:
            p.wait()


BY_COMM = {}


def cgroup_procs_pss(cg):
    """(Pss, Rss, private, process count) of the processes of one environment; private
    bytes per command name are added up in BY_COMM."""
    total_pss = total_rss = total_priv = 0
    try:
        with open(os.path.join(cg, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return 0, 0, 0, 0
    for pid in pids:
        try:
            s = pss_of(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        total_pss += s.get("Pss", 0)
        total_rss += s.get("Rss", 0)
        priv = s.get("Private_Clean", 0) + s.get("Private_Dirty", 0)
        total_priv += priv
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except FileNotFoundError:
            comm = "?"
        c = BY_COMM.setdefault(comm, [0, 0])
        c[0] += priv
        c[1] += 1
    return total_pss, total_rss, total_priv, len(pids)


def fire(srv, name, n):
    """n simultaneous invocations of name (one thread + connection each)."""
    errs = []
    barrier = threading.Barrier(n)

    def one():
        c = srv.conn()
        try:
            barrier.wait(timeout=30)
            st, payload, _ = srv.call("POST", invoke_path(name), b"{}", AUTH, c)
            if st != 200:
                errs.append((st, payload[:200]))
        finally:
            c.close()

    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=180)
    return errs


def wait_frozen(srv, want, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        envs = srv.ps()
        frozen = [e for e in envs if e["state"] == "frozen"]
        if len(frozen) >= want:
            return envs
        time.sleep(0.5)
    return srv.ps()


def bench_idle(args):
    print(f"\n## idle memory per frozen Python environment (load before: {loadavg()})", flush=True)
    base = bare_idle_baseline()
    print(f"baseline bare python3.11 -I -S (json, socket, time): Rss {base['Rss'] / 2**20:.2f} MiB, "
          f"Pss {base['Pss'] / 2**20:.2f} MiB, Private {(base['Private_Clean'] + base['Private_Dirty']) / 2**20:.2f} MiB")
    n0 = min(args.idle_n[0], 300)
    d, priv = bare_idle_many(n0)
    print(f"baseline {n0} bare interpreters at once: MemAvailable drop {d / 2**20:.2f} MiB/process, "
          f"private {priv / 2**20:.2f} MiB/process")
    srv = Server(args.bin, ["--max-concurrency", "1000", "--memory-budget-mb", str(args.budget_mb),
                            "--idle-timeout-secs", "3600"])
    try:
        held = 0
        wave = 0
        t_start = time.time()
        m_start = meminfo()
        srv_rss0 = pss_of(srv.pid)["Rss"]
        print("| envs held | MemAvailable drop | cgroup usage | procs Pss | procs Rss | procs private "
              "| Slab+KStack+PT | server Rss | envs per 24 GiB |")
        print("|-----------|------|------|------|------|------|------|------|------|")
        for target in args.idle_n:
            while held < target:
                n = min(args.wave, target - held)
                if meminfo()["MemAvailable"] < args.floor_mb * 2**20:
                    print(f"stopping: MemAvailable below {args.floor_mb} MB")
                    break
                name = f"idle-{wave}"
                wave += 1
                srv.create(name, PY_SLEEP, memory=128, timeout=60)
                errs = fire(srv, name, n)
                if errs:
                    print(f"wave {name}: {len(errs)} errors, first {errs[0]}")
                held += n - len(errs)
            envs = wait_frozen(srv, held)
            print(f"    {held} environments created and frozen {time.time() - t_start:.1f} s after the first wave")
            time.sleep(1.0)
            m = meminfo()
            frozen = [e for e in envs if e["state"] == "frozen"]
            usage = pss = rss = priv = nprocs = 0
            BY_COMM.clear()
            for e in frozen:
                with open(os.path.join(e["cgroup"], "memory.usage_in_bytes")) as f:
                    usage += int(f.read())
                p, r, pv, np_ = cgroup_procs_pss(e["cgroup"])
                pss += p
                rss += r
                priv += pv
                nprocs += np_
            k = max(1, len(frozen))
            d_avail = (m_start["MemAvailable"] - m["MemAvailable"]) / k
            d_kern = sum(m[x] - m_start[x] for x in ("Slab", "KernelStack", "PageTables")) / k
            d_srv = (pss_of(srv.pid)["Rss"] - srv_rss0) / k
            fit = 24 * 2**30 / d_avail if d_avail > 0 else float("inf")
            print(f"| {len(frozen):9d} | {d_avail / 2**20:6.2f} | {usage / k / 2**20:6.2f} | {pss / k / 2**20:6.2f} | "
                  f"{rss / k / 2**20:6.2f} | {priv / k / 2**20:6.2f} | {d_kern / 2**20:6.2f} | {d_srv / 2**20:6.2f} | "
                  f"{fit:8.0f} |  (MiB per env; {nprocs / k:.1f} processes per env)", flush=True)
            print("    private MiB per process by command: " + ", ".join(
                f"{c}: {v[0] / v[1] / 2**20:.2f} (x{v[1]})" for c, v in sorted(BY_COMM.items())))
            if len(frozen) < target:
                print(f"held only {len(frozen)} of {target} frozen; states: "
                      f"{sorted(set(e['state'] for e in envs))}")
                break
        # Second estimate: memory given back when every environment goes away.
        m_before = meminfo()
        for w in range(wave):
            srv.delete(f"idle-{w}")
        deadline = time.time() + 120
        while time.time() < deadline and srv.ps():
            time.sleep(0.5)
        time.sleep(1.0)
        m_after = meminfo()
        print(f"on deleting all {held} (in {wave} functions): MemAvailable +"
              f"{(m_after['MemAvailable'] - m_before['MemAvailable']) / max(1, held) / 2**20:.2f} MiB/env; "
              f"load after: {loadavg()}")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="*", default=["warm", "cold", "throughput", "idle"])
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("--baseline-bin", help="warm: also run this (older) binary, interleaved")
    ap.add_argument("--alias", action="store_true",
                    help="warm: also invoke through a plain and a weighted alias, interleaved")
    ap.add_argument("--warm-n", type=int, default=4000, help="measured calls per target (warm)")
    ap.add_argument("--rounds", type=int, default=8, help="interleaved blocks (warm)")
    ap.add_argument("--cold-n", type=int, default=20, help="functions per runtime (cold; 2 cold starts each)")
    ap.add_argument("--prefix-runtime", action="append", default=[], metavar="ID=PREFIX",
                    help="cold: also measure this operator-configured runtime (quiver serve --runtime)")
    ap.add_argument("--image-runtime", action="append", default=[], metavar="ID=ARCHIVE",
                    help="cold: also a runtime image (quiver runtime import ID ARCHIVE), python3.x only")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="cold, layers: pass this argument to quiver serve, e.g. --server-arg=--prewarm=0")
    ap.add_argument("--layer-files", type=int, default=500, help="layers: modules per layer")
    ap.add_argument("--layer-file-kb", type=int, default=4, help="layers: KiB per module")
    ap.add_argument("--conc", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--idle-n", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--wave", type=int, default=100, help="simultaneous invocations per function (idle)")
    ap.add_argument("--budget-mb", type=int, default=20000)
    ap.add_argument("--floor-mb", type=int, default=6000, help="stop adding environments below this MemAvailable")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root (sandboxes need it)", file=sys.stderr)
        return 2
    print(f"binary: {args.bin}; cores: {os.cpu_count()}; load: {loadavg()}")
    for w in args.what:
        {"warm": bench_warm, "cold": bench_cold, "layers": bench_layers, "throughput": bench_throughput, "idle": bench_idle}[w](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
