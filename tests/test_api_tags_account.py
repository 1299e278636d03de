"""TagResource / UntagResource / ListTags and GetAccountSettings."""
import botocore.exceptions
import pytest

from apiutil import (
    ACCOUNT,
    assert_client_error,
    create,
    fn_arn,
    handler_zip,
    make_zip,
    unique_name,
)


def test_tag_list_untag_roundtrip(lam):
    name, created = create(lam)
    arn = fn_arn(name)
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    resp = lam.tag_resource(Resource=arn, Tags={"team": "core", "cost-center": "42", "empty": ""})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    listed = lam.list_tags(Resource=arn)
    assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert listed["Tags"] == {"team": "core", "cost-center": "42", "empty": ""}
    assert lam.get_function(FunctionName=name)["Tags"] == listed["Tags"]
    lam.tag_resource(Resource=arn, Tags={"team": "platform", "new": "1"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "cost-center": "42", "empty": "", "new": "1"}
    resp = lam.untag_resource(Resource=arn, TagKeys=["team", "empty"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"cost-center": "42", "new": "1"}
    lam.untag_resource(Resource=arn, TagKeys=["not-there"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"cost-center": "42", "new": "1"}


def test_tag_keys_with_allowed_special_characters(lam):
    name, _ = create(lam)
    tags = {"a.b:c/d=e+f-g@h_i j": "v a/l:u=e", "k" * 128: "v" * 256}
    lam.tag_resource(Resource=fn_arn(name), Tags=tags)
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == tags
    lam.untag_resource(Resource=fn_arn(name), TagKeys=list(tags))
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {}


def test_tags_are_per_function(lam):
    a, _ = create(lam)
    b, _ = create(lam)
    lam.tag_resource(Resource=fn_arn(a), Tags={"only": "a"})
    assert lam.list_tags(Resource=fn_arn(b))["Tags"] == {}


def test_tags_on_unknown_function_404(lam):
    arn = fn_arn(unique_name("missing"))
    for call, kw in ((lam.list_tags, {}), (lam.tag_resource, {"Tags": {"a": "b"}}),
                     (lam.untag_resource, {"TagKeys": ["a"]})):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call(Resource=arn, **kw)
        assert_client_error(exc, "ResourceNotFoundException", 404)


@pytest.mark.parametrize("tags", [{"k" * 129: "v"}, {"key": "v" * 257}])
def test_tag_limits_rejected(lam, tags):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.tag_resource(Resource=fn_arn(name), Tags=tags)
    assert_client_error(exc, ("ValidationException", "InvalidParameterValueException"), 400)
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {}


def test_tagging_keeps_function_config(lam):
    name, created = create(lam)
    lam.tag_resource(Resource=fn_arn(name), Tags={"a": "b"})
    got = lam.get_function_configuration(FunctionName=name)
    assert got["CodeSha256"] == created["CodeSha256"]
    assert got["Handler"] == created["Handler"]


def test_tags_survive_code_and_config_updates(lam):
    name, _ = create(lam, Tags={"keep": "me"})
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("tags-2"))
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {"keep": "me"}


def test_tag_resource_rejects_non_arn(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.tag_resource(Resource=name, Tags={"a": "b"})
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


# ------------------------------------------------------------------ GetAccountSettings


def test_account_settings_shape_empty(lam):
    resp = lam.get_account_settings()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    limit, usage = resp["AccountLimit"], resp["AccountUsage"]
    assert limit["CodeSizeZipped"] == 52428800
    assert limit["CodeSizeUnzipped"] == 262144000
    assert isinstance(limit["TotalCodeSize"], int) and limit["TotalCodeSize"] > 0
    assert isinstance(limit["ConcurrentExecutions"], int) and limit["ConcurrentExecutions"] > 0
    assert 0 < limit["UnreservedConcurrentExecutions"] <= limit["ConcurrentExecutions"]
    assert usage == {"TotalCodeSize": 0, "FunctionCount": 0}


def test_account_usage_counts_functions_and_code(lam):
    z1 = make_zip({"app.py": b"x = 1\n" * 100})
    z2 = make_zip({"app.py": b"y = 2\n" * 300})
    create(lam, zip_bytes=z1)
    create(lam, zip_bytes=z2)
    usage = lam.get_account_settings()["AccountUsage"]
    assert usage["FunctionCount"] == 2
    assert usage["TotalCodeSize"] >= len(z1) + len(z2)


def test_account_usage_counts_published_versions_code(lam):
    z = handler_zip("acct")
    name, _ = create(lam, zip_bytes=z)
    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    assert before >= len(z)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("acct-2-bigger-marker"), Publish=True)
    after = lam.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == 1
    assert after["TotalCodeSize"] >= before


@pytest.mark.parametrize("key", ["bad*key", "semi;colon", "brace{"])
def test_tag_key_pattern_enforced(lam, key):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.tag_resource(Resource=fn_arn(name), Tags={key: "v"})
    assert_client_error(exc, ("ValidationException", "InvalidParameterValueException"), 400)
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {}


def test_unicode_letter_tags_accepted(lam):
    name, _ = create(lam)
    tags = {"日本語": "値", "ümlaut key": "wert ä", "k9": "١٢٣"}
    lam.tag_resource(Resource=fn_arn(name), Tags=tags)
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == tags
