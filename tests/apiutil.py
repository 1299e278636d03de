"""Helpers for the black-box Lambda control-plane API tests (tests/test_api_*.py).

Everything here talks to the server only through its public HTTP interface:
boto3, the AWS CLI, or raw HTTP requests (signed with SigV4 by botocore so they
pass whether or not the server verifies signatures). Zip files, including
hostile ones, are built in memory so each test states exactly what it sends.
"""
import base64
import datetime
import hashlib
import http.client
import io
import json
import os
import re
import socket
import stat
import struct
import threading
import urllib.parse
import uuid
import zipfile

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import pytest

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RUNTIME = "python3.11"
HANDLER = "app.handler"
ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Credentials the harness gives every client (conftest.CLIENT_ENV).
AKID = "AKIDQUIVERTEST"
SECRET = "quiver-test-secret"

# Largest CreateFunction/UpdateFunctionCode request body Lambda accepts today (50 MB zip after
# base64 is 69,905,067 bytes; Lambda allows 256 KiB more for the rest of the request).
MAX_CREATE_BODY = 70_167_211


def fn_arn(name, qualifier=None):
    return ARN_PREFIX + name + (f":{qualifier}" if qualifier else "")


def not_found_message(name, qualifier=None):
    return f"Function not found: {fn_arn(name, qualifier)}"


def unique_name(prefix="fn"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- zip builders

HANDLER_SRC = b"def handler(event, context):\n    return {'ok': True, 'event': event}\n"


def make_zip(files=None, compression=zipfile.ZIP_DEFLATED):
    """A zip from {name: bytes}. Defaults to a one-file Python handler."""
    if files is None:
        files = {"app.py": HANDLER_SRC}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def handler_zip(marker="v1"):
    """A valid handler package whose bytes differ per marker."""
    src = HANDLER_SRC + f"# marker {marker}\n".encode()
    return make_zip({"app.py": src})


def zip_with_entry(info, data, files_after=None):
    """A zip: app.py, then one entry described by a prepared ZipInfo, then `files_after`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", HANDLER_SRC)
        zf.writestr(info, data)
        for name, content in (files_after or {}).items():
            zf.writestr(name, content)
    return buf.getvalue()


def zip_slip(entry_name):
    """A zip whose entry name escapes the extraction root (e.g. '../evil', '/abs')."""
    # zipfile.writestr keeps the name verbatim when given a ZipInfo, apart from
    # stripping a leading '/', so absolute names are patched in afterwards.
    placeholder = "P" * len(entry_name)
    info = zipfile.ZipInfo(placeholder)
    info.compress_type = zipfile.ZIP_DEFLATED
    raw = zip_with_entry(info, b"escaped!\n")
    patched = raw.replace(placeholder.encode(), entry_name.encode())
    assert patched.count(entry_name.encode()) == 2, "name must appear in local + central header"
    return patched


def zip_symlink(link_name, target, files_after=None):
    """A zip holding a symlink entry (S_IFLNK in the upper external_attr bits),
    optionally followed by files written through it."""
    info = zipfile.ZipInfo(link_name)
    info.create_system = 3  # Unix, so external_attr carries st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zip_with_entry(info, target.encode(), files_after)


def zip_bad_crc():
    """A stored (uncompressed) zip whose file data no longer matches its CRC-32."""
    payload = b"def handler(e, c):\n    return 'original'\n"
    z = bytearray(make_zip({"app.py": payload}, compression=zipfile.ZIP_STORED))
    i = z.find(payload)
    z[i + payload.index(b"original")] ^= 0x20  # 'o' -> 'O': same size, wrong CRC
    return bytes(z)


def zip_encrypted_flag():
    """A zip whose only entry claims to be encrypted (general-purpose flag bit 0)."""
    z = bytearray(make_zip({"app.py": HANDLER_SRC}))
    local = z.find(b"PK\x03\x04")
    central = z.find(b"PK\x01\x02")
    z[local + 6] |= 0x01
    z[central + 8] |= 0x01
    return bytes(z)


def zip_name_mismatch(central_name, local_name):
    """Central directory says `central_name`, the local header says `local_name` (same length)."""
    assert len(central_name) == len(local_name)
    info = zipfile.ZipInfo(central_name)
    raw = bytearray(zip_with_entry(info, b"x = 1\n"))
    local = raw.find(central_name.encode())
    raw[local:local + len(local_name)] = local_name.encode()
    assert raw.count(central_name.encode()) == 1
    return bytes(raw)


def zip_setuid():
    """A valid package containing a setuid+executable file."""
    info = zipfile.ZipInfo("tool.sh")
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | stat.S_ISUID | 0o755) << 16
    return zip_with_entry(info, b"#!/bin/sh\necho hi\n")


def zip_bomb(total_bytes=300 * 1024 * 1024, chunk=1024 * 1024):
    """A small zip holding one file of `total_bytes` zeros, built streaming."""
    buf = io.BytesIO()
    zero = bytes(chunk)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("zeros.bin", "w", force_zip64=True) as f:
            left = total_bytes
            while left > 0:
                n = min(chunk, left)
                f.write(zero[:n])
                left -= n
    return buf.getvalue()


def lie_about_sizes(zip_bytes, claimed=1000):
    """Rewrite every uncompressed-size field to `claimed` bytes.

    The deflate stream is left intact, so an extractor that trusts the headers
    (instead of counting what it inflates) writes far more than it budgeted.
    Walks the real structure (end record -> central directory -> local
    headers) so compressed data is never touched; handles zip64 extras.
    """
    data = bytearray(zip_bytes)

    def patch_extra(off, length):
        end = off + length
        while off + 4 <= end:
            tag, size = struct.unpack_from("<HH", data, off)
            if tag == 0x0001 and size >= 8:  # zip64: usize comes first when present
                struct.pack_into("<Q", data, off + 4, claimed)
            off += 4 + size

    eocd = data.rfind(b"PK\x05\x06")
    assert eocd >= 0, "no end of central directory record"
    (count,) = struct.unpack_from("<H", data, eocd + 10)
    (cd,) = struct.unpack_from("<I", data, eocd + 16)
    for _ in range(count):
        assert data[cd:cd + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, cd + 28)
        (usize,) = struct.unpack_from("<I", data, cd + 24)
        (local,) = struct.unpack_from("<I", data, cd + 42)
        if usize == 0xFFFFFFFF:
            patch_extra(cd + 46 + name_len, extra_len)
        else:
            struct.pack_into("<I", data, cd + 24, claimed)
        assert data[local:local + 4] == b"PK\x03\x04"
        l_name, l_extra = struct.unpack_from("<HH", data, local + 26)
        (l_usize,) = struct.unpack_from("<I", data, local + 22)
        if l_usize == 0xFFFFFFFF:
            patch_extra(local + 30 + l_name, l_extra)
        else:
            struct.pack_into("<I", data, local + 22, claimed)
        cd += 46 + name_len + extra_len + comment_len
    return bytes(data)


# ---------------------------------------------------------------- digests


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# ---------------------------------------------------------------- errors


def assert_client_error(exc, code, status, message=None):
    """Check a botocore ClientError (pytest ExceptionInfo or exception).

    code: str or tuple of accepted codes; message: substring, or a compiled regex.
    """
    e = getattr(exc, "value", exc)
    assert isinstance(e, botocore.exceptions.ClientError), f"not a ClientError: {e!r}"
    err = e.response.get("Error", {})
    got_code = err.get("Code")
    got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    got_msg = err.get("Message", "")
    codes = (code,) if isinstance(code, str) else tuple(code)
    assert got_code in codes, f"code {got_code!r} not in {codes}; status={got_status} message={got_msg!r}"
    assert got_status == status, f"status {got_status} != {status}; code={got_code} message={got_msg!r}"
    if message is not None:
        if isinstance(message, re.Pattern):
            assert message.search(got_msg), f"message {got_msg!r} does not match {message.pattern!r}"
        else:
            assert message in got_msg, f"message {got_msg!r} does not contain {message!r}"
    return e


VALIDATION_CODES = ("ValidationException", "InvalidParameterValueException")


# ---------------------------------------------------------------- function helpers


def create(lam, name=None, zip_bytes=None, **kw):
    """CreateFunction with the project's defaults; returns (name, response)."""
    name = name or unique_name()
    params = dict(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler=HANDLER,
        Code={"ZipFile": zip_bytes if zip_bytes is not None else make_zip()},
    )
    params.update(kw)
    resp = lam.create_function(**params)
    return name, resp


def list_all_functions(lam, **kw):
    out = []
    for page in lam.get_paginator("list_functions").paginate(**kw):
        out.extend(page["Functions"])
    return out


def function_names(lam):
    return sorted(f["FunctionName"] for f in list_all_functions(lam))


def strip_meta(resp):
    resp = dict(resp)
    resp.pop("ResponseMetadata", None)
    return resp


def assert_full_config(cfg, name, zip_bytes, *, version="$LATEST", runtime=RUNTIME, handler=HANDLER,
                       timeout=3, memory=128, description="", ephemeral=512, env=None, in_list=False,
                       phase="settled"):
    """Every field Lambda returns for a Zip function, with the given expectations.

    phase: "creating" (a CreateFunction/PublishVersion answer), "updating" (an Update*
    answer) or "settled" (a read after the transition)."""
    assert cfg["FunctionName"] == name
    if version == "$LATEST":
        assert cfg["FunctionArn"] == fn_arn(name)
    else:
        assert cfg["FunctionArn"] in (fn_arn(name, version),), cfg["FunctionArn"]
    assert cfg["Runtime"] == runtime
    assert cfg["Role"] == ROLE
    assert cfg["Handler"] == handler
    assert cfg["CodeSize"] == len(zip_bytes)
    assert cfg["CodeSha256"] == sha256_b64(zip_bytes)
    assert cfg.get("Description", "") == description
    assert cfg["Timeout"] == timeout
    assert cfg["MemorySize"] == memory
    assert LAST_MODIFIED_RE.match(cfg["LastModified"]), cfg["LastModified"]
    assert cfg["Version"] == version
    assert UUID_RE.match(cfg["RevisionId"]), cfg["RevisionId"]
    assert cfg["PackageType"] == "Zip"
    assert cfg["Architectures"] == ["x86_64"]
    assert cfg["EphemeralStorage"] == {"Size": ephemeral}
    assert cfg["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    if "LogFormat" in cfg["LoggingConfig"]:
        assert cfg["LoggingConfig"]["LogFormat"] in ("Text", "JSON")
    if env is None:
        assert not cfg.get("Environment", {}).get("Variables"), cfg.get("Environment")
    else:
        assert cfg["Environment"]["Variables"] == env
    if not in_list:
        reason = ("The function is being created.", "Creating")
        if phase == "creating":
            assert (cfg["State"], cfg["StateReason"], cfg["StateReasonCode"]) == ("Pending", *reason)
            assert "LastUpdateStatus" not in cfg
        elif phase == "updating":
            assert cfg["State"] == "Active" and "StateReason" not in cfg
            assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReason"],
                    cfg["LastUpdateStatusReasonCode"]) == ("InProgress", *reason)
        else:
            assert phase == "settled", phase
            assert cfg["State"] == "Active" and "StateReason" not in cfg
            assert cfg["LastUpdateStatus"] == "Successful" and "LastUpdateStatusReason" not in cfg


def settled(lam, name, qualifier=None):
    """What a real client does after a create/update/publish: wait for the function to
    settle (botocore's waiters, 1 s delay) and read the configuration, whose RevisionId
    is the one to base further changes on."""
    q = {"Qualifier": qualifier} if qualifier else {}
    cfg = {"Delay": 1, "MaxAttempts": 10}
    if qualifier:
        lam.get_waiter("published_version_active").wait(FunctionName=name, WaiterConfig=cfg, **q)
    else:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=cfg)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=cfg)
    return lam.get_function_configuration(FunctionName=name, **q)


# ---------------------------------------------------------------- clients


def unvalidated_client(server):
    """A boto3 Lambda client that skips botocore's own min/required checks,
    so out-of-range values actually reach the server."""
    cfg = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, parameter_validation=False
    )
    return boto3.client(
        "lambda", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=AKID, aws_secret_access_key=SECRET, config=cfg,
    )


@pytest.fixture
def lamnv(server):
    """Lambda client without client-side parameter validation (import this fixture by name)."""
    return unvalidated_client(server)


# ---------------------------------------------------------------- raw HTTP


def _host_port(server):
    u = urllib.parse.urlsplit(server.endpoint)
    return u.hostname, u.port


def sign_headers(server, method, path, body=b"", headers=None):
    """Headers for a real SigV4 signature over exactly this request (botocore's signer)."""
    headers = dict(headers or {})
    url = server.endpoint.rstrip("/") + path
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    creds = botocore.credentials.Credentials(AKID, SECRET)
    botocore.auth.SigV4Auth(creds, "lambda", REGION).add_auth(req)
    out = {k: v for k, v in req.headers.items()}
    host, port = _host_port(server)
    out["Host"] = f"{host}:{port}"
    return out


def fake_sig_headers():
    """A SigV4-looking Authorization header that no secret produced."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={AKID}/{now:%Y%m%d}/{REGION}/lambda/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={'ab' * 32}"
        ),
        "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
    }


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def error_type(self):
        return self.headers.get("x-amzn-errortype", "").split(":")[0]

    def __repr__(self):
        return f"RawResponse({self.status}, {self.error_type!r}, {self.body[:300]!r})"


def raw_request(server, method, path, body=b"", headers=None, auth="sign", timeout=60):
    """Send one HTTP request with http.client.

    auth: "sign" (real SigV4 over the request), "fake" (a well-formed but bogus
    signature) or None (no Authorization header at all).
    """
    if isinstance(body, str):
        body = body.encode()
    headers = dict(headers or {})
    if body and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    if auth == "sign":
        headers = sign_headers(server, method, path, body, headers)
    elif auth == "fake":
        headers.update(fake_sig_headers())
    host, port = _host_port(server)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return RawResponse(r.status, r.getheaders(), data)
    finally:
        conn.close()


def raw_stream_request(server, method, path, headers, body, chunked=False, chunk=1 << 20, timeout=60):
    """Send a large body from a thread while reading the response on the same socket.

    Returns (status, headers, body, send_error). A server that answers early
    (e.g. 413) before reading everything is fine as long as the response
    arrives intact; a reset before any response is reported as an exception.
    """
    host, port = _host_port(server)
    sock = socket.create_connection((host, port), timeout=timeout)
    head = f"{method} {path} HTTP/1.1\r\n"
    hdrs = dict(headers)
    hdrs["Host"] = f"{host}:{port}"
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    else:
        hdrs["Content-Length"] = str(len(body))
    hdrs["Connection"] = "close"
    head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    send_err = []

    def sender():
        try:
            sock.sendall(head.encode())
            view = memoryview(body)
            for off in range(0, len(body), chunk):
                part = view[off:off + chunk]
                if chunked:
                    sock.sendall(b"%x\r\n" % len(part) + bytes(part) + b"\r\n")
                else:
                    sock.sendall(part)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError as e:  # the server may stop reading after answering
            send_err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    data = b""
    try:
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                if b"\r\n\r\n" in data:
                    break
                raise
            if not part:
                break
            data += part
            if b"\r\n\r\n" in data:
                head_part, _, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head_part)
                if m and len(rest) >= int(m.group(1)):
                    break
    finally:
        t.join(timeout)
        sock.close()
    assert data, "connection closed without any HTTP response"
    head_part, _, rest = data.partition(b"\r\n\r\n")
    lines = head_part.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    hdr = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdr[k.strip().lower()] = v.strip()
    return status, hdr, rest, (send_err[0] if send_err else None)


# ---------------------------------------------------------------- server health / state


def assert_alive(server, lam):
    """The server process still runs and answers a good request."""
    assert server.proc.poll() is None, f"server died; stderr: {server.stderr()}"
    lam.list_functions()
    lam.get_account_settings()


def data_files(data_dir):
    """Files under the data dir, minus SQLite side files that come and go."""
    out = set()
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            if f.endswith(("-wal", "-shm", "-journal")):
                continue
            out.add(os.path.relpath(os.path.join(root, f), data_dir))
    return out


def code_files(data_dir):
    """Files under any blobs/code directory in the data dir."""
    return {p for p in data_files(data_dir) if re.search(r"(^|/)(blobs?|code)(/|$)", p)}


class StoreSnapshot:
    """What a rejected request must leave unchanged."""

    def __init__(self, server, lam):
        self.server = server
        self.lam = lam
        self.functions = self._functions()
        self.files = data_files(server.data_dir)

    def _functions(self):
        return sorted(
            (f["FunctionName"], f["CodeSha256"], f["RevisionId"]) for f in list_all_functions(self.lam)
        )

    def assert_unchanged(self):
        assert_alive(self.server, self.lam)
        assert self._functions() == self.functions
        now = data_files(self.server.data_dir)
        new = sorted(now - self.files)
        assert not new, f"rejected request left new files in the data dir: {new[:20]}"


def skip_if_host_has(path):
    if os.path.exists(path):
        pytest.skip(f"{path} exists on this host, so the runtime is available")


class CallCounter:
    """Counts the requests a boto3 client sends, by operation name, while registered:
    a waiter that settles on its first poll sends exactly one (a count, unlike a stopwatch,
    does not depend on how loaded the machine is)."""

    def __init__(self, client):
        self.client = client
        self.counts = {}

    def _seen(self, model, **_):
        self.counts[model.name] = self.counts.get(model.name, 0) + 1

    def __enter__(self):
        self.client.meta.events.register("before-call", self._seen)
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister("before-call", self._seen)

    def total(self):
        return sum(self.counts.values())
