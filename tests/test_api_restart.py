"""Functions, versions and tags survive a server restart on the same data dir."""
import urllib.request

from apiutil import create, fn_arn, handler_zip, strip_meta


def _snapshot(lam, name):
    out = {}
    for q in (None, "1", "2"):
        kw = {"FunctionName": name}
        if q:
            kw["Qualifier"] = q
        g = strip_meta(lam.get_function(**kw))
        loc = g["Code"].pop("Location")
        out[q] = (g, loc)
    return out


def test_restart_keeps_functions(server_factory, data_dir):
    s1 = server_factory()
    lam = s1.client("lambda")
    z1, z2, z3 = handler_zip("rs-1"), handler_zip("rs-2"), handler_zip("rs-3")
    name, _ = create(lam, zip_bytes=z1, Publish=True, Description="persist me", MemorySize=256,
                     Environment={"Variables": {"K1": "v1"}}, Tags={"t": "1"})
    lam.update_function_code(FunctionName=name, ZipFile=z2, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=z3)
    other, _ = create(lam)
    before = _snapshot(lam, name)
    names_before = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
    acct_before = strip_meta(lam.get_account_settings())
    assert s1.stop() == 0 or s1.proc.returncode is not None

    s2 = server_factory()
    lam2 = s2.client("lambda")
    after = _snapshot(lam2, name)
    for q in before:
        assert after[q][0] == before[q][0], q
    assert sorted(f["FunctionName"] for f in lam2.list_functions()["Functions"]) == names_before
    assert strip_meta(lam2.get_account_settings())["AccountUsage"] == acct_before["AccountUsage"]
    assert lam2.list_tags(Resource=fn_arn(name))["Tags"] == {"t": "1"}
    for q, z in ((None, z3), ("1", z1), ("2", z2)):
        with urllib.request.urlopen(after[q][1], timeout=30) as r:
            assert r.read() == z
    # And it keeps working: updates and new versions continue from the stored state.
    r = lam2.update_function_code(FunctionName=name, ZipFile=handler_zip("rs-4"), Publish=True)
    assert r["Version"] == "3"
    lam2.delete_function(FunctionName=other)
