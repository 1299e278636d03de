"""The CloudWatch Logs API over stored function logs, through boto3 (and once the AWS
CLI): every operation, pagination across thousands of events in both directions, filter
patterns, time windows, errors in CloudWatch's shape, multi-line records."""
import json
import time

import botocore.exceptions
import pytest

from invokeutil import assert_ok, assert_unhandled, create_py, invoke, request_id
from logsutil import filter_all, group_of, stream_events, wait_for_messages

LINES = r'''
def handler(event, context):
    for i in range(event["n"]):
        print("%s line %05d" % (event["tag"], i))
    if event.get("fail"):
        raise ValueError("went wrong")
    return context.log_stream_name
'''


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def logged(server, lam):
    """A function whose two invocations printed 3000 and 50 lines; (logs, group, stream, rids)."""
    logs = server.client("logs")
    name = create_py(lam, LINES)
    resp, body, _ = invoke(lam, name, {"n": 3000, "tag": "first"})
    assert_ok(resp)
    stream = json.loads(body)
    time.sleep(0.05)
    resp2, _, _ = invoke(lam, name, {"n": 50, "tag": "second"})
    rids = [request_id(resp), request_id(resp2)]
    group = group_of(name)
    wait_for_messages(logs, group, lambda m: sum(x.startswith("REPORT ") for x in m) == 2)
    return logs, group, stream, rids


def test_get_log_events_pages_forward_and_backward(logged):
    logs, group, stream, rids = logged
    # Forward from the head, 1000 at a time, until the same token comes back.
    fwd, token, pages = [], None, 0
    while True:
        kw = dict(logGroupName=group, logStreamName=stream, startFromHead=True, limit=1000)
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        pages += 1
        if r["nextForwardToken"] == token:
            assert r["events"] == []
            break
        fwd += r["events"]
        token = r["nextForwardToken"]
    assert pages >= 4
    msgs = [e["message"] for e in fwd]
    first = [m for m in msgs if m.startswith("first line")]
    assert first == ["first line %05d" % i for i in range(3000)]
    assert msgs.index(f"START RequestId: {rids[0]} Version: $LATEST") < msgs.index("first line 00000")
    assert msgs.index("second line 00049") < msgs.index(f"END RequestId: {rids[1]}")
    assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in fwd)
    # Backward from the tail (startFromHead defaults to false): the newest page first.
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=700)
    assert r["events"][-1]["message"].startswith(f"REPORT RequestId: {rids[1]}")
    back, token = r["events"], r["nextBackwardToken"]
    while True:
        r = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=700, nextToken=token)
        if r["nextBackwardToken"] == token:
            break
        back = r["events"] + back
        token = r["nextBackwardToken"]
    assert [e["message"] for e in back] == msgs
    # A forward token from the middle continues exactly after it.
    mid = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=10)
    nxt = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=mid["nextForwardToken"], limit=5)
    assert [e["message"] for e in nxt["events"]] == msgs[10:15]


def test_time_windows(logged):
    logs, group, stream, rids = logged
    events = stream_events(logs, group, stream)
    start2 = next(e["timestamp"] for e in events if e["message"].startswith(f"START RequestId: {rids[1]}"))
    later = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=start2, startFromHead=True)["events"]
    assert later and all(e["timestamp"] >= start2 for e in later)
    assert not any(e["message"].startswith("first line") for e in later)
    earlier = filter_all(logs, logGroupName=group, endTime=start2)
    assert earlier and all(e["timestamp"] < start2 for e in earlier), "endTime is exclusive"
    assert not any(e["message"].startswith("second line") for e in earlier)
    both = filter_all(logs, logGroupName=group, startTime=0, endTime=int(time.time() * 1000) + 60_000)
    assert len(both) == len(events)


def test_filter_log_events_pagination_and_patterns(logged):
    logs, group, stream, rids = logged
    events = filter_all(logs, logGroupName=group, limit=500)
    assert len([e for e in events if e["message"].startswith("first line")]) == 3000
    assert len({e["eventId"] for e in events}) == len(events)
    keys = [(e["timestamp"], e["eventId"]) for e in events]
    assert keys == sorted(keys)
    e0 = events[0]
    assert set(e0) >= {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert e0["logStreamName"] == stream
    # The paginator follows nextToken too.
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 1000})
    assert sum(len(p["events"]) for p in pages) == len(events)
    r = logs.filter_log_events(logGroupName=group, filterPattern="line")
    assert r["searchedLogStreams"] == [{"logStreamName": stream, "searchedCompletely": True}]

    def match(pattern, **kw):
        return [e["message"] for e in filter_all(logs, logGroupName=group, filterPattern=pattern, **kw)]

    assert match('"first line 0001"') == ["first line %05d" % i for i in range(10, 20)]
    assert match("second 00049") == ["second line 00049"]
    assert sorted(match("?00042 ?00043 second")) == ["second line 00042", "second line 00043"]
    assert sorted(match("?00042 ?00043")) == sorted(["first line 00042", "first line 00043", "second line 00042", "second line 00043"])
    assert len(match("line -first")) == 50
    assert match("RequestId -START -END -REPORT") == []
    assert len(match("REPORT")) == 2
    assert match("Line") == [], "case-sensitive"
    assert len(match("second", logStreamNames=[stream])) == 50
    assert match("second", logStreamNamePrefix="nope") == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.filter_log_events(logGroupName=group, filterPattern='{ $.a = 1 }')
    assert err(e)[0] == "InvalidParameterException"
    # The AWS CLI reads the same events.
    out = json.loads(logs_cli(logged, group).stdout)
    assert [x["message"] for x in out["events"]] == ["second line 00007"]


def logs_cli(logged, group):
    # `server` is reachable through the client's endpoint.
    logs = logged[0]
    import subprocess, os
    from conftest import CLIENT_ENV
    env = dict(os.environ, **CLIENT_ENV, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    return subprocess.run(
        ["aws", "--endpoint-url", logs.meta.endpoint_url, "--output", "json", "logs", "filter-log-events",
         "--log-group-name", group, "--filter-pattern", '"second line 00007"'],
        capture_output=True, env=env, timeout=60, check=True,
    )


def test_groups_streams_retention_and_errors(logged):
    logs, group, stream, _ = logged
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(g) == 1 and g[0]["logGroupName"] == group
    assert g[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert g[0]["creationTime"] > 0 and g[0]["storedBytes"] > 3000 * 10
    assert "retentionInDays" not in g[0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_group(logGroupName=group)
    assert err(e)[0] == "ResourceAlreadyExistsException" and err(e)[2] == 400
    # Pagination of groups.
    for i in range(7):
        logs.create_log_group(logGroupName=f"/test/pg/{i}")
    names, token = [], None
    while True:
        kw = dict(logGroupNamePrefix="/test/pg/", limit=3)
        if token:
            kw["nextToken"] = token
        r = logs.describe_log_groups(**kw)
        assert len(r["logGroups"]) <= 3
        names += [x["logGroupName"] for x in r["logGroups"]]
        token = r.get("nextToken")
        if not token:
            break
    assert names == [f"/test/pg/{i}" for i in range(7)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.describe_log_groups(limit=51)
    assert err(e)[0] == "InvalidParameterException"
    # Streams.
    s = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [x["logStreamName"] for x in s] == [stream]
    x = s[0]
    assert x["firstEventTimestamp"] <= x["lastEventTimestamp"] and x["lastIngestionTime"] > 0 and x["creationTime"] > 0
    assert x["arn"].endswith(f"log-group:{group}:log-stream:{stream}")
    assert logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream[:11])["logStreams"][0]["logStreamName"] == stream
    assert logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="zzz")["logStreams"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="2")
    assert err(e)[0] == "InvalidParameterException"
    # Retention.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert err(e)[0] == "InvalidParameterException"
    for days in (1, 3653):
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == days
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    # Missing things, in CloudWatch's words.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.get_log_events(logGroupName="/aws/lambda/none", logStreamName="x")
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert err(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_retention_policy(logGroupName="/aws/lambda/none", retentionInDays=1)
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="garbage")
    assert err(e)[0] == "InvalidParameterException"
    # Delete.
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_log_group(logGroupName=group)
    assert err(e)[0] == "ResourceNotFoundException"


def test_runtime_multiline_records_are_one_event_prints_are_split(server, lam):
    logs = server.client("logs")
    name = create_py(lam, LINES)
    resp, _, doc = invoke(lam, name, {"n": 1, "tag": "a\nb", "fail": True})
    assert_unhandled(resp, doc)
    rid = request_id(resp)
    group = group_of(name)
    events = wait_for_messages(logs, group, lambda m: any(x.startswith("REPORT RequestId: " + rid) for x in m))
    msgs = [e["message"] for e in events]
    # A plain print with a newline is two events.
    assert "a" in msgs and "b line 00000" in msgs
    # The runtime's error record (message + traceback) is one event with real newlines.
    err_events = [m for m in msgs if m.startswith("[ERROR] ValueError")]
    assert len(err_events) == 1, msgs
    rec = err_events[0]
    assert rec.startswith("[ERROR] ValueError: went wrong\nTraceback (most recent call last):\n"), rec
    assert "\r" not in rec
    assert not any(m.startswith("Traceback") for m in msgs), "no separate traceback events"
