"""UpdateFunctionCode, UpdateFunctionConfiguration, RevisionId, PublishVersion, ListVersionsByFunction."""
import time

import botocore.exceptions
import pytest

from apiutil import (
    VALIDATION_CODES,
    assert_alive,
    assert_client_error,
    assert_full_config,
    settled,
    create,
    fn_arn,
    handler_zip,
    lamnv,  # noqa: F401  (fixture)
    not_found_message,
    sha256_b64,
    strip_meta,
    unique_name,
)


def _cfg(lam, name, **kw):
    return lam.get_function_configuration(FunctionName=name, **kw)


# ------------------------------------------------------------------ UpdateFunctionCode


def test_update_code_replaces_zip_and_revision(lam):
    z1, z2 = handler_zip("code-1"), handler_zip("code-2-longer-marker")
    name, created = create(lam, zip_bytes=z1, Description="keep", MemorySize=512)
    time.sleep(0.01)
    resp = lam.update_function_code(FunctionName=name, ZipFile=z2)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_full_config(resp, name, z2, description="keep", memory=512, phase="updating")
    assert resp["RevisionId"] != created["RevisionId"]
    assert resp["LastModified"] >= created["LastModified"]
    got = _cfg(lam, name)
    assert_full_config(got, name, z2, description="keep", memory=512)
    # InProgress -> Successful is a transition: Lambda issues a new RevisionId.
    assert got["RevisionId"] != resp["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1})


def test_update_code_by_arn(lam):
    z2 = handler_zip("arn-2")
    name, _ = create(lam)
    resp = lam.update_function_code(FunctionName=fn_arn(name), ZipFile=z2)
    assert resp["CodeSha256"] == sha256_b64(z2)
    assert _cfg(lam, name)["CodeSha256"] == sha256_b64(z2)


def test_update_code_with_matching_revision(lam):
    z2 = handler_zip("rev-ok")
    name, _ = create(lam)
    created = settled(lam, name)
    resp = lam.update_function_code(FunctionName=name, ZipFile=z2, RevisionId=created["RevisionId"])
    assert resp["CodeSha256"] == sha256_b64(z2)


def test_update_code_with_stale_revision_is_412_and_unchanged(lam):
    z1 = handler_zip("stale-1")
    name, _ = create(lam, zip_bytes=z1)
    created = settled(lam, name)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("stale-2"))
    second = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip("stale-3"),
                                 RevisionId=created["RevisionId"])
    assert_client_error(exc, "PreconditionFailedException", 412)
    got = _cfg(lam, name)
    assert got["CodeSha256"] == second["CodeSha256"]
    assert got["RevisionId"] == second["RevisionId"]


def test_update_code_with_made_up_revision_is_412(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip("x"),
                                 RevisionId="00000000-0000-0000-0000-000000000000")
    assert_client_error(exc, "PreconditionFailedException", 412)


def test_update_code_dry_run_changes_nothing(lam):
    z1 = handler_zip("dry-1")
    name, _ = create(lam, zip_bytes=z1)
    created = settled(lam, name)
    resp = lam.update_function_code(FunctionName=name, ZipFile=handler_zip("dry-2"), DryRun=True)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = _cfg(lam, name)
    assert got["CodeSha256"] == sha256_b64(z1)
    assert got["RevisionId"] == created["RevisionId"]
    assert got["LastModified"] == created["LastModified"]
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST"]


def test_update_code_dry_run_still_validates(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=b"not a zip at all", DryRun=True)
    assert_client_error(exc, "InvalidParameterValueException", 400)


def test_update_code_publish_creates_next_versions(lam):
    z1, z2, z3 = handler_zip("p1"), handler_zip("p2"), handler_zip("p3")
    name, created = create(lam, zip_bytes=z1, Publish=True)
    assert created["Version"] == "1"
    r2 = lam.update_function_code(FunctionName=name, ZipFile=z2, Publish=True)
    assert r2["Version"] == "2"
    assert r2["CodeSha256"] == sha256_b64(z2)
    r3 = lam.update_function_code(FunctionName=name, ZipFile=z3, Publish=True)
    assert r3["Version"] == "3"
    for ver, z in (("1", z1), ("2", z2), ("3", z3)):
        cfg = lam.get_function(FunctionName=name, Qualifier=ver)["Configuration"]
        assert_full_config(cfg, name, z, version=ver)
    assert _cfg(lam, name)["CodeSha256"] == sha256_b64(z3)
    versions = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert versions == ["$LATEST", "1", "2", "3"]


def test_update_code_unknown_function_404(lam):
    name = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip())
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


# ------------------------------------------------------------------ UpdateFunctionConfiguration


def test_update_configuration_every_field(lam):
    z = handler_zip("cfg-all")
    name, created = create(lam, zip_bytes=z)
    env = {"MODE": "prod", "LEVEL": "3"}
    resp = lam.update_function_configuration(
        FunctionName=name,
        Handler="main.run",
        Runtime="provided.al2023",
        MemorySize=2048,
        Timeout=120,
        Environment={"Variables": env},
        Description="updated description",
        EphemeralStorage={"Size": 2048},
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    kw = dict(runtime="provided.al2023", handler="main.run", memory=2048, timeout=120, env=env,
              description="updated description", ephemeral=2048)
    assert_full_config(resp, name, z, phase="updating", **kw)
    assert resp["RevisionId"] != created["RevisionId"]
    assert_full_config(_cfg(lam, name), name, z, **kw)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 1})


@pytest.mark.parametrize("field,value,check", [
    ("Handler", "other.fn", lambda c: c["Handler"] == "other.fn"),
    ("Runtime", "provided.al2023", lambda c: c["Runtime"] == "provided.al2023"),
    ("MemorySize", 10240, lambda c: c["MemorySize"] == 10240),
    ("Timeout", 900, lambda c: c["Timeout"] == 900),
    ("Description", "x" * 256, lambda c: c["Description"] == "x" * 256),
    ("EphemeralStorage", {"Size": 10240}, lambda c: c["EphemeralStorage"] == {"Size": 10240}),
    ("Environment", {"Variables": {"ONE": "1"}}, lambda c: c["Environment"]["Variables"] == {"ONE": "1"}),
])
def test_update_configuration_single_field_keeps_others(lam, field, value, check):
    z = handler_zip("single")
    name, created = create(lam, zip_bytes=z, Description="orig", MemorySize=256, Timeout=10,
                           Environment={"Variables": {"ORIG": "yes"}})
    resp = lam.update_function_configuration(FunctionName=name, **{field: value})
    assert check(resp), resp
    got = _cfg(lam, name)
    assert check(got), got
    before = strip_meta(created)
    for key in ("Handler", "Runtime", "MemorySize", "Timeout", "Description", "EphemeralStorage", "Environment"):
        if key != field:
            assert got.get(key) == before.get(key), key
    assert got["CodeSha256"] == sha256_b64(z)
    assert got["RevisionId"] != created["RevisionId"]


def test_update_configuration_clears_environment(lam):
    name, _ = create(lam, Environment={"Variables": {"GONE": "soon"}})
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    assert not _cfg(lam, name).get("Environment", {}).get("Variables")


def test_revision_changes_on_every_update(lam):
    name, created = create(lam)
    seen = [created["RevisionId"]]
    for i in range(3):
        seen.append(lam.update_function_configuration(FunctionName=name, Description=f"d{i}")["RevisionId"])
        seen.append(lam.update_function_code(FunctionName=name, ZipFile=handler_zip(f"r{i}"))["RevisionId"])
    assert len(set(seen)) == len(seen)


def test_update_configuration_with_matching_revision(lam):
    name, _ = create(lam)
    created = settled(lam, name)
    resp = lam.update_function_configuration(FunctionName=name, Timeout=5, RevisionId=created["RevisionId"])
    assert resp["Timeout"] == 5


def test_update_configuration_stale_revision_is_412_and_unchanged(lam):
    name, _ = create(lam)
    created = settled(lam, name)
    lam.update_function_configuration(FunctionName=name, Timeout=7)
    cur = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Timeout=9, RevisionId=created["RevisionId"])
    assert_client_error(exc, "PreconditionFailedException", 412)
    got = _cfg(lam, name)
    assert got["Timeout"] == 7
    assert got["RevisionId"] == cur["RevisionId"]


def test_update_configuration_unknown_function_404(lam):
    name = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Timeout=5)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


@pytest.mark.parametrize("kw,member", [
    ({"MemorySize": 127}, "emorySize"),
    ({"MemorySize": 10241}, "emorySize"),
    ({"Timeout": 901}, "imeout"),
    ({"EphemeralStorage": {"Size": 511}}, "ize"),
    ({"EphemeralStorage": {"Size": 10241}}, "ize"),
    ({"Description": "d" * 257}, "escription"),
    ({"Handler": "has space"}, "andler"),
    ({"Role": "not-a-role"}, "ole"),
])
def test_update_configuration_validation_leaves_function_unchanged(server, lam, lamnv, kw, member):
    name, _ = create(lam)
    created = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lamnv.update_function_configuration(FunctionName=name, **kw)
    assert_client_error(exc, VALIDATION_CODES, 400, member)
    got = _cfg(lam, name)
    assert got["RevisionId"] == created["RevisionId"]
    assert got["MemorySize"] == 128 and got["Timeout"] == 3 and got["Description"] == ""
    assert_alive(server, lam)


def test_update_configuration_reserved_env_key_rejected(lam):
    name, created = create(lam, Environment={"Variables": {"KEEP": "1"}})
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"AWS_REGION": "x"}})
    assert_client_error(exc, "InvalidParameterValueException", 400, "AWS_REGION")
    assert _cfg(lam, name)["Environment"]["Variables"] == {"KEEP": "1"}


def test_update_configuration_does_not_touch_published_version(lam):
    name, _ = create(lam, Publish=True)
    lam.update_function_configuration(FunctionName=name, Description="latest only")
    v1 = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert v1.get("Description", "") == ""
    assert _cfg(lam, name)["Description"] == "latest only"


# ------------------------------------------------------------------ PublishVersion / versions


def test_publish_version_freezes_config(lam):
    z = handler_zip("freeze")
    name, _ = create(lam, zip_bytes=z, Timeout=10)
    pub = lam.publish_version(FunctionName=name, Description="first release")
    assert pub["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert pub["Version"] == "1"
    assert pub["FunctionArn"] == fn_arn(name, "1")
    assert pub["CodeSha256"] == sha256_b64(z)
    lam.update_function_configuration(FunctionName=name, Timeout=20)
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["Timeout"] == 10
    assert _cfg(lam, name)["Timeout"] == 20
    pub2 = lam.publish_version(FunctionName=name)
    assert pub2["Version"] == "2"
    assert pub2["Timeout"] == 20


def test_publish_version_without_changes_returns_latest_version(lam):
    name, _ = create(lam)
    first = lam.publish_version(FunctionName=name)
    again = lam.publish_version(FunctionName=name)
    assert first["Version"] == again["Version"] == "1"
    versions = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert versions == ["$LATEST", "1"]


def test_publish_version_unknown_function_404(lam):
    name = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.publish_version(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


def test_list_versions_shapes_and_paging(lam):
    name, _ = create(lam, Publish=True)
    for i in range(4):
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip(f"lv{i}"), Publish=True)
    resp = lam.list_versions_by_function(FunctionName=name)
    vers = [v["Version"] for v in resp["Versions"]]
    assert sorted(vers) == sorted(["$LATEST", "1", "2", "3", "4", "5"])
    for v in resp["Versions"]:
        if v["Version"] == "$LATEST":
            assert v["FunctionArn"] in (fn_arn(name), fn_arn(name, "$LATEST"))
        else:
            assert v["FunctionArn"] == fn_arn(name, v["Version"])
    paged = []
    for page in lam.get_paginator("list_versions_by_function").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 2}):
        assert len(page["Versions"]) <= 2
        paged.extend(v["Version"] for v in page["Versions"])
    assert sorted(paged) == sorted(vers)


def test_list_versions_unknown_function_404(lam):
    name = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.list_versions_by_function(FunctionName=name)
    assert_client_error(exc, "ResourceNotFoundException", 404, not_found_message(name))


@pytest.mark.parametrize("form", ["arn", "partial"])
def test_operations_accept_arn_forms(lam, form):
    z2 = handler_zip("forms-2")
    name, _ = create(lam)
    ident = fn_arn(name) if form == "arn" else f"000000000000:function:{name}"
    assert lam.update_function_code(FunctionName=ident, ZipFile=z2)["CodeSha256"] == sha256_b64(z2)
    assert lam.update_function_configuration(FunctionName=ident, Timeout=11)["Timeout"] == 11
    assert lam.publish_version(FunctionName=ident)["Version"] == "1"
    vers = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=ident)["Versions"])
    assert vers == ["$LATEST", "1"]
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 11


def test_concurrent_updates_with_same_revision_exactly_one_wins(server):
    from concurrent.futures import ThreadPoolExecutor
    lam = server.client("lambda")
    name, _ = create(lam)
    rev = settled(lam, name)["RevisionId"]

    def attempt(i):
        c = server.client("lambda")
        try:
            c.update_function_configuration(FunctionName=name, Description=f"writer {i}", RevisionId=rev)
            return "ok"
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(attempt, range(8)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "PreconditionFailedException"}, results


def test_last_modified_advances_on_updates(lam):
    name, created = create(lam)
    time.sleep(0.05)
    c = lam.update_function_configuration(FunctionName=name, Timeout=4)
    assert c["LastModified"] > created["LastModified"]
    time.sleep(0.05)
    d = lam.update_function_code(FunctionName=name, ZipFile=handler_zip("lm"))
    assert d["LastModified"] > c["LastModified"]
    assert _cfg(lam, name)["LastModified"] == d["LastModified"]


def test_publish_version_description_overrides(lam):
    name, _ = create(lam, Description="function description")
    pub = lam.publish_version(FunctionName=name, Description="release notes")
    assert pub["Description"] == "release notes"
    assert lam.get_function_configuration(FunctionName=name, Qualifier=pub["Version"])["Description"] == "release notes"
    assert _cfg(lam, name)["Description"] == "function description"


def test_publish_version_code_sha_mismatch_publishes_nothing(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.publish_version(FunctionName=name, CodeSha256=sha256_b64(b"some other code"))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 412), exc.value.response
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    ok = lam.publish_version(FunctionName=name, CodeSha256=_cfg(lam, name)["CodeSha256"])
    assert ok["Version"] == "1"


def test_publish_version_stale_revision_is_412(lam):
    name, created = create(lam)
    lam.update_function_configuration(FunctionName=name, Timeout=8)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.publish_version(FunctionName=name, RevisionId=created["RevisionId"])
    assert_client_error(exc, "PreconditionFailedException", 412)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    ok = lam.publish_version(FunctionName=name, RevisionId=_cfg(lam, name)["RevisionId"])
    assert ok["Version"] == "1" and ok["Timeout"] == 8


def test_published_version_revision_is_stable(lam):
    name, _ = create(lam, Publish=True)
    v1 = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    lam.update_function_configuration(FunctionName=name, Timeout=12)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("stable"))
    again = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert again["RevisionId"] == v1["RevisionId"]
    assert again["LastModified"] == v1["LastModified"]
    assert again["CodeSha256"] == v1["CodeSha256"] and again["Timeout"] == v1["Timeout"] == 3


def test_concurrent_code_updates_with_same_revision_exactly_one_wins(server):
    from concurrent.futures import ThreadPoolExecutor
    lam = server.client("lambda")
    name, _ = create(lam)
    rev = settled(lam, name)["RevisionId"]
    zips = [handler_zip(f"race-code-{i}") for i in range(6)]

    def attempt(i):
        try:
            server.client("lambda").update_function_code(FunctionName=name, ZipFile=zips[i], RevisionId=rev)
            return i
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(attempt, range(6)))
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1, results
    assert results.count("PreconditionFailedException") == 5, results
    assert _cfg(lam, name)["CodeSha256"] == sha256_b64(zips[winners[0]])


def test_version_numbers_are_never_reused(lam):
    name, _ = create(lam, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip("nr2"), Publish=True)
    lam.delete_function(FunctionName=name, Qualifier="2")
    r = lam.update_function_code(FunctionName=name, ZipFile=handler_zip("nr3"), Publish=True)
    assert r["Version"] == "3"
    vers = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert vers == ["$LATEST", "1", "3"]


def test_many_versions_page_completely(lam):
    name, _ = create(lam, Publish=True)
    for i in range(2, 13):
        assert lam.update_function_code(FunctionName=name, ZipFile=handler_zip(f"mv{i}"),
                                        Publish=True)["Version"] == str(i)
    want = ["$LATEST"] + [str(i) for i in range(1, 13)]
    for size in (1, 5, 50):
        got = []
        for page in lam.get_paginator("list_versions_by_function").paginate(
                FunctionName=name, PaginationConfig={"PageSize": size}):
            got.extend(v["Version"] for v in page["Versions"])
        assert sorted(got) == sorted(want), (size, got)
    every = []
    for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL",
                                                             PaginationConfig={"PageSize": 4}):
        every.extend(f["Version"] for f in page["Functions"])
    assert sorted(every) == sorted(want)
