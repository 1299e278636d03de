"""DeleteFunction: status, name forms, versions, and what is gone afterwards."""
import botocore.exceptions
import pytest

from apiutil import (
    ACCOUNT,
    assert_alive,
    assert_client_error,
    create,
    fn_arn,
    handler_zip,
    not_found_message,
    sha256_b64,
    unique_name,
)


@pytest.mark.parametrize("form", ["name", "arn", "partial"])
def test_delete_function_204_then_404(server, lam, form):
    name, _ = create(lam)
    keep, _ = create(lam)
    ident = {"name": name, "arn": fn_arn(name), "partial": f"{ACCOUNT}:function:{name}"}[form]
    resp = lam.delete_function(FunctionName=ident)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [keep]
    assert_alive(server, lam)


def test_delete_unknown_function_404(lam):
    name = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.delete_function(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


def test_delete_twice_second_is_404(lam):
    name, _ = create(lam)
    lam.delete_function(FunctionName=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.delete_function(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


def test_delete_unqualified_removes_all_versions(lam):
    name, _ = create(lam, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("d2"), Publish=True)
    lam.delete_function(FunctionName=name)
    for q in ("1", "2"):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            lam.get_function(FunctionName=name, Qualifier=q)
        assert_client_error(exc, "ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.list_versions_by_function(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404)
    assert lam.list_functions(FunctionVersion="ALL")["Functions"] == []


def test_delete_single_version_keeps_the_rest(lam):
    z1, z2 = handler_zip("k1"), handler_zip("k2")
    name, _ = create(lam, zip_bytes=z1, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=z2, Publish=True)
    resp = lam.delete_function(FunctionName=name, Qualifier="1")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name, Qualifier="1")
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name, "1"))
    assert lam.get_function(FunctionName=name, Qualifier="2")["Configuration"]["CodeSha256"] == sha256_b64(z2)
    assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == sha256_b64(z2)
    vers = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert vers == ["$LATEST", "2"]


def test_delete_version_by_qualified_name(lam):
    name, _ = create(lam, Publish=True)
    lam.delete_function(FunctionName=f"{name}:1")
    with pytest.raises(botocore.exceptions.ClientError):
        lam.get_function(FunctionName=name, Qualifier="1")
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_delete_unknown_version_404(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.delete_function(FunctionName=name, Qualifier="5")
    assert_client_error(exc, "ResourceNotFoundException", 404)
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_recreate_after_delete_is_a_fresh_function(lam):
    z1, z2 = handler_zip("old"), handler_zip("new")
    name, first = create(lam, zip_bytes=z1, Publish=True, Tags={"old": "tag"})
    lam.delete_function(FunctionName=name)
    _, second = create(lam, name=name, zip_bytes=z2)
    assert second["CodeSha256"] == sha256_b64(z2)
    assert second["RevisionId"] != first["RevisionId"]
    got = lam.get_function(FunctionName=name)
    assert got.get("Tags", {}) == {}
    with pytest.raises(botocore.exceptions.ClientError):
        lam.get_function(FunctionName=name, Qualifier="1")
    # Publishing again starts from version 1 or continues; either way it must be a new, numeric version.
    v = lam.publish_version(FunctionName=name)["Version"]
    assert v.isdigit()


def test_account_usage_drops_after_delete(lam):
    name, _ = create(lam)
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == 1
    lam.delete_function(FunctionName=name)
    usage = lam.get_account_settings()["AccountUsage"]
    assert usage["FunctionCount"] == 0
    assert usage["TotalCodeSize"] == 0
