"""The host serves HTTP inside the sandbox's network namespace (the Runtime API path)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "sandbox_probe"))
from harness import requires_root, run, sbx_dir  # noqa: E402,F401

pytestmark = requires_root


def test_host_listener_inside_sandbox_netns(sbx_dir):
    r = run(sbx_dir, ["http", "/2018-06-01/runtime/invocation/next"], extra=["--http-echo"])
    assert r.returncode == 0, r
    assert r.probe["status"] == "HTTP/1.1 200 OK", r.probe
    assert r.probe["body"] == "hello from host /2018-06-01/runtime/invocation/next"


def test_without_listener_port_9001_is_closed(sbx_dir):
    r = run(sbx_dir, ["connect", "9001"])
    assert r.returncode == 0, r
    assert r.probe["connect"] == "ECONNREFUSED"
