#!/usr/bin/env python3
"""EventBridge benchmarks (PutEvents), each against a baseline measured in the same run:
a direct asynchronous invoke (`InvocationType: Event`) of the same function.

Usage (as root, release build):
  target/venv/bin/python benches/eventbridge.py [--bin target/release/quiver] \
      [latency] [accept]                        # default: both

  latency   send -> handler-start latency of a warm Python function (MemorySize 1769)
            that returns `time.time()` taken at handler entry, reached (a) by PutEvents
            with one entry matched by a rule whose target is the function, (b) by a
            direct Invoke with InvocationType Event; the function's OnSuccess record goes
            to an SQS queue on the same server and is read back. Interleaved, one event
            at a time (the next only after the previous record arrived).
  accept    events/s accepted (PutEvents answered with every EventId; Invoke answered
            202) at concurrency 1 and 16, PutEvents with 1 and 10 entries per call, the
            server's delivery running (the rule's target is an SQS queue, so matching
            and delivery compete for the same CPU). Interleaved in rounds.

Requests carry only the dev-mode Authorization header (the server parses, does not verify,
SigV4), so no client-side signing is inside the clock. Everything talks to 127.0.0.1 only,
every loop is bounded in count or time, servers are stopped by PID, data dirs removed.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import AUTH, loadavg, pct  # noqa: E402

ACCOUNT = "000000000000"


def auth_for(service, content_type):
    return dict(AUTH, **{
        "Authorization": AUTH["Authorization"].replace("/lambda/", f"/{service}/"),
        "Content-Type": content_type,
    })


SQS_AUTH = auth_for("sqs", "application/x-amz-json-1.0")
EVENTS_AUTH = auth_for("events", "application/x-amz-json-1.1")
EVENT = dict(AUTH, **{"X-Amz-Invocation-Type": "Event"})
# time.time() first thing at handler entry (CLOCK_REALTIME is not namespaced, so it is
# comparable with the client's time.time() on the same host); the send time comes in
# the payload (Invoke) or the event's detail (EventBridge).
PY_STAMP = ("app.py", "import time\n\ndef handler(e, c):\n    t = time.time()\n"
            "    d = e.get(\"detail\") or e\n"
            "    return {\"t\": t, \"sent\": d.get(\"sent\"), \"i\": d.get(\"i\")}\n", "app.handler")


class Server(benchlib.Server):
    """The shared server runner plus the SQS and EventBridge JSON calls this bench makes."""

    def sqs(self, op, body, conn=None):
        h = dict(SQS_AUTH, **{"X-Amz-Target": f"AmazonSQS.{op}"})
        st, out, _ = self.call("POST", "/", json.dumps(body).encode(), h, conn)
        assert st == 200, (op, st, out[:400])
        return json.loads(out or b"{}")

    def events(self, op, body, conn=None):
        h = dict(EVENTS_AUTH, **{"X-Amz-Target": f"AWSEvents.{op}"})
        st, out, _ = self.call("POST", "/", json.dumps(body).encode(), h, conn)
        assert st == 200, (op, st, out[:400])
        return json.loads(out or b"{}")


def put_events_body(entries):
    return json.dumps({"Entries": entries}).encode()


def entry(detail, source="bench"):
    return {"Source": source, "DetailType": "tick", "Detail": json.dumps(detail)}


# ---------------------------------------------------------------- part 1: latency

def part_latency(binary, n):
    print(f"\n## send -> handler start, n={n} each, load {loadavg()}", flush=True)
    srv = Server(binary)
    try:
        srv.create("stamp", PY_STAMP)
        qname = "bench-ok"
        url = srv.sqs("CreateQueue", {"QueueName": qname})["QueueUrl"]
        cfg = {"DestinationConfig": {"OnSuccess": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{qname}"}}}
        st, out, _ = srv.call("PUT", "/2019-09-25/functions/stamp/event-invoke-config", json.dumps(cfg).encode())
        assert st == 200, (st, out[:400])
        srv.events("PutRule", {"Name": "to-stamp", "EventPattern": json.dumps({"source": ["bench"]})})
        srv.events("PutTargets", {"Rule": "to-stamp", "Targets": [
            {"Id": "fn", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stamp"}]})
        path = "/2015-03-31/functions/stamp/invocations"
        send, rq = srv.conn(), srv.conn()

        def record_of(i, t0):
            deadline = time.time() + 30
            while time.time() < deadline:
                got = srv.sqs("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1,
                                                 "WaitTimeSeconds": 5}, rq).get("Messages", [])
                if not got:
                    continue
                t2 = time.time()
                m = got[0]
                srv.sqs("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}, rq)
                resp = json.loads(m["Body"])["responsePayload"]
                assert resp["i"] == i, ("record of another event", resp)
                return resp["t"] - t0, t2 - t0
            raise RuntimeError(f"no OnSuccess record for event {i} within 30 s")

        def invoke_once(i):
            t0 = time.time()
            st, out, _ = srv.call("POST", path, json.dumps({"sent": t0, "i": i}).encode(), EVENT, send)
            t1 = time.time()
            assert st == 202, (st, out[:300])
            return (t1 - t0, *record_of(i, t0))

        def put_once(i):
            t0 = time.time()
            st, out, _ = srv.call("POST", "/", put_events_body([entry({"sent": t0, "i": i})]),
                                  dict(EVENTS_AUTH, **{"X-Amz-Target": "AWSEvents.PutEvents"}), send)
            t1 = time.time()
            assert st == 200 and json.loads(out)["FailedEntryCount"] == 0, (st, out[:300])
            return (t1 - t0, *record_of(i, t0))

        for i in range(10):  # warm: environment up, both paths and the queue exercised
            invoke_once(-1 - i)
            put_once(-100 - i)
        rows = {k: [] for k in ("i_ack", "i_start", "i_rec", "p_ack", "p_start", "p_rec")}
        for i in range(n):
            a, s, r = invoke_once(i)
            rows["i_ack"].append(a)
            rows["i_start"].append(s)
            rows["i_rec"].append(r)
            a, s, r = put_once(n + i)
            rows["p_ack"].append(a)
            rows["p_start"].append(s)
            rows["p_rec"].append(r)
        base = pct(rows["i_start"], 50)
        print("\n| what | p50 ms | p99 ms | n | vs async invoke's handler start p50 |")
        print("|---|---|---|---|---|")
        for key, name in (("i_ack", "baseline path: Invoke Event: send -> 202"),
                          ("i_start", "baseline: Invoke Event: send -> handler start"),
                          ("i_rec", "Invoke Event: send -> OnSuccess record received"),
                          ("p_ack", "PutEvents: send -> answer with EventId"),
                          ("p_start", "PutEvents: send -> handler start"),
                          ("p_rec", "PutEvents: send -> OnSuccess record received")):
            xs = rows[key]
            ratio = f"{pct(xs, 50) / base:.2f}x" if key in ("p_start", "p_rec", "i_rec") else "—"
            print(f"| {name} | {pct(xs, 50) * 1e3:.3f} | {pct(xs, 99) * 1e3:.3f} | {len(xs)} | {ratio} |",
                  flush=True)
        print(f"\nload after: {loadavg()}", flush=True)
    finally:
        srv.stop()


# ---------------------------------------------------------------- part 2: accept

def _worker(host, port, kind, per_call, barrier, seconds, out):
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("POST", "/_quiver/echo", body=b"{}", headers=AUTH)  # connect before the clock
    c.getresponse().read()
    if kind == "put":
        body = put_events_body([entry({"k": j}) for j in range(per_call)])
        headers = dict(EVENTS_AUTH, **{"X-Amz-Target": "AWSEvents.PutEvents"})
        path, ok = "/", 200
    else:
        body, headers, path, ok = b"{}", EVENT, "/2015-03-31/functions/stamp/invocations", 202
    lat, n = [], 0
    barrier.wait()
    end = time.monotonic() + seconds
    t = time.monotonic()
    while t < end:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        t2 = time.monotonic()
        if r.status != ok or (kind == "put" and json.loads(data)["FailedEntryCount"] != 0):
            out.put(("error", r.status))
            return
        lat.append(t2 - t)
        n += per_call
        t = t2
    out.put((n, lat))


def run_procs(k, args, seconds):
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(k + 1), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(*args, barrier, seconds, out)) for _ in range(k)]
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
        raise RuntimeError(f"answered {errs[0][1]}")
    return sum(r[0] for r in res), [x for r in res for x in r[1]], wall


def part_accept(binary, seconds, rounds):
    print(f"\n## events accepted per second, {seconds} s per cell, {rounds} rounds, load {loadavg()}",
          flush=True)
    srv = Server(binary)
    try:
        srv.create("stamp", PY_STAMP)
        srv.sqs("CreateQueue", {"QueueName": "sink"})
        srv.events("PutRule", {"Name": "to-sink", "EventPattern": json.dumps({"source": ["bench"]})})
        srv.events("PutTargets", {"Rule": "to-sink", "Targets": [
            {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:sink"}]})
        cells = {}
        kinds = (("invoke", 1, "baseline: Invoke Event -> 202"),
                 ("put", 1, "PutEvents, 1 entry per call"),
                 ("put", 10, "PutEvents, 10 entries per call"))
        run_procs(1, (srv.host, srv.port, "put", 10), 1)  # unmeasured warm-up
        for r in range(rounds):
            for conc in (1, 16):
                for kind, per, _ in kinds:
                    n, lat, wall = run_procs(conc, (srv.host, srv.port, kind, per), seconds)
                    cells.setdefault((kind, per, conc), []).append((n, lat, wall))
                    print(f"  round {r + 1} {kind} x{per} conc {conc:2d}: {n / wall:8.0f} events/s "
                          f"(load {loadavg()})", flush=True)
        print("\n| what | conc | events/s | call p50 ms | call p99 ms | vs baseline |")
        print("|---|---|---|---|---|---|")
        for conc in (1, 16):
            base = None
            for kind, per, name in kinds:
                runs = cells[(kind, per, conc)]
                n, wall = sum(x[0] for x in runs), sum(x[2] for x in runs)
                lat = [v for x in runs for v in x[1]]
                rate = n / wall
                ratio = "—" if base is None else f"{rate / base:.2f}x"
                base = base or rate
                print(f"| {name} | {conc} | {rate:.0f} | {pct(lat, 50) * 1e3:.3f} | "
                      f"{pct(lat, 99) * 1e3:.3f} | {ratio} |", flush=True)
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("parts", nargs="*", default=["latency", "accept"])
    ap.add_argument("--seconds", type=float, default=4.0, help="per accept cell")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved accept rounds")
    ap.add_argument("-n", type=int, default=200, help="events per path for latency")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: quiver serve needs it for sandboxes")
    for p in args.parts:
        {"latency": lambda: part_latency(args.bin, args.n),
         "accept": lambda: part_accept(args.bin, args.seconds, args.rounds)}[p]()


if __name__ == "__main__":
    main()
