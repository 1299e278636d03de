"""Hostile packages: not-a-zip, truncated, empty, bombs, zip-slip, escaping symlinks.

Each must be refused with 400 InvalidParameterValueException on CreateFunction
and on UpdateFunctionCode, leave the store and data dir unchanged, write
nothing outside the data dir, and keep the server alive.
"""
import os
import uuid
import zipfile

import botocore.exceptions
import pytest

from apiutil import (
    StoreSnapshot,
    assert_alive,
    assert_client_error,
    assert_full_config,
    create,
    handler_zip,
    lie_about_sizes,
    make_zip,
    settled,
    sha256_b64,
    unique_name,
    zip_bad_crc,
    zip_bomb,
    zip_encrypted_flag,
    zip_name_mismatch,
    zip_setuid,
    zip_slip,
    zip_symlink,
)


@pytest.fixture(scope="module")
def bomb():
    """One 300 MB file of zeros, deflated to ~300 KB (built once per module)."""
    return zip_bomb(300 * 1024 * 1024)


@pytest.fixture(scope="module")
def lying_bomb(bomb):
    """The same bomb with headers claiming 1000 bytes uncompressed."""
    return lie_about_sizes(bomb, claimed=1000)


@pytest.fixture(scope="module")
def many_files_bomb():
    """30 files of 10 MB zeros: each small, together over 250 MB unzipped."""
    import io
    buf = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
        for i in range(30):
            with zf.open(f"part{i:02d}.bin", "w") as f:
                for _ in range(10):
                    f.write(chunk)
    return buf.getvalue()


def _truncated():
    z = make_zip({"app.py": b"def handler(e, c):\n    return 1\n" * 50})
    return z[: len(z) // 2]


def _escape_targets():
    """Unique paths a careless extractor would write to; they must never appear."""
    tag = uuid.uuid4().hex[:10]
    return tag, f"/tmp/quiver-abs-{tag}"


def _inside_package(path, data_dir):
    """True if some ancestor below data_dir is an extracted package root (holds app.py)."""
    d = os.path.dirname(path)
    while d.startswith(data_dir) and d != data_dir:
        if os.path.exists(os.path.join(d, "app.py")):
            return True
        d = os.path.dirname(d)
    return False


def _assert_nothing_escaped(server, tag, allow_in_package=False):
    for root in (server.data_dir, os.path.dirname(server.data_dir), "/tmp", "/"):
        for entry in os.listdir(root):
            assert tag not in entry, f"escaped file {os.path.join(root, entry)}"
    for dirpath, dirs, files in os.walk(server.data_dir):
        for f in files + dirs:
            if tag in f:
                path = os.path.join(dirpath, f)
                assert allow_in_package and _inside_package(path, server.data_dir), f"escaped file {path}"


def _hostile_cases(bomb, lying_bomb, many_files_bomb):
    tag, abs_path = _escape_targets()
    return tag, abs_path, {
        "not_a_zip": b"this is certainly not a zip file",
        "truncated": _truncated(),
        "empty_bytes": b"",
        "bad_crc": zip_bad_crc(),
        "zip_bomb_300mb": bomb,
        "zip_bomb_lying_headers": lying_bomb,
        "zip_bomb_many_files": many_files_bomb,
        "slip_parent": zip_slip(f"../evil-{tag}"),
        "slip_deep_parent": zip_slip(f"a/../../../../../../tmp/evil-{tag}"),
        "slip_absolute": zip_slip(abs_path),
        "symlink_etc_passwd": zip_symlink("link", "../../etc/passwd"),
        "symlink_absolute": zip_symlink("link", "/etc/passwd"),
        "symlink_then_write_through": zip_symlink(
            "outside", "/tmp", files_after={f"outside/evil-{tag}": b"x"}
        ),
    }


CASES = [
    "not_a_zip", "truncated", "empty_bytes", "bad_crc", "zip_bomb_300mb", "zip_bomb_lying_headers",
    "zip_bomb_many_files", "slip_parent", "slip_deep_parent", "slip_absolute", "symlink_etc_passwd",
    "symlink_absolute", "symlink_then_write_through",
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_zip_rejected_on_create(server, lam, bomb, lying_bomb, many_files_bomb, case):
    tag, abs_path, cases = _hostile_cases(bomb, lying_bomb, many_files_bomb)
    keep, _ = create(lam)  # some existing state that must stay as it is
    snap = StoreSnapshot(server, lam)
    name = unique_name("hostile")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        create(lam, name=name, zip_bytes=cases[case])
    assert_client_error(exc, "InvalidParameterValueException", 400)
    snap.assert_unchanged()
    with pytest.raises(botocore.exceptions.ClientError) as nf:
        lam.get_function(FunctionName=name)
    assert_client_error(nf, "ResourceNotFoundException", 404)
    assert not os.path.exists(abs_path)
    _assert_nothing_escaped(server, tag)
    # A good request right after still works.
    z = handler_zip("after-" + case)
    good, resp = create(lam, zip_bytes=z)
    assert_full_config(resp, good, z, phase="creating")
    assert_full_config(settled(lam, good), good, z)
    assert_alive(server, lam)


@pytest.mark.parametrize("case", CASES)
def test_hostile_zip_rejected_on_update_code(server, lam, bomb, lying_bomb, many_files_bomb, case):
    tag, abs_path, cases = _hostile_cases(bomb, lying_bomb, many_files_bomb)
    z = handler_zip("victim")
    name, _ = create(lam, zip_bytes=z, Publish=True)
    # Each version has its own RevisionId, so compare with $LATEST as it is now.
    before = lam.get_function_configuration(FunctionName=name)
    snap = StoreSnapshot(server, lam)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ZipFile=cases[case], Publish=True)
    assert_client_error(exc, "InvalidParameterValueException", 400)
    snap.assert_unchanged()
    got = lam.get_function(FunctionName=name)["Configuration"]
    assert got["CodeSha256"] == sha256_b64(z)
    assert got["RevisionId"] == before["RevisionId"]
    vers = sorted(v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"])
    assert vers == ["$LATEST", "1"]
    assert not os.path.exists(abs_path)
    _assert_nothing_escaped(server, tag)
    assert_alive(server, lam)


def test_hostile_zip_message_names_the_problem(lam):
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        create(lam, zip_bytes=b"garbage garbage")
    assert_client_error(exc, "InvalidParameterValueException", 400)
    msg = exc.value.response["Error"]["Message"].lower()
    assert "zip" in msg, msg


def test_setuid_file_is_accepted(lam):
    z = zip_setuid()
    name, resp = create(lam, zip_bytes=z)
    assert_full_config(resp, name, z, phase="creating")
    assert_full_config(settled(lam, name), name, z)


def test_symlink_inside_package_with_relative_target_in_tree(lam):
    """A harmless in-tree symlink (lib -> app.py) is either accepted or refused with 400 — never a crash."""
    z = zip_symlink("alias.py", "app.py")
    try:
        name, resp = create(lam, zip_bytes=z)
    except botocore.exceptions.ClientError as e:
        assert_client_error(e, "InvalidParameterValueException", 400)
    else:
        assert resp["CodeSha256"] == sha256_b64(z)


def test_directory_entries_and_nested_paths_accepted(lam):
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/", b"")
        zf.writestr("pkg/__init__.py", b"")
        zf.writestr("pkg/sub/mod.py", b"X = 1\n")
        zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
    z = buf.getvalue()
    name, resp = create(lam, zip_bytes=z)
    assert_full_config(resp, name, z, phase="creating")
    assert_full_config(settled(lam, name), name, z)


def test_bomb_is_rejected_quickly(server, lam, bomb):
    import time
    t0 = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        create(lam, zip_bytes=bomb)
    assert_client_error(exc, "InvalidParameterValueException", 400)
    assert time.monotonic() - t0 < 20


def _odd_zips(tag):
    import io

    def with_method(method):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as zf:
            zf.writestr("app.py", b"def handler(e, c):\n    return 1\n")
        return buf.getvalue()

    return {
        "bzip2": with_method(zipfile.ZIP_BZIP2),
        "lzma": with_method(zipfile.ZIP_LZMA),
        "encrypted_flag": zip_encrypted_flag(),
        "local_name_escapes": zip_name_mismatch(f"okname-{tag}", f"../e-{tag}"[:len(f"okname-{tag}")].ljust(
            len(f"okname-{tag}"), "x")),
        "backslash_names": make_zip({"app.py": b"x=1\n", f"..\\..\\evil-{tag}": b"x"}),
        "dot_entries": make_zip({"app.py": b"x=1\n", "./ok.py": b"y=2\n"}),
    }


@pytest.mark.parametrize("case", ["bzip2", "lzma", "encrypted_flag", "local_name_escapes", "backslash_names",
                                  "dot_entries"])
def test_odd_zips_are_accepted_or_400_never_5xx_never_escape(server, lam, case):
    """Formats Lambda does not promise to read: a clean 201 or 400, and nothing written outside."""
    tag = uuid.uuid4().hex[:10]
    z = _odd_zips(tag)[case]
    snap = StoreSnapshot(server, lam)
    try:
        name, resp = create(lam, zip_bytes=z)
    except botocore.exceptions.ClientError as e:
        assert_client_error(e, "InvalidParameterValueException", 400)
        snap.assert_unchanged()
    else:
        assert resp["CodeSha256"] == sha256_b64(z)
    _assert_nothing_escaped(server, tag, allow_in_package=True)
    assert_alive(server, lam)
