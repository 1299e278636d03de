#!/usr/bin/env python3
"""Function URL and HTTP API request latency and throughput under wrk, against the same
server's echo route, in one run.

Usage (as root, release build, Debian's `wrk` installed: `apt-get install wrk`):
  target/venv/bin/python benches/http_wrk.py [--bin target/release/quiver] \
      [--seconds 8] [--rounds 2]

Targets, all on one server: the bare round trip (`POST /_quiver/echo` `{}`), the function
URL of a Python no-op (`return {"statusCode": 200, "body": "ok"}`,
AuthType NONE, no CORS; MemorySize 1024, 0.58 of a vCPU each, `--memory-budget-mb 40000`
so that 16 environments of each function fit) addressed by `/_url/<id>/`, and an HTTP API (`$default` stage,
route `GET /hello`, payload 2.0 and a second route on a payload 1.0 integration)
addressed by `/_api/<id>/…`. For each of 1 and 16 connections (wrk -t1 and -t2), an
unmeasured warm-up run per target brings up as many environments as connections, then
the targets are measured interleaved, `--rounds` times. wrk reports requests/s and its
latency percentiles (p50, p99); non-2xx answers are counted and must be 0.

With `--serverless-offline DIR` (a copy of benches/serverless-offline with its
dependencies installed: `cp -r benches/serverless-offline DIR && (cd DIR && npm ci)`),
serverless-offline's HTTP API route to the same Node no-op is measured too, interleaved
with the rest; it runs in a network namespace of its own with only a loopback, and wrk
reaches it from inside that namespace, so nothing it does can leave the machine.

Everything talks to 127.0.0.1 only; servers are stopped by PID, the data dir and the
namespace removed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Server, loadavg  # noqa: E402

NODE_OK = ("index.js", "exports.handler = async () => ({ statusCode: 200, body: \"ok\" });\n",
           "index.handler", "nodejs20.x")
PY_OK = ("app.py", "def handler(e, c):\n    return {\"statusCode\": 200, \"body\": \"ok\"}\n",
         "app.handler", "python3.11")
ACCOUNT = "000000000000"
POST_LUA = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def unit_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v


def wrk(url, conns, seconds, lua=None, netns=None):
    threads = 1 if conns == 1 else 2
    cmd = (["ip", "netns", "exec", netns] if netns else []) + ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if lua:
        cmd += ["-s", lua]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = unit_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = unit_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0, errors.group(0) if errors else ""


def probe(url):
    """One request's status and body, to say what the non-2xx answers were."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()[:200]
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:200]


def setup(srv):
    srv.create("ok", PY_OK, memory=1024)
    srv.create("ok-node", NODE_OK, memory=1024)
    st, out, _ = srv.call("POST", "/2021-10-31/functions/ok/url", json.dumps({"AuthType": "NONE"}).encode())
    assert st == 201, (st, out[:300])
    url_id = json.loads(out)["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    fn_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ok"
    gw = lambda method, path, body: srv.call(  # noqa: E731
        method, path, json.dumps(body).encode(),
        {"Content-Type": "application/json",
         "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/apigateway/aws4_request, "
                          "SignedHeaders=host, Signature=" + "0" * 64})
    st, out, _ = gw("POST", "/v2/apis", {"name": "bench", "protocolType": "HTTP"})
    assert st == 201, (st, out[:300])
    api = json.loads(out)["apiId"]
    ids = {}
    for version in ("2.0", "1.0"):
        st, out, _ = gw("POST", f"/v2/apis/{api}/integrations", {
            "integrationType": "AWS_PROXY", "integrationUri": fn_arn, "payloadFormatVersion": version})
        assert st == 201, (st, out[:300])
        ids[version] = json.loads(out)["integrationId"]
    st, out, _ = gw("POST", f"/v2/apis/{api}/integrations", {
        "integrationType": "AWS_PROXY", "integrationUri": fn_arn + "-node", "payloadFormatVersion": "2.0"})
    assert st == 201, (st, out[:300])
    ids["node"] = json.loads(out)["integrationId"]
    for key, version in (("GET /hello", "2.0"), ("GET /v1", "1.0"), ("GET /node", "node")):
        st, out, _ = gw("POST", f"/v2/apis/{api}/routes", {"routeKey": key, "target": f"integrations/{ids[version]}"})
        assert st == 201, (st, out[:300])
    st, out, _ = gw("POST", f"/v2/apis/{api}/stages", {"stageName": "$default", "autoDeploy": True})
    assert st == 201, (st, out[:300])
    return url_id, api


class ServerlessOffline:
    """`serverless offline` of DIR in a network namespace of its own (loopback only)."""

    def __init__(self, service_dir, port=3901):
        self.ns = f"quiver-bench-sls-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"], check=True)
        self.log = tempfile.NamedTemporaryFile(prefix="quiver-sls-", delete=False)
        env = dict(os.environ, SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off",
                   SLS_DEPRECATION_DISABLE="*")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, os.path.join(service_dir, "node_modules/.bin/serverless"),
             "offline", "--httpPort", str(port), "--lambdaPort", str(port + 1)],
            cwd=service_dir, stdout=self.log, stderr=subprocess.STDOUT, env=env,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}/hello"
        import time
        deadline = time.time() + 90
        while b"Server ready" not in open(self.log.name, "rb").read():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("serverless offline did not start: " + open(self.log.name).read()[-2000:])
            time.sleep(0.2)
        self.version = subprocess.run(
            ["node", "-p", "require('./node_modules/serverless-offline/package.json').version"],
            cwd=service_dir, capture_output=True, text=True).stdout.strip()

    def stop(self):
        import signal
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "delete", self.ns], check=False)
        os.unlink(self.log.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--serverless-offline", metavar="DIR", help="also measure serverless-offline")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: quiver serve needs it for sandboxes")
    if not shutil.which("wrk"):
        sys.exit("wrk not found (Debian: apt-get install wrk)")
    scratch = tempfile.mkdtemp(prefix="quiver-wrk-")
    lua = os.path.join(scratch, "post.lua")
    with open(lua, "w") as f:
        f.write(POST_LUA)
    # 32 environments of 1024 MB (16 per function) are declared; a no-op uses a few
    # tens of MB of them, so the budget is raised past the declared sum rather than
    # have the bench measure evictions.
    srv = Server(args.bin, ["--freeze-after-ms", "600000", "--memory-budget-mb", "40000"])
    sls = None
    try:
        url_id, api = setup(srv)
        base = f"http://{srv.host}:{srv.port}"
        targets = [
            ("baseline: `POST /_quiver/echo` `{}`", base + "/_quiver/echo", lua),
            ("function URL, `GET /_url/<id>/`", f"{base}/_url/{url_id}/", None),
            ("HTTP API payload 2.0, `GET /_api/<id>/hello`", f"{base}/_api/{api}/hello", None),
            ("HTTP API payload 1.0, `GET /_api/<id>/v1`", f"{base}/_api/{api}/v1", None),
            ("HTTP API payload 2.0, Node no-op, `GET /_api/<id>/node`", f"{base}/_api/{api}/node", None),
        ]
        netns = {}
        if args.serverless_offline:
            sls = ServerlessOffline(args.serverless_offline)
            name = f"serverless-offline {sls.version}, Node no-op, httpApi `GET /hello`"
            targets.append((name, sls.url, None))
            netns[name] = sls.ns
        print(f"load before: {loadavg()}", flush=True)
        cells = {}
        for conns in (1, 16):
            for name, url, script in targets:  # unmeasured: environments for `conns` callers
                wrk(url, conns, 2, script, netns.get(name))
            for r in range(args.rounds):
                for name, url, script in targets:
                    res = wrk(url, conns, args.seconds, script, netns.get(name))
                    if res[3]:
                        raise RuntimeError(f"{name}: {res[3]} non-2xx answers, e.g. {probe(url)}")
                    cells.setdefault((name, conns), []).append(res)
                    print(f"  c={conns:2d} round {r + 1} {name}: {res[0]:.0f}/s p50 {res[1]:.3f} "
                          f"p99 {res[2]:.3f} ms {res[4]} (load {loadavg()})", flush=True)
        print("\n| what | connections | requests/s | p50 ms | p99 ms | throughput vs echo |")
        print("|---|---|---|---|---|---|")
        for conns in (1, 16):
            echo = None
            for name, _, _ in targets:
                runs = cells[(name, conns)]
                rps = sum(x[0] for x in runs) / len(runs)
                p50 = sorted(x[1] for x in runs)[len(runs) // 2]
                p99 = max(x[2] for x in runs)
                ratio = "—" if echo is None else f"{rps / echo:.2f}x"
                echo = echo or rps
                print(f"| {name} | {conns} | {rps:.0f} | {p50:.3f} | {p99:.3f} | {ratio} |", flush=True)
        print(f"\nload after: {loadavg()}")
    finally:
        if sls:
            sls.stop()
        srv.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
