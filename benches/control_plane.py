#!/usr/bin/env python3
"""Control-plane latency: CreateFunction and GetFunction with a 1 MB zip, against a
same-run baseline of writing the same bytes to disk with fsync.

Usage: target/venv/bin/python benches/control_plane.py [--bin target/release/quiver] [-n 60]

Requests are signed with botocore's SigV4 *before* the clock starts, and sent over one
keep-alive connection with http.client, so the figures are the server's (plus loopback),
not boto3's. Every zip is unique so no request is served by the blob de-duplication.
"""
import argparse
import base64
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import botocore.auth
import botocore.awsrequest
import botocore.credentials

ROLE = "arn:aws:iam::000000000000:role/bench"
CREDS = botocore.credentials.Credentials("AKIDBENCH", "bench-secret")


def one_mb_zip(i):
    """~1 MB of incompressible content, unique per i."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", f"def handler(e, c):\n    return {i}\n")
        zf.writestr("blob.bin", os.urandom(1024 * 1024 - 300))
    return buf.getvalue()


def signed(method, endpoint, path, body=b""):
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body,
                                         headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(CREDS, "lambda", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def summary(label, xs, base=None):
    p50, p99 = pct(xs, 50), pct(xs, 99)
    ratio = f"  ({p50 / base:.1f}x baseline p50)" if base else ""
    print(f"| {label:<34} | {p50 * 1000:8.2f} | {p99 * 1000:8.2f} | {len(xs):3d} |{ratio}")
    return p50


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("-n", type=int, default=60)
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="quiver-bench-")
    proc = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, QUIVER_LOG="warn"))
    try:
        first = proc.stdout.readline().decode().strip()
        endpoint = first.rsplit(" ", 1)[1]
        host, port = endpoint.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port))
        zips = [one_mb_zip(i) for i in range(args.n + 1)]

        # Baseline: the same bytes to a file on the same file system, fsync'd.
        base = []
        bdir = os.path.join(data, "baseline")
        os.mkdir(bdir)
        for i, z in enumerate(zips[1:]):
            t0 = time.perf_counter()
            with open(os.path.join(bdir, f"{i}.zip"), "wb") as f:
                f.write(z)
                f.flush()
                os.fsync(f.fileno())
            base.append(time.perf_counter() - t0)

        def call(method, path, body=b""):
            headers = signed(method, endpoint, path, body)
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            payload = r.read()
            dt = time.perf_counter() - t0
            assert r.status < 300, (r.status, payload[:300])
            return dt

        create, get = [], []
        names = []
        for i, z in enumerate(zips):
            name = f"bench-{i}"
            body = json.dumps({"FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
                               "Handler": "app.handler",
                               "Code": {"ZipFile": base64.b64encode(z).decode()}}).encode()
            dt = call("POST", "/2015-03-31/functions", body)
            if i > 0:  # the first call warms up the connection and the store
                create.append(dt)
            names.append(name)
        for name in names[1:]:
            get.append(call("GET", f"/2015-03-31/functions/{name}"))

        print(f"zip size: {len(zips[0])} bytes; request body (base64 JSON): ~{len(zips[0]) * 4 // 3} bytes")
        print("| operation                          | p50 ms   | p99 ms   | n   |")
        print("|------------------------------------|----------|----------|-----|")
        b = summary("baseline: write 1 MB + fsync", base)
        summary("CreateFunction (1 MB zip)", create, b)
        summary("GetFunction", get, b)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
