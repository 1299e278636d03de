"""The small per-function APIs deploy tools call: PutFunctionRecursionConfig and
GetFunctionRecursionConfig (docs/wire.md §14)."""
import json

import botocore.exceptions
import pytest

from apiutil import (
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
