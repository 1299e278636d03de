"""Tags on every taggable ARN Quiver has (functions and code signing configs), the
refusals for other ARNs, and ListFunctionsByCodeSigningConfig paging (docs/wire.md §14).

Expected values: the `TaggableResource` shape of botocore's service model (pattern,
read from the installed botocore, quoted verbatim in the ValidationException), the
`Tags` member of CreateCodeSigningConfig, and Lambda's 50-tag limit (§9).
"""
import botocore.exceptions
import botocore.session
import pytest

from apiutil import (
    ACCOUNT,
    REGION,
    assert_client_error,
    create,
    fn_arn,
    lamnv,  # noqa: F401  (fixture)
)

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/quiver/abcdef0123"
TAGGABLE = botocore.session.get_session().get_service_model("lambda") \
    .operation_model("TagResource").input_shape.members["Resource"].metadata["pattern"]


def new_config(lam, **kw):
    kw.setdefault("AllowedPublishers", {"SigningProfileVersionArns": [PROFILE]})
    return lam.create_code_signing_config(**kw)["CodeSigningConfig"]


def csc_not_found(arn):
    return ("The code signing configuration cannot be found. Check that the provided "
            f"configuration is not deleted: {arn}.")


def test_code_signing_config_tags_round_trip(lamnv):
    lam = lamnv
    c = new_config(lam, Description="tagged", Tags={"team": "core", "env": "dev"})
    arn = c["CodeSigningConfigArn"]
    assert "Tags" not in c  # the config shape has no Tags; ListTags reports them
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "core", "env": "dev"}
    assert lam.tag_resource(Resource=arn, Tags={"team": "platform", "new": "1"})[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "env": "dev", "new": "1"}
    assert lam.untag_resource(Resource=arn, TagKeys=["env", "absent"])[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "new": "1"}
    # An update keeps them; a config without any lists none.
    lam.update_code_signing_config(CodeSigningConfigArn=arn, Description="changed")
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "new": "1"}
    bare = new_config(lam)["CodeSigningConfigArn"]
    assert lam.list_tags(Resource=bare)["Tags"] == {}
    # Function tags and config tags do not mix.
    name, _ = create(lam, Tags={"fn": "only"})
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {"fn": "only"}
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "new": "1"}
    # Deleted with its config.
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_tags(Resource=arn)
    assert_client_error(e, "ResourceNotFoundException", 404, csc_not_found(arn))


def test_code_signing_config_tag_limits(lamnv):
    arn = new_config(lamnv, Tags={f"k{i}": "v" for i in range(40)})["CodeSigningConfigArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.tag_resource(Resource=arn, Tags={f"n{i}": "v" for i in range(11)})
    assert_client_error(e, "InvalidParameterValueException", 400)
    assert e.value.response["Error"]["Message"] == "A resource can have at most 50 tags."
    assert len(lamnv.list_tags(Resource=arn)["Tags"]) == 40
    with pytest.raises(botocore.exceptions.ClientError) as e:
        new_config(lamnv, Tags={"k" * 129: "v"})
    assert_client_error(e, "ValidationException", 400, "Member must have length less than or equal to 128")
    assert lamnv.list_code_signing_configs()["CodeSigningConfigs"][0]["CodeSigningConfigArn"] == arn


@pytest.mark.parametrize("bad", [
    "my-function",
    f"{ACCOUNT}:function:my-function",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:my-layer",
    f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-short",
    "arn:aws:s3:::bucket",
])
def test_non_taggable_arns_are_validation_errors_quoting_the_model(lamnv, bad):
    for call, kw in ((lamnv.list_tags, {}), (lamnv.tag_resource, {"Tags": {"a": "b"}}),
                     (lamnv.untag_resource, {"TagKeys": ["a"]})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(Resource=bad, **kw)
        assert_client_error(e, "ValidationException", 400)
        assert e.value.response["Error"]["Message"] == (
            f"1 validation error detected: Value '{bad}' at 'resource' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {TAGGABLE}")


def test_taggable_arns_naming_nothing_here(lamnv):
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-{'0' * 17}"
    elsewhere = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:code-signing-config:csc-{'0' * 17}"
    for arn in (missing, elsewhere):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lamnv.tag_resource(Resource=arn, Tags={"a": "b"})
        assert_client_error(e, "ResourceNotFoundException", 404, csc_not_found(arn))
    mapping = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:a1b2c3d4-0000-1111-2222-333344445555"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.list_tags(Resource=mapping)
    assert_client_error(e, "ResourceNotFoundException", 404)
    assert e.value.response["Error"]["Message"] == "The resource you requested does not exist."
    name, _ = create(lamnv, Publish=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.tag_resource(Resource=fn_arn(name, "1"), Tags={"a": "b"})
    assert_client_error(e, "InvalidParameterValueException", 400)
    assert lamnv.list_tags(Resource=fn_arn(name))["Tags"] == {}


def test_list_functions_by_code_signing_config_pages(lamnv):
    arn = new_config(lamnv)["CodeSigningConfigArn"]
    names = sorted(create(lamnv)[0] for _ in range(3))
    for n in names:
        lamnv.put_function_code_signing_config(FunctionName=n, CodeSigningConfigArn=arn)
    seen, marker, pages = [], None, 0
    while True:
        kw = {"Marker": marker} if marker else {}
        page = lamnv.list_functions_by_code_signing_config(CodeSigningConfigArn=arn, MaxItems=1, **kw)
        assert len(page["FunctionArns"]) == 1
        seen += page["FunctionArns"]
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages == 3 and sorted(seen) == [fn_arn(n) for n in names]
    every = lamnv.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert sorted(every["FunctionArns"]) == [fn_arn(n) for n in names] and "NextMarker" not in every
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.list_functions_by_code_signing_config(CodeSigningConfigArn=arn, MaxItems=0)
    assert_client_error(e, "ValidationException", 400,
                        "Value '0' at 'maxItems' failed to satisfy constraint: "
                        "Member must have value greater than or equal to 1")
