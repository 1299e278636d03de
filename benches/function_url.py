#!/usr/bin/env python3
"""Function URL request latency against the same server's echo route, in one run.

Usage (as root, release build):
  target/venv/bin/python benches/function_url.py [--bin target/release/quiver] [--n 4000]

One keep-alive `http.client` connection per target, 200 unmeasured warm-up calls, then
`--n` calls per target in 8 interleaved blocks (echo, URL by host, URL by path, Invoke,
echo, …). The function is a Python no-op (`return {}`, MemorySize 1769); the URL has
AuthType NONE and no CORS. `--freeze-after-ms` is raised so that no environment is frozen
between blocks. Everything talks to 127.0.0.1 only; the server is stopped by PID and its
data dir removed.
"""
import argparse
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import AUTH, Server, header, invoke_path, loadavg, row  # noqa: E402

PY_NOOP = ("app.py", "def handler(e, c):\n    return {}\n", "app.handler", "python3.11")


def loop(conn, method, path, body, headers, n):
    import time

    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        out.append(time.perf_counter() - t0)
        if r.status != 200:
            raise RuntimeError(f"{path}: HTTP {r.status}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("--n", type=int, default=4000)
    args = ap.parse_args()
    srv = Server(args.bin, extra=["--freeze-after-ms", "600000"])
    try:
        srv.create("urlnoop", PY_NOOP)
        st, payload, _ = srv.call("POST", "/2021-10-31/functions/urlnoop/url", b'{"AuthType": "NONE"}')
        assert st == 201, (st, payload[:400])
        u = urllib.parse.urlsplit(json.loads(payload)["FunctionUrl"])
        url_id = u.hostname.split(".")[0]
        targets = {
            "baseline: `POST /_quiver/echo` `{}`": (
                "POST", "/_quiver/echo", b"{}", {"Content-Type": "application/json"}),
            "function URL by Host, `GET /`": ("GET", "/", None, {"Host": u.netloc}),
            "function URL by path, `GET /_url/<id>/`": ("GET", f"/_url/{url_id}/", None, {}),
            "Invoke (same function) `{}`": ("POST", invoke_path("urlnoop"), b"{}", AUTH),
        }
        conns = {k: srv.conn() for k in targets}
        for k, (m, p, b, h) in targets.items():
            loop(conns[k], m, p, b, h, 200)
        before = loadavg()
        samples = {k: [] for k in targets}
        blocks = 8
        for _ in range(blocks):
            for k, (m, p, b, h) in targets.items():
                samples[k] += loop(conns[k], m, p, b, h, args.n // blocks)
        print(f"load average before: {before}")
        header()
        base = None
        for k, xs in samples.items():
            p50 = row(k, xs, base)
            base = base or p50
        print(f"load average after: {loadavg()}")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
