"""Shared pieces of the benchmark scripts: percentiles and table rows, a `quiver serve`
runner on 127.0.0.1:0 with a fresh data dir (stopped by PID, data removed), dev-mode
request headers, and the timed request loop. Every script measures against a baseline in
the same run; nothing here talks to anything but 127.0.0.1.
"""
import base64
import http.client
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile

ROLE = "arn:aws:iam::000000000000:role/bench"
AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20260101T000000Z",
    "Content-Type": "application/json",
}
def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def row(label, xs, base=None, unit=1000.0):
    p50, p99 = pct(xs, 50), pct(xs, 99)
    ratio = f" {p50 / base:5.2f}x |" if base else "   —   |"
    print(f"| {label:<52} | {p50 * unit:9.3f} | {p99 * unit:9.3f} | {len(xs):5d} |{ratio}", flush=True)
    return p50


def header(unit="ms"):
    print(f"| {'what':<52} | p50 {unit:<5} | p99 {unit:<5} | n     | ratio  |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 11}|{'-' * 7}|--------|", flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out


def zip_of(name, text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text)
    return base64.b64encode(buf.getvalue()).decode()


def echo_route_args(binary):
    """`--enable-echo-route` for binaries that have it (older ones serve the route unasked)."""
    out = subprocess.run([binary, "serve", "--help"], capture_output=True, timeout=30,
                         stdin=subprocess.DEVNULL).stdout
    return ["--enable-echo-route"] if b"--enable-echo-route" in out else []


class Server:
    """`quiver serve` on 127.0.0.1:0 with a fresh data dir; stopped by PID."""

    def __init__(self, binary, extra=(), prepare=None):
        self.binary = binary
        # `root` holds the data dir `data` and scratch files a bench wants on the same
        # file system (e.g. a baseline database next to the server's own).
        self.root = tempfile.mkdtemp(prefix="quiver-bench-")
        self.data = os.path.join(self.root, "d")
        if prepare is not None:
            # Work on the data dir before the server holds it (e.g. `quiver runtime import`).
            try:
                prepare(self.data)
            except BaseException:
                shutil.rmtree(self.root, ignore_errors=True)
                raise
        self.out_path = os.path.join(self.root, "stdout")
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data,
             *echo_route_args(binary), *extra],
            stdout=self.out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env=dict(os.environ, QUIVER_LOG="warn"))
        deadline = time.time() + 30
        while True:
            with open(self.out_path, "rb") as f:
                first = f.readline().decode()
            if first.endswith("\n"):
                break
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {first!r}")
            time.sleep(0.02)
        self.endpoint = first.strip().rsplit(" ", 1)[1]
        host, port = self.endpoint.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.pid = self.proc.pid
        self.ctl = self.conn()

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method, path, body=b"", headers=None, conn=None):
        c = conn or self.ctl
        c.request(method, path, body=body, headers=headers or AUTH)
        r = c.getresponse()
        return r.status, r.read(), r

    def create(self, name, code, memory=1769, timeout=30, env=None):
        """`code` is (file name, source, handler[, runtime]); python3.11 by default."""
        fname, text, handler, runtime = (*code, "python3.11")[:4]
        body = {"FunctionName": name, "Runtime": runtime, "Role": ROLE, "Handler": handler,
                "MemorySize": memory, "Timeout": timeout, "Code": {"ZipFile": zip_of(fname, text)}}
        if env:
            body["Environment"] = {"Variables": env}
        st, payload, _ = self.call("POST", "/2015-03-31/functions", json.dumps(body).encode())
        assert st == 201, (st, payload[:400])

    def publish(self, name):
        st, payload, _ = self.call("POST", f"/2015-03-31/functions/{name}/versions", b"{}")
        assert st == 201, (st, payload[:400])
        return json.loads(payload)["Version"]

    def update_config(self, name, **members):
        body = json.dumps(members).encode()
        st, payload, _ = self.call("PUT", f"/2015-03-31/functions/{name}/configuration", body)
        assert st == 200, (st, payload[:400])

    def create_alias(self, name, alias, version, weights=None):
        body = {"Name": alias, "FunctionVersion": version}
        if weights:
            body["RoutingConfig"] = {"AdditionalVersionWeights": weights}
        st, payload, _ = self.call("POST", f"/2015-03-31/functions/{name}/aliases", json.dumps(body).encode())
        assert st == 201, (st, payload[:400])

    def update_env(self, name, env):
        body = json.dumps({"Environment": {"Variables": env}}).encode()
        st, payload, _ = self.call("PUT", f"/2015-03-31/functions/{name}/configuration", body)
        assert st == 200, (st, payload[:400])

    def delete(self, name):
        self.call("DELETE", f"/2015-03-31/functions/{name}")

    def ps(self):
        out = subprocess.run([self.binary, "ps", "--endpoint", self.endpoint, "--json"],
                             capture_output=True, check=True, timeout=30).stdout
        return json.loads(out)["Environments"]

    def cpu_s(self):
        """utime+stime of the server process (seconds)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        try:
            self.ctl.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.out.close()
        shutil.rmtree(self.root, ignore_errors=True)


def invoke_path(name):
    return f"/2015-03-31/functions/{name}/invocations"


def timed_loop(conn, path, body, headers, n):
    """n round trips over one keep-alive connection; returns seconds per call."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        out.append(time.perf_counter() - t0)
        if r.status != 200:
            raise RuntimeError(f"{path}: HTTP {r.status}")
    return out


