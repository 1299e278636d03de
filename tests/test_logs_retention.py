"""Retention removes events older than the group's policy.

Events are aged honestly: the server is stopped and restarted on the same data dir with
the hidden dev flag `--logs-clock-offset-secs 172800`, i.e. as if it were restarted two
days later (its log clock stamps new events and runs retention two days ahead). Nothing
rewrites stored events."""
from invokeutil import assert_ok, create_py, invoke, request_id, wait_until
from logsutil import filter_all, group_of, wait_for_messages

SRC = 'def handler(event, context):\n    print("hello " + event["m"])\n    return 1\n'


def test_retention_deletes_only_expired_events(server_factory):
    s1 = server_factory()
    lam, logs = s1.client("lambda"), s1.client("logs")
    name = create_py(lam, SRC)
    group = group_of(name)
    resp, _, _ = invoke(lam, name, {"m": "old"})
    assert_ok(resp)
    wait_for_messages(logs, group, lambda m: "hello old" in m and any(x.startswith("REPORT") for x in m))
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    # Another group without retention keeps its events whatever their age.
    keep = create_py(lam, SRC)
    invoke(lam, keep, {"m": "kept"})
    wait_for_messages(logs, group_of(keep), lambda m: "hello kept" in m)
    assert s1.stop() == 0

    s2 = server_factory(["--logs-clock-offset-secs", "172800"], env={"QUIVER_LOGS_RETENTION_INTERVAL_MS": "100"})
    lam, logs = s2.client("lambda"), s2.client("logs")
    resp, _, _ = invoke(lam, name, {"m": "new"})
    assert_ok(resp)
    rid = request_id(resp)

    def only_new():
        msgs = [e["message"] for e in filter_all(logs, logGroupName=group)]
        return msgs if "hello new" in msgs and "hello old" not in msgs and any(rid in x for x in msgs if x.startswith("REPORT")) else None

    msgs = wait_until(only_new, timeout=10)
    assert msgs, [e["message"] for e in filter_all(logs, logGroupName=group)]
    assert not any(x.startswith("START") and rid not in x for x in msgs), "every old line went"
    assert "hello kept" in [e["message"] for e in filter_all(logs, logGroupName=group_of(keep))]
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert g["retentionInDays"] == 1
    assert len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 1, "the old stream is gone"
