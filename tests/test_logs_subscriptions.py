"""CloudWatch Logs streams a client writes and subscription filters delivered to a
function (docs/wire.md §7, §27), through boto3 and once the AWS CLI: CreateLogStream,
PutLogEvents (order, limits, rejected events), Put/Describe/DeleteSubscriptionFilter
with their errors, and end to end: function A's lines (and PutLogEvents) matching a
filter reach function B as `{"awslogs": {"data": base64(gzip(JSON))}}`; B decodes it
and prints what it got, which the test reads from B's own log group."""
import json
import time

import botocore.exceptions
import pytest

from invokeutil import ROLE, assert_ok, create_py, fn_arn, invoke, wait_until
from logsutil import filter_all, group_of

DAY_MS = 86_400_000

PRINTER = r'''
def handler(event, context):
    for line in event.get("lines", []):
        print(line)
    return context.log_stream_name
'''

# B: decodes what CloudWatch Logs sends and prints one "GOT {...}" line per message.
RECEIVER = r'''
import base64, gzip, json

def handler(event, context):
    doc = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    print("GOT " + json.dumps({
        "type": doc["messageType"], "owner": doc["owner"], "group": doc["logGroup"],
        "stream": doc["logStream"], "filters": doc["subscriptionFilters"],
        "messages": [e["message"] for e in doc["logEvents"]],
        "ids": [e["id"] for e in doc["logEvents"]],
        "timestamps": [e["timestamp"] for e in doc["logEvents"]],
    }))
'''


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def now_ms():
    return int(time.time() * 1000)


def received(logs, receiver):
    """Every message B decoded so far, in the order B printed them."""
    try:
        ev = filter_all(logs, logGroupName=group_of(receiver), filterPattern='"GOT "')
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split("GOT ", 1)[1]) for e in ev]


def wait_received(logs, receiver, pred, timeout=60):
    got = wait_until(lambda: (lambda r: r if pred(r) else None)(received(logs, receiver)),
                     timeout=timeout, interval=0.25)
    assert got, f"not delivered within {timeout}s: {received(logs, receiver)}"
    return got


def data_messages(got):
    return [m for g in got if g["type"] == "DATA_MESSAGE" for m in g["messages"]]


@pytest.fixture
def logs(server):
    return server.client("logs")


# ---------------------------------------------------------------- streams and events

def test_create_log_stream_and_put_log_events(logs):
    logs.create_log_group(logGroupName="/app/put")
    logs.create_log_stream(logGroupName="/app/put", logStreamName="s-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_stream(logGroupName="/app/put", logStreamName="s-1")
    assert err(e) == ("ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_stream(logGroupName="/app/nope", logStreamName="s-1")
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.create_log_stream(logGroupName="/app/put", logStreamName="a:b")
    assert err(e)[0] == "InvalidParameterException"

    t = now_ms()
    r = logs.put_log_events(logGroupName="/app/put", logStreamName="s-1", logEvents=[
        {"timestamp": t - 2, "message": "first"},
        {"timestamp": t - 1, "message": "second"},
        {"timestamp": t - 1, "message": "same time"},
    ])
    assert "rejectedLogEventsInfo" not in r
    # A sequence token (any) is accepted and ignored.
    logs.put_log_events(logGroupName="/app/put", logStreamName="s-1", sequenceToken="whatever",
                        logEvents=[{"timestamp": t, "message": "third"}])
    # Stored before the answer: readable at once.
    got = logs.get_log_events(logGroupName="/app/put", logStreamName="s-1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["first", "second", "same time", "third"]
    assert [e["timestamp"] for e in got["events"]] == [t - 2, t - 1, t - 1, t]
    s = logs.describe_log_streams(logGroupName="/app/put")["logStreams"]
    assert [x["logStreamName"] for x in s] == ["s-1"]
    assert s[0]["firstEventTimestamp"] == t - 2 and s[0]["lastEventTimestamp"] == t

    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_log_events(logGroupName="/app/put", logStreamName="nope",
                            logEvents=[{"timestamp": t, "message": "x"}])
    assert err(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_log_events(logGroupName="/app/nope", logStreamName="s-1",
                            logEvents=[{"timestamp": t, "message": "x"}])
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_put_log_events_order_limits_and_rejected_events(logs):
    logs.create_log_group(logGroupName="/app/lim")
    logs.create_log_stream(logGroupName="/app/lim", logStreamName="s")
    t = now_ms()

    def put(events):
        return logs.put_log_events(logGroupName="/app/lim", logStreamName="s", logEvents=events)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}])
    assert err(e) == ("InvalidParameterException",
                      "Log events in a single PutLogEvents request must be in chronological order.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([{"timestamp": t, "message": "x"}] * 10_001)
    assert err(e)[0] == "InvalidParameterException" and "10000" in err(e)[1]
    # 1,048,576 bytes counted as each message plus 26: one byte over is refused...
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([{"timestamp": t, "message": "x" * (1_048_576 - 26 + 1)}])
    assert err(e) == ("InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([{"timestamp": t - DAY_MS - 1000, "message": "a"}, {"timestamp": t, "message": "b"}])
    assert err(e)[0] == "InvalidParameterException" and "24 hours" in err(e)[1]
    # ...exactly the limit is taken, and so are 10,000 events.
    assert "rejectedLogEventsInfo" not in put([{"timestamp": t, "message": "y" * (1_048_576 - 26)}])
    assert "rejectedLogEventsInfo" not in put([{"timestamp": t, "message": "z"}] * 10_000)

    # Too old (> 14 days) and too new (> 2 h ahead) are rejected, the rest stored.
    old, new = t - 15 * DAY_MS, t + 3 * 3_600_000
    r = put([
        {"timestamp": old, "message": "old-0"},
        {"timestamp": old + 1, "message": "old-1"},
        {"timestamp": t, "message": "kept-2"},
        {"timestamp": t + 1, "message": "kept-3"},
        {"timestamp": new, "message": "new-4"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 4}
    msgs = [e["message"] for e in filter_all(logs, logGroupName="/app/lim", filterPattern="-z -y")]
    assert msgs == ["kept-2", "kept-3"]
    # Everything rejected: still 200, nothing stored.
    r = put([{"timestamp": new, "message": "new-only"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}
    assert filter_all(logs, logGroupName="/app/lim", filterPattern="new-only") == []
    # A retention shorter than 14 days expires what is older than it.
    logs.put_retention_policy(logGroupName="/app/lim", retentionInDays=1)
    r = put([{"timestamp": t - 3 * DAY_MS, "message": "expired-0"}, {"timestamp": t, "message": "fresh-1"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert [e["message"] for e in filter_all(logs, logGroupName="/app/lim", filterPattern="?expired ?fresh")] \
        == ["fresh-1"]


# ---------------------------------------------------------------- subscription filters

def test_subscription_filter_calls_and_errors(server, lam, logs):
    dest = create_py(lam, RECEIVER)
    arn = fn_arn(dest)
    logs.create_log_group(logGroupName="/app/subs")

    def put(name, pattern="", destination=arn, group="/app/subs", **kw):
        return logs.put_subscription_filter(logGroupName=group, filterName=name, filterPattern=pattern,
                                            destinationArn=destination, **kw)

    put("alpha", "ERROR")
    put("beta", '?WARN ?ERROR', distribution="Random")
    # Updating an existing one is not a third.
    put("alpha", "ERROR -debug")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put("gamma")
    assert err(e) == ("LimitExceededException", "Resource limit exceeded.", 400)

    got = logs.describe_subscription_filters(logGroupName="/app/subs")["subscriptionFilters"]
    assert [(f["filterName"], f["filterPattern"], f["distribution"]) for f in got] == [
        ("alpha", "ERROR -debug", "ByLogStream"), ("beta", "?WARN ?ERROR", "Random")]
    assert all(f["destinationArn"] == arn and f["logGroupName"] == "/app/subs" for f in got)
    assert all(abs(f["creationTime"] - now_ms()) < 600_000 for f in got)
    page = logs.describe_subscription_filters(logGroupName="/app/subs", limit=1)
    assert [f["filterName"] for f in page["subscriptionFilters"]] == ["alpha"]
    page2 = logs.describe_subscription_filters(logGroupName="/app/subs", limit=1, nextToken=page["nextToken"])
    assert [f["filterName"] for f in page2["subscriptionFilters"]] == ["beta"]
    assert "nextToken" not in page2
    pre = logs.describe_subscription_filters(logGroupName="/app/subs", filterNamePrefix="be")
    assert [f["filterName"] for f in pre["subscriptionFilters"]] == ["beta"]

    for kw, code in [
        (dict(name="bad", pattern="{ $.level = \"x\" }"), "InvalidParameterException"),
        (dict(name="bad", destination="arn:aws:kinesis:us-east-1:000000000000:stream/s"),
         "InvalidParameterException"),
        (dict(name="bad", destination=fn_arn("no-such-function")), "InvalidParameterException"),
        (dict(name="bad", destination="arn:aws:lambda:eu-west-1:000000000000:function:" + dest),
         "InvalidParameterException"),
        (dict(name="bad", group="/app/none"), "ResourceNotFoundException"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            put(**kw)
        assert err(e)[0] == code, (kw, err(e))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put("bad", distribution="Sideways")
    assert err(e)[0] == "InvalidParameterException"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.describe_subscription_filters(logGroupName="/app/none")
    assert err(e)[0] == "ResourceNotFoundException"
    logs.delete_subscription_filter(logGroupName="/app/subs", filterName="beta")
    logs.delete_subscription_filter(logGroupName="/app/subs", filterName="alpha")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.delete_subscription_filter(logGroupName="/app/subs", filterName="alpha")
    assert err(e) == ("ResourceNotFoundException", "The specified subscription filter does not exist.", 400)
    assert logs.describe_subscription_filters(logGroupName="/app/subs")["subscriptionFilters"] == []
    # Filters go with their group.
    put("again")
    logs.delete_log_group(logGroupName="/app/subs")
    logs.create_log_group(logGroupName="/app/subs")
    assert logs.describe_subscription_filters(logGroupName="/app/subs")["subscriptionFilters"] == []


def test_a_function_cannot_subscribe_to_its_own_log_group(lam, logs):
    name = create_py(lam, PRINTER)
    resp, _, _ = invoke(lam, name, {"lines": ["hello"]})
    assert_ok(resp)
    wait_until(lambda: logs.describe_log_groups(logGroupNamePrefix=group_of(name))["logGroups"], timeout=10)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        logs.put_subscription_filter(logGroupName=group_of(name), filterName="loop", filterPattern="",
                                     destinationArn=fn_arn(name))
    code, msg, status = err(e)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "loop" in msg and group_of(name) in msg
    assert logs.describe_subscription_filters(logGroupName=group_of(name))["subscriptionFilters"] == []


def test_matching_function_lines_and_put_events_reach_the_destination(server, lam, logs):
    a = create_py(lam, PRINTER)
    b = create_py(lam, RECEIVER)
    account = lam.get_function(FunctionName=b)["Configuration"]["FunctionArn"].split(":")[4]
    resp, _, _ = invoke(lam, a, {"lines": ["ERROR before the filter"]})
    assert_ok(resp)
    wait_until(lambda: logs.describe_log_groups(logGroupNamePrefix=group_of(a))["logGroups"], timeout=10)
    logs.put_subscription_filter(logGroupName=group_of(a), filterName="errors", filterPattern="ERROR -ignore",
                                 destinationArn=fn_arn(b))
    # The destination is told once that the filter exists.
    got = wait_received(logs, b, lambda r: any(g["type"] == "CONTROL_MESSAGE" for g in r))
    control = [g for g in got if g["type"] == "CONTROL_MESSAGE"]
    assert len(control) == 1 and control[0]["messages"][0].startswith("CWL CONTROL MESSAGE")

    resp, body, _ = invoke(lam, a, {"lines": ["ERROR one", "INFO two", "ERROR three ignore", "ERROR four"]})
    assert_ok(resp)
    stream = json.loads(body)
    resp, _, _ = invoke(lam, a, {"lines": ["ERROR last"]})
    assert_ok(resp)
    got = wait_received(logs, b, lambda r: "ERROR last" in data_messages(r))
    # Only what matched, only after the filter existed, no platform lines.
    assert sorted(data_messages(got)) == ["ERROR four", "ERROR last", "ERROR one"]
    data = [g for g in got if g["type"] == "DATA_MESSAGE"]
    assert all(g["group"] == group_of(a) and g["filters"] == ["errors"] and g["owner"] == account for g in data)
    first = next(g for g in data if "ERROR one" in g["messages"])
    assert first["stream"] == stream
    ids = {m: i for g in data for m, i in zip(g["messages"], g["ids"])}
    assert ids["ERROR one"] < ids["ERROR four"] < ids["ERROR last"]  # storage order
    assert all(g["ids"] == sorted(g["ids"]) for g in data)
    assert len(set(i for g in data for i in g["ids"])) == 3
    assert all(abs(ts - now_ms()) < 600_000 for g in data for ts in g["timestamps"])

    # PutLogEvents into a subscribed group is delivered the same way.
    logs.create_log_group(logGroupName="/app/e2e")
    logs.create_log_stream(logGroupName="/app/e2e", logStreamName="writer")
    logs.put_subscription_filter(logGroupName="/app/e2e", filterName="all", filterPattern="",
                                 destinationArn=fn_arn(b))
    t = now_ms()
    logs.put_log_events(logGroupName="/app/e2e", logStreamName="writer", logEvents=[
        {"timestamp": t, "message": "put one"}, {"timestamp": t + 1, "message": "put two"}])
    got = wait_received(logs, b, lambda r: "put two" in data_messages(r))
    put_msgs = [g for g in got if g["type"] == "DATA_MESSAGE" and g["group"] == "/app/e2e"]
    assert [m for g in put_msgs for m in g["messages"]] == ["put one", "put two"]
    assert put_msgs[0]["stream"] == "writer" and put_msgs[0]["timestamps"][0] == t

    # A deleted filter delivers nothing more.
    logs.delete_subscription_filter(logGroupName=group_of(a), filterName="errors")
    resp, _, _ = invoke(lam, a, {"lines": ["ERROR after delete"]})
    assert_ok(resp)
    logs.put_log_events(logGroupName="/app/e2e", logStreamName="writer",
                        logEvents=[{"timestamp": now_ms(), "message": "put marker"}])
    got = wait_received(logs, b, lambda r: "put marker" in data_messages(r))
    assert "ERROR after delete" not in data_messages(got)


def test_accepted_events_are_delivered_across_a_restart(server_factory):
    s1 = server_factory()
    lam, logs = s1.client("lambda"), s1.client("logs")
    b = create_py(lam, RECEIVER)
    logs.create_log_group(logGroupName="/app/restart")
    logs.create_log_stream(logGroupName="/app/restart", logStreamName="w")
    logs.put_subscription_filter(logGroupName="/app/restart", filterName="f", filterPattern="keep",
                                 destinationArn=fn_arn(b))
    logs.put_log_events(logGroupName="/app/restart", logStreamName="w", logEvents=[
        {"timestamp": now_ms(), "message": "keep across restart"}, {"timestamp": now_ms(), "message": "drop"}])
    # Stopped at once: the window may not have run; the cursor then did not move.
    assert s1.stop() == 0
    s2 = server_factory()
    logs2 = s2.client("logs")
    got = wait_received(logs2, b, lambda r: "keep across restart" in data_messages(r))
    assert data_messages(got).count("keep across restart") >= 1
    assert "drop" not in data_messages(got)


def test_aws_cli_put_log_events_and_subscription_filters(server, lam):
    b = create_py(lam, RECEIVER)
    server.cli("logs", "create-log-group", "--log-group-name", "/app/cli")
    server.cli("logs", "create-log-stream", "--log-group-name", "/app/cli", "--log-stream-name", "s")
    server.cli("logs", "put-subscription-filter", "--log-group-name", "/app/cli", "--filter-name", "cli",
               "--filter-pattern", "hello", "--destination-arn", fn_arn(b))
    out = json.loads(server.cli("logs", "describe-subscription-filters", "--log-group-name", "/app/cli").stdout)
    assert [(f["filterName"], f["filterPattern"]) for f in out["subscriptionFilters"]] == [("cli", "hello")]
    t = now_ms()
    server.cli("logs", "put-log-events", "--log-group-name", "/app/cli", "--log-stream-name", "s",
               "--log-events", f"timestamp={t},message=hello from cli", f"timestamp={t + 1},message=other")
    got = wait_received(server.client("logs"), b, lambda r: "hello from cli" in data_messages(r))
    assert data_messages(got) == ["hello from cli"]
    p = server.cli("logs", "delete-subscription-filter", "--log-group-name", "/app/cli", "--filter-name", "nope",
                   check=False)
    assert p.returncode != 0 and b"ResourceNotFoundException" in p.stderr
