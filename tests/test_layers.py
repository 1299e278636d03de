"""Lambda layers end to end: the layer API through boto3, and functions that use layers
running in real sandboxes (docs/wire.md §16).

Layers are built in memory with zipfile; functions import a Python package and require
a Node module from them, see later layers override earlier ones, find /opt read-only,
and keep working after the layer version they use is deleted (even across a restart,
which runs garbage collection). Hostile layer zips are refused like hostile function
packages, writing nothing outside the store.
"""
import io
import json
import os
import re
import urllib.request
import uuid
import zipfile

import botocore.exceptions
import pytest

from apiutil import (
    ACCOUNT,
    LAST_MODIFIED_RE,
    REGION,
    assert_alive,
    assert_client_error,
    data_files,
    lamnv,  # noqa: F401  (fixture)
    sha256_b64,
    zip_slip,
    zip_symlink,
)
from invokeutil import assert_ok, create, invoke, make_zip, unique_name

LAYER_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

PY_PROBE = b"""
import json, os, uuid
TOKEN = uuid.uuid4().hex  # one per environment

def handler(event, context):
    out = {"token": TOKEN}
    if event.get("read"):
        with open(event["read"]) as f:
            out["read"] = f.read()
    if event.get("import"):
        mod = __import__(event["import"])
        out["import"] = mod.WHO
        out["file"] = mod.__file__
    if event.get("write"):
        try:
            with open(event["write"], "w") as f:
                f.write("x")
            out["write"] = "ok"
        except OSError as e:
            out["write"] = e.errno
    if event.get("list"):
        out["list"] = sorted(os.listdir(event["list"]))
    out["env"] = {k: os.environ.get(k) for k in ("PATH", "LD_LIBRARY_PATH")}
    return out
"""

NODE_PROBE = b"""
exports.handler = async (event) => {
  const m = require(event.require);
  return { who: m.who, path: require.resolve(event.require), node_path: process.env.NODE_PATH };
};
"""


def layer_zip(files):
    return make_zip(files)


def layer_name(prefix="layer"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def publish(lam, name, files, **kw):
    z = layer_zip(files)
    resp = lam.publish_layer_version(LayerName=name, Content={"ZipFile": z}, **kw)
    return resp, z


def py_fn(lam, layers=(), **kw):
    return create(lam, make_zip({"app.py": PY_PROBE}), Layers=list(layers), **kw)


def call(lam, name, event, **kw):
    resp, body, doc = invoke(lam, name, event, **kw)
    assert_ok(resp, body)
    return doc


# ---------------------------------------------------------------- the layer API


def test_publish_get_list_and_delete(lam):
    name = layer_name()
    files = {"python/mod.py": b"WHO = 'v1'\n"}
    v1, z1 = publish(
        lam, name, files, Description="first", CompatibleRuntimes=["python3.11", "nodejs20.x"],
        CompatibleArchitectures=["x86_64"], LicenseInfo="MIT",
    )
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["LayerArn"] == LAYER_PREFIX + name
    assert v1["LayerVersionArn"] == f"{LAYER_PREFIX}{name}:1"
    assert v1["Version"] == 1
    assert v1["Description"] == "first"
    assert v1["LicenseInfo"] == "MIT"
    assert v1["CompatibleRuntimes"] == ["python3.11", "nodejs20.x"]
    assert v1["CompatibleArchitectures"] == ["x86_64"]
    assert LAST_MODIFIED_RE.match(v1["CreatedDate"]), v1["CreatedDate"]
    assert v1["Content"]["CodeSha256"] == sha256_b64(z1)
    assert v1["Content"]["CodeSize"] == len(z1)
    with urllib.request.urlopen(v1["Content"]["Location"], timeout=10) as r:
        assert r.read() == z1

    v2, z2 = publish(lam, name, {"python/mod.py": b"WHO = 'v2'\n"}, CompatibleRuntimes=["nodejs20.x"])
    assert v2["Version"] == 2
    assert "LicenseInfo" not in v2 and "CompatibleArchitectures" not in v2
    assert v2["Description"] == ""

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    for k in ("LayerArn", "LayerVersionArn", "Version", "Description", "CreatedDate", "LicenseInfo",
              "CompatibleRuntimes", "CompatibleArchitectures"):
        assert got[k] == v1[k], k
    assert got["Content"]["CodeSha256"] == sha256_b64(z1)
    # By ARN, and with the layer named by its ARN.
    by_arn = lam.get_layer_version_by_arn(Arn=f"{LAYER_PREFIX}{name}:2")
    assert by_arn["Version"] == 2 and by_arn["Content"]["CodeSha256"] == sha256_b64(z2)
    assert lam.get_layer_version(LayerName=LAYER_PREFIX + name, VersionNumber=2)["Version"] == 2

    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert versions[1]["LayerVersionArn"] == f"{LAYER_PREFIX}{name}:1"
    assert "Content" not in versions[0] and "LayerArn" not in versions[0]
    only_py = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.11")["LayerVersions"]
    assert [v["Version"] for v in only_py] == [1]
    page = lam.list_layer_versions(LayerName=name, MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    rest = lam.list_layer_versions(LayerName=name, MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest
    assert lam.list_layer_versions(LayerName=layer_name("none"))["LayerVersions"] == []

    layers = {x["LayerName"]: x for x in lam.list_layers()["Layers"]}
    assert layers[name]["LayerArn"] == LAYER_PREFIX + name
    assert layers[name]["LatestMatchingVersion"]["Version"] == 2
    py = {x["LayerName"]: x for x in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]}
    assert py[name]["LatestMatchingVersion"]["Version"] == 1
    assert name not in {x["LayerName"] for x in lam.list_layers(CompatibleArchitecture="arm64")["Layers"]}

    # Delete: 204, idempotent; numbers are never reused.
    d = lam.delete_layer_version(LayerName=name, VersionNumber=2)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=layer_name("never"), VersionNumber=7)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert_client_error(e, "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    v3, _ = publish(lam, name, files)
    assert v3["Version"] == 3
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [3, 1]


def test_list_layers_pages(lam):
    names = sorted(layer_name("page") for _ in range(3))
    for n in names:
        publish(lam, n, {"a.txt": n.encode()})
    seen, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = lam.list_layers(MaxItems=2, **kw)
        assert len(page["Layers"]) <= 2
        seen += [x["LayerName"] for x in page["Layers"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == sorted(seen) and set(names) <= set(seen)


def test_layer_api_refusals(lam, lamnv):  # noqa: F811
    name = layer_name()
    cases = [
        (dict(LayerName="bad name!", Content={"ZipFile": layer_zip({"a": b"1"})}),
         "ValidationException", "Member must satisfy regular expression pattern"),
        (dict(LayerName=name), "ValidationException", "Value null at 'content'"),
        (dict(LayerName=name, Content={"S3Bucket": "bucket", "S3Key": "k.zip"}),
         "InvalidParameterValueException", "only ZipFile is supported on this server"),
        (dict(LayerName=name, Content={"ZipFile": b"not a zip"}),
         "InvalidParameterValueException", "Could not unzip uploaded file"),
        (dict(LayerName=name, Content={"ZipFile": layer_zip({"a": b"1"})}, CompatibleRuntimes=["cobol"]),
         "ValidationException", "compatibleRuntimes"),
        (dict(LayerName=name, Content={"ZipFile": layer_zip({"a": b"1"})},
              CompatibleArchitectures=["x86_64", "arm64", "x86_64"]),
         "ValidationException", "compatibleArchitectures"),
        (dict(LayerName=name, Content={"ZipFile": layer_zip({"a": b"1"})}, LicenseInfo="x" * 513),
         "ValidationException", "licenseInfo"),
        (dict(LayerName=name, Content={"ZipFile": layer_zip({"a": b"1"})}, Description="d" * 257),
         "ValidationException", "description"),
        (dict(LayerName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{name}",
              Content={"ZipFile": layer_zip({"a": b"1"})}),
         "InvalidParameterValueException", "region and account"),
    ]
    for kw, code, msg in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lamnv.publish_layer_version(**kw)
        assert_client_error(e, code, 400, msg)
    # Nothing of the refused publications exists.
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert_client_error(e, "ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_layer_version_by_arn(Arn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{name}:1")
    assert_client_error(e, "ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.get_layer_version_by_arn(Arn="arn:nope")
    assert_client_error(e, "ValidationException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.list_layers(MaxItems=51)
    assert_client_error(e, "ValidationException", 400, "less than or equal to 50")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.list_layers(CompatibleRuntime="cobol")
    assert_client_error(e, "ValidationException", 400, "compatibleRuntime")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lamnv.list_layer_versions(LayerName=name, Marker="!!")
    assert_client_error(e, "InvalidParameterValueException", 400, "Invalid Marker")


def test_layer_version_permissions(lam, lamnv):  # noqa: F811
    name = layer_name()
    publish(lam, name, {"a.txt": b"1"})
    arn = f"{LAYER_PREFIX}{name}:1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert_client_error(e, "ResourceNotFoundException", 404, "No policy is associated with the given resource.")

    added = lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="everyone", Action="lambda:GetLayerVersion", Principal="*",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert UUID_RE.match(added["RevisionId"])
    st = json.loads(added["Statement"])
    assert st == {"Sid": "everyone", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion",
                  "Resource": arn}
    second = lam.add_layer_version_permission(
        LayerName=name, VersionNumber=1, StatementId="acct", Action="lambda:GetLayerVersion",
        Principal="123456789012", OrganizationId="o-abcdefghij", RevisionId=added["RevisionId"],
    )
    assert second["RevisionId"] != added["RevisionId"]
    pol = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert pol["RevisionId"] == second["RevisionId"]
    doc = json.loads(pol["Policy"])
    assert doc["Version"] == "2012-10-17"
    assert [s["Sid"] for s in doc["Statement"]] == ["everyone", "acct"]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert doc["Statement"][1]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}

    refusals = [
        (dict(StatementId="everyone", Action="lambda:GetLayerVersion", Principal="*"),
         "ResourceConflictException", 409, "already exists"),
        (dict(StatementId="x", Action="lambda:GetLayerVersion", Principal="*", RevisionId=added["RevisionId"]),
         "PreconditionFailedException", 412, "Revision Id"),
        (dict(StatementId="x", Action="lambda:InvokeFunction", Principal="*"), "ValidationException", 400, "action"),
        (dict(StatementId="x", Action="lambda:GetLayerVersion", Principal="someone"),
         "ValidationException", 400, "principal"),
        (dict(StatementId="bad sid", Action="lambda:GetLayerVersion", Principal="*"),
         "ValidationException", 400, "statementId"),
        (dict(Action="lambda:GetLayerVersion", Principal="*"), "ValidationException", 400, "statementId"),
    ]
    for kw, code, status, msg in refusals:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lamnv.add_layer_version_permission(LayerName=name, VersionNumber=1, **kw)
        assert_client_error(e, code, status, msg)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=9, StatementId="x",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert_client_error(e, "ResourceNotFoundException", 404)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="acct",
                                            RevisionId=added["RevisionId"])
    assert_client_error(e, "PreconditionFailedException", 412)
    r = lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="acct")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="acct")
    assert_client_error(e, "ResourceNotFoundException", 404, "Statement acct is not found in resource policy.")
    assert [s["Sid"] for s in json.loads(lam.get_layer_version_policy(
        LayerName=name, VersionNumber=1)["Policy"])["Statement"]] == ["everyone"]


# ---------------------------------------------------------------- functions with layers


def test_python_package_and_node_module_from_layers(lam):
    py_layer, _ = publish(lam, layer_name("py"), {
        "python/greet/__init__.py": b"WHO = 'python-layer'\n",
        "python/lib/python3.11/site-packages/sitepkg.py": b"WHO = 'site-packages'\n",
    })
    node_layer, node_zip = publish(lam, layer_name("node"), {
        "nodejs/node_modules/greet/index.js": b"module.exports = { who: 'node-layer' };\n",
        "nodejs/node20/node_modules/versioned/index.js": b"module.exports = { who: 'node20' };\n",
    })
    name = py_fn(lam, [py_layer["LayerVersionArn"]])
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["Layers"] == [{"Arn": py_layer["LayerVersionArn"], "CodeSize": py_layer["Content"]["CodeSize"]}]
    doc = call(lam, name, {"import": "greet"})
    assert doc["import"] == "python-layer" and doc["file"] == "/opt/python/greet/__init__.py"
    doc = call(lam, name, {"import": "sitepkg"})
    assert doc["file"] == "/opt/python/lib/python3.11/site-packages/sitepkg.py"
    assert "/opt/bin" in doc["env"]["PATH"].split(":")
    assert "/opt/lib" in doc["env"]["LD_LIBRARY_PATH"].split(":")

    node = create(lam, make_zip({"index.js": NODE_PROBE}), runtime="nodejs20.x", handler="index.handler",
                  Layers=[node_layer["LayerVersionArn"]])
    doc = call(lam, node, {"require": "greet"})
    assert doc["who"] == "node-layer" and doc["path"] == "/opt/nodejs/node_modules/greet/index.js"
    assert doc["node_path"].split(":")[:2] == ["/opt/nodejs/node20/node_modules", "/opt/nodejs/node_modules"]
    doc = call(lam, node, {"require": "versioned"})
    assert doc["who"] == "node20"
    assert lam.get_function(FunctionName=node)["Configuration"]["Layers"][0]["CodeSize"] == len(node_zip)


def test_later_layers_override_earlier_and_opt_is_read_only(lam):
    a, _ = publish(lam, layer_name("a"), {"python/shared.py": b"WHO = 'a'\n", "a-only.txt": b"from a"})
    b, _ = publish(lam, layer_name("b"), {"python/shared.py": b"WHO = 'b'\n", "b-only.txt": b"from b"})
    ab = py_fn(lam, [a["LayerVersionArn"], b["LayerVersionArn"]])
    doc = call(lam, ab, {"import": "shared", "list": "/opt", "write": "/opt/new.txt"})
    assert doc["import"] == "b", "the later layer wins"
    assert doc["list"] == ["a-only.txt", "b-only.txt", "python"]
    assert doc["write"] == 30, f"/opt must be read-only (EROFS), got {doc['write']}"
    assert call(lam, ab, {"write": "/opt/python/shared.py"})["write"] == 30
    ba = py_fn(lam, [b["LayerVersionArn"], a["LayerVersionArn"]])
    assert call(lam, ba, {"import": "shared"})["import"] == "a"
    assert [x["Arn"] for x in lam.get_function(FunctionName=ba)["Configuration"]["Layers"]] == [
        b["LayerVersionArn"], a["LayerVersionArn"]]

    # Changing Layers drains the old environments: the next call runs in a new one.
    before = call(lam, ab, {"import": "shared"})
    assert call(lam, ab, {})["token"] == before["token"], "warm environment reused"
    upd = lam.update_function_configuration(FunctionName=ab, Layers=[b["LayerVersionArn"], a["LayerVersionArn"]])
    assert [x["Arn"] for x in upd["Layers"]] == [b["LayerVersionArn"], a["LayerVersionArn"]]
    after = call(lam, ab, {"import": "shared"})
    assert after["import"] == "a" and after["token"] != before["token"]
    # Removing every layer leaves /opt empty, like a function that never had any.
    upd = lam.update_function_configuration(FunctionName=ab, Layers=[])
    assert "Layers" not in upd
    assert call(lam, ab, {"list": "/opt"})["list"] == []
    plain = py_fn(lam)
    assert "Layers" not in lam.get_function_configuration(FunctionName=plain)
    assert call(lam, plain, {"list": "/opt"})["list"] == []


def test_function_layers_refusals(lam, lamnv):  # noqa: F811
    name = layer_name()
    arns = []
    for i in range(6):
        r, _ = publish(lam, f"{name}-{i}", {f"f{i}.txt": b"x"})
        arns.append(r["LayerVersionArn"])
    two, _ = publish(lam, f"{name}-0", {"f.txt": b"y"})
    missing = f"{LAYER_PREFIX}{name}-0:99"
    foreign = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{name}-0:1"
    cases = [
        (arns, "InvalidParameterValueException", "Cannot reference more than 5 layers."),
        ([arns[1], missing], "InvalidParameterValueException", f"Layer version {missing} does not exist."),
        ([foreign], "InvalidParameterValueException", f"Layer version {foreign} does not exist."),
        ([arns[0], arns[1], two["LayerVersionArn"]], "InvalidParameterValueException",
         f"Two different versions of the same layer are not allowed to be referenced in the same function. "
         f"{arns[0]} and {two['LayerVersionArn']} are versions of the same layer."),
        ([f"{LAYER_PREFIX}{name}-1"], "ValidationException", "Member must satisfy regular expression pattern"),
    ]
    for layers, code, msg in cases:
        fname = unique_name("refused")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            create(lamnv, make_zip({"app.py": PY_PROBE}), name=fname, Layers=layers)
        assert_client_error(e, code, 400, msg)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.get_function(FunctionName=fname)
        assert_client_error(e, "ResourceNotFoundException", 404)
    ok = py_fn(lam, arns[:5])
    rev = lam.get_function_configuration(FunctionName=ok)["RevisionId"]
    for layers, code, msg in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lamnv.update_function_configuration(FunctionName=ok, Layers=layers)
        assert_client_error(e, code, 400, msg)
    cfg = lam.get_function_configuration(FunctionName=ok)
    assert cfg["RevisionId"] == rev and [x["Arn"] for x in cfg["Layers"]] == arns[:5]
    assert call(lam, ok, {"list": "/opt"})["list"] == [f"f{i}.txt" for i in range(5)]


def _zeros_zip(path, mb, extra=None):
    """A zip holding `mb` MiB of zeros at `path`: a few hundred KB compressed."""
    buf = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        with zf.open(path, "w") as f:
            for _ in range(mb):
                f.write(chunk)
    return buf.getvalue()


def test_function_and_layers_over_250_mb_are_refused(server, lam):
    big_a = lam.publish_layer_version(LayerName=layer_name("big"), Content={"ZipFile": _zeros_zip("a.bin", 120)})
    big_b = lam.publish_layer_version(LayerName=layer_name("big"), Content={"ZipFile": _zeros_zip("b.bin", 120)})
    code = _zeros_zip("pad.bin", 11, extra={"app.py": PY_PROBE})
    code_bytes = 11 * (1 << 20) + len(PY_PROBE)
    total = 240 * (1 << 20) + code_bytes
    assert total > 262144000
    msg = ("Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
           f"The actual size is {total} bytes.")
    before = data_files(server.data_dir)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create(lam, code, Layers=[big_a["LayerVersionArn"], big_b["LayerVersionArn"]])
    assert_client_error(e, "InvalidParameterValueException", 400, msg)
    assert data_files(server.data_dir) == before, "a refused package is not stored"
    # One big layer fits; adding the second through an update is refused the same way.
    name = create(lam, code, Layers=[big_a["LayerVersionArn"]])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName=name,
                                          Layers=[big_a["LayerVersionArn"], big_b["LayerVersionArn"]])
    assert_client_error(e, "InvalidParameterValueException", 400, msg)
    # And bigger code under an existing layer too.
    bigger = _zeros_zip("pad.bin", 131, extra={"app.py": PY_PROBE})
    before = data_files(server.data_dir)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_code(FunctionName=name, ZipFile=bigger)
    assert_client_error(e, "InvalidParameterValueException", 400, "Function code combined with layers exceeds")
    assert data_files(server.data_dir) == before, "a refused package is not stored"
    assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=name)["Layers"]] == [
        big_a["LayerVersionArn"]]
    assert call(lam, name, {"list": "/opt"})["list"] == ["a.bin"]


def test_deleting_a_layer_version_keeps_functions_working(server_factory, data_dir):
    server = server_factory()
    lam = server.client("lambda")
    lname = layer_name("pinned")
    v, _ = publish(lam, lname, {"python/pinned.py": b"WHO = 'still here'\n"})
    name = py_fn(lam, [v["LayerVersionArn"]])
    published = lam.publish_version(FunctionName=name)["Version"]
    assert call(lam, name, {"import": "pinned"})["import"] == "still here"
    lam.delete_layer_version(LayerName=lname, VersionNumber=1)
    # Running environments, new environments, published versions: all still have it.
    assert call(lam, name, {"import": "pinned"})["import"] == "still here"
    assert call(lam, name, {"import": "pinned"}, Qualifier=published)["import"] == "still here"
    assert lam.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"] == v["LayerVersionArn"]
    # A new function cannot use the deleted version.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        py_fn(lam, [v["LayerVersionArn"]])
    assert_client_error(e, "InvalidParameterValueException", 400, "does not exist")
    # A restart collects garbage: the pinned content must survive it.
    server.stop()
    server = server_factory(data_dir_override=data_dir)
    lam = server.client("lambda")
    assert call(lam, name, {"import": "pinned"})["import"] == "still here"
    assert call(lam, name, {"import": "pinned"}, Qualifier=published)["import"] == "still here"
    # Once no function uses it, garbage collection may take it; the functions' own
    # code is untouched.
    lam.delete_function(FunctionName=name)
    assert_alive(server, lam)


def _hostile_layers(tag):
    abs_path = f"/tmp/quiver-layer-abs-{tag}"
    return abs_path, {
        "slip_parent": zip_slip(f"../evil-{tag}"),
        "slip_deep": zip_slip(f"python/../../../../../../tmp/evil-{tag}"),
        "slip_absolute": zip_slip(abs_path),
        "symlink_absolute": zip_symlink("python", "/etc"),
        "symlink_escape": zip_symlink("link", "../../../etc/passwd"),
        "symlink_then_write_through": zip_symlink("outside", "/tmp", files_after={f"outside/evil-{tag}": b"x"}),
    }


def test_hostile_layer_zips_are_refused(server, lam):
    tag = uuid.uuid4().hex[:10]
    abs_path, cases = _hostile_layers(tag)
    name = layer_name("hostile")
    before = data_files(server.data_dir)
    for case, z in cases.items():
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.publish_layer_version(LayerName=name, Content={"ZipFile": z})
        assert_client_error(e, "InvalidParameterValueException", 400, "Could not unzip uploaded file")
        assert not os.path.exists(abs_path), case
        assert not os.path.exists(f"/tmp/evil-{tag}"), case
        parent = os.path.dirname(server.data_dir)
        assert not os.path.exists(os.path.join(parent, f"evil-{tag}")), case
        new = sorted(data_files(server.data_dir) - before)
        assert not new, f"{case} left files in the data dir: {new[:10]}"
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert name not in {x["LayerName"] for x in lam.list_layers()["Layers"]}
    assert_alive(server, lam)


def test_aws_cli_publishes_and_attaches_a_layer(server, lam, tmp_path):
    z = layer_zip({"python/clilayer.py": b"WHO = 'cli'\n"})
    path = tmp_path / "layer.zip"
    path.write_bytes(z)
    name = layer_name("cli")
    out = json.loads(server.cli("lambda", "publish-layer-version", "--layer-name", name,
                                "--zip-file", f"fileb://{path}", "--compatible-runtimes", "python3.11").stdout)
    assert out["Version"] == 1 and out["Content"]["CodeSha256"] == sha256_b64(z)
    fn = py_fn(lam)
    cfg = json.loads(server.cli("lambda", "update-function-configuration", "--function-name", fn,
                                "--layers", out["LayerVersionArn"]).stdout)
    assert cfg["Layers"] == [{"Arn": out["LayerVersionArn"], "CodeSize": len(z)}]
    assert call(lam, fn, {"import": "clilayer"})["import"] == "cli"
    listed = json.loads(server.cli("lambda", "list-layers", "--compatible-runtime", "python3.11").stdout)
    assert name in {x["LayerName"] for x in listed["Layers"]}
