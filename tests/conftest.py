"""Shared harness: start the real `quiver serve` binary and drive it with boto3.

Every server is started on a free port (``--listen 127.0.0.1:0``) with its own
temporary data dir, and stopped by PID when the test ends, also on failure.
"""
import os
import shutil
import signal
import signal as _signal_module  # the Server.signal method shadows `signal` inside the class body
import subprocess
import tempfile
import threading
import time

import boto3
import botocore.config
import pytest

QUIVER_BIN = os.environ.get(
    "QUIVER_BIN",
    os.path.join(os.path.dirname(__file__), "..", "target", "debug", "quiver"),
)

# Clean, predictable credentials: the server accepts any key in dev mode.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDQUIVERTEST",
    "AWS_SECRET_ACCESS_KEY": "quiver-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Server:
    """A running `quiver serve` process."""

    def __init__(self, data_dir, extra_args=(), env=None, preexec_fn=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.env = env
        self.preexec_fn = preexec_fn  # runs in the child before exec (e.g. setrlimit)
        self.proc = None
        self.endpoint = None
        self.stdout_lines = []
        self.stderr_path = None

    def start(self, timeout=30):
        cmd = [QUIVER_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
        cmd += self.extra_args
        env = dict(os.environ)
        env.setdefault("QUIVER_LOG", "info")
        if self.env:
            env.update(self.env)
        self.stderr_path = os.path.join(tempfile.gettempdir(), f"quiver-stderr-{os.getpid()}-{time.time_ns()}.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=self.preexec_fn,
        )
        first = self._readline(timeout)
        prefix = "quiver listening on "
        if not first.startswith(prefix):
            self.stop()
            raise RuntimeError(f"unexpected first line {first!r}; stderr: {self.stderr()}")
        self.endpoint = first[len(prefix):].strip()
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _readline(self, timeout):
        result = []

        def read():
            result.append(self.proc.stdout.readline().decode())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if not result:
            self.stop()
            raise RuntimeError(f"server printed nothing within {timeout}s; stderr: {self.stderr()}")
        line = result[0]
        self.stdout_lines.append(line)
        return line

    def _drain(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.decode(errors="replace"))

    def stderr(self, tail=4000):
        """The server's log so far: its last `tail` characters (all of it for None)."""
        try:
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text[-tail:] if tail else text

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=_signal_module.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        try:
            self._stderr.close()
        except Exception:
            pass
        return self.proc.returncode

    def client(self, service="lambda", **kwargs):
        cfg = botocore.config.Config(
            retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, max_pool_connections=64
        )
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
            config=cfg,
            **kwargs,
        )

    def cli(self, *args, check=True, timeout=60):
        """Run the AWS CLI v1 against this server; returns CompletedProcess."""
        env = dict(os.environ)
        env.update(CLIENT_ENV)
        env["AWS_CONFIG_FILE"] = "/dev/null"
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        cmd = ["aws", "--endpoint-url", self.endpoint, "--output", "json", *args]
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {p.stderr.decode()}")
        return p


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server_factory(data_dir):
    """Start servers; all are stopped at teardown."""
    started = []

    def make(extra_args=(), env=None, data_dir_override=None, preexec_fn=None):
        s = Server(data_dir_override or data_dir, extra_args, env, preexec_fn).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def lam(server):
    return server.client("lambda")


def pytest_configure(config):
    # scripts/test.sh runs the suite in parallel workers, then the tests marked `serial`
    # alone: those measure CPU shares, which other workers' load would distort.
    config.addinivalue_line("markers", "serial: run alone, after the parallel part of the suite")
