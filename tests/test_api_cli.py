"""The AWS CLI v1 against Quiver: the everyday lambda commands and a failure case."""
import base64
import hashlib
import json

import pytest

from apiutil import HANDLER, ROLE, RUNTIME, fn_arn, handler_zip, sha256_b64, unique_name


def _json(p):
    return json.loads(p.stdout.decode())


@pytest.fixture
def zips(tmp_path):
    z1, z2 = handler_zip("cli-1"), handler_zip("cli-2-longer")
    p1, p2 = tmp_path / "one.zip", tmp_path / "two.zip"
    p1.write_bytes(z1)
    p2.write_bytes(z2)
    return (z1, str(p1)), (z2, str(p2))


def _create(server, name, path, *extra):
    return _json(server.cli("lambda", "create-function", "--function-name", name, "--zip-file", f"fileb://{path}",
                            "--runtime", RUNTIME, "--role", ROLE, "--handler", HANDLER, *extra))


def test_cli_create_get_list_update(server, zips):
    (z1, p1), (z2, p2) = zips
    name = unique_name("cli")
    created = _create(server, name, p1, "--description", "from cli", "--timeout", "30",
                      "--environment", "Variables={A1=b,C2=d}")
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == fn_arn(name)
    assert created["CodeSha256"] == sha256_b64(z1)
    assert created["CodeSize"] == len(z1)
    assert created["Timeout"] == 30
    assert created["Environment"]["Variables"] == {"A1": "b", "C2": "d"}

    got = _json(server.cli("lambda", "get-function", "--function-name", name))
    assert got["Configuration"]["Description"] == "from cli"
    assert got["Code"]["Location"]

    listed = _json(server.cli("lambda", "list-functions"))
    assert [f["FunctionName"] for f in listed["Functions"]] == [name]

    upd = _json(server.cli("lambda", "update-function-code", "--function-name", name,
                           "--zip-file", f"fileb://{p2}", "--publish"))
    assert upd["CodeSha256"] == sha256_b64(z2)
    assert upd["Version"] == "1"

    cfg = _json(server.cli("lambda", "update-function-configuration", "--function-name", name,
                           "--memory-size", "512", "--timeout", "60", "--handler", "app.other",
                           "--description", "changed"))
    assert (cfg["MemorySize"], cfg["Timeout"], cfg["Handler"], cfg["Description"]) == (512, 60, "app.other", "changed")
    assert cfg["LastUpdateStatus"] == "InProgress"
    # What a CLI user does before the next change (docs/wire.md §13): wait for the update.
    server.cli("lambda", "wait", "function-updated-v2", "--function-name", name)
    again = _json(server.cli("lambda", "get-function-configuration", "--function-name", name))
    assert again["LastUpdateStatus"] == "Successful"
    # The transition to Successful issues a new RevisionId; the rest is what the update answered.
    assert again["RevisionId"] != cfg["RevisionId"]
    keep = ("RevisionId", "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode")
    assert {k: v for k, v in again.items() if k not in keep} == {k: v for k, v in cfg.items() if k not in keep}
    # Settled means stable: a second read returns the same RevisionId.
    assert _json(server.cli("lambda", "get-function-configuration", "--function-name", name))["RevisionId"] \
        == again["RevisionId"]


def test_cli_tags_account_delete(server, zips):
    (_, p1), _ = zips
    name = unique_name("clit")
    _create(server, name, p1)
    server.cli("lambda", "tag-resource", "--resource", fn_arn(name), "--tags", "team=core,env=dev")
    tags = _json(server.cli("lambda", "list-tags", "--resource", fn_arn(name)))
    assert tags["Tags"] == {"team": "core", "env": "dev"}
    server.cli("lambda", "untag-resource", "--resource", fn_arn(name), "--tag-keys", "env")
    assert _json(server.cli("lambda", "list-tags", "--resource", fn_arn(name)))["Tags"] == {"team": "core"}

    acct = _json(server.cli("lambda", "get-account-settings"))
    assert acct["AccountUsage"]["FunctionCount"] == 1

    d = server.cli("lambda", "delete-function", "--function-name", name)
    assert d.returncode == 0
    assert _json(server.cli("lambda", "list-functions"))["Functions"] == []


def test_cli_publish_and_versions(server, zips):
    (z1, p1), (z2, p2) = zips
    name = unique_name("cliv")
    created = _create(server, name, p1, "--publish")
    assert created["Version"] == "1"
    v = _json(server.cli("lambda", "get-function", "--function-name", name, "--qualifier", "1"))
    assert v["Configuration"]["Version"] == "1"
    vers = _json(server.cli("lambda", "list-versions-by-function", "--function-name", name))
    assert sorted(x["Version"] for x in vers["Versions"]) == ["$LATEST", "1"]
    pub = _json(server.cli("lambda", "publish-version", "--function-name", name))
    assert pub["Version"] == "1"  # nothing changed since version 1


def test_cli_list_functions_paginates(server, zips):
    (_, p1), _ = zips
    lam = server.client("lambda")
    names = {unique_name("clip") for _ in range(7)}
    for n in names:
        lam.create_function(FunctionName=n, Runtime=RUNTIME, Role=ROLE, Handler=HANDLER,
                            Code={"ZipFile": open(p1, "rb").read()})
    listed = _json(server.cli("lambda", "list-functions", "--page-size", "2"))
    assert sorted(f["FunctionName"] for f in listed["Functions"]) == sorted(names)
    capped = _json(server.cli("lambda", "list-functions", "--max-items", "3"))
    assert len(capped["Functions"]) == 3
    assert capped.get("NextToken")


def test_cli_code_location_download(server, zips):
    import urllib.request
    (z1, p1), _ = zips
    name = unique_name("clid")
    _create(server, name, p1)
    loc = _json(server.cli("lambda", "get-function", "--function-name", name))["Code"]["Location"]
    with urllib.request.urlopen(loc, timeout=30) as r:
        data = r.read()
    assert hashlib.sha256(data).digest() == base64.b64decode(sha256_b64(z1))


def test_cli_get_missing_function_fails(server):
    name = unique_name("clim")
    p = server.cli("lambda", "get-function", "--function-name", name, check=False)
    assert p.returncode == 255
    err = p.stderr.decode()
    assert "ResourceNotFoundException" in err
    assert f"Function not found: {fn_arn(name)}" in err


def test_cli_duplicate_create_fails(server, zips):
    (_, p1), _ = zips
    name = unique_name("clidup")
    _create(server, name, p1)
    p = server.cli("lambda", "create-function", "--function-name", name, "--zip-file", f"fileb://{p1}",
                   "--runtime", RUNTIME, "--role", ROLE, "--handler", HANDLER, check=False)
    assert p.returncode == 255
    assert "ResourceConflictException" in p.stderr.decode()


def test_cli_validation_failure(server, zips):
    (_, p1), _ = zips
    p = server.cli("lambda", "create-function", "--function-name", unique_name("cliv"), "--zip-file",
                   f"fileb://{p1}", "--runtime", RUNTIME, "--role", ROLE, "--handler", HANDLER,
                   "--memory-size", "20000", check=False)
    assert p.returncode == 255
    err = p.stderr.decode()
    assert "ValidationException" in err or "InvalidParameterValueException" in err
    assert _json(server.cli("lambda", "list-functions"))["Functions"] == []
