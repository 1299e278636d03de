"""Raw HTTP against the control plane: malformed bodies, auth, error wire format, size limits.

Requests are sent with http.client (or a bare socket for huge bodies), so the
server sees exactly these bytes. They carry a real SigV4 signature (botocore's
signer with the harness credentials) unless the test is about auth.
"""
import base64
import json
import os

import botocore.exceptions
import pytest

from apiutil import (
    HANDLER,
    MAX_CREATE_BODY,
    ROLE,
    RUNTIME,
    StoreSnapshot,
    assert_alive,
    assert_client_error,
    create,
    fake_sig_headers,
    fn_arn,
    lamnv,  # noqa: F401  (fixture)
    make_zip,
    not_found_message,
    raw_request,
    raw_stream_request,
    settled,
    sign_headers,
    unique_name,
)

CREATE_PATH = "/2015-03-31/functions"


def _good_body(**kw):
    body = {
        "FunctionName": unique_name("raw"),
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": HANDLER,
        "Code": {"ZipFile": base64.b64encode(make_zip()).decode()},
    }
    body.update(kw)
    return body


def _assert_error_wire(r, status, codes=None):
    """Lambda's rest-json error format: status, x-amzn-ErrorType, JSON body with a message."""
    assert r.status == status, r
    assert r.error_type, f"no x-amzn-ErrorType header: {r}"
    if codes is not None:
        codes = (codes,) if isinstance(codes, str) else codes
        assert r.error_type in codes, r
    body = r.json()
    msg = body.get("message", body.get("Message"))
    assert isinstance(msg, str) and msg, body
    assert body.get("Type") in (None, "User", "Service"), body
    return body


# ------------------------------------------------------------------ the wire format itself


def test_good_raw_create_and_get(server, lam):
    body = _good_body()
    r = raw_request(server, "POST", CREATE_PATH, json.dumps(body))
    assert r.status == 201, r
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.headers.get("x-amzn-requestid")
    assert r.json()["FunctionName"] == body["FunctionName"]
    # docs/wire.md §13: the create answer is Pending; the next request (here raw, without
    # any SDK waiter) already sees the settled function with a new RevisionId.
    assert r.json()["State"] == "Pending" and r.json()["StateReasonCode"] == "Creating"
    g = raw_request(server, "GET", f"{CREATE_PATH}/{body['FunctionName']}")
    assert g.status == 200, g
    got = g.json()["Configuration"]
    assert got["FunctionArn"] == fn_arn(body["FunctionName"])
    assert (got["State"], got["LastUpdateStatus"]) == ("Active", "Successful")
    assert got["RevisionId"] != r.json()["RevisionId"]


def test_not_found_error_wire_format(server):
    name = unique_name("nf")
    r = raw_request(server, "GET", f"{CREATE_PATH}/{name}")
    body = _assert_error_wire(r, 404, "ResourceNotFoundException")
    assert body.get("Message", body.get("message")) == not_found_message(name)
    assert r.headers.get("x-amzn-requestid")


def test_percent_encoded_arn_in_path(server, lam):
    name, _ = create(lam)
    enc = fn_arn(name).replace(":", "%3A")
    r = raw_request(server, "GET", f"{CREATE_PATH}/{enc}/configuration")
    assert r.status == 200, r
    assert r.json()["FunctionName"] == name
    r = raw_request(server, "GET", f"{CREATE_PATH}/{name}?Qualifier=%24LATEST")
    assert r.status == 200, r


def test_delete_returns_204_empty_body(server, lam):
    name, _ = create(lam)
    r = raw_request(server, "DELETE", f"{CREATE_PATH}/{name}")
    assert r.status == 204, r
    assert r.body == b""


# ------------------------------------------------------------------ malformed bodies


@pytest.mark.parametrize("raw", [
    b'{"FunctionName": ',
    b"not json at all",
    b'{"FunctionName": "x",}',
    b"{'FunctionName': 'x'}",
    b'{"FunctionName": "\xff\xfe"}',
    b"\x00\x01\x02",
])
def test_unparseable_json_is_invalid_request_content(server, lam, raw):
    snap = StoreSnapshot(server, lam)
    r = raw_request(server, "POST", CREATE_PATH, raw)
    _assert_error_wire(r, 400, "InvalidRequestContentException")
    snap.assert_unchanged()


def test_deeply_nested_json_is_rejected_not_crashing(server, lam):
    snap = StoreSnapshot(server, lam)
    raw = b'{"FunctionName": ' + b"[" * 200000 + b"]" * 200000 + b"}"
    r = raw_request(server, "POST", CREATE_PATH, raw)
    _assert_error_wire(r, 400)
    snap.assert_unchanged()


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"42", b'"str"'])
def test_non_object_body_is_400(server, lam, raw):
    snap = StoreSnapshot(server, lam)
    r = raw_request(server, "POST", CREATE_PATH, raw, headers={"Content-Type": "application/json"})
    _assert_error_wire(r, 400)
    snap.assert_unchanged()


@pytest.mark.parametrize("override", [
    {"FunctionName": 5},
    {"FunctionName": None},
    {"FunctionName": ["a"]},
    {"MemorySize": "256"},
    {"MemorySize": 256.5},
    {"MemorySize": 1e309},
    {"MemorySize": 99999999999999999999999},
    {"Timeout": True},
    {"Code": "abc"},
    {"Code": {"ZipFile": 123}},
    {"Code": {"ZipFile": "!!!not base64!!!"}},
    {"Environment": {"Variables": ["A", "B"]}},
    {"Environment": {"Variables": {"KEY": 1}}},
    {"Environment": "A=B"},
    {"Publish": "yes"},
    {"Tags": ["a"]},
    {"Architectures": "x86_64"},
    {"EphemeralStorage": {"Size": "512"}},
])
def test_wrong_types_are_400(server, lam, override):
    snap = StoreSnapshot(server, lam)
    body = _good_body(**override)
    raw = json.dumps(body).replace("Infinity", "1e309")
    r = raw_request(server, "POST", CREATE_PATH, raw)
    _assert_error_wire(r, 400)
    snap.assert_unchanged()


@pytest.mark.parametrize("override", [{"Bogus": 1}, {"functionname": "lower"}, {"Code": {"ZipFile": "", "Extra": 1}}])
def test_unknown_fields_are_400(server, lam, override):
    snap = StoreSnapshot(server, lam)
    body = _good_body()
    if "Code" in override:
        body["Code"] = {"ZipFile": body["Code"]["ZipFile"], "Extra": 1}
    else:
        body.update(override)
    r = raw_request(server, "POST", CREATE_PATH, json.dumps(body))
    _assert_error_wire(r, 400)
    snap.assert_unchanged()


def test_huge_update_configuration_body_is_4xx(server, lam):
    name, _ = create(lam)
    created = settled(lam, name)
    snap = StoreSnapshot(server, lam)
    body = json.dumps({"Description": "d" * (8 * 1024 * 1024)}).encode()
    path = f"{CREATE_PATH}/{name}/configuration"
    headers = sign_headers(server, "PUT", path, body, {"Content-Type": "application/json"})
    status, hdrs, resp, _ = raw_stream_request(server, "PUT", path, headers, body)
    assert status in (400, 413), (status, hdrs, resp[:300])
    assert hdrs.get("x-amzn-errortype"), hdrs
    snap.assert_unchanged()
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == created["RevisionId"]


def test_huge_update_configuration_via_boto3_is_client_error(server, lam, lamnv):
    """What a real SDK sees: a modeled 4xx error, not a dropped connection."""
    name, _ = create(lam)
    created = settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lamnv.update_function_configuration(FunctionName=name, Description="d" * (8 * 1024 * 1024))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 413), exc.value.response
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == created["RevisionId"]
    assert_alive(server, lam)


def test_malformed_update_code_body(server, lam):
    name, created = create(lam)
    snap = StoreSnapshot(server, lam)
    r = raw_request(server, "PUT", f"{CREATE_PATH}/{name}/code", b'{"ZipFile": ')
    _assert_error_wire(r, 400, "InvalidRequestContentException")
    r = raw_request(server, "PUT", f"{CREATE_PATH}/{name}/code", json.dumps({"ZipFile": 7}))
    _assert_error_wire(r, 400)
    snap.assert_unchanged()


def test_unknown_route_and_method_are_4xx(server, lam):
    for method, path in (("GET", "/2015-03-31/bogus"), ("PATCH", CREATE_PATH), ("GET", "/1999-01-01/functions"),
                         ("POST", f"{CREATE_PATH}/x/y/z/w")):
        r = raw_request(server, method, path, b"{}" if method != "GET" else b"")
        assert 400 <= r.status < 500, (method, path, r)
    assert_alive(server, lam)


# ------------------------------------------------------------------ authentication


def test_missing_authorization_is_403(server, lam):
    snap = StoreSnapshot(server, lam)
    r = raw_request(server, "GET", CREATE_PATH, auth=None)
    _assert_error_wire(r, 403)
    r = raw_request(server, "POST", CREATE_PATH, json.dumps(_good_body()), auth=None)
    _assert_error_wire(r, 403)
    snap.assert_unchanged()


def test_missing_authorization_on_get_and_delete_is_403(server, lam):
    name, _ = create(lam)
    for method, path in (("GET", f"{CREATE_PATH}/{name}"), ("DELETE", f"{CREATE_PATH}/{name}"),
                         ("GET", "/2016-08-19/account-settings")):
        r = raw_request(server, method, path, auth=None)
        _assert_error_wire(r, 403)
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_garbage_authorization_is_403(server, lam):
    snap = StoreSnapshot(server, lam)
    for value in ("Bearer abc", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
                  "x" * 10000):
        r = raw_request(server, "POST", CREATE_PATH, json.dumps(_good_body()), auth=None,
                        headers={"Authorization": value, "X-Amz-Date": "20260101T000000Z"})
        assert r.status in (400, 403, 431), (value[:40], r)
    snap.assert_unchanged()


def test_fake_signature_header_shape_is_understood(server, lam):
    """A well-formed SigV4 header: accepted in dev mode, or refused with 403 — never a 5xx."""
    r = raw_request(server, "GET", CREATE_PATH, auth="fake")
    assert r.status in (200, 403), r
    assert_alive(server, lam)


# ------------------------------------------------------------------ request size limits


def _big_create_body(total_len):
    head = json.dumps(_good_body(Code={"ZipFile": ""}))
    prefix, suffix = head.split('"ZipFile": ""')
    prefix += '"ZipFile": "'
    suffix = '"' + suffix
    fill = total_len - len(prefix) - len(suffix)
    return prefix.encode() + b"A" * fill + suffix.encode()


def test_create_body_over_limit_is_413_not_reset(server, lam):
    snap = StoreSnapshot(server, lam)
    body = _big_create_body(MAX_CREATE_BODY + 1)
    assert len(body) == MAX_CREATE_BODY + 1
    headers = sign_headers(server, "POST", CREATE_PATH, body, {"Content-Type": "application/json"})
    status, hdrs, resp, _send_err = raw_stream_request(server, "POST", CREATE_PATH, headers, body)
    assert status == 413, (status, hdrs, resp[:300])
    assert hdrs.get("x-amzn-errortype", "").split(":")[0] == "RequestEntityTooLargeException", hdrs
    snap.assert_unchanged()


def test_chunked_create_body_over_limit_is_413(server, lam):
    snap = StoreSnapshot(server, lam)
    body = _big_create_body(MAX_CREATE_BODY + 1024 * 1024)
    headers = dict(fake_sig_headers(), **{"Content-Type": "application/json"})
    status, hdrs, resp, _ = raw_stream_request(server, "POST", CREATE_PATH, headers, body, chunked=True)
    assert status == 413, (status, hdrs, resp[:300])
    snap.assert_unchanged()


def test_boto3_create_over_limit_is_413(server, lam):
    snap = StoreSnapshot(server, lam)
    zip_bytes = bytes(52_428_801)  # base64 makes the request body exceed 69,905,067 bytes
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.create_function(FunctionName=unique_name("big"), Runtime=RUNTIME, Role=ROLE, Handler=HANDLER,
                            Code={"ZipFile": zip_bytes})
    assert_client_error(exc, ("RequestEntityTooLargeException", "RequestTooLargeException"), 413)
    snap.assert_unchanged()


def test_large_zip_under_limit_is_accepted(server, lam):
    import zipfile
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
        zf.writestr("random.bin", os.urandom(40 * 1024 * 1024))
    z = buf.getvalue()
    name, resp = create(lam, zip_bytes=z)
    assert resp["CodeSize"] == len(z)
    assert_alive(server, lam)


def test_update_code_body_over_limit_is_4xx_not_reset(server, lam):
    name, _ = create(lam)
    created = settled(lam, name)
    snap = StoreSnapshot(server, lam)
    body = b'{"ZipFile": "' + b"A" * (MAX_CREATE_BODY + 16) + b'"}'
    path = f"{CREATE_PATH}/{name}/code"
    headers = sign_headers(server, "PUT", path, body, {"Content-Type": "application/json"})
    status, hdrs, resp, _ = raw_stream_request(server, "PUT", path, headers, body)
    assert status in (400, 413), (status, hdrs, resp[:300])
    assert hdrs.get("x-amzn-errortype"), hdrs
    snap.assert_unchanged()
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == created["RevisionId"]


# ------------------------------------------------------------------ error member casing (docs/wire.md §3)


def test_error_member_casing_follows_the_model(server, lam):
    """ResourceNotFoundException uses `Message`; the lowercase-`message` family uses `message`; all carry Type."""
    name, created = create(lam)
    cases = [
        (raw_request(server, "GET", f"{CREATE_PATH}/{unique_name('nf')}"), 404, "ResourceNotFoundException", "Message"),
        (raw_request(server, "POST", CREATE_PATH, json.dumps(_good_body(FunctionName=name))), 409,
         "ResourceConflictException", "message"),
        (raw_request(server, "PUT", f"{CREATE_PATH}/{name}/configuration",
                     json.dumps({"Timeout": 5, "RevisionId": "00000000-0000-0000-0000-000000000000"})), 412,
         "PreconditionFailedException", "message"),
        (raw_request(server, "POST", CREATE_PATH, b"{nope"), 400, "InvalidRequestContentException", "message"),
        (raw_request(server, "POST", CREATE_PATH,
                     json.dumps(_good_body(Environment={"Variables": {"AWS_REGION": "x"}}))), 400,
         "InvalidParameterValueException", "message"),
    ]
    for r, status, code, member in cases:
        body = _assert_error_wire(r, status, code)
        assert member in body, (code, body)
        assert body.get("Type") == "User", (code, body)


def test_tag_and_untag_return_204_empty(server, lam):
    name, _ = create(lam)
    arn = fn_arn(name).replace(":", "%3A")
    r = raw_request(server, "POST", f"/2017-03-31/tags/{arn}", json.dumps({"Tags": {"a": "b"}}))
    assert r.status == 204 and r.body == b"", r
    r = raw_request(server, "DELETE", f"/2017-03-31/tags/{arn}?tagKeys=a&tagKeys=zz")
    assert r.status == 204 and r.body == b"", r
    assert lam.list_tags(Resource=fn_arn(name))["Tags"] == {}


@pytest.mark.parametrize("query", ["MaxItems=0", "MaxItems=10001", "MaxItems=abc", "MaxItems=-1"])
def test_list_functions_bad_max_items_is_400(server, lam, query):
    r = raw_request(server, "GET", f"{CREATE_PATH}?{query}")
    _assert_error_wire(r, 400)
    assert_alive(server, lam)
