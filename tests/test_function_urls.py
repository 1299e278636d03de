"""Function URL configs through boto3 (docs/wire.md §21): Create/Get/Update/Delete/
ListFunctionUrlConfig(s) under /2021-10-31/functions/{FunctionName}/url(s).

Expected shapes and constraints are botocore's model (CreateFunctionUrlConfigRequest:
AuthType required, NONE | AWS_IAM; Qualifier `((?!^\\d+$)^[0-9a-zA-Z-_]+$)`, so an
alias or nothing; Cors AllowMethods at most 6, MaxAge 0-86400; MaxItems 1-50) and the
API reference (AllowMethods values GET | PUT | HEAD | POST | PATCH | DELETE | *).
"""
import re
import shutil
import tempfile

import botocore.exceptions
import pytest

from apiutil import assert_client_error, create, fn_arn, unique_name
from conftest import Server

URL_RE = re.compile(r"^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")


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


def test_create_get_update_list_delete(lam, srv):
    name, _ = create(lam)
    cors = {"AllowOrigins": ["https://www.example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 300}
    r = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors=cors)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    m = URL_RE.match(r["FunctionUrl"])
    assert m, r["FunctionUrl"]
    assert int(m.group(2)) == int(srv.endpoint.rsplit(":", 1)[1])
    assert r["FunctionArn"] == fn_arn(name)
    assert r["AuthType"] == "NONE"
    assert r["InvokeMode"] == "BUFFERED"
    assert r["Cors"] == cors
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", r["CreationTime"])

    g = lam.get_function_url_config(FunctionName=name)
    for k in ("FunctionUrl", "FunctionArn", "AuthType", "Cors", "CreationTime", "InvokeMode"):
        assert g[k] == r[k], k
    assert g["LastModifiedTime"] >= g["CreationTime"]

    u = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert u["AuthType"] == "AWS_IAM"
    assert u["Cors"] == cors, "members not given stay"
    assert u["FunctionUrl"] == r["FunctionUrl"], "the URL never changes"
    u = lam.update_function_url_config(FunctionName=name, Cors={"AllowOrigins": ["*"]})
    assert u["Cors"] == {"AllowOrigins": ["*"]}
    assert u["AuthType"] == "AWS_IAM"

    lst = lam.list_function_url_configs(FunctionName=name)
    assert [c["FunctionUrl"] for c in lst["FunctionUrlConfigs"]] == [r["FunctionUrl"]]
    assert "NextMarker" not in lst

    d = lam.delete_function_url_config(FunctionName=name)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_url_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.delete_function_url_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def test_duplicate_is_a_conflict(lam):
    name, _ = create(lam)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert_client_error(e, "ResourceConflictException", 409, "FunctionUrlConfig exists for this Lambda function")


def test_unknown_function(lam):
    ghost = unique_name("ghost")
    for call in (
        lambda: lam.create_function_url_config(FunctionName=ghost, AuthType="NONE"),
        lambda: lam.get_function_url_config(FunctionName=ghost),
        lambda: lam.update_function_url_config(FunctionName=ghost, AuthType="NONE"),
        lambda: lam.delete_function_url_config(FunctionName=ghost),
        lambda: lam.list_function_url_configs(FunctionName=ghost),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert_client_error(e, "ResourceNotFoundException", 404, f"Function not found: {fn_arn(ghost)}")


def test_alias_qualifier_and_bad_qualifiers(lam):
    name, _ = create(lam, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
    assert_client_error(e, "ResourceNotFoundException", 404, fn_arn(name, "nope"))
    for bad in ("1", "$LATEST"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.create_function_url_config(FunctionName=name, Qualifier=bad, AuthType="NONE")
        assert_client_error(e, "ValidationException", 400, "qualifier")

    a = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert a["FunctionArn"] == fn_arn(name, "live")
    b = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert a["FunctionUrl"] != b["FunctionUrl"]
    assert lam.get_function_url_config(FunctionName=f"{name}:live")["FunctionUrl"] == a["FunctionUrl"]

    # Pagination: the unqualified config first, then the alias's.
    p1 = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
    assert [c["FunctionUrl"] for c in p1["FunctionUrlConfigs"]] == [b["FunctionUrl"]]
    p2 = lam.list_function_url_configs(FunctionName=name, MaxItems=1, Marker=p1["NextMarker"])
    assert [c["FunctionUrl"] for c in p2["FunctionUrlConfigs"]] == [a["FunctionUrl"]]
    assert "NextMarker" not in p2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_function_url_configs(FunctionName=name, MaxItems=51)
    assert_client_error(e, "ValidationException", 400, "maxItems")

    # Deleting the alias removes its URL; deleting the function removes the rest.
    lam.delete_alias(FunctionName=name, Name="live")
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]] == [
        b["FunctionUrl"]
    ]
    lam.delete_function(FunctionName=name)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                        Handler="app.handler", Code={"ZipFile": _zip()})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_url_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404, "The resource you requested does not exist.")


def _zip():
    from apiutil import make_zip

    return make_zip()


@pytest.mark.parametrize(
    "kwargs,code,needle",
    [
        ({"AuthType": "OPEN"}, "ValidationException", "Member must satisfy enum value set: [NONE, AWS_IAM]"),
        ({"AuthType": "NONE", "Cors": {"MaxAge": 86401}}, "ValidationException", "cors.maxAge"),
        ({"AuthType": "NONE", "Cors": {"AllowMethods": ["FETCH"]}}, "ValidationException", "cors.allowMethods.member"),
        (
            {"AuthType": "NONE", "Cors": {"AllowMethods": ["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"]}},
            "ValidationException",
            "Member must have length less than or equal to 6",
        ),
        ({"AuthType": "NONE", "Cors": {"AllowOrigins": ["x" * 254]}}, "ValidationException", "cors.allowOrigins.member"),
        ({"AuthType": "NONE", "InvokeMode": "FAST"}, "ValidationException", "invokeMode"),
    ],
)
def test_bad_values(lam, kwargs, code, needle):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName=name, **kwargs)
    assert_client_error(e, code, 400, needle)
    # Nothing was written.
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
