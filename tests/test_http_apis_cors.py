"""HTTP APIs served with CORS and deployments, over real HTTP (http.client) to
127.0.0.1 (docs/wire.md §22.5, §22.6).

CORS behaviour is API Gateway's HTTP API CORS documentation: with CORS configured,
preflight OPTIONS requests are answered by API Gateway itself even without an OPTIONS
route, the configured headers are added to the integration's answer, and CORS headers
the integration returns are ignored. Deployments: a stage without autoDeploy serves
the routes as of its deployment; an autoDeploy stage serves the current ones.
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

# Answers with CORS headers of its own (which API Gateway must drop) and its route key.
APP = b"""
import json
def handler(event, context):
    return {"statusCode": 200,
            "headers": {"access-control-allow-origin": "*", "access-control-max-age": "1",
                        "x-app": "yes", "content-type": "application/json"},
            "body": json.dumps({"routeKey": event["routeKey"], "method": event["requestContext"]["http"]["method"]})}
"""

CORS = {
    "AllowOrigins": ["https://app.example"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["content-type", "x-token"],
    "ExposeHeaders": ["x-app"],
    "MaxAge": 600,
    "AllowCredentials": True,
}


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
def app(lam):
    return create_py(lam, APP)


def request(srv, method, path, headers=None):
    hp = urllib.parse.urlsplit(srv.endpoint)
    c = http.client.HTTPConnection(hp.hostname, hp.port, timeout=120)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def api_with_routes(gw, app, keys, cors=None, stage_auto=True):
    kw = {"CorsConfiguration": cors} if cors else {}
    api_id = gw.create_api(Name="cors", ProtocolType="HTTP", **kw)["ApiId"]
    target = "integrations/" + gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(app), PayloadFormatVersion="2.0"
    )["IntegrationId"]
    for k in keys:
        gw.create_route(ApiId=api_id, RouteKey=k, Target=target)
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=stage_auto)
    return api_id, target


def test_preflight_allowed_and_refused(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["ANY /items"], cors=CORS)
    ok = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type"}
    status, h, body = request(srv, "OPTIONS", f"/_api/{api_id}/items", ok)
    # Answered by the gateway: no invocation (the function would have set x-app).
    assert (status, body) == (204, b"")
    assert "x-app" not in h and "apigw-requestid" not in h
    assert h["access-control-allow-origin"] == "https://app.example"
    assert h["access-control-allow-methods"] == "GET,POST"
    assert h["access-control-allow-headers"] == "content-type,x-token"
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-max-age"] == "600"
    # Also for a path no route has: API Gateway answers preflights itself.
    status, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/nowhere", ok)
    assert status == 204 and h["access-control-allow-origin"] == "https://app.example"
    # A refused origin or method gets no CORS headers, so the browser stops there.
    for hdrs in ({**ok, "Origin": "https://evil.example"}, {**ok, "Access-Control-Request-Method": "DELETE"}):
        status, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/items", hdrs)
        assert status == 204
        assert not [k for k in h if k.startswith("access-control-")], h
    # OPTIONS without Access-Control-Request-Method is an ordinary request (ANY route).
    status, h, body = request(srv, "OPTIONS", f"/_api/{api_id}/items", {"Origin": "https://app.example"})
    assert status == 200 and json.loads(body)["method"] == "OPTIONS"


def test_simple_cors_on_get_replaces_the_functions_headers(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["GET /items"], cors=CORS)
    status, h, body = request(srv, "GET", f"/_api/{api_id}/items", {"Origin": "https://app.example"})
    assert status == 200 and json.loads(body)["routeKey"] == "GET /items"
    assert h["x-app"] == "yes"
    assert h["access-control-allow-origin"] == "https://app.example"
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-expose-headers"] == "x-app"
    # The function's own max-age (a CORS header) is ignored.
    assert "access-control-max-age" not in h
    # Another origin: the configured headers are not added and the function's are dropped.
    status, h, _ = request(srv, "GET", f"/_api/{api_id}/items", {"Origin": "https://evil.example"})
    assert status == 200 and not [k for k in h if k.startswith("access-control-")], h
    # Without an Origin header, likewise none.
    status, h, _ = request(srv, "GET", f"/_api/{api_id}/items")
    assert status == 200 and not [k for k in h if k.startswith("access-control-")]


def test_without_cors_the_function_answers_everything(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["ANY /items"])
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    status, h, body = request(srv, "OPTIONS", f"/_api/{api_id}/items", pre)
    assert status == 200 and json.loads(body)["method"] == "OPTIONS"
    assert h["access-control-allow-origin"] == "*"
    # CORS configured later, then removed again.
    gw.update_api(ApiId=api_id, CorsConfiguration=CORS)
    status, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/items", pre)
    assert status == 204 and h["access-control-allow-origin"] == "https://app.example"
    gw.delete_cors_configuration(ApiId=api_id)
    status, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/items", pre)
    assert status == 200 and h["access-control-allow-origin"] == "*"


def test_explicit_options_route_takes_the_preflight(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["OPTIONS /items", "GET /items"], cors=CORS)
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    status, h, body = request(srv, "OPTIONS", f"/_api/{api_id}/items", pre)
    assert status == 200 and json.loads(body)["routeKey"] == "OPTIONS /items"
    assert h["access-control-allow-origin"] == "https://app.example"
    # Other paths are still answered by the gateway.
    status, _, _ = request(srv, "OPTIONS", f"/_api/{api_id}/other", pre)
    assert status == 204


def test_disabled_endpoint_is_forbidden(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["GET /items"])
    assert request(srv, "GET", f"/_api/{api_id}/items")[0] == 200
    gw.update_api(ApiId=api_id, DisableExecuteApiEndpoint=True)
    status, _, body = request(srv, "GET", f"/_api/{api_id}/items")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_pinned_stage_serves_its_deployment(srv, gw, app):
    api_id, target = api_with_routes(gw, app, ["GET /old"])
    gw.create_stage(ApiId=api_id, StageName="pinned")
    gw.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    # Nothing deployed to the pinned stage yet.
    assert request(srv, "GET", f"/_api/{api_id}/pinned/old")[0] == 404
    first = gw.create_deployment(ApiId=api_id, StageName="pinned")["DeploymentId"]
    assert request(srv, "GET", f"/_api/{api_id}/pinned/old")[0] == 200

    gw.create_route(ApiId=api_id, RouteKey="GET /new", Target=target)
    # The pinned stage keeps its snapshot; the autoDeploy stage sees the new route now.
    assert request(srv, "GET", f"/_api/{api_id}/pinned/new")[0] == 404
    assert request(srv, "GET", f"/_api/{api_id}/pinned/old")[0] == 200
    status, _, body = request(srv, "GET", f"/_api/{api_id}/live/new")
    assert status == 200 and json.loads(body)["routeKey"] == "GET /new"

    second = gw.create_deployment(ApiId=api_id, StageName="pinned")["DeploymentId"]
    status, _, body = request(srv, "GET", f"/_api/{api_id}/pinned/new")
    assert status == 200 and json.loads(body)["routeKey"] == "GET /new"
    # Switching back to the first deployment serves the old routes again.
    gw.update_stage(ApiId=api_id, StageName="pinned", DeploymentId=first)
    assert request(srv, "GET", f"/_api/{api_id}/pinned/new")[0] == 404
    gw.update_stage(ApiId=api_id, StageName="pinned", DeploymentId=second)
    assert request(srv, "GET", f"/_api/{api_id}/pinned/new")[0] == 200
    # Turning autoDeploy on makes the stage serve the current routes.
    gw.create_route(ApiId=api_id, RouteKey="GET /newer", Target=target)
    assert request(srv, "GET", f"/_api/{api_id}/pinned/newer")[0] == 404
    gw.update_stage(ApiId=api_id, StageName="pinned", AutoDeploy=True)
    assert request(srv, "GET", f"/_api/{api_id}/pinned/newer")[0] == 200


def test_deployment_keeps_its_cors_settings(srv, gw, app):
    api_id, _ = api_with_routes(gw, app, ["GET /items"], cors=CORS)
    gw.create_stage(ApiId=api_id, StageName="pinned")
    gw.create_deployment(ApiId=api_id, StageName="pinned")
    gw.update_api(ApiId=api_id, CorsConfiguration={**CORS, "AllowOrigins": ["https://new.example"]})
    pre = {"Access-Control-Request-Method": "GET"}
    # The pinned stage answers with the CORS settings it was deployed with...
    _, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/pinned/items", {**pre, "Origin": "https://app.example"})
    assert h.get("access-control-allow-origin") == "https://app.example"
    _, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/pinned/items", {**pre, "Origin": "https://new.example"})
    assert "access-control-allow-origin" not in h
    # ...the autoDeploy $default stage with the current ones.
    _, h, _ = request(srv, "OPTIONS", f"/_api/{api_id}/items", {**pre, "Origin": "https://new.example"})
    assert h.get("access-control-allow-origin") == "https://new.example"
