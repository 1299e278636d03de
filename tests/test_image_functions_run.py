"""Container-image functions end to end (PackageType Image, docs/wire.md §17.4).

Two function images are built here as AWS's base images are: the python3.13 image of
scripts/build-images.sh (Debian trixie + the unchanged official awslambdaric) with a
handler layer adding /var/task/app.py. v1 runs /var/runtime/bootstrap, which reads the
handler from `_HANDLER` (Lambda sets it to CMD[0]); v2 runs awslambdaric itself as the
ENTRYPOINT with the handler as its argument (CMD). Both are pushed to Debian's
docker-registry on 127.0.0.1 (plain HTTP: a loopback registry). CreateFunction pulls by
tag, pins the digest in ResolvedImageUri; invocations see Lambda's context and error
shape and log like any function; UpdateFunctionCode to v2 runs the new image next; an
unknown tag or registry is Lambda's InvalidParameterValueException with nothing stored.
"""
import base64
import json
import os
import shutil
import tarfile
import tempfile

import botocore.exceptions
import pytest

from apiutil import ROLE, unique_name
from conftest import Server
from invokeutil import FIXTURES, assert_ok, assert_unhandled, invoke, tail_lines
from test_runtime_pull import OCI_MANIFEST, TAR, Registry, free_port, layer_tar, sha

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

BASE_IMAGE = os.path.join(FIXTURES, "python3.13-image.tar")

APP_V1 = r'''
import os, sys

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + event["fail"])
    print("v1 handling", context.aws_request_id)
    return {
        "version": "v1",
        "python": sys.version.split()[0],
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "cwd": os.getcwd(),
        "file": __file__,
        "env": {k: os.environ.get(k) for k in (
            "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME",
            "IMAGE_VAR", "MINE", "PATH")},
        "argv": sys.argv,
    }
'''

APP_V2 = r'''
import sys

def handler(event, context):
    return {"version": "v2", "argv": sys.argv, "event": event}
'''


def _function_image(reg, repo, tag, base, app_source, config):
    """Pushes the base image's layers plus a /var/task/app.py layer as repo:tag with
    `config` (Entrypoint, Cmd, Env...) as the image config's `config`; returns the
    manifest descriptor."""
    layer = layer_tar([("var", None, 0o755), ("var/task", None, 0o755),
                       ("var/task/app.py", app_source.encode(), 0o644)])
    descs = list(base["layers"]) + [dict(reg.push_blob(repo, layer), mediaType=TAR)]
    for d in base["layers"]:
        reg.push_blob(repo, base["blobs"][d["digest"]])
    cfg = {"os": "linux", "architecture": "amd64", "config": config,
           "rootfs": {"type": "layers", "diff_ids": base["diff_ids"] + [sha(layer)]}}
    cdesc = dict(reg.push_blob(repo, json.dumps(cfg).encode()),
                 mediaType="application/vnd.oci.image.config.v1+json")
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}
    return reg.push_manifest(repo, tag, m, OCI_MANIFEST)


def _base():
    """The python3.13 image's layers (blobs and diff ids) and its config's Env."""
    if not os.path.exists(BASE_IMAGE):
        pytest.fail(f"{BASE_IMAGE} is missing: run scripts/build-images.sh")
    with tarfile.open(BASE_IMAGE) as t:
        index = json.load(t.extractfile("index.json"))
        manifest = json.loads(t.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]).read())
        config = json.loads(t.extractfile("blobs/sha256/" + manifest["config"]["digest"][7:]).read())
        blobs = {d["digest"]: t.extractfile("blobs/sha256/" + d["digest"][7:]).read()
                 for d in manifest["layers"]}
    base = {"layers": manifest["layers"], "blobs": blobs, "diff_ids": config["rootfs"]["diff_ids"]}
    env = [e for e in config["config"]["Env"] if not e.startswith("QUIVER_IMAGE=")]
    return base, env


def _v2_config(env):
    return {"Entrypoint": ["/usr/bin/python3.13", "-m", "awslambdaric"], "Cmd": ["app.handler"],
            "Env": env + ["PYTHONPATH=/var/task:/var/runtime"], "WorkingDir": "/var/task"}


@pytest.fixture(scope="module")
def images():
    base, env = _base()
    reg = Registry()
    try:
        reg.v1 = _function_image(reg, "team/fn", "v1", base, APP_V1, {
            "Entrypoint": ["/var/runtime/bootstrap"], "Cmd": ["app.handler"],
            "Env": env + ["IMAGE_VAR=from-image", "MINE=image"], "WorkingDir": "/var/task"})
        reg.v2 = _function_image(reg, "team/fn", "v2", base, APP_V2, _v2_config(env))
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def lam():
    data = tempfile.mkdtemp(prefix="quiver-test-imgfn-")
    s = Server(data)
    try:
        s.start()
        yield s.client()
    finally:
        s.stop()
        shutil.rmtree(data, ignore_errors=True)


def _create(lam, name, uri, **extra):
    return lam.create_function(FunctionName=name, Role=ROLE, PackageType="Image",
                               Code={"ImageUri": uri}, MemorySize=512, Timeout=20, **extra)


def _refused(call):
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] == "InvalidParameterValueException", err
    return err["Error"]["Message"]


def _assert_not_stored(lam, name):
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_create_by_tag_invoke_update_to_v2(images, lam):
    name = unique_name("imgfn")
    uri = f"{images.host}/team/fn:v1"
    created = _create(lam, name, uri, Environment={"Variables": {"MINE": "function"}})
    assert created["PackageType"] == "Image"
    assert "Runtime" not in created and "Handler" not in created, created
    assert created["CodeSha256"] == images.v1["digest"][7:]
    assert created["CodeSize"] == 0
    assert "ImageConfigResponse" not in created
    got = lam.get_function(FunctionName=name)
    assert got["Code"] == {"RepositoryType": "ECR", "ImageUri": uri,
                           "ResolvedImageUri": f"{images.host}/team/fn@{images.v1['digest']}"}
    assert got["Configuration"]["PackageType"] == "Image"
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert [f["PackageType"] for f in listed] == ["Image"]

    resp = lam.invoke(FunctionName=name, Payload=b'{"k": 1}', LogType="Tail")
    doc = json.loads(resp["Payload"].read())
    assert_ok(resp, doc)
    assert doc["version"] == "v1"
    assert doc["python"].startswith("3.13."), doc
    assert doc["function_name"] == name
    assert doc["invoked_function_arn"].endswith(f":function:{name}")
    assert doc["memory_limit_in_mb"] == "512"
    assert doc["aws_request_id"] == resp["ResponseMetadata"]["RequestId"]
    assert (doc["cwd"], doc["file"]) == ("/var/task", "/var/task/app.py")
    env = doc["env"]
    assert env["_HANDLER"] == "app.handler", "Lambda's _HANDLER is CMD[0]"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["IMAGE_VAR"] == "from-image", "the image's Env is applied"
    assert env["MINE"] == "function", "the function's own variables win over the image's"
    lines = tail_lines(resp)
    assert any(l.startswith("START RequestId: ") for l in lines), lines
    assert any("v1 handling " + doc["aws_request_id"] in l for l in lines), lines
    assert any(l.startswith("REPORT RequestId: ") for l in lines), lines

    # A function error has Lambda's shape (awslambdaric writes it).
    resp, _, err = invoke(lam, name, {"fail": "boom"})
    assert_unhandled(resp, err)
    assert err["errorType"] == "ValueError", err
    assert err["errorMessage"] == "asked to fail: boom", err
    assert isinstance(err["stackTrace"], list), err

    # The next image: a new ResolvedImageUri and revision; the next invoke runs v2.
    before = lam.get_function_configuration(FunctionName=name)
    upd = lam.update_function_code(FunctionName=name, ImageUri=f"{images.host}/team/fn:v2")
    assert upd["PackageType"] == "Image"
    assert upd["CodeSha256"] == images.v2["digest"][7:]
    assert upd["RevisionId"] != before["RevisionId"]
    got = lam.get_function(FunctionName=name)["Code"]
    assert got["ResolvedImageUri"] == f"{images.host}/team/fn@{images.v2['digest']}"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    resp, _, doc = invoke(lam, name, {"n": 2})
    assert_ok(resp, doc)
    assert doc["version"] == "v2", doc
    assert doc["argv"][1:] == ["app.handler"], "awslambdaric gets CMD as its argument"
    assert doc["event"] == {"n": 2}


def test_create_by_digest_with_image_config_overrides(images, lam):
    name = unique_name("imgfn")
    uri = f"{images.host}/team/fn@{images.v2['digest']}"
    created = _create(lam, name, uri, ImageConfig={"Command": ["app.handler", "extra-arg"]})
    assert created["ImageConfigResponse"] == {"ImageConfig": {"Command": ["app.handler", "extra-arg"]}}
    code = lam.get_function(FunctionName=name)["Code"]
    assert (code["ImageUri"], code["ResolvedImageUri"]) == (uri, uri)
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert doc["argv"][1:] == ["app.handler", "extra-arg"], doc
    # UpdateFunctionConfiguration replaces the overrides; Handler stays refused.
    msg = _refused(lambda: lam.update_function_configuration(FunctionName=name, Handler="app.other"))
    assert msg == ("Please don't provide Handler or Runtime or Layer when the intended "
                   "function PackageType is Image.")
    out = lam.update_function_configuration(FunctionName=name, ImageConfig={"Command": ["app.handler"]})
    assert out["ImageConfigResponse"] == {"ImageConfig": {"Command": ["app.handler"]}}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    resp, _, doc = invoke(lam, name)
    assert_ok(resp, doc)
    assert doc["argv"][1:] == ["app.handler"], doc


def test_unknown_tag_or_registry_is_lambdas_error_nothing_stored(images, lam):
    for uri in [f"{images.host}/team/fn:nope", f"{images.host}/no/such:v1",
                f"{images.host}/team/fn@sha256:{'0' * 64}", f"127.0.0.1:{free_port()}/team/fn:v1"]:
        name = unique_name("imgfn")
        msg = _refused(lambda: _create(lam, name, uri))
        assert msg == f"Source image {uri} does not exist. Provide a valid source image.", msg
        _assert_not_stored(lam, name)
    msg = _refused(lambda: _create(lam, unique_name("imgfn"), "fn:v1"))
    assert msg == "Source image fn:v1 is not valid. Provide a valid source image."


def test_update_to_an_unknown_tag_keeps_the_image(images, lam):
    name = unique_name("imgfn")
    _create(lam, name, f"{images.host}/team/fn:v2")
    before = lam.get_function(FunctionName=name)
    uri = f"{images.host}/team/fn:gone"
    msg = _refused(lambda: lam.update_function_code(FunctionName=name, ImageUri=uri))
    assert msg == f"Source image {uri} does not exist. Provide a valid source image."
    after = lam.get_function(FunctionName=name)
    assert after["Code"] == before["Code"]
    assert after["Configuration"]["RevisionId"] == before["Configuration"]["RevisionId"]
    # An image function takes no zip.
    msg = _refused(lambda: lam.update_function_code(FunctionName=name, ZipFile=base64.b64decode(b"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==")))
    assert msg == "Please provide ImageUri when updating a function with packageType Image."


def test_a_pulled_digest_needs_no_registry_and_survives_a_restart():
    """A digest pulled before is served from the image store (the registry is gone by
    then), and image functions, which have no code package, come back after a restart."""
    base, env = _base()
    data = tempfile.mkdtemp(prefix="quiver-test-imgfn-restart-")
    reg = Registry()
    s = Server(data)
    try:
        desc = _function_image(reg, "solo/fn", "latest", base, APP_V2, _v2_config(env))
        lam = s.start().client()
        by_tag, by_digest = unique_name("imgfn"), unique_name("imgfn")
        _create(lam, by_tag, f"{reg.host}/solo/fn")
        reg.stop()
        pinned = f"{reg.host}/solo/fn@{desc['digest']}"
        created = _create(lam, by_digest, pinned)
        assert created["CodeSha256"] == desc["digest"][7:]
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _create(lam, unique_name("imgfn"), f"{reg.host}/solo/fn:latest")
        assert "does not exist" in exc.value.response["Error"]["Message"], "a tag is always asked"
        s.stop()
        lam = s.start().client()
        for name, uri in [(by_tag, f"{reg.host}/solo/fn"), (by_digest, pinned)]:
            code = lam.get_function(FunctionName=name)["Code"]
            assert (code["ImageUri"], code["ResolvedImageUri"]) == (uri, pinned)
            resp, _, doc = invoke(lam, name, {"who": name})
            assert_ok(resp, doc)
            assert (doc["version"], doc["event"]) == ("v2", {"who": name})
    finally:
        s.stop()
        reg.stop()
        shutil.rmtree(data, ignore_errors=True)
