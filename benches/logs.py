#!/usr/bin/env python3
"""Function logs: ingestion throughput and the cost of logging on warm invoke latency.

Usage: target/venv/bin/python benches/logs.py [--bin target/release/quiver] [-n 300] [--lines 200000]

1. Ingestion: a function prints `--lines` lines of 100 bytes in one invocation, on a
   server whose per-environment rate limit is lifted (so the store, not the limiter, is
   measured). Throughput = lines / (time from the invoke request until the invocation's
   REPORT line is readable through GetLogEvents). Lines are stored in order, so a stored
   REPORT means every line before it is stored. The function's own print time is shown
   beside it (the pipe and the interpreter are part of the path).
2. Warm invoke latency, same run, interleaved: a function that prints 10 lines vs one that
   prints nothing (each invoke through boto3 on one keep-alive connection; n each).
Must run as root (sandboxes).
"""
import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
import botocore.config

ROLE = "arn:aws:iam::000000000000:role/bench"
SRC = r'''
import sys, time
def handler(event, context):
    t = time.perf_counter()
    line = "y" * 99 + "\n"
    w = sys.stdout.write
    for i in range(event.get("n", 0)):
        w(line)
    sys.stdout.flush()
    return {"print_s": time.perf_counter() - t}
'''
TEN = 'def handler(event, context):\n    for i in range(10):\n        print("log line %d of this invocation" % i)\n    return 1\n'
NONE = 'def handler(event, context):\n    return 1\n'


def zip_of(src):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", src)
    return buf.getvalue()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def start(binary, data):
    env = dict(os.environ, QUIVER_LOG="warn", QUIVER_LOGS_RATE_LINES="100000000", QUIVER_LOGS_RATE_BYTES="10000000000")
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = p.stdout.readline().decode()
    assert line.startswith("quiver listening on "), line
    return p, line.split()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--lines", type=int, default=200_000)
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="quiver-bench-logs-")
    proc, endpoint = start(a.bin, data)
    try:
        cfg = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=300)
        kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDBENCH",
                  aws_secret_access_key="x", config=cfg)
        lam, logs = boto3.client("lambda", **kw), boto3.client("logs", **kw)
        for name, src in (("bench-ingest", SRC), ("bench-ten", TEN), ("bench-none", NONE)):
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": zip_of(src)}, MemorySize=1769, Timeout=300)
            lam.invoke(FunctionName=name, Payload=b"{}")  # cold start out of the way

        # 1. Ingestion.
        stream = None
        import json
        t0 = time.perf_counter()
        r = lam.invoke(FunctionName="bench-ingest", Payload=json.dumps({"n": a.lines}).encode())
        t_invoke = time.perf_counter() - t0
        rid = r["ResponseMetadata"]["RequestId"]
        print_s = json.loads(r["Payload"].read())["print_s"]
        group = "/aws/lambda/bench-ingest"
        stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
        while True:
            ev = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=1)["events"]
            if ev and ev[-1]["message"].startswith("REPORT RequestId: " + rid):
                break
            time.sleep(0.002)
        t_stored = time.perf_counter() - t0
        print(f"ingestion: {a.lines} lines of 100 B: invoke returned after {t_invoke:.3f}s "
              f"(function's own print loop {print_s:.3f}s), all stored after {t_stored:.3f}s "
              f"-> {a.lines / t_stored:,.0f} lines/s ({a.lines * 100 / t_stored / 1e6:.1f} MB/s)")

        # 2. Warm latency, interleaved.
        res = {"bench-ten": [], "bench-none": []}
        for i in range(a.n):
            for name in (("bench-ten", "bench-none") if i % 2 else ("bench-none", "bench-ten")):
                t = time.perf_counter()
                lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
                res[name].append((time.perf_counter() - t) * 1000)
        print(f"| function                  | p50 ms | p99 ms | n   |")
        print(f"|---------------------------|--------|--------|-----|")
        for name, label in (("bench-none", "prints nothing"), ("bench-ten", "prints 10 lines")):
            xs = res[name]
            print(f"| {label:<25} | {statistics.median(xs):6.2f} | {pct(xs, 99):6.2f} | {len(xs):<3} |")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
