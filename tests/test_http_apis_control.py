"""The rest of the HTTP API control plane through boto3's apigatewayv2 client and the
AWS CLI (docs/wire.md §22.0, §22.5, §22.6): UpdateApi, Get/UpdateRoute,
Get/Update/DeleteIntegration, Get/Update/DeleteStage, deployments, tags, pagination.

Operations, status codes and members are botocore's apigatewayv2 model (2018-11-29:
UpdateApi 200, TagResource 201, UntagResource 204, CreateDeployment 201,
DeleteDeployment 204); the refusal of DeleteIntegration while a route targets it is
API Gateway's ConflictException "Cannot delete Integration because it is referenced by
the following Routes with Ids: [...]"; credentials with a `*` origin are refused with
"allow-credentials is not supported if 'allow-origin' is *".
"""
import json
import shutil
import tempfile

import botocore.exceptions
import pytest

from apiutil import ACCOUNT, assert_client_error, create, fn_arn
from conftest import Server


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


def refused(call, code, status, message=None):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert_client_error(e, code, status, message)


def api_arn(api_id):
    return f"arn:aws:apigateway:us-east-1::/apis/{api_id}"


def test_update_api_and_cors(gw):
    api_id = gw.create_api(Name="before", ProtocolType="HTTP")["ApiId"]
    u = gw.update_api(
        ApiId=api_id, Name="after", Description="new", DisableExecuteApiEndpoint=True,
        CorsConfiguration={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 300},
    )
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (u["Name"], u["Description"], u["DisableExecuteApiEndpoint"]) == ("after", "new", True)
    assert u["CorsConfiguration"] == {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 300}
    got = gw.get_api(ApiId=api_id)
    assert got["Name"] == "after" and got["CorsConfiguration"]["MaxAge"] == 300
    # Members not given stay as they were.
    assert gw.update_api(ApiId=api_id, Description="again")["Name"] == "after"
    gw.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in gw.get_api(ApiId=api_id)

    refused(lambda: gw.update_api(ApiId=api_id, Name=""), "BadRequestException", 400, "name")
    refused(lambda: gw.update_api(ApiId=api_id, RouteSelectionExpression="$request.body.action"),
            "BadRequestException", 400, "route selection expression")
    refused(lambda: gw.update_api(ApiId=api_id, CorsConfiguration={"MaxAge": 86401}),
            "BadRequestException", 400, "maxAge")
    refused(lambda: gw.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True}),
            "BadRequestException", 400, "allow-credentials is not supported if 'allow-origin' is *")
    refused(lambda: gw.update_api(ApiId="zzzzzzzzzz", Name="x"), "NotFoundException", 404,
            f"Invalid API identifier specified {ACCOUNT}:zzzzzzzzzz")
    # A refused update writes nothing.
    assert gw.get_api(ApiId=api_id)["Description"] == "again"
    refused(lambda: gw.create_api(Name="c", ProtocolType="HTTP",
                                  CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True}),
            "BadRequestException", 400, "allow-credentials")


def test_routes_get_update(gw, lam):
    name, _ = create(lam)
    api_id = gw.create_api(Name="routes", ProtocolType="HTTP")["ApiId"]
    i1 = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name),
                               PayloadFormatVersion="2.0")["IntegrationId"]
    i2 = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name),
                               PayloadFormatVersion="1.0")["IntegrationId"]
    a = gw.create_route(ApiId=api_id, RouteKey="GET /a", Target=f"integrations/{i1}")["RouteId"]
    gw.create_route(ApiId=api_id, RouteKey="GET /b")
    got = gw.get_route(ApiId=api_id, RouteId=a)
    assert (got["RouteKey"], got["Target"]) == ("GET /a", f"integrations/{i1}")
    u = gw.update_route(ApiId=api_id, RouteId=a, RouteKey="POST /a/{id}", Target=f"integrations/{i2}")
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (u["RouteId"], u["RouteKey"], u["Target"]) == (a, "POST /a/{id}", f"integrations/{i2}")
    assert gw.get_route(ApiId=api_id, RouteId=a)["RouteKey"] == "POST /a/{id}"
    # Its own key again is no conflict; another route's key is.
    gw.update_route(ApiId=api_id, RouteId=a, RouteKey="POST /a/{id}")
    refused(lambda: gw.update_route(ApiId=api_id, RouteId=a, RouteKey="GET /b"),
            "ConflictException", 409, "Route with key GET /b already exists for this API")
    refused(lambda: gw.update_route(ApiId=api_id, RouteId=a, RouteKey="GET nope"),
            "BadRequestException", 400, "Invalid route key")
    refused(lambda: gw.update_route(ApiId=api_id, RouteId=a, Target="integrations/zzzzzzzzzz"),
            "BadRequestException", 400, "Invalid target specified")
    refused(lambda: gw.get_route(ApiId=api_id, RouteId="zzzzzzzzzz"),
            "NotFoundException", 404, "Invalid Route identifier specified")
    refused(lambda: gw.update_route(ApiId=api_id, RouteId="zzzzzzzzzz", RouteKey="GET /c"),
            "NotFoundException", 404, "Invalid Route identifier specified")
    assert gw.get_route(ApiId=api_id, RouteId=a)["Target"] == f"integrations/{i2}"


def test_integrations_get_update_delete(gw, lam):
    name, _ = create(lam)
    other, _ = create(lam)
    api_id = gw.create_api(Name="ints", ProtocolType="HTTP")["ApiId"]
    i = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name),
                              PayloadFormatVersion="2.0")["IntegrationId"]
    assert gw.get_integration(ApiId=api_id, IntegrationId=i)["IntegrationUri"] == fn_arn(name)
    u = gw.update_integration(ApiId=api_id, IntegrationId=i, IntegrationUri=fn_arn(other),
                              PayloadFormatVersion="1.0", TimeoutInMillis=1000)
    assert (u["IntegrationUri"], u["PayloadFormatVersion"], u["TimeoutInMillis"]) == (fn_arn(other), "1.0", 1000)
    assert gw.get_integration(ApiId=api_id, IntegrationId=i)["TimeoutInMillis"] == 1000
    refused(lambda: gw.update_integration(ApiId=api_id, IntegrationId=i, TimeoutInMillis=30001),
            "BadRequestException", 400, "timeout")
    refused(lambda: gw.update_integration(ApiId=api_id, IntegrationId=i, IntegrationUri=fn_arn("ghost-fn-x")),
            "BadRequestException", 400, "does not exist")
    refused(lambda: gw.update_integration(ApiId=api_id, IntegrationId=i, IntegrationType="HTTP_PROXY"),
            "BadRequestException", 400, "AWS_PROXY")
    refused(lambda: gw.get_integration(ApiId=api_id, IntegrationId="zzzzzzzzzz"),
            "NotFoundException", 404, "Invalid Integration identifier specified")

    r = gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{i}")["RouteId"]
    refused(lambda: gw.delete_integration(ApiId=api_id, IntegrationId=i), "ConflictException", 409,
            f"Cannot delete Integration because it is referenced by the following Routes with Ids: [{r}]")
    gw.delete_route(ApiId=api_id, RouteId=r)
    d = gw.delete_integration(ApiId=api_id, IntegrationId=i)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert gw.get_integrations(ApiId=api_id)["Items"] == []
    refused(lambda: gw.delete_integration(ApiId=api_id, IntegrationId=i),
            "NotFoundException", 404, "Invalid Integration identifier specified")


def test_stages_and_deployments(gw):
    api_id = gw.create_api(Name="stages", ProtocolType="HTTP")["ApiId"]
    gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"a": "1"})
    refused(lambda: gw.create_deployment(ApiId=api_id, StageName="prod"), "BadRequestException", 400,
            "Unable to deploy API because no routes exist in this API")
    assert gw.get_deployments(ApiId=api_id)["Items"] == []
    gw.create_route(ApiId=api_id, RouteKey="GET /x")
    s = gw.get_stage(ApiId=api_id, StageName="prod")
    assert (s["StageName"], s["AutoDeploy"], s["StageVariables"]) == ("prod", False, {"a": "1"})
    assert "DeploymentId" not in s
    d1 = gw.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert d1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (d1["DeploymentStatus"], d1["AutoDeployed"], d1["Description"]) == ("DEPLOYED", False, "first")
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == d1["DeploymentId"]
    d2 = gw.create_deployment(ApiId=api_id)
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == d1["DeploymentId"]
    assert gw.get_deployment(ApiId=api_id, DeploymentId=d2["DeploymentId"])["DeploymentStatus"] == "DEPLOYED"
    assert sorted(x["DeploymentId"] for x in gw.get_deployments(ApiId=api_id)["Items"]) == sorted(
        [d1["DeploymentId"], d2["DeploymentId"]])
    assert gw.update_deployment(ApiId=api_id, DeploymentId=d2["DeploymentId"], Description="2nd")["Description"] == "2nd"

    u = gw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=d2["DeploymentId"],
                        Description="live", StageVariables={"b": "2"})
    assert (u["DeploymentId"], u["Description"], u["StageVariables"]) == (d2["DeploymentId"], "live", {"b": "2"})
    # The deployment a stage serves cannot go; one no stage serves can.
    refused(lambda: gw.delete_deployment(ApiId=api_id, DeploymentId=d2["DeploymentId"]),
            "BadRequestException", 400, "Active stages pointing to this deployment must be moved or deleted")
    assert gw.delete_deployment(ApiId=api_id, DeploymentId=d1["DeploymentId"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    refused(lambda: gw.get_deployment(ApiId=api_id, DeploymentId=d1["DeploymentId"]),
            "NotFoundException", 404, "Invalid Deployment identifier specified")
    refused(lambda: gw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=d1["DeploymentId"]),
            "NotFoundException", 404, "Invalid Deployment identifier specified")
    refused(lambda: gw.create_deployment(ApiId=api_id, StageName="nope"),
            "NotFoundException", 404, "Invalid stage identifier specified")
    gw.create_stage(ApiId=api_id, StageName="auto", AutoDeploy=True)
    refused(lambda: gw.create_deployment(ApiId=api_id, StageName="auto"), "BadRequestException", 400, "auto deploy")
    refused(lambda: gw.get_stage(ApiId=api_id, StageName="nope"),
            "NotFoundException", 404, "Invalid stage identifier specified")
    refused(lambda: gw.update_stage(ApiId=api_id, StageName="nope", AutoDeploy=True),
            "NotFoundException", 404, "Invalid stage identifier specified")
    assert gw.delete_stage(ApiId=api_id, StageName="prod")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [x["StageName"] for x in gw.get_stages(ApiId=api_id)["Items"]] == ["auto"]
    refused(lambda: gw.delete_stage(ApiId=api_id, StageName="prod"),
            "NotFoundException", 404, "Invalid stage identifier specified")
    # With no stage left on it, the deployment can go.
    gw.delete_deployment(ApiId=api_id, DeploymentId=d2["DeploymentId"])
    assert gw.get_deployments(ApiId=api_id)["Items"] == []


def test_default_stage_by_name(gw, lam):
    name, _ = create(lam)
    api_id = gw.create_api(Name="quick", ProtocolType="HTTP", Target=fn_arn(name))["ApiId"]
    assert gw.get_stage(ApiId=api_id, StageName="$default")["AutoDeploy"] is True
    u = gw.update_stage(ApiId=api_id, StageName="$default", StageVariables={"v": "1"})
    assert u["StageVariables"] == {"v": "1"}


def test_tags(gw):
    api_id = gw.create_api(Name="tags", ProtocolType="HTTP", Tags={"team": "a"})["ApiId"]
    assert gw.get_api(ApiId=api_id)["Tags"] == {"team": "a"}
    t = gw.tag_resource(ResourceArn=api_arn(api_id), Tags={"env": "prod", "team": "b"})
    assert t["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert gw.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"env": "prod", "team": "b"}
    u = gw.untag_resource(ResourceArn=api_arn(api_id), TagKeys=["team", "absent"])
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert gw.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"env": "prod"}
    assert gw.get_api(ApiId=api_id)["Tags"] == {"env": "prod"}
    refused(lambda: gw.get_tags(ResourceArn=api_arn("zzzzzzzzzz")), "NotFoundException", 404,
            "Invalid API identifier specified")
    refused(lambda: gw.tag_resource(ResourceArn="not-an-arn", Tags={"a": "b"}), "BadRequestException", 400,
            "Invalid resource ARN")
    refused(lambda: gw.tag_resource(ResourceArn=api_arn(api_id), Tags={"k" * 129: "v"}),
            "BadRequestException", 400, "tag key")
    too_many = {f"k{i}": "v" for i in range(50)}
    refused(lambda: gw.tag_resource(ResourceArn=api_arn(api_id), Tags=too_many), "BadRequestException", 400,
            "Too many tags")
    assert gw.get_tags(ResourceArn=api_arn(api_id))["Tags"] == {"env": "prod"}


def test_pagination(gw, lam):
    name, _ = create(lam)
    api_id = gw.create_api(Name="pages", ProtocolType="HTTP")["ApiId"]
    keys = [f"GET /p{i}" for i in range(7)]
    for k in keys:
        gw.create_route(ApiId=api_id, RouteKey=k)
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        r = gw.get_routes(ApiId=api_id, MaxResults="3", **kw)
        assert len(r["Items"]) <= 3
        seen += [x["RouteKey"] for x in r["Items"]]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(keys) and len(seen) == 7
    # boto3's paginator walks the same tokens.
    got = [x["RouteKey"] for p in gw.get_paginator("get_routes").paginate(
        ApiId=api_id, PaginationConfig={"PageSize": 2}) for x in p["Items"]]
    assert sorted(got) == sorted(keys)
    for _ in range(3):
        gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=fn_arn(name),
                              PayloadFormatVersion="2.0")
    first = gw.get_integrations(ApiId=api_id, MaxResults="2")
    rest = gw.get_integrations(ApiId=api_id, MaxResults="2", NextToken=first["NextToken"])
    assert len(first["Items"]) == 2 and len(rest["Items"]) == 1 and "NextToken" not in rest
    ids = {x["IntegrationId"] for x in first["Items"] + rest["Items"]}
    assert len(ids) == 3
    apis = gw.get_apis(MaxResults="1")
    assert len(apis["Items"]) == 1 and apis["NextToken"]
    refused(lambda: gw.get_routes(ApiId=api_id, MaxResults="0"), "BadRequestException", 400, "maxResults")
    refused(lambda: gw.get_routes(ApiId=api_id, NextToken="%%%"), "BadRequestException", 400, "pagination token")


def test_cli_control_plane(srv, lam):
    name, _ = create(lam)

    def cli(*args, check=True):
        return srv.cli("apigatewayv2", *args, check=check)

    api_id = json.loads(cli("create-api", "--name", "cli2", "--protocol-type", "HTTP",
                            "--tags", "team=web").stdout)["ApiId"]
    upd = json.loads(cli("update-api", "--api-id", api_id, "--name", "renamed",
                         "--cors-configuration", "AllowOrigins=https://a.example,AllowMethods=GET").stdout)
    assert upd["Name"] == "renamed" and upd["CorsConfiguration"]["AllowOrigins"] == ["https://a.example"]
    integ = json.loads(cli("create-integration", "--api-id", api_id, "--integration-type", "AWS_PROXY",
                           "--integration-uri", fn_arn(name), "--payload-format-version", "2.0").stdout)
    route = json.loads(cli("create-route", "--api-id", api_id, "--route-key", "GET /a",
                           "--target", "integrations/" + integ["IntegrationId"]).stdout)
    got = json.loads(cli("update-route", "--api-id", api_id, "--route-id", route["RouteId"],
                         "--route-key", "GET /b").stdout)
    assert got["RouteKey"] == "GET /b"
    busy = cli("delete-integration", "--api-id", api_id, "--integration-id", integ["IntegrationId"], check=False)
    assert busy.returncode != 0 and b"ConflictException" in busy.stderr
    cli("create-stage", "--api-id", api_id, "--stage-name", "prod")
    dep = json.loads(cli("create-deployment", "--api-id", api_id, "--stage-name", "prod").stdout)
    stage = json.loads(cli("get-stage", "--api-id", api_id, "--stage-name", "prod").stdout)
    assert stage["DeploymentId"] == dep["DeploymentId"]
    tags = json.loads(cli("get-tags", "--resource-arn", api_arn(api_id)).stdout)["Tags"]
    assert tags == {"team": "web"}
    gone = cli("get-stage", "--api-id", api_id, "--stage-name", "nope", check=False)
    assert gone.returncode != 0 and b"NotFoundException" in gone.stderr
