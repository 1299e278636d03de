"""S3-compatible object store (docs/wire.md §30): boto3 against the real binary."""
import base64
import hashlib
import http.client
import os
import shutil
import signal
import tempfile
import urllib.parse
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from conftest import CLIENT_ENV

SECRET_ARGS = ["--s3-secret", CLIENT_ENV["AWS_SECRET_ACCESS_KEY"]]


def s3_client(server, **cfg):
    config = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"},
        read_timeout=120,
        **cfg,
    )
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=CLIENT_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


@pytest.fixture
def s3srv(server_factory):
    return server_factory(extra_args=SECRET_ARGS)


@pytest.fixture
def s3(s3srv):
    return s3_client(s3srv)


def code(exc):
    return exc.value.response["Error"]["Code"]


def test_buckets(s3):
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta.example")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="alpha")
    assert code(e) == "BucketAlreadyOwnedByYou"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["alpha", "beta.example"]
    s3.head_bucket(Bucket="alpha")
    assert s3.get_bucket_location(Bucket="alpha").get("LocationConstraint") in (None, "")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_object(Bucket="alpha", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta.example"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert code(e) == "NoSuchBucket"


@pytest.mark.parametrize("name", ["ab", "Upper", "under_score", "a..b", "192.168.5.4", "-dash", "x" * 64])
def test_invalid_bucket_names(s3srv, name):
    c = s3_client(s3srv, parameter_validation=False)
    with pytest.raises(ClientError) as e:
        c.create_bucket(Bucket=name)
    assert code(e) == "InvalidBucketName"
    assert c.list_buckets()["Buckets"] == []


def test_put_get_head_delete(s3):
    s3.create_bucket(Bucket="bkt")
    body = b"hello, objects\n"
    r = s3.put_object(
        Bucket="bkt", Key="dir/hello.txt", Body=body, ContentType="text/plain",
        ContentEncoding="identity", ContentDisposition="attachment", Metadata={"Color": "blue"},
    )
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    g = s3.get_object(Bucket="bkt", Key="dir/hello.txt")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/plain"
    assert g["ContentDisposition"] == "attachment"
    assert g["Metadata"] == {"color": "blue"}
    assert g["ETag"] == r["ETag"]
    h = s3.head_object(Bucket="bkt", Key="dir/hello.txt")
    assert h["ContentLength"] == len(body)
    assert h["ContentEncoding"] == "identity"
    o = s3.get_object(Bucket="bkt", Key="dir/hello.txt", ResponseContentType="application/x-test")
    assert o["ContentType"] == "application/x-test"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="nope")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="nobucket", Key="k", Body=b"x")
    assert code(e) == "NoSuchBucket"
    s3.delete_object(Bucket="bkt", Key="dir/hello.txt")
    s3.delete_object(Bucket="bkt", Key="dir/hello.txt")  # a missing key deletes fine
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="bkt", Key="dir/hello.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_ranges_and_conditions(s3):
    s3.create_bucket(Bucket="bkt")
    body = bytes(range(256)) * 4
    etag = s3.put_object(Bucket="bkt", Key="r", Body=body)["ETag"]
    g = s3.get_object(Bucket="bkt", Key="r", Range="bytes=10-19")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == "bytes 10-19/1024"
    assert g["Body"].read() == body[10:20]
    assert s3.get_object(Bucket="bkt", Key="r", Range="bytes=-4")["Body"].read() == body[-4:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", Range="bytes=5000-")
    assert code(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert s3.get_object(Bucket="bkt", Key="r", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", IfMatch='"00000000000000000000000000000000"')
    assert code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    lm = s3.head_object(Bucket="bkt", Key="r")["LastModified"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="bkt", Key="r", IfModifiedSince=lm)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_listing(s3):
    s3.create_bucket(Bucket="bkt")
    keys = ["photos/2006/February/sample2.jpg", "photos/2006/February/sample3.jpg",
            "photos/2006/January/sample.jpg", "sample.jpg"]
    for k in keys:
        s3.put_object(Bucket="bkt", Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket="bkt")
    assert [o["Key"] for o in r["Contents"]] == keys
    assert r["KeyCount"] == 4 and not r["IsTruncated"]
    r = s3.list_objects_v2(Bucket="bkt", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["sample.jpg"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/"]
    r = s3.list_objects_v2(Bucket="bkt", Prefix="photos/2006/", Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2006/February/"]
    assert r["IsTruncated"]
    r = s3.list_objects_v2(Bucket="bkt", Prefix="photos/2006/", Delimiter="/", MaxKeys=1,
                           ContinuationToken=r["NextContinuationToken"])
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2006/January/"]
    assert not r["IsTruncated"]
    r = s3.list_objects_v2(Bucket="bkt", StartAfter="photos/2006/January/sample.jpg")
    assert [o["Key"] for o in r["Contents"]] == ["sample.jpg"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bkt", PaginationConfig={"PageSize": 3})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys


def test_bad_input_stores_nothing(s3srv, s3):
    s3.create_bucket(Bucket="bkt")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"
    s3.put_object(Bucket="bkt", Key="k" * 1024, Body=b"x")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="bkt", Key="md5", Body=b"payload", ContentMD5=wrong)
    assert code(e) == "BadDigest"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert keys == ["k" * 1024]
    # A truncated body: Content-Length promises more than is sent, then the connection closes.
    u = urllib.parse.urlsplit(s3srv.endpoint)
    req = botocore.awsrequest.AWSRequest(
        method="PUT", url=f"{s3srv.endpoint}/bkt/trunc", data=b"x" * 1000,
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    creds = botocore.credentials.Credentials(CLIENT_ENV["AWS_ACCESS_KEY_ID"], CLIENT_ENV["AWS_SECRET_ACCESS_KEY"])
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("PUT", "/bkt/trunc", skip_host=True, skip_accept_encoding=True)
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.putheader("Host", f"{u.hostname}:{u.port}")
    conn.putheader("Content-Length", "1000")
    conn.endheaders()
    conn.send(b"x" * 400)
    conn.sock.shutdown(2)
    conn.close()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert keys == ["k" * 1024]


def test_bad_signature_is_refused(s3srv):
    c = boto3.client(
        "s3", endpoint_url=s3srv.endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDOTHER", aws_secret_access_key="not-the-secret",
        config=botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as e:
        c.list_buckets()
    assert code(e) == "SignatureDoesNotMatch"


def test_multipart_low_level(s3):
    s3.create_bucket(Bucket="bkt")
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp", ContentType="application/x-mp")["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="bkt")["Uploads"]] == [up]
    p1 = os.urandom(5 * 1024 * 1024)
    p2 = b"tail"
    e1 = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket="bkt", Key="mp", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    parts = s3.list_parts(Bucket="bkt", Key="mp", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(p1)), (2, 4)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="bkt", Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="bkt", Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e2}]})
    assert code(e) == "InvalidPart"
    r = s3.complete_multipart_upload(Bucket="bkt", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    want = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest() + "-2"
    assert r["ETag"] == f'"{want}"'
    g = s3.get_object(Bucket="bkt", Key="mp")
    assert g["ContentType"] == "application/x-mp"
    assert g["Body"].read() == p1 + p2
    assert s3.list_multipart_uploads(Bucket="bkt").get("Uploads", []) == []
    # EntityTooSmall: a non-last part under 5 MiB; abort then removes the upload.
    up = s3.create_multipart_upload(Bucket="bkt", Key="small")["UploadId"]
    a = s3.upload_part(Bucket="bkt", Key="small", UploadId=up, PartNumber=1, Body=b"a")["ETag"]
    b = s3.upload_part(Bucket="bkt", Key="small", UploadId=up, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="bkt", Key="small", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": b}]})
    assert code(e) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket="bkt", Key="small", UploadId=up)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="bkt", Key="small", UploadId=up)
    assert code(e) == "NoSuchUpload"


def test_upload_download_file_20mb(s3):
    s3.create_bucket(Bucket="bkt")
    d = tempfile.mkdtemp(prefix="quiver-s3-")
    try:
        src = os.path.join(d, "src")
        with open(src, "wb") as f:
            for _ in range(20):
                f.write(os.urandom(1024 * 1024))
        s3.upload_file(src, "bkt", "big.bin")
        assert s3.head_object(Bucket="bkt", Key="big.bin")["ETag"].endswith('-3"')  # 8 MB parts
        dst = os.path.join(d, "dst")
        s3.download_file("bkt", "big.bin", dst)
        with open(src, "rb") as a, open(dst, "rb") as b:
            assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_virtual_hosted_host_header(s3srv, s3):
    s3.create_bucket(Bucket="vhost")
    s3.put_object(Bucket="vhost", Key="a/b.txt", Body=b"virtual")
    u = urllib.parse.urlsplit(s3srv.endpoint)
    host = f"vhost.s3.localhost:{u.port}"
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"http://{host}/a/b.txt")
    creds = botocore.credentials.Credentials(CLIENT_ENV["AWS_ACCESS_KEY_ID"], CLIENT_ENV["AWS_SECRET_ACCESS_KEY"])
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    # Sent to the loopback address with the virtual host's name in Host.
    conn = http.client.HTTPConnection("127.0.0.1", u.port, timeout=30)
    conn.request("GET", "/a/b.txt", headers=dict(req.headers.items()) | {"Host": host})
    r = conn.getresponse()
    assert r.status == 200
    assert r.read() == b"virtual"
    conn.close()


def test_presigned_url_with_urllib(s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="p.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "p.txt"}, ExpiresIn=300)
    assert url.startswith("http://127.0.0.1")
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"presigned"


def test_lambda_still_served_beside_s3(s3srv, s3):
    s3.create_bucket(Bucket="bkt")
    assert s3srv.client("lambda").list_functions()["Functions"] == []


def test_restart_keeps_objects_and_kill9_leaves_no_half_object(server_factory, data_dir):
    srv = server_factory(extra_args=SECRET_ARGS)
    c = s3_client(srv)
    c.create_bucket(Bucket="bkt")
    c.put_object(Bucket="bkt", Key="kept", Body=b"durable")
    # Start an upload that never finishes, then kill -9 mid-body.
    u = urllib.parse.urlsplit(srv.endpoint)
    req = botocore.awsrequest.AWSRequest(
        method="PUT", url=f"{srv.endpoint}/bkt/half", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    creds = botocore.credentials.Credentials(CLIENT_ENV["AWS_ACCESS_KEY_ID"], CLIENT_ENV["AWS_SECRET_ACCESS_KEY"])
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("PUT", "/bkt/half", skip_host=True, skip_accept_encoding=True)
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.putheader("Host", f"{u.hostname}:{u.port}")
    conn.putheader("Content-Length", str(4 * 1024 * 1024))
    conn.endheaders()
    conn.send(b"y" * (1024 * 1024))
    # The body is being written: a temp file exists before the kill.
    tmp = os.path.join(data_dir, "objects", "tmp")
    for _ in range(200):
        if os.listdir(tmp):
            break
        c.head_bucket(Bucket="bkt")
    assert os.listdir(tmp), "the upload never reached a temp file"
    srv.stop(sig=signal.SIGKILL)
    conn.close()
    srv2 = server_factory(extra_args=SECRET_ARGS)
    c2 = s3_client(srv2)
    assert c2.get_object(Bucket="bkt", Key="kept")["Body"].read() == b"durable"
    assert [o["Key"] for o in c2.list_objects_v2(Bucket="bkt")["Contents"]] == ["kept"]
    assert os.listdir(tmp) == []
    assert len(os.listdir(os.path.join(data_dir, "objects", "data"))) == 1
