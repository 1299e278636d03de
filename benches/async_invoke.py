#!/usr/bin/env python3
"""Asynchronous invocation (`InvocationType: Event`) benchmarks, each against a baseline
measured in the same run.

Usage (as root, release build copied aside):
  target/venv/bin/python benches/async_invoke.py [--bin target/release/quiver] \
      [enqueue] [latency]                       # default: both

  enqueue   events/s accepted with 202 at concurrency 1 and 16, server started with
            `--async-workers 0` so only the durable enqueue is measured, vs raw Python
            sqlite3 INSERT + COMMIT (WAL, synchronous=FULL) on the same file system with
            the same number of processes. Interleaved in rounds; per-request p50/p99 too.
  latency   enqueue -> handler-start latency of a warm Python function (MemorySize 1769)
            that returns `time.time()` taken at handler entry; the success record goes to
            an OnSuccess SQS queue on the same server and is read back from it. Events are
            sent one at a time (the next only after the previous record arrived).
            Baseline, interleaved: the synchronous invoke round trip of the same function
            (and its send -> handler-start time, from the same returned timestamp).

Requests carry only the dev-mode Authorization header (the server parses, does not verify,
SigV4), so no client-side signing is inside the clock. Everything talks to 127.0.0.1 only,
every loop is bounded in count or time, servers are stopped by PID, data dirs removed.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import AUTH, loadavg, pct  # noqa: E402

ACCOUNT = "000000000000"
SQS_AUTH = dict(AUTH, **{
    "Authorization": AUTH["Authorization"].replace("/lambda/", "/sqs/"),
    "Content-Type": "application/x-amz-json-1.0",
})
EVENT = dict(AUTH, **{"X-Amz-Invocation-Type": "Event"})
PY_NOOP = ("app.py", "def handler(e, c):\n    return {}\n", "app.handler")
# time.time() first thing at handler entry; CLOCK_REALTIME is not namespaced, so it is
# comparable with the client's time.time() on the same host.
PY_STAMP = ("app.py", "import time\n\ndef handler(e, c):\n    t = time.time()\n"
            "    return {\"t\": t, \"sent\": e.get(\"sent\")}\n", "app.handler")
BASELINE_ROW = "x" * 300  # about the size of the JSON event the server stores per enqueue


# ---------------------------------------------------------------- helpers

class Server(benchlib.Server):
    """The shared server runner plus the SQS JSON calls this bench makes."""

    def sqs(self, op, body, conn=None):
        h = dict(SQS_AUTH, **{"X-Amz-Target": f"AmazonSQS.{op}"})
        st, out, _ = self.call("POST", "/", json.dumps(body).encode(), h, conn)
        assert st == 200, (op, st, out[:400])
        return json.loads(out or b"{}")


# ---------------------------------------------------------------- part 1: enqueue

def _enqueue_worker(host, port, path, barrier, seconds, out):
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("POST", "/_quiver/echo", body=b"{}", headers=AUTH)  # connect before the clock
    c.getresponse().read()
    lat, n = [], 0
    barrier.wait()
    cpu0 = time.process_time()
    end = time.monotonic() + seconds
    t = time.monotonic()
    while t < end:
        c.request("POST", path, body=b"{}", headers=EVENT)
        r = c.getresponse()
        r.read()
        t2 = time.monotonic()
        if r.status != 202:
            out.put(("error", r.status))
            return
        lat.append(t2 - t)
        n += 1
        t = t2
    out.put((n, lat, time.process_time() - cpu0))


def _sqlite_worker(db_path, barrier, seconds, out):
    db = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    db.execute("PRAGMA synchronous=FULL")  # per connection; journal_mode=WAL is persistent
    lat, n = [], 0
    barrier.wait()
    cpu0 = time.process_time()
    end = time.monotonic() + seconds
    t = time.monotonic()
    while t < end:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO m (body) VALUES (?)", (BASELINE_ROW,))
        db.execute("COMMIT")
        t2 = time.monotonic()
        lat.append(t2 - t)
        n += 1
        t = t2
    db.close()
    out.put((n, lat, time.process_time() - cpu0))


def run_procs(k, target, args, seconds):
    """k forked processes released together; returns (count, latencies, wall seconds)."""
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(k + 1), ctx.Queue()
    ps = [ctx.Process(target=target, args=(*args, barrier, seconds, out)) for _ in range(k)]
    for p in ps:
        p.start()
    barrier.wait(timeout=60)
    t0 = time.monotonic()
    res = [out.get(timeout=seconds + 120) for _ in ps]
    wall = time.monotonic() - t0
    for p in ps:
        p.join(timeout=30)
    errs = [r for r in res if r[0] == "error"]
    if errs:
        raise RuntimeError(f"enqueue answered {errs[0][1]}, not 202")
    lat = [x for r in res for x in r[1]]
    return sum(r[0] for r in res), lat, wall, sum(r[2] for r in res)


def proc_cpu(pid):
    """utime + stime of one process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_rows(db_path):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        db.close()


def part_enqueue(binary, seconds, rounds):
    print(f"\n## enqueue throughput (async-workers 0), {seconds} s per cell, {rounds} rounds, "
          f"load {loadavg()}", flush=True)
    srv = Server(binary, ["--async-workers", "0"])
    try:
        srv.create("noop", PY_NOOP)
        path = "/2015-03-31/functions/noop/invocations"
        base_db = os.path.join(srv.root, "baseline.db")  # same file system as async.db
        db = sqlite3.connect(base_db, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
        db.close()
        # Unmeasured warm-up of both paths.
        run_procs(1, _enqueue_worker, (srv.host, srv.port, path), 1)
        run_procs(1, _sqlite_worker, (base_db,), 1)
        accepted = 0
        before = count_rows(os.path.join(srv.data, "async.db"))
        cells = {}
        for r in range(rounds):
            for conc in (1, 16):
                for label, target, args in (("baseline", _sqlite_worker, (base_db,)),
                                            ("enqueue", _enqueue_worker, (srv.host, srv.port, path))):
                    s0 = proc_cpu(srv.proc.pid)
                    n, lat, wall, ccpu = run_procs(conc, target, args, seconds)
                    scpu = proc_cpu(srv.proc.pid) - s0
                    if label == "enqueue":
                        accepted += n
                    cells.setdefault((label, conc), []).append((n, lat, wall, ccpu, scpu))
                    print(f"  round {r + 1} {label:<8} conc {conc:2d}: {n / wall:8.0f}/s "
                          f"(n={n}, load {loadavg()})", flush=True)
        stored = count_rows(os.path.join(srv.data, "async.db")) - before
        print(f"\n| what | conc | per s | p50 ms | p99 ms | n | vs baseline | client CPU µs/op | server CPU µs/op |")
        print("|---|---|---|---|---|---|---|---|---|")
        for conc in (1, 16):
            base_rate = None
            for label in ("baseline", "enqueue"):
                runs = cells[(label, conc)]
                n = sum(x[0] for x in runs)
                wall = sum(x[2] for x in runs)
                lat = [v for x in runs for v in x[1]]
                ccpu = sum(x[3] for x in runs) / n * 1e6
                scpu = sum(x[4] for x in runs) / n * 1e6 if label == "enqueue" else 0
                rate = n / wall
                name = ("baseline: sqlite3 INSERT+COMMIT (WAL, sync=FULL)" if label == "baseline"
                        else "Invoke Event -> 202 (async-workers 0)")
                ratio = "—" if base_rate is None else f"{rate / base_rate:.2f}x"
                base_rate = base_rate or rate
                print(f"| {name} | {conc} | {rate:.0f} | {pct(lat, 50) * 1e3:.3f} | "
                      f"{pct(lat, 99) * 1e3:.3f} | {n} | {ratio} | {ccpu:.0f} | {scpu:.0f} |", flush=True)
        print(f"\nevents answered 202: {accepted}, rows added to async.db: {stored}"
              f" ({'all stored' if stored == accepted else 'MISMATCH'})", flush=True)
    finally:
        srv.stop()


# ---------------------------------------------------------------- part 2: latency

def part_latency(binary, n):
    print(f"\n## enqueue -> handler start, n={n} each, load {loadavg()}", flush=True)
    srv = Server(binary)
    try:
        srv.create("stamp", PY_STAMP)
        qname = "bench-ok"
        url = srv.sqs("CreateQueue", {"QueueName": qname})["QueueUrl"]
        cfg = {"DestinationConfig": {"OnSuccess": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{qname}"}}}
        st, out, _ = srv.call("PUT", "/2019-09-25/functions/stamp/event-invoke-config", json.dumps(cfg).encode())
        assert st == 200, (st, out[:400])
        path = "/2015-03-31/functions/stamp/invocations"
        inv, rq = srv.conn(), srv.conn()
        inexact = []

        def sync_once():
            t0 = time.time()
            st, out, _ = srv.call("POST", path, json.dumps({"sent": t0}).encode(), AUTH, inv)
            t1 = time.time()
            assert st == 200, (st, out[:300])
            return t1 - t0, json.loads(out)["t"] - t0

        def async_once(i):
            t0 = time.time()
            st, out, _ = srv.call("POST", path, json.dumps({"sent": t0, "i": i}).encode(), EVENT, inv)
            t1 = time.time()
            assert st == 202, (st, out[:300])
            deadline = time.time() + 30
            while time.time() < deadline:
                got = srv.sqs("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1,
                                                 "WaitTimeSeconds": 5}, rq).get("Messages", [])
                if not got:
                    continue
                t2 = time.time()
                m = got[0]
                srv.sqs("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}, rq)
                rec = json.loads(m["Body"])
                resp = rec["responsePayload"]
                assert rec["requestPayload"]["i"] == i, ("record of another event", rec)
                # The record's numbers went through the server's JSON parser; a last-digit
                # change would only show a float parse that does not round-trip.
                if resp["sent"] != t0:
                    inexact.append((t0, resp["sent"]))
                assert rec["requestContext"]["condition"] == "Success", rec
                return t1 - t0, resp["t"] - t0, t2 - t0
            raise RuntimeError(f"no OnSuccess record for event {i} within 30 s")

        for i in range(50):  # warm: environment up, both paths and the queue exercised
            sync_once()
        for i in range(10):
            async_once(-1 - i)
        rows = {k: [] for k in ("sync_rt", "sync_start", "a202", "astart", "arecord")}
        for i in range(n):  # interleaved: one synchronous, one asynchronous
            rt, start = sync_once()
            rows["sync_rt"].append(rt)
            rows["sync_start"].append(start)
            a202, astart, arec = async_once(i)
            rows["a202"].append(a202)
            rows["astart"].append(astart)
            rows["arecord"].append(arec)
        base = pct(rows["sync_rt"], 50)
        print(f"\n| what | p50 ms | p99 ms | n | vs sync round trip p50 |")
        print("|---|---|---|---|---|")
        for key, name in (("sync_rt", "baseline: synchronous invoke round trip"),
                          ("sync_start", "synchronous: send -> handler start"),
                          ("a202", "Event: send -> 202"),
                          ("astart", "Event: send -> handler start"),
                          ("arecord", "Event: send -> OnSuccess record received")):
            xs = rows[key]
            ratio = "—" if key == "sync_rt" else f"{pct(xs, 50) / base:.2f}x"
            print(f"| {name} | {pct(xs, 50) * 1e3:.3f} | {pct(xs, 99) * 1e3:.3f} | {len(xs)} | {ratio} |",
                  flush=True)
        print(f"\nload after: {loadavg()}; records whose echoed send time differs in the last digits: "
              f"{len(inexact)} of {n + 10}{' e.g. %r' % (inexact[0],) if inexact else ''}", flush=True)
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("parts", nargs="*", default=["enqueue", "latency"])
    ap.add_argument("--seconds", type=float, default=5.0, help="per enqueue cell")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved enqueue rounds")
    ap.add_argument("-n", type=int, default=300, help="events (and sync invokes) for latency")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: quiver serve needs it for sandboxes")
    for p in args.parts:
        {"enqueue": lambda: part_enqueue(args.bin, args.seconds, args.rounds),
         "latency": lambda: part_latency(args.bin, args.n)}[p]()


if __name__ == "__main__":
    main()
