"""What the server exposes about itself: the echo route only on request, and code URLs
built from the server's own address, never from the client's Host header.
"""
import subprocess
import urllib.request

from apiutil import create, make_zip, raw_request
from conftest import QUIVER_BIN

FUNCTIONS = "/2015-03-31/functions"


def _answer(r):
    return r.status, r.error_type


def test_echo_route_is_unknown_without_the_flag(server, lam):
    for auth in ("fake", None):
        echo = raw_request(server, "POST", "/_quiver/echo", b'{"a": 1}', auth=auth)
        bogus = raw_request(server, "POST", "/_quiver/bogus", b'{"a": 1}', auth=auth)
        assert _answer(echo) == _answer(bogus), (auth, echo, bogus)
        assert echo.body != b'{"a": 1}', echo
    signed = raw_request(server, "POST", "/_quiver/echo", b'{"a": 1}', auth="fake")
    assert signed.status == 404 and signed.error_type == "UnknownOperationException", signed
    unsigned = raw_request(server, "POST", "/_quiver/echo", b'{"a": 1}', auth=None)
    assert unsigned.status == 403, unsigned
    lam.list_functions()


def test_echo_route_echoes_with_the_flag(server_factory):
    srv = server_factory(["--enable-echo-route"])
    r = raw_request(srv, "POST", "/_quiver/echo", b'{"a": 1}', auth=None)
    assert r.status == 200, r
    assert r.body == b'{"a": 1}'
    srv.client("lambda").list_functions()


def _location_with_forged_host(server, name):
    r = raw_request(server, "GET", f"{FUNCTIONS}/{name}", auth="fake", headers={"Host": "evil.example"})
    assert r.status == 200, r
    return r.json()["Code"]["Location"]


def test_code_location_ignores_the_host_header(server, lam):
    zip_bytes = make_zip()
    name, _ = create(lam, zip_bytes=zip_bytes)
    loc = _location_with_forged_host(server, name)
    assert "evil.example" not in loc, loc
    assert loc.startswith(server.endpoint.rstrip("/") + "/_quiver/code/"), (loc, server.endpoint)
    # And it is a working URL on the server itself.
    with urllib.request.urlopen(loc, timeout=30) as resp:
        assert resp.read() == zip_bytes
    # boto3 (which sends the real Host) gets the same base.
    assert lam.get_function(FunctionName=name)["Code"]["Location"].startswith(server.endpoint.rstrip("/") + "/")


def test_code_location_uses_public_url(server_factory):
    srv = server_factory(["--public-url", "http://quiver.localtest:1234/"])
    name, _ = create(srv.client("lambda"))
    loc = _location_with_forged_host(srv, name)
    assert loc.startswith("http://quiver.localtest:1234/_quiver/code/"), loc


def test_public_url_must_be_a_base_url(data_dir):
    for bad in ("quiver.localtest:1234", "ftp://x", "http://", "http://x/path", "http://x?q=1"):
        p = subprocess.run([QUIVER_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                            "--public-url", bad], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        assert p.returncode != 0, (bad, p.stdout)
        assert b"--public-url" in p.stderr, (bad, p.stderr)
