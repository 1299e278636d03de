"""`quiver logs --follow` (read through a pipe, not a TTY): a new invocation's lines
appear within a second, without colour codes; `--filter` and a one-shot read work."""
import os
import subprocess
import threading
import time

from conftest import QUIVER_BIN
from invokeutil import assert_ok, create_py, invoke, request_id, wait_until
from logsutil import group_of, wait_for_messages

SRC = 'def handler(event, context):\n    print("follow-marker " + event["m"])\n    return 1\n'


class Reader:
    """Collects a subprocess's stdout lines with the time each arrived."""

    def __init__(self, proc):
        self.lines = []
        self.proc = proc
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def first(self, needle):
        for t, l in self.lines:
            if needle in l:
                return t, l
        return None


def test_follow_shows_new_invocation_within_a_second(server, lam):
    name = create_py(lam, SRC)
    resp, _, _ = invoke(lam, name, {"m": "before"})
    assert_ok(resp)
    proc = subprocess.Popen(
        [QUIVER_BIN, "logs", name, "--endpoint", server.endpoint, "--follow", "--since", "5m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    try:
        r = Reader(proc)
        assert wait_until(lambda: r.first("follow-marker before"), timeout=10), proc.stderr and r.lines
        for i in range(3):
            resp, _, _ = invoke(lam, name, {"m": f"now{i}"})
            done = time.monotonic()
            rid = request_id(resp)
            got = wait_until(lambda: r.first(f"REPORT RequestId: {rid}"), timeout=5, interval=0.01)
            assert got, r.lines
            assert got[0] - done < 1.0, f"shown {got[0] - done:.3f}s after the invoke returned"
            t, line = r.first(f"follow-marker now{i}")
            ts, stream, msg = line.split(" ", 2)
            assert msg == f"follow-marker now{i}"
            assert ts.endswith("Z") and "T" in ts and stream.startswith(time.strftime("%Y/"))
        assert not any("\x1b[" in l for _, l in r.lines), "no colour on a pipe"
        # Every line once, in order.
        starts = [l for _, l in r.lines if " START RequestId: " in l]
        assert len(starts) == len(set(starts)) == 4
    finally:
        proc.kill()
        proc.wait(10)


def test_one_shot_with_filter(server, lam):
    name = create_py(lam, SRC)
    for m in ("alpha", "beta"):
        invoke(lam, name, {"m": m})
    wait_for_messages(server.client("logs"), group_of(name), lambda m: sum(x.startswith("REPORT") for x in m) == 2)
    out = subprocess.run(
        [QUIVER_BIN, "logs", name, "--endpoint", server.endpoint, "--filter", "follow-marker -alpha"],
        capture_output=True, timeout=30, check=True,
    ).stdout.decode().splitlines()
    assert len(out) == 1 and out[0].endswith(" follow-marker beta"), out
    p = subprocess.run([QUIVER_BIN, "logs", "nope", "--endpoint", server.endpoint], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"" and b"no logs" in p.stderr
