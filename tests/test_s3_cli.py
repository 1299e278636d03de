"""The AWS CLI v1's `aws s3` commands against Quiver's S3 (docs/wire.md §30)."""
import hashlib
import os
import shutil
import tempfile
import urllib.request

import pytest

from conftest import CLIENT_ENV


@pytest.fixture
def srv(server_factory):
    return server_factory(extra_args=["--s3-secret", CLIENT_ENV["AWS_SECRET_ACCESS_KEY"]])


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="quiver-s3cli-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_mb_cp_ls_rm_presign(srv, tmp):
    srv.cli("s3", "mb", "s3://clibucket")
    src = os.path.join(tmp, "hello.txt")
    with open(src, "wb") as f:
        f.write(b"from the cli\n")
    srv.cli("s3", "cp", src, "s3://clibucket/docs/hello.txt")
    out = srv.cli("s3", "ls", "s3://clibucket/docs/").stdout.decode()
    assert "hello.txt" in out and "13" in out
    assert "clibucket" in srv.cli("s3", "ls").stdout.decode()
    url = srv.cli("s3", "presign", "s3://clibucket/docs/hello.txt").stdout.decode().strip()
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"from the cli\n"
    dst = os.path.join(tmp, "back.txt")
    srv.cli("s3", "cp", "s3://clibucket/docs/hello.txt", dst)
    assert open(dst, "rb").read() == b"from the cli\n"
    srv.cli("s3", "rm", "s3://clibucket/docs/hello.txt")
    assert "hello.txt" not in srv.cli("s3", "ls", "s3://clibucket/docs/", check=False).stdout.decode()
    srv.cli("s3", "rb", "s3://clibucket")
    assert "clibucket" not in srv.cli("s3", "ls").stdout.decode()


def test_200mb_multipart_cp_and_ranged_download(srv, tmp):
    srv.cli("s3", "mb", "s3://bigbucket")
    src = os.path.join(tmp, "big.bin")
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(200):
            f.write(block[i:] + block[:i])
    srv.cli("s3", "cp", src, "s3://bigbucket/big.bin", timeout=600)
    head = srv.cli("s3api", "head-object", "--bucket", "bigbucket", "--key", "big.bin").stdout.decode()
    assert '"ContentLength": 209715200' in head
    assert '-' in head.split('"ETag"')[1].split("\n")[0]  # a multipart ETag
    dst = os.path.join(tmp, "back.bin")
    srv.cli("s3", "cp", "s3://bigbucket/big.bin", dst, timeout=600)
    assert sha(dst) == sha(src)
    part = os.path.join(tmp, "part.bin")
    srv.cli("s3api", "get-object", "--bucket", "bigbucket", "--key", "big.bin",
            "--range", "bytes=1048570-1048580", part)
    with open(src, "rb") as f:
        f.seek(1048570)
        want = f.read(11)
    assert open(part, "rb").read() == want
