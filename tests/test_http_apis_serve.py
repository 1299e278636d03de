"""HTTP API requests through their routes to functions (docs/wire.md §22): set up with
boto3's apigatewayv2 client, called with http.client by path (`/_api/<id>/...`) and by
host (`<id>.execute-api.us-east-1.localhost`). Payload 2.0 and 1.0 events, the
precedence of routes, stage variables, 404 without a route, 502 for a failing function.
"""
import http.client
import json
import shutil
import tempfile
import urllib.parse

import pytest

from apiutil import fn_arn
from conftest import Server
from invokeutil import create_py

ECHO = b"""
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""
FAIL = b"def handler(event, context):\n    raise RuntimeError('boom')\n"


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


def request(srv, method, path, host=None, body=None):
    hp = urllib.parse.urlsplit(srv.endpoint)
    c = http.client.HTTPConnection(hp.hostname, hp.port, timeout=120)
    headers = {"Host": host or f"{hp.hostname}:{hp.port}"}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def integration(gw, api_id, name, version):
    return "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name), PayloadFormatVersion=version
    )["IntegrationId"]


def test_routes_events_and_failures(srv, lam, gw):
    echo = create_py(lam, ECHO)
    fail = create_py(lam, FAIL)
    api_id = gw.create_api(Name="serve", ProtocolType="HTTP")["ApiId"]
    v2 = integration(gw, api_id, echo, "2.0")
    v1 = integration(gw, api_id, echo, "1.0")
    bad = integration(gw, api_id, fail, "2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=v2)
    gw.create_route(ApiId=api_id, RouteKey="ANY /v1/{proxy+}", Target=v1)
    gw.create_route(ApiId=api_id, RouteKey="GET /items/special", Target=v2)
    gw.create_route(ApiId=api_id, RouteKey="POST /fail", Target=bad)

    # No stage yet: nothing is served.
    status, data = request(srv, "GET", f"/_api/{api_id}/items/7")
    assert (status, json.loads(data)) == (404, {"message": "Not Found"})
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, StageVariables={"env": "dflt"})

    status, data = request(srv, "GET", f"/_api/{api_id}/items/7?a=1&a=2")
    assert status == 200, data
    ev = json.loads(data)
    assert ev["version"] == "2.0" and ev["routeKey"] == "GET /items/{id}"
    assert ev["pathParameters"] == {"id": "7"}
    assert ev["stageVariables"] == {"env": "dflt"}
    assert ev["queryStringParameters"] == {"a": "1,2"}
    assert ev["requestContext"]["stage"] == "$default"

    # The literal route wins over the variable one whatever the creation order.
    status, data = request(srv, "GET", f"/_api/{api_id}/items/special")
    assert json.loads(data)["routeKey"] == "GET /items/special"

    # Payload 1.0 through the greedy route, addressed by host.
    hp = urllib.parse.urlsplit(srv.endpoint)
    host = f"{api_id}.execute-api.us-east-1.localhost:{hp.port}"
    status, data = request(srv, "PUT", "/v1/a/b?x=1&x=2", host=host, body=b"hello")
    assert status == 200, data
    ev = json.loads(data)
    assert ev["version"] == "1.0"
    assert ev["resource"] == "/v1/{proxy+}" and ev["httpMethod"] == "PUT"
    assert ev["pathParameters"] == {"proxy": "a/b"}
    assert ev["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert ev["queryStringParameters"] == {"x": "1"}
    assert ev["requestContext"]["resourcePath"] == "/v1/{proxy+}"
    assert ev["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert ev["body"] == "hello"

    # No route for the method and no $default route: 404.
    status, data = request(srv, "DELETE", f"/_api/{api_id}/items/7")
    assert (status, json.loads(data)) == (404, {"message": "Not Found"})
    # A failing function: 502.
    status, data = request(srv, "POST", f"/_api/{api_id}/fail")
    assert (status, json.loads(data)) == (502, {"message": "Internal Server Error"})
    # An unknown API: 404.
    status, data = request(srv, "GET", "/_api/zzzzzzzzzz/items/7")
    assert status == 404


def test_named_stage_and_too_large(srv, lam, gw):
    echo = create_py(lam, ECHO)
    api_id = gw.create_api(Name="staged", ProtocolType="HTTP")["ApiId"]
    t = integration(gw, api_id, echo, "2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /hello", Target=t)
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"env": "prod"})
    status, data = request(srv, "GET", f"/_api/{api_id}/prod/hello")
    assert status == 200, data
    ev = json.loads(data)
    assert ev["requestContext"]["stage"] == "prod" and ev["stageVariables"] == {"env": "prod"}
    assert ev["rawPath"] == "/prod/hello"
    # Without a $default stage, a path outside the named stage is not served.
    status, _ = request(srv, "GET", f"/_api/{api_id}/hello")
    assert status == 404
    status, data = request(srv, "POST", f"/_api/{api_id}/prod/hello", body=b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413


def test_integration_timeout_is_504(srv, lam, gw):
    slow = create_py(lam, b"import time\ndef handler(event, context):\n    time.sleep(3)\n    return 'late'\n")
    api_id = gw.create_api(Name="slow", ProtocolType="HTTP")["ApiId"]
    t = "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(slow),
        PayloadFormatVersion="2.0", TimeoutInMillis=500,
    )["IntegrationId"]
    gw.create_route(ApiId=api_id, RouteKey="$default", Target=t)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, data = request(srv, "GET", f"/_api/{api_id}/anything")
    assert (status, json.loads(data)) == (504, {"message": "Endpoint request timed out"})


# API Gateway's route precedence (HTTP API developer guide, "Routing API requests"):
# the most specific path wins (literal before {var} before {var+}), then the method's
# own route before ANY, then $default. (method, path, route expected, path parameters).
PRECEDENCE = [
    ("GET", "/pets", "GET /pets", None),
    ("POST", "/pets", "ANY /pets", None),
    ("GET", "/pets/7", "GET /pets/{id}", {"id": "7"}),
    ("GET", "/pets/dog", "GET /pets/dog", None),
    ("POST", "/pets/7", "POST /pets/{id}", {"id": "7"}),
    ("DELETE", "/pets/7", "ANY /pets/{proxy+}", {"proxy": "7"}),
    ("PATCH", "/pets/dog", "ANY /pets/{proxy+}", {"proxy": "dog"}),
    ("GET", "/pets/7/toys", "GET /pets/{id}/toys", {"id": "7"}),
    ("GET", "/pets/7/toys/1", "ANY /pets/{proxy+}", {"proxy": "7/toys/1"}),
    ("GET", "/", "GET /", None),
    ("POST", "/", "$default", None),
    ("GET", "/other/x", "ANY /{proxy+}", {"proxy": "other/x"}),
    ("GET", "/a/b/c", "GET /a/b/{c}", {"c": "c"}),
    ("GET", "/a/x/c", "GET /a/{b}/c", {"b": "x"}),
    ("GET", "/pets/dog%20s", "GET /pets/{id}", {"id": "dog s"}),
]


def test_route_precedence_table(srv, lam, gw):
    echo = create_py(lam, ECHO)
    api_id = gw.create_api(Name="precedence", ProtocolType="HTTP")["ApiId"]
    target = integration(gw, api_id, echo, "2.0")
    keys = sorted({want for _, _, want, _ in PRECEDENCE})
    # Created in reverse order: precedence does not depend on creation order.
    for k in reversed(keys):
        gw.create_route(ApiId=api_id, RouteKey=k, Target=target)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    got = []
    for method, path, _, _ in PRECEDENCE:
        status, data = request(srv, method, f"/_api/{api_id}{path}")
        assert status == 200, (method, path, data)
        ev = json.loads(data)
        got.append((method, path, ev["routeKey"], ev.get("pathParameters")))
    assert got == PRECEDENCE
