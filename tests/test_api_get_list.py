"""GetFunction (incl. Code.Location), GetFunctionConfiguration, name/ARN forms, ListFunctions paging."""
import base64
import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

from apiutil import (
    ACCOUNT,
    assert_client_error,
    assert_full_config,
    settled,
    create,
    fn_arn,
    handler_zip,
    list_all_functions,
    make_zip,
    not_found_message,
    sha256_b64,
    unique_name,
)


def _download(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read()


def test_get_function_full_shape(lam):
    z = handler_zip("get-shape")
    name, _ = create(lam, zip_bytes=z, Description="d", MemorySize=256)
    got = lam.get_function(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_full_config(got["Configuration"], name, z, description="d", memory=256)
    assert got["Code"]["RepositoryType"] == "S3"
    assert got["Code"]["Location"].startswith(("http://", "https://"))


def test_code_location_downloads_exact_zip_without_signature(server, lam):
    z = make_zip({"app.py": b"def handler(e, c):\n    return 1\n", "blob.bin": bytes(range(256)) * 50})
    name, _ = create(lam, zip_bytes=z)
    loc = lam.get_function(FunctionName=name)["Code"]["Location"]
    # urllib sends no Authorization header at all.
    status, body = _download(loc)
    assert status == 200
    assert body == z
    assert hashlib.sha256(body).digest() == base64.b64decode(sha256_b64(z))


def test_code_location_is_served_by_quiver(server, lam):
    name, _ = create(lam)
    loc = urllib.parse.urlsplit(lam.get_function(FunctionName=name)["Code"]["Location"])
    ep = urllib.parse.urlsplit(server.endpoint)
    assert loc.port == ep.port, (loc, ep)


def test_code_location_is_unguessable(lam):
    z = make_zip()
    a, _ = create(lam, zip_bytes=z)
    b, _ = create(lam, zip_bytes=z)
    la = lam.get_function(FunctionName=a)["Code"]["Location"]
    lb = lam.get_function(FunctionName=b)["Code"]["Location"]
    assert la != lb
    sha = hashlib.sha256(z).digest()
    derived = {
        sha.hex(),
        base64.b64encode(sha).decode(),
        base64.urlsafe_b64encode(sha).decode(),
        base64.urlsafe_b64encode(sha).decode().rstrip("="),
    }
    u = urllib.parse.urlsplit(la)
    tokens = [urllib.parse.unquote(t) for t in re.split(r"[/?&=]", u.path + "?" + u.query) if t]
    secret = [t for t in tokens if len(t) >= 22 and t not in derived and a not in t]
    # The code hash alone (ListFunctions reveals it) must not be enough to fetch the code.
    assert secret, f"no random token of >=128 bits in {la!r}"


def test_tampered_code_location_is_refused(lam):
    name, _ = create(lam)
    loc = lam.get_function(FunctionName=name)["Code"]["Location"]
    last = loc[-1]
    bad = loc[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(urllib.error.HTTPError) as exc:
        _download(bad)
    assert exc.value.code in (400, 403, 404)


def test_code_location_follows_updates(lam):
    z1, z2 = handler_zip("loc-1"), handler_zip("loc-2")
    name, _ = create(lam, zip_bytes=z1, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=z2)
    assert _download(lam.get_function(FunctionName=name)["Code"]["Location"])[1] == z2
    assert _download(lam.get_function(FunctionName=name, Qualifier="1")["Code"]["Location"])[1] == z1


def test_get_function_configuration(lam):
    z = handler_zip("cfg")
    name, _ = create(lam, zip_bytes=z, Environment={"Variables": {"K1": "v"}})
    created = settled(lam, name)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_full_config(got, name, z, env={"K1": "v"})
    assert got["RevisionId"] == created["RevisionId"]
    assert got["LastModified"] == created["LastModified"]


@pytest.mark.parametrize("form", ["name", "arn", "partial", "latest", "arn_latest", "partial_latest"])
def test_name_forms_resolve_same_function(lam, form):
    z = handler_zip("forms")
    name, _ = create(lam, zip_bytes=z)
    ident = {
        "name": name,
        "arn": fn_arn(name),
        "partial": f"{ACCOUNT}:function:{name}",
        "latest": f"{name}:$LATEST",
        "arn_latest": fn_arn(name, "$LATEST"),
        "partial_latest": f"{ACCOUNT}:function:{name}:$LATEST",
    }[form]
    got = lam.get_function(FunctionName=ident)["Configuration"]
    assert got["FunctionName"] == name
    assert got["CodeSha256"] == sha256_b64(z)
    cfg = lam.get_function_configuration(FunctionName=ident)
    assert cfg["FunctionName"] == name


@pytest.mark.parametrize("form", ["qualifier", "name_colon", "arn", "partial"])
def test_version_forms_resolve(lam, form):
    z1 = handler_zip("ver-1")
    name, _ = create(lam, zip_bytes=z1, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("ver-2"))
    kwargs = {
        "qualifier": {"FunctionName": name, "Qualifier": "1"},
        "name_colon": {"FunctionName": f"{name}:1"},
        "arn": {"FunctionName": fn_arn(name, "1")},
        "partial": {"FunctionName": f"{ACCOUNT}:function:{name}:1"},
    }[form]
    got = lam.get_function(**kwargs)["Configuration"]
    assert got["Version"] == "1"
    assert got["FunctionArn"] == fn_arn(name, "1")
    assert got["CodeSha256"] == sha256_b64(z1)
    assert lam.get_function_configuration(**kwargs)["CodeSha256"] == sha256_b64(z1)


def test_unknown_function_404_exact_message(lam):
    name = unique_name("nope")
    for call in (lam.get_function, lam.get_function_configuration):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call(FunctionName=name)
        assert_client_error(exc, "ResourceNotFoundException", 404)
        assert exc.value.response["Error"]["Message"] == not_found_message(name)


def test_unknown_function_by_arn_404(lam):
    name = unique_name("nope")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=fn_arn(name))
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


def test_unknown_version_404_names_qualifier(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name, Qualifier="7")
    assert_client_error(exc, "ResourceNotFoundException", 404)
    assert exc.value.response["Error"]["Message"] == not_found_message(name, "7")


def test_arn_for_other_account_or_region_is_refused_as_lambda_does(lam):
    name, _ = create(lam)
    # Another account: 403 AccessDeniedException (docs/wire.md §9), not a 404.
    other = f"arn:aws:lambda:us-east-1:111111111111:function:{name}"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=other)
    assert_client_error(exc, "AccessDeniedException", 403)
    assert exc.value.response["Error"]["Message"].endswith(
        f"lambda:GetFunction on resource: {other} because no resource-based policy allows "
        "the lambda:GetFunction action")
    # Another region: 404 ResourceNotFoundException.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}")
    assert_client_error(exc, "ResourceNotFoundException", 404)


def test_name_and_qualifier_conflict_is_rejected(lam):
    name, _ = create(lam, Publish=True)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=f"{name}:1", Qualifier="$LATEST")
    # Wire doc §3: a qualifier mismatch is InvalidParameterValueException (400).
    assert_client_error(exc, "InvalidParameterValueException", 400)


# ------------------------------------------------------------------ ListFunctions


def test_list_functions_empty(lam):
    resp = lam.list_functions()
    assert resp["Functions"] == []
    assert "NextMarker" not in resp or not resp["NextMarker"]


def test_list_functions_items_are_full_configs(lam):
    z = handler_zip("list-shape")
    name, _ = create(lam, zip_bytes=z, Timeout=30, Environment={"Variables": {"AB": "c"}})
    (item,) = lam.list_functions()["Functions"]
    assert_full_config(item, name, z, timeout=30, env={"AB": "c"}, in_list=True)


def test_list_functions_max_items_and_marker(lam):
    names = {create(lam)[0] for _ in range(7)}
    first = lam.list_functions(MaxItems=3)
    assert len(first["Functions"]) == 3
    assert first.get("NextMarker")
    second = lam.list_functions(MaxItems=3, Marker=first["NextMarker"])
    assert len(second["Functions"]) == 3
    third = lam.list_functions(MaxItems=3, Marker=second["NextMarker"])
    assert len(third["Functions"]) == 1
    assert not third.get("NextMarker")
    seen = [f["FunctionName"] for p in (first, second, third) for f in p["Functions"]]
    assert sorted(seen) == sorted(names)


def test_list_functions_paginates_120_exactly_once(lam):
    names = set()
    for i in range(120):
        names.add(create(lam, name=f"page-{i:03d}-{unique_name('p')[-6:]}", zip_bytes=make_zip())[0])
    default = lam.list_functions()
    assert 0 < len(default["Functions"]) <= 50
    assert default.get("NextMarker")
    capped = lam.list_functions(MaxItems=1000)
    assert 0 < len(capped["Functions"]) <= 50
    listed = [f["FunctionName"] for f in list_all_functions(lam)]
    assert len(listed) == 120
    assert sorted(listed) == sorted(names)
    listed_small = [f["FunctionName"] for f in list_all_functions(lam, PaginationConfig={"PageSize": 7})]
    assert sorted(listed_small) == sorted(names)


def test_list_functions_hides_versions_unless_all(lam):
    name, _ = create(lam, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("v2"), Publish=True)
    default = [f["Version"] for f in lam.list_functions()["Functions"]]
    assert default == ["$LATEST"]
    every = sorted(f["Version"] for f in list_all_functions(lam, FunctionVersion="ALL"))
    assert every == ["$LATEST", "1", "2"]


def test_list_functions_after_delete(lam):
    a, _ = create(lam)
    b, _ = create(lam)
    lam.delete_function(FunctionName=a)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [b]


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@pytest.mark.skipif(not os.path.exists(FAKETIME_LIB), reason="needs the Debian package libfaketime")
def test_code_location_expires_after_about_10_minutes(server_factory, tmp_path):
    """Run the server under libfaketime and move its clock forward through a control file."""
    import time
    rc = tmp_path / "faketime.rc"
    rc.write_text("+0\n")
    srv = server_factory(env={"LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": str(rc),
                              "FAKETIME_NO_CACHE": "1"})
    lam = srv.client("lambda")
    z = handler_zip("expiry")
    name, _ = create(lam, zip_bytes=z)
    loc = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert _download(loc) == (200, z)
    rc.write_text("+8m\n")
    time.sleep(0.2)
    assert _download(loc) == (200, z), "Location must stay valid for most of its 10 minutes"
    rc.write_text("+11m\n")
    time.sleep(0.2)
    with pytest.raises(urllib.error.HTTPError) as exc:
        _download(loc)
    assert exc.value.code in (403, 404, 410)
    # A fresh GetFunction hands out a working URL again.
    assert _download(lam.get_function(FunctionName=name)["Code"]["Location"]) == (200, z)


def test_list_marker_survives_deletes_and_creates_between_pages(lam):
    names = sorted(create(lam, name=f"mk-{i:02d}-{unique_name('m')[-6:]}")[0] for i in range(10))
    first = lam.list_functions(MaxItems=4)
    seen = [f["FunctionName"] for f in first["Functions"]]
    assert len(seen) == 4 and first.get("NextMarker")
    # Delete two already-listed functions and add one new one before fetching the rest.
    for n in seen[:2]:
        lam.delete_function(FunctionName=n)
    added, _ = create(lam)
    rest = []
    marker = first["NextMarker"]
    while marker:
        page = lam.list_functions(MaxItems=4, Marker=marker)
        rest.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
    assert len(rest) == len(set(rest)), rest
    assert not set(rest) & set(seen), "items repeated across pages"
    unseen = set(names) - set(seen)
    assert unseen <= set(rest), f"skipped: {sorted(unseen - set(rest))}"
    assert set(rest) <= unseen | {added}
