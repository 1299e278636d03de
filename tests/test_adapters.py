"""Real web-framework adapters behind function URLs and HTTP APIs (docs/wire.md §21, §22),
as users deploy them, unchanged: FastAPI behind Mangum, AWS Lambda Powertools for Python's
APIGatewayHttpResolver / APIGatewayRestResolver, and Express behind
@codegenie/serverless-express (tests/fixtures/, built by scripts/build-fixtures.sh).

Every fixture serves the same routes, so one contract drives each (adapter, front door)
pair through real HTTP (http.client): `GET /things/{id}` with repeated query keys, `GET /me`
reading a Cookie header and the User-Agent, `POST /things` with a JSON body answering 201
and two Set-Cookie headers, `GET /pixels` answering 256 bytes of image/png (base64 in the
function's answer, raw bytes on the wire), `POST /bytes` echoing a non-UTF-8 body reversed
(base64 in the event), and an unknown path answered 404 by the
framework's own router (the URL and the HTTP API's `$default` route forward every path).

The front doors: a function URL (payload 2.0), an HTTP API `$default` stage whose
`$default` route targets an AWS_PROXY integration with payloadFormatVersion 2.0 or 1.0.
Which adapter reads which format follows the frameworks' documentation: Mangum and
serverless-express detect the format from the event; Powertools' HTTP resolver reads 2.0
and its REST resolver reads 1.0 (API Gateway REST proxy events, which an HTTP API's 1.0
format reproduces).
"""
import http.client
import json
import os
import shutil
import tempfile
import urllib.parse

import pytest

from apiutil import fn_arn
from conftest import Server
from invokeutil import create, fixture_zip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

PIXELS = bytes(range(256))

# name -> (package, runtime, handler)
ADAPTERS = {
    "mangum": ("fastapi-mangum.zip", "python3.11", "app.handler"),
    "powertools-http": ("powertools.zip", "python3.11", "app.http_handler"),
    "powertools-rest": ("powertools.zip", "python3.11", "app.rest_handler"),
    "serverless-express": ("serverless-express.zip", "nodejs20.x", "index.handler"),
}

# (adapter, front door): "url" is a function URL, "api2"/"api1" an HTTP API integration
# of payload format 2.0 / 1.0.
CASES = [
    ("mangum", "url"),
    ("mangum", "api2"),
    ("mangum", "api1"),
    ("powertools-http", "url"),
    ("powertools-http", "api2"),
    ("powertools-rest", "api1"),
    ("serverless-express", "url"),
    ("serverless-express", "api2"),
    ("serverless-express", "api1"),
]


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
def gw(srv):
    return srv.client("apigatewayv2")


@pytest.fixture(scope="module")
def functions(lam):
    """One function per adapter, created on first use (each case reuses it warm)."""
    made = {}

    def get(adapter):
        if adapter not in made:
            package, runtime, handler = ADAPTERS[adapter]
            made[adapter] = create(lam, fixture_zip(package), runtime=runtime, handler=handler, timeout=30)
        return made[adapter]

    return get


def front_door(srv, lam, gw, name, front):
    """The Host header that reaches `name` through the given front door."""
    if front == "url":
        try:
            u = lam.get_function_url_config(FunctionName=name)["FunctionUrl"]
        except lam.exceptions.ResourceNotFoundException:
            u = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        return urllib.parse.urlsplit(u).netloc
    version = {"api2": "2.0", "api1": "1.0"}[front]
    api_id = gw.create_api(Name=f"{name}-{front}", ProtocolType="HTTP")["ApiId"]
    target = "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name), PayloadFormatVersion=version
    )["IntegrationId"]
    gw.create_route(ApiId=api_id, RouteKey="$default", Target=target)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    port = urllib.parse.urlsplit(srv.endpoint).port
    return f"{api_id}.execute-api.us-east-1.localhost:{port}"


def request(srv, host, method, path, body=None, headers=()):
    """One request by host; `headers` is a list of pairs. Returns (status, header pairs, body)."""
    hp = urllib.parse.urlsplit(srv.endpoint)
    c = http.client.HTTPConnection(hp.hostname, hp.port, timeout=60)
    try:
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", host)
        for k, v in headers:
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def hdr(headers, name):
    return [v for k, v in headers if k.lower() == name]


def cookie_names(headers):
    return sorted(v.split("=", 1)[0] for v in hdr(headers, "set-cookie"))


@pytest.mark.parametrize("adapter,front", CASES, ids=[f"{a}-{f}" for a, f in CASES])
def test_adapter_contract(srv, lam, gw, functions, adapter, front):
    host = front_door(srv, lam, gw, functions(adapter), front)

    # A path parameter and a repeated query key, in order.
    status, headers, body = request(srv, host, "GET", "/things/42?tag=a&tag=b%20c")
    assert status == 200, body
    assert json.loads(body) == {"id": "42", "tags": ["a", "b c"], "path": "/things/42"}
    assert hdr(headers, "content-type")[0].startswith("application/json")

    # The second route: request headers and cookies in.
    status, _, body = request(srv, host, "GET", "/me",
                              headers=[("User-Agent", "probe/1"), ("Cookie", "session=abc; theme=dark")])
    assert status == 200, body
    assert json.loads(body) == {"ua": "probe/1", "cookies": {"session": "abc", "theme": "dark"}}

    # A JSON body in, a status code and several Set-Cookie headers out.
    sent = {"name": "pen", "price": 1.5, "tags": ["x"]}
    status, headers, body = request(srv, host, "POST", "/things", body=json.dumps(sent).encode(),
                                    headers=[("Content-Type", "application/json")])
    assert status == 201, body
    assert json.loads(body) == {"created": sent}
    assert cookie_names(headers) == ["count", "last"], headers
    last = next(v for v in hdr(headers, "set-cookie") if v.startswith("last="))
    assert last.startswith("last=pen;") and "path=/" in last.lower(), last
    count = next(v for v in hdr(headers, "set-cookie") if v.startswith("count="))
    assert "httponly" in count.lower(), count

    # A binary answer: the adapter base64-encodes it, Quiver sends the bytes.
    status, headers, body = request(srv, host, "GET", "/pixels")
    assert status == 200
    assert hdr(headers, "content-type")[0].startswith("image/png")
    assert body == PIXELS, body[:64]

    # Binary bytes in (not valid UTF-8, so the event must carry them base64-encoded) and
    # back out.
    blob = bytes([0xFF, 0x00, 0xFE, 0x80]) + PIXELS
    status, headers, body = request(srv, host, "POST", "/bytes", body=blob,
                                    headers=[("Content-Type", "application/octet-stream")])
    assert status == 200, body
    assert body == blob[::-1]

    # A path no route of the framework knows: its own router answers 404.
    status, _, body = request(srv, host, "GET", "/nowhere")
    assert status == 404, body


@pytest.mark.parametrize("adapter", ["mangum", "serverless-express"])
def test_one_function_behind_url_and_both_payload_formats(srv, lam, gw, functions, adapter):
    """A format-detecting adapter answers the same request alike through all three doors,
    so Quiver's 2.0 and 1.0 events carry the same request."""
    name = functions(adapter)
    answers = []
    for front in ("url", "api2", "api1"):
        host = front_door(srv, lam, gw, name, front)
        status, _, body = request(srv, host, "GET", "/things/x-y?tag=1&tag=2&tag=1")
        assert status == 200, (front, body)
        answers.append(json.loads(body))
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0]["tags"] == ["1", "2", "1"]


@pytest.mark.parametrize("adapter,front,expected", [
    ("powertools-http", "url", {"tag": "a,b", "x-many": "1,2"}),
    ("powertools-http", "api2", {"tag": "a,b", "x-many": "1,2"}),
    ("powertools-rest", "api1", {"tag": "a", "x-many": "2"}),
])
def test_powertools_single_value_getters(srv, lam, gw, functions, adapter, front, expected):
    """`get_query_string_value` / `get_header_value` read the single-valued maps: payload
    2.0 joins repeats with commas, 1.0 keeps one value (AWS's 1.0 example: a repeated
    header's last value, a repeated query key's first) and lists all in its
    multiValue twins."""
    host = front_door(srv, lam, gw, functions(adapter), front)
    status, _, body = request(srv, host, "GET", "/single?tag=a&tag=b", headers=[("X-Many", "1"), ("X-Many", "2")])
    assert status == 200, body
    assert json.loads(body) == expected
