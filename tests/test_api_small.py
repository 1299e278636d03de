"""The small APIs deploy tools call (docs/wire.md §14): Put/GetFunctionRecursionConfig,
and code signing configs with their attachment to functions (stored and reported only:
nothing here verifies a signature)."""
import json
import re

import botocore.exceptions
import pytest

from apiutil import (
    ACCOUNT,
    assert_client_error,
    create,
    fn_arn,
    not_found_message,
    raw_request,
    unvalidated_client,
)

UNQUALIFIED_ONLY = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN."
)


def test_recursion_config_defaults_to_terminate_and_round_trips(lam):
    name, _ = create(lam)
    other, _ = create(lam)
    got = lam.get_function_recursion_config(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["RecursiveLoop"] == "Terminate"
    put = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    # Per function, and reachable by ARN as well as by name.
    assert lam.get_function_recursion_config(FunctionName=other)["RecursiveLoop"] == "Terminate"
    assert lam.get_function_recursion_config(FunctionName=fn_arn(name))["RecursiveLoop"] == "Allow"
    lam.put_function_recursion_config(FunctionName=fn_arn(name), RecursiveLoop="Terminate")
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_recursion_config_is_dropped_with_the_function(lam):
    name, _ = create(lam)
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    lam.delete_function(FunctionName=name)
    create(lam, name=name)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_recursion_config_unknown_function(lam):
    for call, kw in ((lam.get_function_recursion_config, {}),
                     (lam.put_function_recursion_config, {"RecursiveLoop": "Allow"})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(FunctionName="nope-recursion", **kw)
        assert_client_error(e, "ResourceNotFoundException", 404)
        assert e.value.response["Error"]["Message"] == not_found_message("nope-recursion")


def test_recursion_config_refuses_qualified_names(lam):
    name, _ = create(lam, Publish=True)
    for qualified in (f"{name}:1", fn_arn(name, "$LATEST"), f"{name}:prod"):
        for call, kw in ((lam.get_function_recursion_config, {}),
                         (lam.put_function_recursion_config, {"RecursiveLoop": "Allow"})):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(FunctionName=qualified, **kw)
            assert_client_error(e, "InvalidParameterValueException", 400)
            assert e.value.response["Error"]["Message"] == UNQUALIFIED_ONLY
    # Nothing was written through a qualified name.
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_recursion_config_bad_enum_and_missing_member(server, lam):
    name, _ = create(lam)
    nv = unvalidated_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.put_function_recursion_config(FunctionName=name, RecursiveLoop="allow")
    assert_client_error(e, "ValidationException", 400)
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'allow' at 'recursiveLoop' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Allow, Terminate]"
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.put_function_recursion_config(FunctionName=name)
    assert_client_error(e, "ValidationException", 400)
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value null at 'recursiveLoop' failed to satisfy "
        "constraint: Member must not be null"
    )
    # Validation comes before the lookup, as in Lambda.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.put_function_recursion_config(FunctionName="nope-recursion", RecursiveLoop="Never")
    assert_client_error(e, "ValidationException", 400)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_recursion_config_refuses_unknown_members(server, lam):
    name, _ = create(lam)
    path = f"/2024-08-31/functions/{name}/recursion-config"
    r = raw_request(server, "PUT", path, json.dumps({"RecursiveLoop": "Allow", "Extra": 1}).encode())
    assert (r.status, r.error_type) == (400, "InvalidRequestContentException"), r
    assert b"Extra" in r.body
    r = raw_request(server, "PUT", path, json.dumps({"RecursiveLoop": "Allow"}).encode())
    assert r.status == 200, r
    assert r.json() == {"RecursiveLoop": "Allow"}


# ------------------------------------------------------------- code signing configs

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/quiver/abcdef0123"
ARN_RE = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:(\d{12}):code-signing-config:(csc-[a-z0-9]{17})$")


def new_config(lam, **kw):
    kw.setdefault("AllowedPublishers", {"SigningProfileVersionArns": [PROFILE]})
    return lam.create_code_signing_config(**kw)


def test_code_signing_config_create_get_update_delete(lam):
    resp = new_config(lam, Description="ci")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    c = resp["CodeSigningConfig"]
    m = ARN_RE.match(c["CodeSigningConfigArn"])
    assert m, c
    assert m.group(1) == ACCOUNT and m.group(2) == c["CodeSigningConfigId"]
    assert c["Description"] == "ci"
    assert c["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    assert c["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$", c["LastModified"])
    arn = c["CodeSigningConfigArn"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == c
    up = lam.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
    )["CodeSigningConfig"]
    assert up["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert up["Description"] == "ci" and up["AllowedPublishers"] == c["AllowedPublishers"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == up
    d = lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call, kw in ((lam.get_code_signing_config, {}), (lam.delete_code_signing_config, {}),
                     (lam.update_code_signing_config, {"Description": "x"}),
                     (lam.list_functions_by_code_signing_config, {})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(CodeSigningConfigArn=arn, **kw)
        assert_client_error(e, "ResourceNotFoundException", 404)
        assert arn in e.value.response["Error"]["Message"]


def test_code_signing_configs_list_pages(lam):
    ids = {new_config(lam, Description=f"p{i}")["CodeSigningConfig"]["CodeSigningConfigId"] for i in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        kw = {"MaxItems": 2} | ({"Marker": marker} if marker else {})
        page = lam.list_code_signing_configs(**kw)
        assert len(page["CodeSigningConfigs"]) <= 2
        seen += [c["CodeSigningConfigId"] for c in page["CodeSigningConfigs"]]
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen)) and pages >= 2


def test_code_signing_config_validation(server, lam):
    nv = unvalidated_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                                      CodeSigningPolicies={"UntrustedArtifactOnDeployment": "warn"})
    assert_client_error(e, "ValidationException", 400)
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'warn' at 'codeSigningPolicies.untrustedArtifactOnDeployment' "
        "failed to satisfy constraint: Member must satisfy enum value set: [Warn, Enforce]"
    )
    for arns in ([], [PROFILE] * 21):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            nv.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": arns})
        assert_client_error(e, "ValidationException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn="not-an-arn")
    assert_client_error(e, "ValidationException", 400)


def test_function_code_signing_config(lam):
    name, _ = create(lam, Publish=True)
    other, _ = create(lam)
    arn = new_config(lam)["CodeSigningConfig"]["CodeSigningConfigArn"]
    got = lam.get_function_code_signing_config(FunctionName=name)
    assert (got["FunctionName"], got["CodeSigningConfigArn"]) == (name, "")
    put = lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=arn)
    assert (put["FunctionName"], put["CodeSigningConfigArn"]) == (name, arn)
    lam.put_function_code_signing_config(FunctionName=fn_arn(other), CodeSigningConfigArn=arn)
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == arn
    page = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn, MaxItems=1)
    assert len(page["FunctionArns"]) == 1 and page["NextMarker"]
    rest = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn, Marker=page["NextMarker"])
    assert sorted(page["FunctionArns"] + rest["FunctionArns"]) == sorted([fn_arn(name), fn_arn(other)])
    assert "NextMarker" not in rest
    # In use: Lambda refuses to delete it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert_client_error(e, "ResourceConflictException", 409)
    d = lam.delete_function_code_signing_config(FunctionName=name)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == ""
    lam.delete_function(FunctionName=other)
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_function_code_signing_config_refusals(lam):
    name, _ = create(lam, Publish=True)
    arn = new_config(lam)["CodeSigningConfig"]["CodeSigningConfigArn"]
    missing = arn[:-17] + "0" * 17
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=missing)
    assert_client_error(e, "CodeSigningConfigNotFoundException", 404)
    for call, kw in ((lam.get_function_code_signing_config, {}),
                     (lam.delete_function_code_signing_config, {}),
                     (lam.put_function_code_signing_config, {"CodeSigningConfigArn": arn})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(FunctionName="nope-csc", **kw)
        assert_client_error(e, "ResourceNotFoundException", 404)
        assert e.value.response["Error"]["Message"] == not_found_message("nope-csc")
        for qualified in (f"{name}:1", fn_arn(name, "$LATEST")):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(FunctionName=qualified, **kw)
            assert_client_error(e, "InvalidParameterValueException", 400)
            assert e.value.response["Error"]["Message"] == UNQUALIFIED_ONLY
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == ""
