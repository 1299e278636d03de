"""Function lifecycle states: Pending → Active after create/publish, InProgress →
Successful after an update, 409 for a second update in progress, botocore's waiters."""

import pytest

from apiutil import CallCounter, assert_client_error, create, fn_arn, handler_zip, unique_name

REASON = "The function is being created."
FAST = {"Delay": 1, "MaxAttempts": 5}


@pytest.fixture
def slow_lam(server_factory):
    """A server whose transitions take 1.5 s, so the in-progress phase is observable."""
    return server_factory(extra_args=["--update-settle-ms", "1500"]).client("lambda")


def test_create_answers_pending_then_active(lam):
    name, resp = create(lam)
    assert resp["State"] == "Pending"
    assert resp["StateReason"] == REASON
    assert resp["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in resp
    got = lam.get_function_configuration(FunctionName=name)
    assert got["State"] == "Active"
    assert got["LastUpdateStatus"] == "Successful"
    for k in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
        assert k not in got, k
    # Lambda issues a new RevisionId with the transition.
    assert got["RevisionId"] != resp["RevisionId"]
    # Stable once settled.
    assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == got["RevisionId"]


def test_pending_is_observable_with_a_wide_window_then_active(slow_lam):
    name, resp = create(slow_lam)
    assert resp["State"] == "Pending"
    mid = slow_lam.get_function(FunctionName=name)["Configuration"]
    assert mid["State"] == "Pending"
    assert mid["StateReasonCode"] == "Creating"
    assert mid["RevisionId"] == resp["RevisionId"]
    slow_lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    done = slow_lam.get_function(FunctionName=name)["Configuration"]
    assert done["State"] == "Active" and "StateReason" not in done
    assert done["RevisionId"] != resp["RevisionId"]


def test_update_in_progress_then_successful_and_conflict(slow_lam):
    name, _ = create(slow_lam)
    slow_lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    resp = slow_lam.update_function_code(FunctionName=name, ZipFile=handler_zip("two"))
    assert resp["State"] == "Active"
    assert resp["LastUpdateStatus"] == "InProgress"
    assert resp["LastUpdateStatusReason"] == REASON
    assert resp["LastUpdateStatusReasonCode"] == "Creating"
    with pytest.raises(Exception) as e:
        slow_lam.update_function_configuration(FunctionName=name, Description="x")
    assert_client_error(
        e, "ResourceConflictException", 409,
        "The operation cannot be performed at this time. An update is in progress for resource: "
        + fn_arn(name),
    )
    with pytest.raises(Exception) as e:
        slow_lam.update_function_code(FunctionName=name, ZipFile=handler_zip("three"))
    assert_client_error(e, "ResourceConflictException", 409, "An update is in progress")
    with pytest.raises(Exception) as e:
        slow_lam.publish_version(FunctionName=name)
    assert_client_error(e, "ResourceConflictException", 409, "An update is in progress")
    slow_lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    done = slow_lam.get_function_configuration(FunctionName=name)
    assert done["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in done
    assert done["RevisionId"] != resp["RevisionId"]
    # Settled: the refused change goes through now.
    after = slow_lam.update_function_configuration(FunctionName=name, Description="x")
    assert after["LastUpdateStatus"] == "InProgress"


def test_update_configuration_then_successful(lam):
    name, _ = create(lam)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    resp = lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert resp["LastUpdateStatus"] == "InProgress"
    assert resp["LastUpdateStatusReasonCode"] == "Creating"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["LastUpdateStatus"] == "Successful" and got["Timeout"] == 9
    assert got["RevisionId"] != resp["RevisionId"]


@pytest.mark.parametrize("wide", [False, True])
def test_published_version_pending_then_active(server_factory, wide):
    args = ["--update-settle-ms", "1500"] if wide else []
    lam = server_factory(extra_args=args).client("lambda")
    name, _ = create(lam)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    v = lam.publish_version(FunctionName=name)
    assert v["Version"] == "1"
    assert v["State"] == "Pending" and v["StateReasonCode"] == "Creating"
    if wide:
        mid = lam.get_function_configuration(FunctionName=name, Qualifier="1")
        assert mid["State"] == "Pending"
    lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1", WaiterConfig=FAST)
    got = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert got["State"] == "Active" and got["LastUpdateStatus"] == "Successful"
    assert got["RevisionId"] != v["RevisionId"]
    # $LATEST was not touched by publishing.
    assert lam.get_function_configuration(FunctionName=name)["State"] == "Active"


def test_waiters_on_default_server_first_poll(lam):
    name = unique_name()
    create(lam, name=name)
    with CallCounter(lam) as calls:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
        lam.update_function_code(FunctionName=name, ZipFile=handler_zip("w"))
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    # Both settle on the first poll: one GetFunction each, no 1 s waiter delay spent.
    assert calls.counts == {"GetFunction": 2, "UpdateFunctionCode": 1}, calls.counts
