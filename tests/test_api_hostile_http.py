"""Hostile HTTP at the transport level: idle and half-sent connections, odd paths, oversized headers.

None of these may stop the server from answering a well-behaved client promptly,
and none may change stored state.
"""
import socket
import time
import urllib.parse

import pytest

from apiutil import StoreSnapshot, assert_alive, create, raw_request


def _connect(server):
    u = urllib.parse.urlsplit(server.endpoint)
    return socket.create_connection((u.hostname, u.port), timeout=10)


def _timed_good_request(lam):
    t0 = time.monotonic()
    lam.list_functions()
    return time.monotonic() - t0


def test_idle_connections_do_not_starve_clients(server, lam):
    socks = []
    try:
        for _ in range(150):
            socks.append(_connect(server))
        assert _timed_good_request(lam) < 5
        name, _ = create(lam)
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    finally:
        for s in socks:
            s.close()
    assert_alive(server, lam)


def test_half_sent_requests_do_not_block_others(server, lam):
    socks = []
    try:
        for i in range(30):
            s = _connect(server)
            u = urllib.parse.urlsplit(server.endpoint)
            s.sendall(
                b"POST /2015-03-31/functions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{\"FunctionName\": \"half" % (u.hostname.encode(), u.port)
            )
            socks.append(s)
        for i in range(10):
            s = _connect(server)
            s.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finish
            socks.append(s)
        assert _timed_good_request(lam) < 5
    finally:
        for s in socks:
            s.close()
    assert_alive(server, lam)


def test_body_shorter_than_content_length_then_close(server, lam):
    snap = StoreSnapshot(server, lam)
    for _ in range(20):
        s = _connect(server)
        s.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"a\":")
        s.close()
    snap.assert_unchanged()


def test_garbage_bytes_instead_of_http(server, lam):
    for payload in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,  # a TLS ClientHello start
                    b"GARBAGE\r\n\r\n", b"\r\n" * 1000, bytes(range(256)) * 10):
        s = _connect(server)
        try:
            s.sendall(payload)
            s.settimeout(5)
            try:
                s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                pass
        finally:
            s.close()
    assert_alive(server, lam)


@pytest.mark.parametrize("path", [
    "/2015-03-31/functions/%FF%FE",
    "/2015-03-31/functions/a%00b",
    "/2015-03-31/functions/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/2015-03-31/functions/../../etc/passwd",
    "/2015-03-31/functions/" + "a" * 20000,
    "/2015-03-31/functions/x?Qualifier=1&Qualifier=2",
    "/2015-03-31/functions/x?Qualifier=%ZZ",
    "/2015-03-31/functions//configuration",
    "/2017-03-31/tags/",
    "/2017-03-31/tags/not-an-arn",
])
def test_odd_paths_are_4xx(server, lam, path):
    snap = StoreSnapshot(server, lam)
    r = raw_request(server, "GET", path)
    assert 400 <= r.status < 500, (path, r)
    snap.assert_unchanged()


def test_oversized_headers_are_rejected(server, lam):
    r = raw_request(server, "GET", "/2015-03-31/functions", headers={"X-Big": "a" * (1024 * 1024)}, auth=None)
    assert 400 <= r.status < 500, r
    assert_alive(server, lam)


def test_many_headers_are_rejected_or_ignored(server, lam):
    headers = {f"X-H{i}": "v" for i in range(2000)}
    try:
        r = raw_request(server, "GET", "/2015-03-31/functions", headers=headers, auth=None)
        assert 400 <= r.status < 500, r
    except (ConnectionResetError, BrokenPipeError):
        pass  # refusing the connection outright is acceptable for this abuse
    assert_alive(server, lam)
