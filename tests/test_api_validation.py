"""Constraint validation on CreateFunction: limits, names, handler, role, runtime, environment.

Every rejected request must be a 400 that names the offending member or value,
must not create anything, and must leave the server alive and answering.
"""
import json
import os
import re

import botocore.exceptions
import pytest

from apiutil import (
    HANDLER,
    ROLE,
    RUNTIME,
    VALIDATION_CODES,
    StoreSnapshot,
    assert_alive,
    assert_client_error,
    assert_full_config,
    create,
    lamnv,  # noqa: F401  (fixture)
    make_zip,
    settled,
    skip_if_host_has,
    unique_name,
)


def _params(**kw):
    p = dict(FunctionName=unique_name("val"), Runtime=RUNTIME, Role=ROLE, Handler=HANDLER,
             Code={"ZipFile": make_zip()})
    p.update(kw)
    return p


def _rejected(server, lam, client, params, codes, member_re):
    """Create must fail with 400 naming the member; nothing may change."""
    snap = StoreSnapshot(server, lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client.create_function(**params)
    assert_client_error(exc, codes, 400, re.compile(member_re))
    snap.assert_unchanged()
    fname = params.get("FunctionName")
    if isinstance(fname, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", fname):
        with pytest.raises(botocore.exceptions.ClientError) as nf:
            lam.get_function(FunctionName=fname)
        assert_client_error(nf, "ResourceNotFoundException", 404)
    # The next good request still works.
    name, _ = create(lam)
    lam.delete_function(FunctionName=name)
    return exc.value


# ------------------------------------------------------------------ numeric limits


@pytest.mark.parametrize("kw,member", [
    ({"MemorySize": 127}, r"(?i)memory"),
    ({"MemorySize": 10241}, r"(?i)memory"),
    ({"MemorySize": 0}, r"(?i)memory"),
    ({"MemorySize": -1}, r"(?i)memory"),
    ({"Timeout": 0}, r"(?i)timeout"),
    ({"Timeout": 901}, r"(?i)timeout"),
    ({"Timeout": -5}, r"(?i)timeout"),
    ({"EphemeralStorage": {"Size": 511}}, r"(?i)ephemeral|size"),
    ({"EphemeralStorage": {"Size": 10241}}, r"(?i)ephemeral|size"),
])
def test_numeric_limits_rejected(server, lam, lamnv, kw, member):
    _rejected(server, lam, lamnv, _params(**kw), VALIDATION_CODES, member)


def test_validation_exception_wording(server, lam, lamnv):
    """When the server uses ValidationException, it follows Lambda's wording."""
    e = _rejected(server, lam, lamnv, _params(MemorySize=20000), VALIDATION_CODES, r"(?i)memory")
    if e.response["Error"]["Code"] == "ValidationException":
        assert "validation error detected" in e.response["Error"]["Message"]


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("bad", [
    "a" * 65, "a/b", "../x", "a b", "name.with.dot", "naïve", "a:b:c:d", "",
    "arn:aws:lambda:us-east-1:000000000000:function:" + "a" * 65,
])
def test_bad_function_name_rejected(server, lam, lamnv, bad):
    _rejected(server, lam, lamnv, _params(FunctionName=bad), VALIDATION_CODES, r"(?i)function ?name|name")


def test_create_by_full_arn_name_uses_bare_name(lam):
    name = unique_name("arnname")
    _, resp = create(lam, name=f"arn:aws:lambda:us-east-1:000000000000:function:{name}")
    assert resp["FunctionName"] == name
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


@pytest.mark.parametrize("bad", ["a/b", "..", "x" * 200])
def test_bad_name_in_path_is_4xx(server, lam, lamnv, bad):
    snap = StoreSnapshot(server, lam)
    for call in (lamnv.get_function, lamnv.get_function_configuration, lamnv.delete_function):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call(FunctionName=bad)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404), exc.value.response
    snap.assert_unchanged()


# ------------------------------------------------------------------ handler / description / role / misc


@pytest.mark.parametrize("bad", ["has space", "tab\there", "new\nline", " lead", "h" * 129])
def test_bad_handler_rejected(server, lam, lamnv, bad):
    _rejected(server, lam, lamnv, _params(Handler=bad), VALIDATION_CODES, r"(?i)handler")


def test_description_over_256_rejected(server, lam, lamnv):
    _rejected(server, lam, lamnv, _params(Description="d" * 257), VALIDATION_CODES, r"(?i)description")


def test_description_of_256_accepted(lam):
    name, resp = create(lam, Description="d" * 256)
    assert resp["Description"] == "d" * 256


@pytest.mark.parametrize("bad", [
    "not-a-role", "arn:aws:iam::123:role/x", "arn:aws:iam::000000000000:user/bob",
    "arn:aws:s3:::bucket", "arn:aws:iam::000000000000:role/has space",
])
def test_bad_role_rejected(server, lam, lamnv, bad):
    _rejected(server, lam, lamnv, _params(Role=bad), VALIDATION_CODES, r"(?i)role")


@pytest.mark.parametrize("missing", ["Role", "Handler", "Runtime", "Code", "FunctionName"])
def test_missing_required_member_rejected(server, lam, lamnv, missing):
    params = _params()
    params.pop(missing)
    snap = StoreSnapshot(server, lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lamnv.create_function(**params)
    assert_client_error(exc, VALIDATION_CODES + ("InvalidRequestContentException",), 400)
    snap.assert_unchanged()


@pytest.mark.parametrize("arch", [["arm64", "x86_64"], ["sparc"], []])
def test_bad_architectures_rejected(server, lam, lamnv, arch):
    _rejected(server, lam, lamnv, _params(Architectures=arch), VALIDATION_CODES, r"(?i)architecture")


# ------------------------------------------------------------------ runtime


def test_non_enum_runtime_rejected(server, lam, lamnv):
    _rejected(server, lam, lamnv, _params(Runtime="cobol1"), VALIDATION_CODES, r"(?i)runtime|cobol1")


def test_runtime_missing_on_host_lists_available(server, lam):
    skip_if_host_has("/usr/bin/python3.9")
    e = _rejected(server, lam, lam, _params(Runtime="python3.9"), "InvalidParameterValueException",
                  r"python3\.9")
    msg = e.response["Error"]["Message"]
    assert "python3.11" in msg and "provided.al2023" in msg, msg


def test_runtime_missing_on_host_rejected_on_update(server, lam):
    skip_if_host_has("/usr/bin/python3.9")
    name, _ = create(lam)
    created = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_configuration(FunctionName=name, Runtime="python3.9")
    assert_client_error(exc, "InvalidParameterValueException", 400, "python3.11")
    assert "provided.al2023" in exc.value.response["Error"]["Message"]
    got = lam.get_function_configuration(FunctionName=name)
    assert got["Runtime"] == RUNTIME and got["RevisionId"] == created["RevisionId"]
    assert_alive(server, lam)


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3.11"), reason="host lacks python3.11")
def test_available_runtime_accepted(lam):
    z = make_zip()
    name, resp = create(lam, zip_bytes=z, Runtime="python3.11")
    assert_full_config(resp, name, z, phase="creating")


# ------------------------------------------------------------------ environment


def test_environment_over_4kb_rejected(server, lam):
    env = {"BIG": "x" * 4100}
    _rejected(server, lam, lam, _params(Environment={"Variables": env}), "InvalidParameterValueException", r"4KB")


def test_environment_over_4kb_across_many_keys_rejected(server, lam):
    env = {f"KEY_{i:03d}": "v" * 40 for i in range(100)}
    assert len(json.dumps(env, separators=(",", ":"))) > 4096
    _rejected(server, lam, lam, _params(Environment={"Variables": env}), "InvalidParameterValueException", r"4KB")


def test_environment_just_under_4kb_accepted(lam):
    env = {"OK": "y" * 3500}
    name, resp = create(lam, Environment={"Variables": env})
    assert resp["Environment"]["Variables"] == env


@pytest.mark.parametrize("key", ["AWS_REGION", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID",
                                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
                                 "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV"])
def test_reserved_environment_key_rejected(server, lam, key):
    env = {"FINE": "1", key: "x"}
    _rejected(server, lam, lam, _params(Environment={"Variables": env}), "InvalidParameterValueException",
              re.escape(key))


@pytest.mark.parametrize("key", ["1abc", "a-b", "A", "has space", "dot.key", "ünï"])
def test_bad_environment_key_rejected(server, lam, key):
    _rejected(server, lam, lam, _params(Environment={"Variables": {key: "v"}}), VALIDATION_CODES,
              r"(?i)environment|variables|key|" + re.escape(key))


def test_unreserved_aws_prefixed_key_accepted(lam):
    # Only the listed keys are reserved; e.g. AWS_DEFAULT_OUTPUT is an ordinary key.
    name, resp = create(lam, Environment={"Variables": {"AWS_DEFAULT_OUTPUT": "json", "ab": "c"}})
    assert resp["Environment"]["Variables"] == {"AWS_DEFAULT_OUTPUT": "json", "ab": "c"}


# ------------------------------------------------------------------ several bad requests in a row


def test_burst_of_bad_requests_keeps_server_healthy(server, lam, lamnv):
    snap = StoreSnapshot(server, lam)
    bad = [
        _params(MemorySize=1), _params(Timeout=100000), _params(FunctionName="x" * 500),
        _params(Handler=""), _params(Code={"ZipFile": b""}), _params(Runtime=""),
        _params(Environment={"Variables": {"AWS_REGION": "x" * 5000}}),
    ]
    for p in bad * 5:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            lamnv.create_function(**p)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, exc.value.response
    snap.assert_unchanged()


def _env_of_json_size(n):
    """A Variables map whose compact JSON serialization is exactly n bytes."""
    overhead = len(json.dumps({"KEY": ""}, separators=(",", ":")))
    env = {"KEY": "v" * (n - overhead)}
    assert len(json.dumps(env, separators=(",", ":"))) == n
    return env


def test_environment_of_exactly_4kb_accepted(lam):
    env = _env_of_json_size(4096)
    name, resp = create(lam, Environment={"Variables": env})
    assert resp["Environment"]["Variables"] == env


def test_environment_one_byte_over_4kb_rejected(server, lam):
    _rejected(server, lam, lam, _params(Environment={"Variables": _env_of_json_size(4097)}),
              "InvalidParameterValueException", r"4KB")


def test_handler_of_128_chars_accepted(lam):
    h = "m" * 120 + ".handler"
    assert len(h) == 128
    name, resp = create(lam, Handler=h)
    assert resp["Handler"] == h


@pytest.mark.parametrize("tags", [{"k" * 129: "v"}, {"key": "v" * 257}, {"bad*key": "v"}])
def test_bad_tags_on_create_rejected(server, lam, tags):
    _rejected(server, lam, lam, _params(Tags=tags), VALIDATION_CODES, r"(?i)tag")


def test_bad_qualifier_rejected(server, lam):
    name, _ = create(lam)
    for q in ("bad q", "a" * 129, "v/1"):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            lam.get_function(FunctionName=name, Qualifier=q)
        assert_client_error(exc, VALIDATION_CODES + ("ResourceNotFoundException",),
                            exc.value.response["ResponseMetadata"]["HTTPStatusCode"])
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    assert_alive(server, lam)


def test_description_length_counts_characters_not_bytes(server, lam):
    desc = "é" * 200 + "日本語" * 18 + "🦀" * 2  # 256 characters, far more than 256 bytes
    assert len(desc) == 256 and len(desc.encode()) > 256
    name, resp = create(lam, Description=desc)
    assert resp["Description"] == desc
    assert lam.get_function_configuration(FunctionName=name)["Description"] == desc
    _rejected(server, lam, lam, _params(Description=desc + "é"), VALIDATION_CODES, r"(?i)description")


def test_unicode_environment_values_round_trip(lam):
    env = {"GREETING": "héllo wörld 🦀", "JSON": '{"a": [1, 2]}', "NEWLINE": "a\nb"}
    name, resp = create(lam, Environment={"Variables": env})
    assert resp["Environment"]["Variables"] == env
    assert lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == env


# ------------------------------------------------------------------ code size limits
# Lambda's figures today (docs/wire.md §9, §10): a decoded zip over 52,428,800 bytes is a 413
# of its own, checked before the package is opened; a request body over 70,167,211 bytes is
# refused before it is parsed; a package whose files add up to more than 262,144,000 bytes
# is a 400.
ZIPPED_MAX, REQUEST_MAX, UNZIPPED_MAX = 52_428_800, 70_167_211, 262_144_000
TOO_LARGE = "RequestEntityTooLargeException"


def _unzipped_bomb():
    """30 files of 10 MB zeros: a small zip, over 250 MB once extracted."""
    import io
    import zipfile
    buf = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
        for i in range(30):
            with zf.open(f"part{i:02d}.bin", "w") as f:
                for _ in range(10):
                    f.write(chunk)
    return buf.getvalue()


def test_code_size_limits_table(server, lam):
    target, _ = create(lam)
    settled(lam, target)
    zipped_over = bytes(ZIPPED_MAX + 1)  # its base64 request stays under REQUEST_MAX
    request_over = bytes(REQUEST_MAX * 3 // 4 + 1)  # base64 alone exceeds REQUEST_MAX
    bomb = _unzipped_bomb()
    zipped_msg = f"Zipped size must be smaller than {ZIPPED_MAX} bytes"
    unzipped_msg = f"Unzipped size must be smaller than {UNZIPPED_MAX} bytes"

    def create_with(z):
        return lambda: lam.create_function(**_params(Code={"ZipFile": z}))

    def update_with(z):
        return lambda: lam.update_function_code(FunctionName=target, ZipFile=z)

    def layer_with(z):
        return lambda: lam.publish_layer_version(LayerName=unique_name("big"),
                                                 Content={"ZipFile": z})

    rows = [
        ("CreateFunction, zip one byte over 50 MB", create_with(zipped_over), 413, TOO_LARGE,
         zipped_msg),
        ("UpdateFunctionCode, zip one byte over 50 MB", update_with(zipped_over), 413, TOO_LARGE,
         zipped_msg),
        ("PublishLayerVersion, zip one byte over 50 MB", layer_with(zipped_over), 413, TOO_LARGE,
         zipped_msg),
        ("CreateFunction, request over the limit", create_with(request_over), 413, TOO_LARGE,
         f"Request must be smaller than {REQUEST_MAX} bytes for the CreateFunction operation"),
        ("UpdateFunctionCode, request over the limit", update_with(request_over), 413, TOO_LARGE,
         f"Request must be smaller than {REQUEST_MAX} bytes for the UpdateFunctionCode operation"),
        ("CreateFunction, over 250 MB unzipped", create_with(bomb), 400,
         "InvalidParameterValueException", unzipped_msg),
        ("UpdateFunctionCode, over 250 MB unzipped", update_with(bomb), 400,
         "InvalidParameterValueException", unzipped_msg),
    ]
    snap = StoreSnapshot(server, lam)
    failures = []
    for what, call, status, code, message in rows:
        try:
            call()
        except botocore.exceptions.ClientError as e:
            got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"),
                   e.response["Error"].get("Message"))
            if got != (status, code, message):
                failures.append(f"{what}: got {got!r}, want {(status, code, message)!r}")
        else:
            failures.append(f"{what}: succeeded, want {status} {code}")
    assert not failures, "\n".join(failures)
    snap.assert_unchanged()
    assert lam.list_layers()["Layers"] == [], "no layer was published"
    assert_alive(server, lam)
