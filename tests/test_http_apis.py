"""HTTP APIs' control plane through boto3's apigatewayv2 client (docs/wire.md §22):
Create/Get/Delete Api(s) incl. quick create, Create/Get/Delete Route(s),
Create/Get Integration(s), Create/Get Stage(s), and their errors.

Operations, status codes and error codes are botocore's apigatewayv2 model
(2018-11-29: CreateApi 201, DeleteApi 204, NotFoundException 404, BadRequestException
400, ConflictException 409); members and defaults (RouteSelectionExpression
`$request.method $request.path`, ids of 10 lowercase alphanumerics) are the API
reference's.
"""
import re
import shutil
import tempfile

import botocore.exceptions
import pytest

from apiutil import ACCOUNT, assert_client_error, create, fn_arn, unique_name
from conftest import Server

ID_RE = re.compile(r"^[a-z0-9]{10}$")


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


def test_create_get_list_delete(gw):
    r = gw.create_api(Name="plain", ProtocolType="HTTP", Description="d")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id = r["ApiId"]
    assert ID_RE.match(api_id)
    assert r["Name"] == "plain" and r["ProtocolType"] == "HTTP" and r["Description"] == "d"
    assert r["RouteSelectionExpression"] == "$request.method $request.path"
    assert re.match(rf"^http://{api_id}\.execute-api\.us-east-1\.localhost:\d+$", r["ApiEndpoint"])
    got = gw.get_api(ApiId=api_id)
    assert got["ApiId"] == api_id and got["CreatedDate"] == r["CreatedDate"]
    assert api_id in [a["ApiId"] for a in gw.get_apis()["Items"]]
    assert gw.get_routes(ApiId=api_id)["Items"] == []
    assert gw.get_stages(ApiId=api_id)["Items"] == []
    d = gw.delete_api(ApiId=api_id)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert api_id not in [a["ApiId"] for a in gw.get_apis()["Items"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.get_api(ApiId=api_id)
    assert_client_error(e, "NotFoundException", 404, f"Invalid API identifier specified {ACCOUNT}:{api_id}")


def test_unknown_api_everywhere(gw):
    for call in (
        lambda: gw.get_api(ApiId="zzzzzzzzzz"),
        lambda: gw.delete_api(ApiId="zzzzzzzzzz"),
        lambda: gw.get_routes(ApiId="zzzzzzzzzz"),
        lambda: gw.create_route(ApiId="zzzzzzzzzz", RouteKey="GET /x"),
        lambda: gw.get_integrations(ApiId="not-an-id"),
        lambda: gw.create_stage(ApiId="zzzzzzzzzz", StageName="prod"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert_client_error(e, "NotFoundException", 404, "Invalid API identifier specified")


def test_bad_api_input(gw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_api(Name="w", ProtocolType="WEBSOCKET")
    assert_client_error(e, "BadRequestException", 400, "WebSocket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_api(Name="w", ProtocolType="HTTP", RouteKey="GET /x")
    assert_client_error(e, "BadRequestException", 400, "Target")


def test_quick_create(gw, lam):
    name, _ = create(lam)
    r = gw.create_api(Name="quick", ProtocolType="HTTP", Target=fn_arn(name), RouteKey="GET /items/{id}")
    api_id = r["ApiId"]
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert [x["RouteKey"] for x in routes] == ["GET /items/{id}"]
    ints = gw.get_integrations(ApiId=api_id)["Items"]
    assert len(ints) == 1
    assert ints[0]["IntegrationType"] == "AWS_PROXY"
    assert ints[0]["IntegrationUri"] == fn_arn(name)
    assert ints[0]["PayloadFormatVersion"] == "2.0"
    assert routes[0]["Target"] == "integrations/" + ints[0]["IntegrationId"]
    stages = gw.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    # Without RouteKey the quick-created route is $default.
    r2 = gw.create_api(Name="quick2", ProtocolType="HTTP", Target=fn_arn(name))
    assert [x["RouteKey"] for x in gw.get_routes(ApiId=r2["ApiId"])["Items"]] == ["$default"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_api(Name="q", ProtocolType="HTTP", Target=fn_arn(unique_name("ghost")))
    assert_client_error(e, "BadRequestException", 400, "does not exist")


def test_routes_integrations_stages(gw, lam):
    name, _ = create(lam)
    api_id = gw.create_api(Name="full", ProtocolType="HTTP")["ApiId"]
    i = gw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=fn_arn(name),
        PayloadFormatVersion="1.0",
        TimeoutInMillis=5000,
    )
    assert i["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert ID_RE.match(i["IntegrationId"]) and i["TimeoutInMillis"] == 5000
    target = "integrations/" + i["IntegrationId"]
    made = [
        gw.create_route(ApiId=api_id, RouteKey=k, Target=target)
        for k in ("GET /items/{id}", "ANY /{proxy+}", "$default")
    ]
    assert all(ID_RE.match(m["RouteId"]) for m in made)
    keys = sorted(x["RouteKey"] for x in gw.get_routes(ApiId=api_id)["Items"])
    assert keys == ["$default", "ANY /{proxy+}", "GET /items/{id}"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_route(ApiId=api_id, RouteKey="GET /items/{id}")
    assert_client_error(e, "ConflictException", 409, "GET /items/{id}")
    for bad in ("FETCH /x", "GET x", "GET /{proxy+}/more", "GET /a//b"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            gw.create_route(ApiId=api_id, RouteKey=bad)
        assert_client_error(e, "BadRequestException", 400, "Invalid route key")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_route(ApiId=api_id, RouteKey="GET /other", Target="integrations/zzzzzzzzzz")
    assert_client_error(e, "BadRequestException", 400, "Invalid target")

    gw.delete_route(ApiId=api_id, RouteId=made[0]["RouteId"])
    keys = sorted(x["RouteKey"] for x in gw.get_routes(ApiId=api_id)["Items"])
    assert keys == ["$default", "ANY /{proxy+}"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.delete_route(ApiId=api_id, RouteId=made[0]["RouteId"])
    assert_client_error(e, "NotFoundException", 404, "Invalid Route identifier specified")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(unique_name("ghost")),
            PayloadFormatVersion="2.0",
        )
    assert_client_error(e, "BadRequestException", 400, "does not exist")
    for kw in ({"PayloadFormatVersion": "3.0"}, {"PayloadFormatVersion": "2.0", "TimeoutInMillis": 30001}, {}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name), **kw)
        assert_client_error(e, "BadRequestException", 400)
    assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 1

    s = gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"env": "prod"})
    assert s["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert s["StageVariables"] == {"env": "prod"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_stage(ApiId=api_id, StageName="prod")
    assert_client_error(e, "ConflictException", 409, "prod")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.create_stage(ApiId=api_id, StageName="bad stage!")
    assert_client_error(e, "BadRequestException", 400, "stage name")
    assert [x["StageName"] for x in gw.get_stages(ApiId=api_id)["Items"]] == ["prod"]


def test_aws_cli(srv, lam):
    import json

    name, _ = create(lam)
    made = json.loads(srv.cli("apigatewayv2", "create-api", "--name", "cli", "--protocol-type", "HTTP").stdout)
    api_id = made["ApiId"]
    assert ID_RE.match(api_id)
    integ = json.loads(
        srv.cli(
            "apigatewayv2", "create-integration", "--api-id", api_id, "--integration-type", "AWS_PROXY",
            "--integration-uri", fn_arn(name), "--payload-format-version", "2.0",
        ).stdout
    )
    srv.cli(
        "apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "ANY /{proxy+}",
        "--target", "integrations/" + integ["IntegrationId"],
    )
    routes = json.loads(srv.cli("apigatewayv2", "get-routes", "--api-id", api_id).stdout)["Items"]
    assert [r["RouteKey"] for r in routes] == ["ANY /{proxy+}"]
    dup = srv.cli("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "ANY /{proxy+}", check=False)
    assert dup.returncode != 0 and b"ConflictException" in dup.stderr
    bad = srv.cli("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET nope", check=False)
    assert bad.returncode != 0 and b"BadRequestException" in bad.stderr
    srv.cli("apigatewayv2", "delete-api", "--api-id", api_id)
    gone = srv.cli("apigatewayv2", "get-api", "--api-id", api_id, check=False)
    assert gone.returncode != 0 and b"NotFoundException" in gone.stderr
