"""Provisioned concurrency (Put/Get/Delete/ListProvisionedConcurrencyConfig(s)): environments
initialised ahead of time, used before on-demand ones, no Init Duration in their REPORT lines,
every refusal as Lambda words it, and configs that survive a restart (docs/wire.md §15).
Invokes run in real sandboxes (root)."""
import base64
import io
import json
import re
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from apiutil import (
    ROLE,
    LAST_MODIFIED_RE,
    assert_client_error,
    fn_arn,
    not_found_message,
    unique_name,
    unvalidated_client,
)

UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."
NO_CONFIG = "No Provisioned Concurrency Config found for this function"
ALIAS_ON_VERSION = ("Alias can't be used for Provisioned Concurrency configuration on an already "
                    "Provisioned version")
VERSION_OF_ALIAS = "Version is pointed by a Provisioned Concurrency alias"
BEYOND_RESERVED = ("Requested Provisioned Concurrency should not be greater than the "
                   "reservedConcurrentExecution for function")


def below_minimum(minimum=100):
    return ("Specified ConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}].")


# Records when its module was imported (INIT) and how it was initialised.
HANDLER = r'''
import os, time, uuid
INIT_AT = time.time()
ENV_ID = uuid.uuid4().hex
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"env": ENV_ID, "init_at": INIT_AT,
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
'''

FAILING = "raise RuntimeError('init fails on purpose')\n"


def package(src):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", src)
    return buf.getvalue()


def make_function(lam, src=HANDLER, name=None):
    """A function with version 1 published."""
    name = name or unique_name("pc")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package(src)}, MemorySize=128, Timeout=30, Publish=True)
    return name


def wait_status(lam, name, qualifier, want, timeout=90):
    deadline = time.time() + timeout
    while True:
        r = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if r["Status"] == want:
            return r
        assert time.time() < deadline, f"still {r['Status']} after {timeout}s: {r}"
        assert r["Status"] in ("IN_PROGRESS", want), r
        time.sleep(0.2)


def invoke(lam, name, qualifier, event):
    r = lam.invoke(FunctionName=name, Qualifier=qualifier, LogType="Tail",
                   Payload=json.dumps(event).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    log = base64.b64decode(r["LogResult"]).decode()
    report = [line for line in log.splitlines() if line.startswith("REPORT ")]
    assert len(report) == 1, log
    return body, report[0]


def simultaneous(lam, name, qualifier, n, sleep):
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(invoke, lam, name, qualifier, {"sleep": sleep}) for _ in range(n)]
        return [f.result() for f in futures]


def test_put_get_list_delete_round_trip(lam):
    name = make_function(lam)
    r = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                               ProvisionedConcurrentExecutions=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert r["RequestedProvisionedConcurrentExecutions"] == 2
    assert r["Status"] in ("IN_PROGRESS", "READY")
    assert LAST_MODIFIED_RE.match(r["LastModified"]), r["LastModified"]
    assert "StatusReason" not in r

    ready = wait_status(lam, name, "1", "READY")
    assert ready["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ready["RequestedProvisionedConcurrentExecutions"] == 2
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    assert ready["LastModified"] == r["LastModified"]

    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [fn_arn(name, "1")]
    assert listed["ProvisionedConcurrencyConfigs"][0]["Status"] == "READY"
    assert "NextMarker" not in listed

    d = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException) as e:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert_client_error(e, "ProvisionedConcurrencyConfigNotFoundException", 404, NO_CONFIG)
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"] == []
    # Delete is idempotent.
    d = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_provisioned_invokes_have_no_cold_start_and_extra_ones_spill(lam):
    name = make_function(lam)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=2)
    wait_status(lam, name, "1", "READY")
    sent = time.time()
    results = simultaneous(lam, name, "1", 2, sleep=1.5)
    for body, report in results:
        assert "Init Duration" not in report, report
        assert body["init_type"] == "provisioned-concurrency"
        assert body["init_at"] < sent, "the environment was initialised before the invokes"
    assert len({b["env"] for b, _ in results}) == 2, "two provisioned environments served"

    # N+1 at once: the provisioned two plus one on-demand cold start.
    results = simultaneous(lam, name, "1", 3, sleep=2)
    on_demand = [(b, r) for b, r in results if b["init_type"] == "on-demand"]
    provisioned = [(b, r) for b, r in results if b["init_type"] == "provisioned-concurrency"]
    assert len(provisioned) == 2 and len(on_demand) == 1, [b for b, _ in results]
    assert re.search(r"Init Duration: [0-9.]+ ms", on_demand[0][1]), on_demand[0][1]
    for _, report in provisioned:
        assert "Init Duration" not in report
    # Still READY afterwards: the provisioned ones went back to their place.
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")[
        "Status"] == "READY"


def test_alias_configs_and_conflicts(lam):
    name = make_function(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    r = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                               ProvisionedConcurrentExecutions=1)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    wait_status(lam, name, "live", "READY")
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [fn_arn(name, "live")]
    body, report = invoke(lam, name, "live", {})
    assert body["init_type"] == "provisioned-concurrency" and "Init Duration" not in report

    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                               ProvisionedConcurrentExecutions=1)
    assert_client_error(e, "ResourceConflictException", 409, VERSION_OF_ALIAS)

    # Deleting the alias removes its config.
    lam.delete_alias(FunctionName=name, Name="live")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"] == []

    # The other way round: the version first, then an alias to it.
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="prod",
                                               ProvisionedConcurrentExecutions=1)
    assert_client_error(e, "ResourceConflictException", 409, ALIAS_ON_VERSION)


def test_refusals(server, lam):
    raw = unvalidated_client(server)
    name = make_function(lam)

    for q in ("$LATEST", None):
        kw = {"Qualifier": q} if q else {}
        with pytest.raises(raw.exceptions.InvalidParameterValueException) as e:
            raw.put_provisioned_concurrency_config(FunctionName=name,
                                                   ProvisionedConcurrentExecutions=1, **kw)
        assert_client_error(e, "InvalidParameterValueException", 400, UNPUBLISHED)
        for op in (raw.get_provisioned_concurrency_config,
                   raw.delete_provisioned_concurrency_config):
            with pytest.raises(raw.exceptions.InvalidParameterValueException) as e:
                op(FunctionName=name, **kw)
            assert_client_error(e, "InvalidParameterValueException", 400, NOT_ALIAS_OR_VERSION)
    # A qualified ARN names the version too.
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_provisioned_concurrency_config(FunctionName=fn_arn(name, "$LATEST"),
                                               Qualifier="$LATEST",
                                               ProvisionedConcurrentExecutions=1)
    assert_client_error(e, "InvalidParameterValueException", 400, UNPUBLISHED)

    for q in ("9", "nosuch"):
        for call in (
            lambda: lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=q,
                                                           ProvisionedConcurrentExecutions=1),
            lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=q),
            lambda: lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=q),
        ):
            with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
                call()
            assert_client_error(e, "ResourceNotFoundException", 404, not_found_message(name, q))
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.list_provisioned_concurrency_configs(FunctionName="nosuch-fn")
    assert_client_error(e, "ResourceNotFoundException", 404, not_found_message("nosuch-fn"))

    for n in (0, -3):
        with pytest.raises(raw.exceptions.ClientError) as e:
            raw.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                   ProvisionedConcurrentExecutions=n)
        assert_client_error(
            e, "ValidationException", 400,
            f"1 validation error detected: Value '{n}' at 'provisionedConcurrentExecutions' "
            "failed to satisfy constraint: Member must have value greater than or equal to 1")
    with pytest.raises(raw.exceptions.ClientError) as e:
        raw.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=51)
    assert_client_error(e, "ValidationException", 400, "less than or equal to 50")

    # Within a reservation, the function's configs together may not exceed it.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                               ProvisionedConcurrentExecutions=3)
    assert_client_error(e, "InvalidParameterValueException", 400, BEYOND_RESERVED)
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"] == [], "a refused Put writes nothing"


def test_account_limit_counts_provisioned_concurrency(server_factory):
    server = server_factory(extra_args=["--max-concurrency", "150"])
    lam = server.client("lambda")
    other = make_function(lam)
    lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=49)
    name = make_function(lam)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 101
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                               ProvisionedConcurrentExecutions=2)
    assert_client_error(e, "InvalidParameterValueException", 400, below_minimum())
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    wait_status(lam, name, "1", "READY")
    # Truthful figures: the provisioned place comes out of the unreserved pool, the
    # function itself still has no reservation.
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    # Replacing the config does not count the old one twice.
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)


def test_versions_and_functions_take_their_configs_with_them(lam):
    name = make_function(lam)
    lam.update_function_code(FunctionName=name, ZipFile=package(HANDLER + "# v2\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    for q in ("1", "2"):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=q,
                                               ProvisionedConcurrentExecutions=1)
    page = lam.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)
    assert [c["FunctionArn"] for c in page["ProvisionedConcurrencyConfigs"]] == [fn_arn(name, "1")]
    page = lam.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1,
                                                    Marker=page["NextMarker"])
    assert [c["FunctionArn"] for c in page["ProvisionedConcurrencyConfigs"]] == [fn_arn(name, "2")]
    assert "NextMarker" not in page

    lam.delete_function(FunctionName=name, Qualifier="2")
    assert [c["FunctionArn"] for c in lam.list_provisioned_concurrency_configs(
        FunctionName=name)["ProvisionedConcurrencyConfigs"]] == [fn_arn(name, "1")]
    lam.delete_function(FunctionName=name)
    make_function(lam, name=name)
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"] == []


def test_init_failure_is_reported_failed(lam):
    name = make_function(lam, src=FAILING)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    r = wait_status(lam, name, "1", "FAILED")
    assert r["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert r["AllocatedProvisionedConcurrentExecutions"] == 0


def test_configs_survive_a_restart(server_factory):
    s1 = server_factory()
    lam = s1.client("lambda")
    name = make_function(lam)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    before = wait_status(lam, name, "1", "READY")
    assert s1.stop() == 0 or s1.proc.returncode is not None

    s2 = server_factory()
    lam = s2.client("lambda")
    after = wait_status(lam, name, "1", "READY")
    assert after["LastModified"] == before["LastModified"]
    assert after["AllocatedProvisionedConcurrentExecutions"] == 1
    sent = time.time()
    body, report = invoke(lam, name, "1", {})
    assert body["init_type"] == "provisioned-concurrency" and "Init Duration" not in report
    assert body["init_at"] < sent


def test_a_reservation_leaves_room_for_other_functions_provisioned_concurrency(server_factory):
    server = server_factory(extra_args=["--max-concurrency", "150"])
    lam = server.client("lambda")
    name = make_function(lam)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    other = make_function(lam)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=50)
    assert_client_error(e, "InvalidParameterValueException", 400,
                        "decreases account's UnreservedConcurrentExecution below its minimum "
                        "value of [100].")
    lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=49)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100


def test_a_weighted_alias_splits_its_environments(lam):
    name = make_function(lam)
    lam.update_function_code(FunctionName=name, ZipFile=package(HANDLER + "# v2\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="canary",
                                           ProvisionedConcurrentExecutions=2)
    r = wait_status(lam, name, "canary", "READY")
    assert r["AllocatedProvisionedConcurrentExecutions"] == 2
    # One environment per version: whichever version a call is routed to, it is warm.
    sent = time.time()
    for _ in range(6):
        body, report = invoke(lam, name, "canary", {})
        assert body["init_type"] == "provisioned-concurrency", body
        assert "Init Duration" not in report
        assert body["init_at"] < sent


def test_moving_an_alias_moves_its_environments(lam):
    name = make_function(lam)
    lam.update_function_code(FunctionName=name, ZipFile=package(HANDLER + "# v2\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    wait_status(lam, name, "live", "READY")
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    # Version 2 has no environment yet right after the move: READY again once it has.
    wait_status(lam, name, "live", "READY")
    sent = time.time()
    r = lam.invoke(FunctionName=name, Qualifier="live", LogType="Tail", Payload=b"{}")
    assert r["ExecutedVersion"] == "2"
    body = json.loads(r["Payload"].read())
    assert body["init_type"] == "provisioned-concurrency" and body["init_at"] < sent
    assert "Init Duration" not in base64.b64decode(r["LogResult"]).decode()


def publish_new(lam, name, n):
    lam.update_function_code(FunctionName=name, ZipFile=package(HANDLER + f"# v{n}\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == str(n)


def below_provisioned(reserved, provisioned):
    return (f"ReservedConcurrentExecutions  {reserved} should not be lower than function's "
            f"total provisioned concurrency [{provisioned}].")


def test_a_reservation_may_not_drop_below_the_provisioned_concurrency(lam):
    name = make_function(lam)
    publish_new(lam, name, 2)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=2)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="2",
                                           ProvisionedConcurrentExecutions=1)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    assert_client_error(e, "InvalidParameterValueException", 400, below_provisioned(2, 3))
    assert lam.get_function_concurrency(FunctionName=name).get(
        "ReservedConcurrentExecutions") is None, "a refused Put writes nothing"
    # Exactly the sum is enough; lowering it again below the sum is refused too.
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)[
        "ReservedConcurrentExecutions"] == 3
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert_client_error(e, "InvalidParameterValueException", 400, below_provisioned(0, 3))
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    # Without the configs the reservation may go down.
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="2")
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)[
        "ReservedConcurrentExecutions"] == 2


def test_update_alias_may_not_move_a_provisioned_alias_onto_a_provisioned_version(lam):
    name = make_function(lam)
    publish_new(lam, name, 2)
    publish_new(lam, name, 3)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="2",
                                           ProvisionedConcurrentExecutions=1)
    before = lam.get_alias(FunctionName=name, Name="live")
    for kw in ({"FunctionVersion": "2"},
               {"RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}}):
        with pytest.raises(lam.exceptions.ResourceConflictException) as e:
            lam.update_alias(FunctionName=name, Name="live", **kw)
        assert_client_error(e, "ResourceConflictException", 409, ALIAS_ON_VERSION)
    after = lam.get_alias(FunctionName=name, Name="live")
    assert (after["FunctionVersion"], after["RevisionId"], after.get("RoutingConfig")) == \
        ("1", before["RevisionId"], None), "a refused update writes nothing"
    # A version without its own config is fine, and so is an alias without one.
    assert lam.update_alias(FunctionName=name, Name="live", FunctionVersion="3")[
        "FunctionVersion"] == "3"
    lam.create_alias(FunctionName=name, Name="plain", FunctionVersion="1")
    assert lam.update_alias(FunctionName=name, Name="plain", FunctionVersion="2")[
        "FunctionVersion"] == "2"
