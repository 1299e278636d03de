"""Aliases: CreateAlias/GetAlias/UpdateAlias/DeleteAlias/ListAliases as Lambda answers
them, aliases as qualifiers (Get*, Invoke, event invoke configs, DeleteFunction), weighted
routing between two versions, and blue/green moves that never disturb calls in flight.

Messages are Lambda's (docs/wire.md §11). Invocations run in real sandboxes."""
import json
import math
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

import invokeutil as iu
from apiutil import (
    UUID_RE,
    assert_client_error,
    create,
    fn_arn,
    handler_zip,
    lamnv,  # noqa: F401  (fixture)
    unique_name,
)
from conftest import QUIVER_BIN

WEIGHT_CONSTRAINT = (
    "failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less "
    "than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
)
REVISION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def with_versions(lam, n=2):
    """A function with published versions 1..n (each a different package)."""
    name, _ = create(lam, Publish=True)
    for i in range(2, n + 1):
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip(f"v{i}"), Publish=True)
    return name


def raises(code, status, message=None):
    """Context manager: the call fails with this Lambda error."""
    class Check:
        def __enter__(self):
            self.cm = pytest.raises(botocore.exceptions.ClientError)
            self.exc = self.cm.__enter__()
            return self.exc

        def __exit__(self, *a):
            out = self.cm.__exit__(*a)
            assert_client_error(self.exc, code, status, message)
            return out
    return Check()


def body(resp):
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


# ---------------------------------------------------------------- CRUD


def test_create_and_get_alias_in_every_name_form(lam):
    name = with_versions(lam, 2)
    resp = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                            Description="production", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    alias = body(resp)
    assert UUID_RE.match(alias.pop("RevisionId"))
    assert alias == {
        "AliasArn": fn_arn(name, "live"), "Name": "live", "FunctionVersion": "1",
        "Description": "production", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}},
    }
    for ident in (name, fn_arn(name), f"000000000000:function:{name}"):
        got = lam.get_alias(FunctionName=ident, Name="live")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert body(got) == body(resp)
    # Description defaults to "", RoutingConfig is left out when there is none.
    plain = body(lam.create_alias(FunctionName=name, Name="2024-01-02", FunctionVersion="2"))
    assert plain["Description"] == "" and "RoutingConfig" not in plain
    # An empty weights map is no routing.
    empty = body(lam.create_alias(FunctionName=name, Name="e", FunctionVersion="1",
                                  RoutingConfig={"AdditionalVersionWeights": {}}))
    assert "RoutingConfig" not in empty


def test_latest_is_a_valid_target_but_not_with_routing(lam):
    name = with_versions(lam, 1)
    a = lam.create_alias(FunctionName=name, Name="edge", FunctionVersion="$LATEST")
    assert a["FunctionVersion"] == "$LATEST"
    with raises("InvalidParameterValueException", 400,
                "$LATEST is not supported for an alias pointing to more than 1 version"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="$LATEST",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    with raises("InvalidParameterValueException", 400,
                "$LATEST is not supported for an alias pointing to more than 1 version"):
        lam.update_alias(FunctionName=name, Name="edge", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})


def test_unknown_versions_and_functions_are_not_found(lam):
    name = with_versions(lam, 2)
    with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '10')}"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="10")
    with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '10')}"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}})
    missing = unique_name("missing")
    # Lambda names the missing function with the version asked for.
    with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(missing, '1')}"):
        lam.create_alias(FunctionName=missing, Name="x", FunctionVersion="1")
    for call in (lambda: lam.get_alias(FunctionName=missing, Name="x"),
                 lambda: lam.update_alias(FunctionName=missing, Name="x"),
                 lambda: lam.delete_alias(FunctionName=missing, Name="x"),
                 lambda: lam.list_aliases(FunctionName=missing)):
        with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(missing)}"):
            call()
    assert lam.list_aliases(FunctionName=name)["Aliases"] == [], "a failed create left an alias"


def test_routing_config_rules(lamnv):
    lam = lamnv
    name = with_versions(lam, 3)
    for w, quoted in ((2, "2.0"), (-0.5, "-0.5"), (1.5, "1.5")):
        with raises("ValidationException", 400,
                    f"1 validation error detected: Value '{{2={quoted}}}' at "
                    f"'routingConfig.additionalVersionWeights' {WEIGHT_CONSTRAINT}"):
            lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": w}})
    with raises("ValidationException", 400, "Map keys must satisfy constraint"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}})
    with raises("InvalidParameterValueException", 400,
                "Number of items in AdditionalVersionWeights cannot be greater than 1"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.2, "3": 0.2}})
    with raises("InvalidParameterValueException", 400,
                "Invalid function version 1. Function version 1 is already included in routing configuration."):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    # The bounds themselves are weights; the additional version may be the older one.
    for w in (0.0, 1.0):
        a = lam.create_alias(FunctionName=name, Name=f"w{int(w)}", FunctionVersion="3",
                             RoutingConfig={"AdditionalVersionWeights": {"1": w}})
        assert a["RoutingConfig"] == {"AdditionalVersionWeights": {"1": w}}
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["w0", "w1"]


def test_alias_names_and_bodies_are_validated(lamnv):
    lam = lamnv
    name = with_versions(lam, 1)
    with raises("ValidationException", 400,
                "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"):
        lam.create_alias(FunctionName=name, Name="2024", FunctionVersion="1")
    for bad in ("a.b", "x" * 129, ""):
        with raises("ValidationException", 400, "at 'name'"):
            lam.create_alias(FunctionName=name, Name=bad, FunctionVersion="1")
    with raises("ValidationException", 400, "at 'functionVersion'"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="one")
    with raises("ValidationException", 400, "at 'description'"):
        lam.create_alias(FunctionName=name, Name="x", FunctionVersion="1", Description="d" * 257)
    with raises("ValidationException", 400, "Value null at 'functionVersion'"):
        lam.create_alias(FunctionName=name, Name="x")


def test_duplicate_alias_is_a_conflict(lam):
    name = with_versions(lam, 2)
    first = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with raises("ResourceConflictException", 409, f"Alias already exists: {fn_arn(name, 'live')}"):
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert lam.get_alias(FunctionName=name, Name="live")["RevisionId"] == first["RevisionId"]


def test_unknown_alias_get_update_delete(lam):
    name = with_versions(lam, 1)
    with raises("ResourceNotFoundException", 404, f"Cannot find alias arn: {fn_arn(name, 'nope')}"):
        lam.get_alias(FunctionName=name, Name="nope")
    with raises("ResourceNotFoundException", 404, f"Alias not found: {fn_arn(name, 'nope')}"):
        lam.update_alias(FunctionName=name, Name="nope", FunctionVersion="1")
    # DeleteAlias of an alias that does not exist is a success, as in Lambda.
    assert lam.delete_alias(FunctionName=name, Name="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_update_alias_merges_and_checks_revision(lam):
    name = with_versions(lam, 3)
    a = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="d",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    # Nothing given: same alias, new RevisionId (as Lambda does).
    same = lam.update_alias(FunctionName=name, Name="live")
    assert same["RevisionId"] != a["RevisionId"]
    assert body(same) | {"RevisionId": a["RevisionId"]} == body(a)
    with raises("PreconditionFailedException", 412, REVISION_MESSAGE):
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RevisionId=a["RevisionId"])
    # Moving onto the additional version conflicts with the routing that stays.
    with raises("InvalidParameterValueException", 400, "Function version 2 is already included"):
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '9')}"):
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="9", RoutingConfig={})
    moved = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="3", Description="",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.75}},
                             RevisionId=same["RevisionId"])
    assert (moved["FunctionVersion"], moved["Description"], moved["RoutingConfig"]) == (
        "3", "", {"AdditionalVersionWeights": {"2": 0.75}})
    cleared = lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared and cleared["FunctionVersion"] == "3"
    assert body(lam.get_alias(FunctionName=name, Name="live")) == body(cleared)


def test_list_aliases_pages_and_filters(lam):
    name = with_versions(lam, 2)
    targets = {"a": "1", "b": "2", "c": "1", "d": "$LATEST", "e": "1"}
    for alias, v in sorted(targets.items(), reverse=True):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=v)
    page = lam.list_aliases(FunctionName=name, MaxItems=2)
    assert [a["Name"] for a in page["Aliases"]] == ["a", "b"] and page["NextMarker"]
    page2 = lam.list_aliases(FunctionName=name, MaxItems=2, Marker=page["NextMarker"])
    assert [a["Name"] for a in page2["Aliases"]] == ["c", "d"]
    full = lam.get_paginator("list_aliases").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 2}).build_full_result()
    assert [(a["Name"], a["FunctionVersion"]) for a in full["Aliases"]] == sorted(targets.items())
    assert all(a["AliasArn"] == fn_arn(name, a["Name"]) for a in full["Aliases"])
    last = lam.list_aliases(FunctionName=name)
    assert "NextMarker" not in last and len(last["Aliases"]) == 5
    by_v1 = lam.list_aliases(FunctionName=name, FunctionVersion="1")
    assert [a["Name"] for a in by_v1["Aliases"]] == ["a", "c", "e"]
    by_v1_paged = lam.list_aliases(FunctionName=name, FunctionVersion="1", MaxItems=1,
                                   Marker=lam.list_aliases(FunctionName=name, FunctionVersion="1",
                                                           MaxItems=1)["NextMarker"])
    assert [a["Name"] for a in by_v1_paged["Aliases"]] == ["c"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="$LATEST")["Aliases"]] == ["d"]
    assert lam.list_aliases(FunctionName=name, FunctionVersion="7")["Aliases"] == []
    lam.delete_alias(FunctionName=name, Name="c")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == ["a", "e"]


# ---------------------------------------------------------------- aliases as qualifiers


def test_get_function_through_an_alias(lam):
    name = with_versions(lam, 2)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    v1 = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    for kw in ({"FunctionName": name, "Qualifier": "live"}, {"FunctionName": fn_arn(name, "live")},
               {"FunctionName": f"{name}:live"}):
        cfg = lam.get_function_configuration(**kw)
        # The version the alias points to, named by the alias's ARN.
        assert cfg["FunctionArn"] == fn_arn(name, "live") and cfg["Version"] == "1"
        assert cfg["CodeSha256"] == v1["CodeSha256"] and cfg["RevisionId"] == v1["RevisionId"]
        got = lam.get_function(**kw)
        assert got["Configuration"]["FunctionArn"] == fn_arn(name, "live")
        assert got["Configuration"]["Version"] == "1"
    for kw in ({"FunctionName": name, "Qualifier": "nope"}, {"FunctionName": fn_arn(name, "nope")}):
        with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, 'nope')}"):
            lam.get_function(**kw)


def test_delete_function_refuses_aliases_and_versions_they_use(lam):
    name = with_versions(lam, 3)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    lam.create_alias(FunctionName=name, Name="other", FunctionVersion="1")
    msg = "Unable to delete version because the following aliases reference it: [{}]"
    with raises("ResourceConflictException", 409, msg.format("live, other")):
        lam.delete_function(FunctionName=name, Qualifier="1")
    with raises("ResourceConflictException", 409, msg.format("live")):
        lam.delete_function(FunctionName=fn_arn(name, "2"))
    with raises("InvalidParameterValueException", 400, "Deletion of aliases is not currently supported."):
        lam.delete_function(FunctionName=name, Qualifier="live")
    assert lam.get_function(FunctionName=name, Qualifier="2")["Configuration"]["Version"] == "2"
    lam.delete_function(FunctionName=name, Qualifier="3")
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={})
    lam.delete_function(FunctionName=name, Qualifier="2")
    lam.delete_alias(FunctionName=name, Name="live")
    lam.delete_alias(FunctionName=name, Name="other")
    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST"]
    # Deleting the function takes its aliases along.
    lam.create_alias(FunctionName=name, Name="edge", FunctionVersion="$LATEST")
    lam.delete_function(FunctionName=name)
    create(lam, name=name)
    with raises("ResourceNotFoundException", 404, "Cannot find alias arn"):
        lam.get_alias(FunctionName=name, Name="edge")


def test_event_invoke_config_on_an_alias(lam):
    name = with_versions(lam, 1)
    with raises("ResourceNotFoundException", 404):
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=1)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=1)
    assert put["FunctionArn"] == fn_arn(name, "live")
    got = lam.get_function_event_invoke_config(FunctionName=fn_arn(name, "live"))
    assert got["MaximumRetryAttempts"] == 1
    # The alias's config goes with the alias.
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with raises("ResourceNotFoundException", 404, "doesn't have an EventInvokeConfig"):
        lam.get_function_event_invoke_config(FunctionName=name, Qualifier="live")


# ---------------------------------------------------------------- invocations

VERSIONED = r'''
import os
MARK = "%s"
def handler(event, context):
    return {"mark": MARK, "a": os.environ.get("VAR_A"), "arn": context.invoked_function_arn,
            "version": context.function_version}
'''


def test_invoke_through_alias_forms_and_configuration_per_version(lam):
    name = iu.create_py(lam, VERSIONED % "one", env={"VAR_A": "1"}, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"VAR_A": "2"}})
    lam.update_function_code(FunctionName=name, ZipFile=iu.make_zip({"app.py": VERSIONED % "two"}))
    # Version 1 keeps its code and configuration although $LATEST moved on.
    resp, _, doc = iu.invoke(lam, name, Qualifier="1")
    assert (resp["ExecutedVersion"], doc["mark"], doc["a"]) == ("1", "one", "1")
    resp, _, doc = iu.invoke(lam, name)
    assert (resp["ExecutedVersion"], doc["mark"], doc["a"]) == ("$LATEST", "two", "2")
    for ident, kw in ((name, {"Qualifier": "live"}), (f"{name}:live", {}), (fn_arn(name, "live"), {})):
        resp, _, doc = iu.invoke(lam, ident, **kw)
        assert resp["StatusCode"] == 200 and "FunctionError" not in resp, doc
        assert (resp["ExecutedVersion"], doc["mark"], doc["a"], doc["version"]) == ("1", "one", "1", "1")
        # The function sees the ARN it was invoked with: the alias's.
        assert doc["arn"] == fn_arn(name, "live")
    dry = lam.invoke(FunctionName=name, Qualifier="live", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    with raises("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, 'nope')}"):
        lam.invoke(FunctionName=name, Qualifier="nope", Payload=b"{}")


TINY = "def handler(event, context):\n    return None\n"


def test_weighted_routing_splits_in_the_configured_proportion(lam):
    name = iu.create_py(lam, TINY, Publish=True)
    # A second version with the same code (a changed setting makes it a new version).
    lam.update_function_configuration(FunctionName=name, Timeout=11)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    p, n = 0.3, 2000
    lam.create_alias(FunctionName=name, Name="split", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": p}})

    def one(_):
        r = lam.invoke(FunctionName=name, Qualifier="split", Payload=b"{}")
        r["Payload"].read()
        assert r["StatusCode"] == 200 and "FunctionError" not in r
        return r["ExecutedVersion"]

    with ThreadPoolExecutor(8) as pool:
        executed = list(pool.map(one, range(n)))
    assert set(executed) <= {"1", "2"}, set(executed)
    share = executed.count("2") / n
    half_width = 3.29 * math.sqrt(p * (1 - p) / n)  # binomial 99.9 % interval
    assert abs(share - p) <= half_width, f"version 2 ran {share:.3f} of {n} calls, want {p}±{half_width:.3f}"


def test_async_events_through_an_alias_route_too(server, lam):
    sqs = server.client("sqs")
    name = iu.create_py(lam, TINY, Publish=True)
    # A second version with the same code (a changed setting makes it a new version).
    lam.update_function_configuration(FunctionName=name, Timeout=11)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.create_alias(FunctionName=name, Name="split", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    url = sqs.create_queue(QueueName=f"{name}-ok")["QueueUrl"]
    lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="split",
        DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:sqs:us-east-1:000000000000:{name}-ok"}})
    n = 40
    for i in range(n):
        r = lam.invoke(FunctionName=fn_arn(name, "split"), InvocationType="Event", Payload=json.dumps({"i": i}))
        assert r["StatusCode"] == 202
    records = []
    end = time.time() + 120
    while len(records) < n and time.time() < end:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        for m in got:
            records.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(records) == n, f"{len(records)} of {n} records"
    executed = [r["responseContext"]["executedVersion"] for r in records]
    # Both versions serve (all on one side has probability 2·0.5^40).
    assert set(executed) == {"1", "2"}, executed
    # The record names the version that ran (docs/wire.md §2.4).
    assert all(r["requestContext"]["functionArn"] == fn_arn(name, r["responseContext"]["executedVersion"])
               for r in records)


SLOW = r'''
import time
MARK = "%s"
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return MARK
'''


def environments(server):
    out = subprocess.run([QUIVER_BIN, "ps", "--endpoint", server.endpoint, "--json"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)["Environments"]


def test_blue_green_move_never_disturbs_calls_in_flight(server, lam):
    # Small environments: ten of them run at once.
    name = iu.create_py(lam, SLOW % "blue", memory=256, Publish=True)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    k = 10

    def call(payload):
        resp, _, doc = iu.invoke(lam, name, payload, Qualifier="prod")
        assert resp["StatusCode"] == 200 and "FunctionError" not in resp, doc
        return resp["ExecutedVersion"], doc

    # Ten warm environments of version 1, so the slow calls below start at once.
    with ThreadPoolExecutor(k) as pool:
        assert set(pool.map(lambda _: call({"sleep": 1}), range(k))) == {("1", "blue")}

    results = []
    threads = [threading.Thread(target=lambda: results.append(call({"sleep": 3}))) for _ in range(k)]
    for t in threads:
        t.start()
    end = time.time() + 10
    while time.time() < end:
        busy = [e for e in environments(server)
                if e["function"] == name and e["version"] == "1" and e["state"] == "busy"]
        if len(busy) == k:
            break
        time.sleep(0.05)
    assert len(busy) == k, f"only {len(busy)} of {k} calls in flight"

    # The move: new code in $LATEST, published as version 2, prod switched to it.
    lam.update_function_code(FunctionName=name, ZipFile=iu.make_zip({"app.py": SLOW % "green"}))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2")
    after = [call({}) for _ in range(3)]
    still = [e for e in environments(server)
             if e["function"] == name and e["version"] == "1" and e["state"] == "busy"]
    assert still, "the move was not made while the slow calls ran"

    for t in threads:
        t.join(60)
    assert len(results) == k
    assert all(r == ("1", "blue") for r in results), results
    assert after == [("2", "green")] * 3
