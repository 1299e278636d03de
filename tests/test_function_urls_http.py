"""Function URLs over HTTP (docs/wire.md §21): a real HTTP client (http.client, and curl)
against the URL by host and by path, the payload 2.0 event the function sees, the
response mapping, CORS and the access check.

Expected values come from AWS's "Invoking Lambda function URLs" (request payload
example and member table, response format inference, cookies) and "Lambda function URLs
CORS"; limits from the Lambda quotas (6 MB request payload for synchronous invocation).
"""
import base64
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from conftest import Server
from invokeutil import create_py

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ECHO = r'''
import base64, json

COUNT = {"n": 0}

def handler(event, context):
    COUNT["n"] += 1
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "count":
        return {"statusCode": 200, "body": str(COUNT["n"])}
    if mode == "string":
        return "Hello, world!"
    if mode == "dict":
        return {"message": "Hello, world!"}
    if mode == "fail":
        raise RuntimeError("boom")
    if mode == "cookies":
        return {"statusCode": 201, "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
                "body": json.dumps({"message": "Hello, world!"}),
                "cookies": ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2; Max-Age=78000"]}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
'''


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda")


@pytest.fixture(scope="module")
def url(lam):
    """(function name, FunctionUrl, url id) of an echo function with CORS."""
    name = create_py(lam, ECHO)
    r = lam.create_function_url_config(
        FunctionName=name,
        AuthType="NONE",
        Cors={
            "AllowOrigins": ["https://www.example.com"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type", "x-custom"],
            "ExposeHeaders": ["my-custom-header"],
            "MaxAge": 300,
        },
    )
    u = r["FunctionUrl"]
    return name, u, urllib.parse.urlsplit(u).hostname.split(".")[0]


def request(srv, method, path, body=None, headers=(), host=None):
    """One request to the server's port; `headers` is a list of pairs (repeats allowed).
    Returns (status, list of header pairs, body bytes)."""
    hp = urllib.parse.urlsplit(srv.endpoint)
    c = http.client.HTTPConnection(hp.hostname, hp.port, timeout=60)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    c.putheader("Host", host or f"{hp.hostname}:{hp.port}")
    for k, v in headers:
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    out = (r.status, r.getheaders(), data)
    c.close()
    return out


def hdr(headers, name):
    return [v for k, v in headers if k.lower() == name]


def by_host(srv, url, method, path, **kw):
    _, u, _ = url
    return request(srv, method, path, host=urllib.parse.urlsplit(u).netloc, **kw)


def test_event_matches_the_documented_shape(srv, url):
    name, u, uid = url
    status, headers, body = by_host(
        srv, url, "POST", "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        body=b"Hello from client!",
        headers=[("Header1", "value1"), ("Header2", "value1"), ("Header2", "value2"),
                 ("Cookie", "cookie1; cookie2"), ("User-Agent", "agent"), ("Content-Type", "text/plain")],
    )
    assert status == 200, body
    ev = json.loads(body)
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/my/path"
    assert ev["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert ev["cookies"] == ["cookie1", "cookie2"]
    assert ev["headers"]["header1"] == "value1"
    assert ev["headers"]["header2"] == "value1,value2"
    assert "cookie" not in ev["headers"]
    assert all(k == k.lower() for k in ev["headers"])
    assert ev["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    rc = ev["requestContext"]
    assert rc["accountId"] == "000000000000"
    assert rc["apiId"] == uid and rc["domainPrefix"] == uid
    assert rc["domainName"] == urllib.parse.urlsplit(u).hostname
    assert rc["http"] == {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "agent"}
    assert rc["routeKey"] == "$default" and rc["stage"] == "$default"
    assert abs(rc["timeEpoch"] - time.time() * 1000) < 60_000
    assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(rc["timeEpoch"] / 1000)) == rc["time"]
    assert rc["requestId"] == hdr(headers, "x-amzn-requestid")[0]
    assert ev["body"] == "Hello from client!"
    assert ev["isBase64Encoded"] is False
    for absent in ("pathParameters", "stageVariables"):
        assert ev.get(absent) is None


def test_path_based_addressing(srv, url):
    _, _, uid = url
    status, _, body = request(srv, "GET", f"/_url/{uid}/a/b?x=1")
    assert status == 200, body
    ev = json.loads(body)
    assert ev["rawPath"] == "/a/b"
    assert ev["queryStringParameters"] == {"x": "1"}
    assert "body" not in ev
    status, _, body = request(srv, "GET", f"/_url/{uid}")
    assert status == 200 and json.loads(body)["rawPath"] == "/"
    status, _, body = request(srv, "GET", "/_url/" + "0" * 32 + "/")
    assert status == 404 and json.loads(body) == {"Message": "Not Found"}


def test_curl_reaches_the_function_url_itself(srv, url):
    """`FunctionUrl` resolves from this machine: curl maps *.localhost to the loopback."""
    _, u, _ = url
    p = subprocess.run(["curl", "-sS", "--max-time", "60", u + "hello?mode=string"],
                       capture_output=True, timeout=90)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b'"Hello, world!"'


def test_binary_bodies_both_ways(srv, url):
    raw = bytes(range(256))
    status, _, body = by_host(srv, url, "POST", "/", body=raw,
                              headers=[("Content-Type", "application/octet-stream")])
    ev = json.loads(body)
    assert ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"]) == raw
    status, headers, body = by_host(srv, url, "GET", "/?mode=binary")
    assert status == 200
    assert body == raw
    assert hdr(headers, "content-type") == ["application/octet-stream"]


def test_response_inference_and_cookies(srv, url):
    status, headers, body = by_host(srv, url, "GET", "/?mode=string")
    assert (status, body) == (200, b'"Hello, world!"')
    assert hdr(headers, "content-type") == ["application/json"]
    status, headers, body = by_host(srv, url, "GET", "/?mode=dict")
    assert status == 200 and json.loads(body) == {"message": "Hello, world!"}
    assert hdr(headers, "content-type") == ["application/json"]
    status, headers, body = by_host(srv, url, "GET", "/?mode=cookies")
    assert status == 201
    assert json.loads(body) == {"message": "Hello, world!"}
    assert hdr(headers, "my-custom-header") == ["Custom Value"]
    assert hdr(headers, "set-cookie") == ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2; Max-Age=78000"]


def test_function_error_is_502(srv, url):
    status, _, body = by_host(srv, url, "GET", "/?mode=fail")
    assert status == 502
    assert json.loads(body) == {"Message": "Internal Server Error"}


def test_payload_past_6mb_is_413(srv, url):
    status, _, body = by_host(srv, url, "POST", "/", body=b"a" * (6 * 1024 * 1024 + 1),
                              headers=[("Content-Type", "text/plain")])
    assert status == 413, body


def test_cors_preflight_is_answered_without_invoking(srv, url):
    before = int(by_host(srv, url, "GET", "/?mode=count")[2])
    status, headers, body = by_host(srv, url, "OPTIONS", "/", headers=[
        ("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type")])
    assert status == 200 and body == b""
    assert hdr(headers, "access-control-allow-origin") == ["https://www.example.com"]
    assert hdr(headers, "access-control-allow-methods") == ["GET,POST"]
    assert hdr(headers, "access-control-allow-headers") == ["content-type,x-custom"]
    assert hdr(headers, "access-control-max-age") == ["300"]
    # A disallowed origin gets no CORS headers.
    status, headers, _ = by_host(srv, url, "OPTIONS", "/", headers=[
        ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
    assert hdr(headers, "access-control-allow-origin") == []
    after = int(by_host(srv, url, "GET", "/?mode=count")[2])
    assert after == before + 1, "the preflights did not invoke the function"


def test_simple_cors_headers_on_responses(srv, url):
    status, headers, _ = by_host(srv, url, "GET", "/?mode=dict", headers=[("Origin", "https://www.example.com")])
    assert status == 200
    assert hdr(headers, "access-control-allow-origin") == ["https://www.example.com"]
    assert hdr(headers, "access-control-expose-headers") == ["my-custom-header"]
    status, headers, _ = by_host(srv, url, "GET", "/?mode=dict")
    assert hdr(headers, "access-control-allow-origin") == []


def test_aws_iam_is_refused_until_identities_exist(srv, lam):
    name = create_py(lam, ECHO)
    u = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    status, _, body = request(srv, "GET", "/", host=urllib.parse.urlsplit(u).netloc)
    assert status == 403
    assert json.loads(body) == {"Message": "Forbidden"}
    lam.update_function_url_config(FunctionName=name, AuthType="NONE")
    status, _, body = request(srv, "GET", "/?mode=string", host=urllib.parse.urlsplit(u).netloc)
    assert (status, body) == (200, b'"Hello, world!"')


def test_alias_url_runs_the_alias_version(srv, lam):
    name = create_py(lam, "def handler(e, c):\n    return 'v1'\n", Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.update_function_code(FunctionName=name, ZipFile=_zip("def handler(e, c):\n    return 'latest'\n"))
    live = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    latest = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    deadline = time.time() + 20
    while True:
        got = request(srv, "GET", "/", host=urllib.parse.urlsplit(latest).netloc)[2]
        if got == b'"latest"' or time.time() > deadline:
            break
        time.sleep(0.2)
    assert got == b'"latest"'
    assert request(srv, "GET", "/", host=urllib.parse.urlsplit(live).netloc)[2] == b'"v1"'


def test_lambda_api_still_served_next_to_urls(srv, lam, url):
    name, _, _ = url
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def _zip(source):
    from invokeutil import make_zip

    return make_zip({"app.py": source})


def test_fastapi_behind_mangum(srv, lam):
    """An unchanged ASGI stack (FastAPI + Mangum, tests/fixtures/fastapi-mangum) reads the
    payload 2.0 event and answers through the URL: path and query parameters, a JSON
    body validated by pydantic, status codes, headers and cookies both ways."""
    from invokeutil import create, fixture_zip

    name = create(lam, fixture_zip("fastapi-mangum.zip"), handler="app.handler", timeout=30)
    u = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    host = urllib.parse.urlsplit(u).netloc
    status, _, body = request(srv, "GET", "/items/42?q=hello", host=host)
    assert status == 200, body
    assert json.loads(body) == {"item_id": 42, "q": "hello"}
    status, headers, body = request(srv, "POST", "/items", body=b'{"name": "pen", "price": 1.5}',
                                    headers=[("Content-Type", "application/json")], host=host)
    assert status == 201, body
    assert json.loads(body) == {"name": "pen", "price": 1.5}
    assert any(c.startswith("last=pen") for c in hdr(headers, "set-cookie")), headers
    status, _, body = request(srv, "POST", "/items", body=b'{"name": "pen"}',
                              headers=[("Content-Type", "application/json")], host=host)
    assert status == 422, body
    assert json.loads(body)["detail"][0]["loc"] == ["body", "price"]
    status, _, body = request(srv, "GET", "/whoami", headers=[("User-Agent", "probe/1"), ("Cookie", "session=abc")],
                              host=host)
    assert status == 200, body
    assert json.loads(body) == {"ua": "probe/1", "cookie": "abc"}
    status, _, body = request(srv, "GET", "/nowhere", host=host)
    assert status == 404 and json.loads(body) == {"detail": "Not Found"}


SLOW = r'''
import time

def handler(event, context):
    time.sleep(0.6)
    return {"statusCode": 200, "body": "done"}
'''


def test_callers_that_hang_up_mid_request_do_not_leak_environments(server_factory):
    """A client that closes its connection while the function runs must not cancel the
    invocation halfway: the environment goes back to the pool and its memory charge is
    returned. With a 512 MB budget and 128 MB functions, twelve hung-up requests that
    each leaked their charge would leave later requests throttled (429)."""
    import socket
    import threading

    srv = server_factory(extra_args=["--memory-budget-mb", "512"])
    lam = srv.client("lambda")
    name = create_py(lam, SLOW, memory=128)
    u = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    uid = urllib.parse.urlsplit(u).hostname.split(".")[0]
    hp = urllib.parse.urlsplit(srv.endpoint)
    for _ in range(3):
        socks = []
        for _ in range(4):
            s = socket.create_connection((hp.hostname, hp.port), timeout=10)
            s.sendall(f"GET /_url/{uid}/ HTTP/1.1\r\nHost: {hp.hostname}\r\n\r\n".encode())
            socks.append(s)
        time.sleep(0.2)  # the functions are running
        for s in socks:
            s.close()
        time.sleep(1.0)  # they finish; nobody reads the answers
    statuses = []

    def call():
        statuses.append(request(srv, "GET", f"/_url/{uid}/")[0])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4, statuses
