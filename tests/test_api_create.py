"""CreateFunction: the full configuration object, defaults, Publish, conflicts, waiters."""
import datetime
import re

import botocore.exceptions
import pytest

from apiutil import (
    CallCounter,
    HANDLER,
    ROLE,
    RUNTIME,
    UUID_RE,
    assert_alive,
    assert_client_error,
    assert_full_config,
    settled,
    create,
    fn_arn,
    handler_zip,
    make_zip,
    sha256_b64,
    strip_meta,
    unique_name,
)


def test_create_returns_full_configuration_with_defaults(lam):
    z = handler_zip("create-defaults")
    name, resp = create(lam, zip_bytes=z)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert_full_config(resp, name, z, phase="creating")


def test_create_response_carries_request_id(lam):
    _, resp = create(lam)
    rid = resp["ResponseMetadata"]["RequestId"]
    assert UUID_RE.match(rid), rid
    _, resp2 = create(lam)
    assert resp2["ResponseMetadata"]["RequestId"] != rid


def test_create_last_modified_is_now(lam):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    _, resp = create(lam)
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    lm = datetime.datetime.strptime(resp["LastModified"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before <= lm <= after, (before, lm, after)


def test_create_with_every_optional_setting(lam):
    z = handler_zip("all-settings")
    env = {"GREETING": "hello", "Some_Key2": "x=y,z", "EMPTY": ""}
    name, resp = create(
        lam,
        zip_bytes=z,
        Description="a described function",
        Timeout=900,
        MemorySize=10240,
        Environment={"Variables": env},
        EphemeralStorage={"Size": 10240},
        Architectures=["x86_64"],
        PackageType="Zip",
    )
    assert_full_config(resp, name, z, phase="creating", timeout=900, memory=10240, description="a described function",
                       ephemeral=10240, env=env)
    got = lam.get_function_configuration(FunctionName=name)
    assert_full_config(got, name, z, timeout=900, memory=10240, description="a described function",
                       ephemeral=10240, env=env)


@pytest.mark.parametrize("memory,timeout,eph", [(128, 1, 512), (129, 2, 513), (1769, 60, 4096)])
def test_create_accepts_boundary_values(lam, memory, timeout, eph):
    z = make_zip()
    name, resp = create(lam, zip_bytes=z, MemorySize=memory, Timeout=timeout, EphemeralStorage={"Size": eph})
    assert_full_config(resp, name, z, phase="creating", memory=memory, timeout=timeout, ephemeral=eph)


def test_create_name_of_64_chars_and_allowed_characters(lam):
    name = ("Ab-_9" * 13)[:64]
    assert len(name) == 64
    z = make_zip()
    _, resp = create(lam, name=name, zip_bytes=z)
    assert_full_config(resp, name, z, phase="creating")
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_create_provided_runtime_with_bootstrap(lam):
    z = make_zip({"bootstrap": b"#!/bin/sh\nexit 0\n"})
    name, resp = create(lam, zip_bytes=z, Runtime="provided.al2023", Handler="anything.goes")
    assert_full_config(resp, name, z, phase="creating", runtime="provided.al2023", handler="anything.goes")


def test_create_handler_with_path_module(lam):
    z = make_zip({"pkg/mod.py": b"def h(e, c):\n    return 1\n"})
    name, resp = create(lam, zip_bytes=z, Handler="pkg/mod.h")
    assert resp["Handler"] == "pkg/mod.h"


def test_code_sha256_and_size_match_exact_bytes(lam):
    # Stored-only zip so the bytes are big and distinctive.
    z = make_zip({"app.py": b"def handler(e, c):\n    return 1\n", "data.bin": bytes(range(256)) * 400}, compression=0)
    name, resp = create(lam, zip_bytes=z)
    assert resp["CodeSha256"] == sha256_b64(z)
    assert resp["CodeSize"] == len(z)
    cfg = lam.get_function(FunctionName=name)["Configuration"]
    assert cfg["CodeSha256"] == sha256_b64(z)
    assert cfg["CodeSize"] == len(z)


def test_waiters_return_at_once(lam):
    name, _ = create(lam)
    for waiter in ("function_active_v2", "function_updated_v2", "function_active", "function_updated",
                   "function_exists"):
        with CallCounter(lam) as calls:
            lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2})
        assert calls.total() == 1, (waiter, calls.counts)


def test_function_exists_waiter_fails_for_missing_function(lam):
    with pytest.raises(botocore.exceptions.WaiterError):
        lam.get_waiter("function_exists").wait(
            FunctionName=unique_name("missing"), WaiterConfig={"Delay": 1, "MaxAttempts": 2}
        )


def test_duplicate_create_is_409_and_leaves_original(lam):
    z1 = handler_zip("first")
    name, _ = create(lam, zip_bytes=z1, Description="first")
    first = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        create(lam, name=name, zip_bytes=handler_zip("second"), Description="second", MemorySize=256)
    assert_client_error(exc, "ResourceConflictException", 409, f"Function already exist: {name}")
    got = lam.get_function_configuration(FunctionName=name)
    assert got["CodeSha256"] == sha256_b64(z1)
    assert got["Description"] == "first"
    assert got["MemorySize"] == 128
    assert got["RevisionId"] == first["RevisionId"]


def test_names_are_case_sensitive(lam):
    base = unique_name("case")
    create(lam, name=base.lower())
    _, resp = create(lam, name="X" + base.lower()[1:])
    assert resp["FunctionName"] == "X" + base.lower()[1:]


def test_create_without_publish_has_no_versions(lam):
    name, resp = create(lam)
    assert resp["Version"] == "$LATEST"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name, Qualifier="1")
    assert_client_error(exc, "ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '1')}")


def test_create_with_publish_makes_version_1(lam):
    z = handler_zip("publish")
    name, resp = create(lam, zip_bytes=z, Publish=True, Description="pub")
    assert resp["Version"] == "1"
    assert resp["CodeSha256"] == sha256_b64(z)
    v1 = lam.get_function(FunctionName=name, Qualifier="1")
    assert_full_config(v1["Configuration"], name, z, version="1", description="pub")
    latest = lam.get_function(FunctionName=name)["Configuration"]
    assert latest["Version"] == "$LATEST"
    assert latest["FunctionArn"] == fn_arn(name)
    versions = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert versions == ["$LATEST", "1"]


def test_create_with_tags_shows_them_in_get_function(lam):
    name, _ = create(lam, Tags={"team": "core", "env": "test"})
    got = lam.get_function(FunctionName=name)
    assert got["Tags"] == {"team": "core", "env": "test"}
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {"team": "core", "env": "test"}


def test_created_function_is_listed(lam):
    names = sorted(create(lam)[0] for _ in range(3))
    listed = lam.list_functions()["Functions"]
    assert sorted(f["FunctionName"] for f in listed) == names
    for f in listed:
        assert f["FunctionArn"] == fn_arn(f["FunctionName"])
        assert f["Role"] == ROLE and f["Runtime"] == RUNTIME and f["Handler"] == HANDLER


def test_create_many_in_a_row_keeps_server_alive(server, lam):
    for _ in range(20):
        create(lam)
    assert_alive(server, lam)
    assert len(lam.list_functions()["Functions"]) == 20


def test_revision_ids_are_unique_per_function(lam):
    revs = {create(lam)[1]["RevisionId"] for _ in range(5)}
    assert len(revs) == 5


def test_get_function_equals_create_response(lam):
    name, resp = create(lam, Description="same", Environment={"Variables": {"A1": "b"}})
    got = lam.get_function_configuration(FunctionName=name)
    a, b = strip_meta(resp), strip_meta(got)
    for key in ("FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "CodeSha256",
                "Description", "Timeout", "MemorySize", "LastModified", "Version",
                "Environment", "PackageType", "Architectures", "EphemeralStorage", "LoggingConfig"):
        assert a.get(key) == b.get(key), key
    assert re.match(r"^\S+$", b["RevisionId"])
    # Pending -> Active is a transition: Lambda issues a new RevisionId with it.
    assert (a["State"], b["State"]) == ("Pending", "Active")
    assert a["RevisionId"] != b["RevisionId"]


def test_concurrent_creates_of_same_name_exactly_one_wins(server):
    from concurrent.futures import ThreadPoolExecutor
    name = unique_name("race")

    def attempt(i):
        c = server.client("lambda")
        try:
            create(c, name=name, zip_bytes=handler_zip(f"race-{i}"))
            return "ok"
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(attempt, range(8)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "ResourceConflictException"}, results
    lam = server.client("lambda")
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [name]


def test_concurrent_creates_of_distinct_names_all_succeed(server):
    from concurrent.futures import ThreadPoolExecutor
    names = [unique_name("par") for _ in range(16)]

    def attempt(n):
        return create(server.client("lambda"), name=n)[1]["FunctionName"]

    with ThreadPoolExecutor(8) as ex:
        done = list(ex.map(attempt, names))
    assert sorted(done) == sorted(names)
    lam = server.client("lambda")
    assert sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]) == sorted(names)


def test_published_version_active_waiter_returns_at_once(lam):
    name, _ = create(lam, Publish=True)
    with CallCounter(lam) as calls:
        lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1",
                                                        WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert calls.total() == 1, calls.counts
