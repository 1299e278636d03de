#!/usr/bin/env python3
"""java17 benchmarks against the bare JVM start, in the same run.

Usage (as root):
  target/venv/bin/python benches/java.py [--bin target/release/quiver] [--cold-n 10] [--warm-n 2000]

  cold   first invoke of a no-op java17 handler (`bench.Noop::handle`, MemorySize 1769)
         right after CreateFunction, and its REPORT Init Duration, vs the bare JVM start
         `java -Xshare:auto -XX:TieredStopAtLevel=1 -cp <dir> Noop` (an empty main) with
         an empty environment, once before each cold start; plus the single-file source
         launch `java Noop.java` that a bootstrap run from source would pay on every start
  warm   warm invoke round trip of that function vs POST /_quiver/echo on the same server,
         one keep-alive connection each, interleaved in blocks

The Java bootstrap is compiled once per data dir on the first Java cold start; that first
start is a warm-up here and not counted. Talks to 127.0.0.1 only; the server is stopped by
PID and every temporary directory is removed.
"""
import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    AUTH, ROLE, Server, header, invoke_path, loadavg, row, timed_loop,
)
from invoke import bare_start, cold_invoke  # noqa: E402

JAVA = "/usr/bin/java"
JAVAC = "/usr/bin/javac"
NOOP_HANDLER = "package bench;\npublic class Noop {\n    public static Object handle(Object in) { return in; }\n}\n"
NOOP_MAIN = "public class Noop {\n    public static void main(String[] a) {}\n}\n"


def compile_java(work, rel, text):
    src = os.path.join(work, "src", rel)
    os.makedirs(os.path.dirname(src), exist_ok=True)
    with open(src, "w") as f:
        f.write(text)
    out = os.path.join(work, "out-" + rel.replace("/", "-"))
    subprocess.run([JAVAC, "-d", out, src], check=True, capture_output=True)
    return src, out


def handler_zip(out_dir):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _, names in os.walk(out_dir):
            for n in names:
                p = os.path.join(root, n)
                zf.write(p, os.path.relpath(p, out_dir))
    return base64.b64encode(buf.getvalue()).decode()


def create(srv, name, code_b64):
    body = {"FunctionName": name, "Runtime": "java17", "Role": ROLE, "Handler": "bench.Noop::handle",
            "MemorySize": 1769, "Timeout": 30, "Code": {"ZipFile": code_b64}}
    st, payload, _ = srv.call("POST", "/2015-03-31/functions", json.dumps(body).encode())
    assert st == 201, (st, payload[:400])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("--cold-n", type=int, default=10)
    ap.add_argument("--warm-n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="quiver-bench-java-")
    srv = None
    try:
        _, handler_out = compile_java(work, "bench/Noop.java", NOOP_HANDLER)
        main_src, main_out = compile_java(work, "Noop.java", NOOP_MAIN)
        bare = [JAVA, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", main_out, "Noop"]
        source = [JAVA, "-Xshare:auto", "-XX:TieredStopAtLevel=1", main_src]
        code = handler_zip(handler_out)
        srv = Server(args.bin)
        create(srv, "warmup", code)
        cold_invoke(srv, "warmup")  # compiles the bootstrap into this data dir
        srv.delete("warmup")

        print(f"\n## java17 cold start (load before: {loadavg()})", flush=True)
        first, init, bases, sources = [], [], [], []
        for i in range(args.cold_n):
            name = f"cold-java-{i}"
            create(srv, name, code)
            bases.append(bare_start(bare))
            dt, ini = cold_invoke(srv, name)
            first.append(dt)
            if ini is not None:
                init.append(ini)
            srv.delete(name)
            if i < 3:
                sources.append(bare_start(source))
        header("ms")
        base = row(f"baseline: env -i {' '.join(bare[:3])} -cp <dir> Noop", bases)
        row("java17: first invoke after CreateFunction", first, base)
        row("java17: REPORT Init Duration", init, base)
        row("single-file source launch: java … Noop.java", sources, base)
        print(f"load after: {loadavg()}")

        print(f"\n## java17 warm invoke round trip (load before: {loadavg()})", flush=True)
        create(srv, "noop-java", code)
        targets = {"echo": ("/_quiver/echo", {"Content-Type": "application/json"}),
                   "java17": (invoke_path("noop-java"), None)}
        conns = {k: srv.conn() for k in targets}
        for k, (path, h) in targets.items():
            timed_loop(conns[k], path, b"{}", h or AUTH, 200)  # warm-up (and JIT)
        res = {k: [] for k in targets}
        for _ in range(args.rounds):
            for k, (path, h) in targets.items():
                timed_loop(conns[k], path, b"{}", h or AUTH, 1)  # may thaw; not counted
                res[k] += timed_loop(conns[k], path, b"{}", h or AUTH, args.warm_n // args.rounds)
        header("ms")
        base = row("baseline: POST /_quiver/echo `{}`", res["echo"])
        row("invoke java17 no-op (1769 MB)", res["java17"], base)
        print(f"load after: {loadavg()}")
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
