"""EventBridge buses, rules, targets and PutEvents through boto3 and the AWS CLI, and
delivery end to end: SQS targets (InputTransformer, dead-letter queues), Lambda targets
(1,000 events, each seen), and events accepted before a kill -9 delivered after restart."""
import json
import os
import signal
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

from test_async import make_function, receive_all

ACCOUNT = "000000000000"
SQS_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"
RULE_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/"
BUS_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/"


def err(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def entry(i, source="app.orders", detail=None, **kw):
    return {"Source": source, "DetailType": "Order Placed",
            "Detail": json.dumps(detail if detail is not None else {"n": i}), **kw}


def queue(sqs, name):
    return sqs.create_queue(QueueName=name)["QueueUrl"]


def test_buses(server):
    ev = server.client("events")
    names = [b["Name"] for b in ev.list_event_buses()["EventBuses"]]
    assert names == ["default"]
    assert ev.describe_event_bus()["Arn"] == BUS_ARN + "default"
    arn = ev.create_event_bus(Name="orders", Description="d",
                              Tags=[{"Key": "team", "Value": "a"}])["EventBusArn"]
    assert arn == BUS_ARN + "orders"
    d = ev.describe_event_bus(Name="orders")
    assert (d["Name"], d["Arn"], d["Description"]) == ("orders", arn, "d")
    assert ev.describe_event_bus(Name=arn)["Name"] == "orders"
    with pytest.raises(ev.exceptions.ResourceAlreadyExistsException) as e:
        ev.create_event_bus(Name="orders")
    assert err(e)[1] == "Event bus orders already exists."
    with pytest.raises(ev.exceptions.ResourceNotFoundException) as e:
        ev.describe_event_bus(Name="nope")
    assert err(e)[1] == "Event bus nope does not exist."
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.delete_event_bus(Name="default")
    assert err(e) == ("ValidationException", "Cannot delete event bus default.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.create_event_bus(Name="bad name")
    assert err(e)[0] == "ValidationException"
    assert ev.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert [b["Name"] for b in ev.list_event_buses(NamePrefix="ord")["EventBuses"]] == ["orders"]
    page = ev.list_event_buses(Limit=1)
    assert [b["Name"] for b in page["EventBuses"]] == ["default"]
    assert [b["Name"] for b in ev.list_event_buses(Limit=1, NextToken=page["NextToken"])["EventBuses"]] == ["orders"]
    ev.delete_event_bus(Name="orders")
    ev.delete_event_bus(Name="orders")  # already gone: still fine
    assert [b["Name"] for b in ev.list_event_buses()["EventBuses"]] == ["default"]


def test_rules(server):
    ev = server.client("events")
    pattern = json.dumps({"source": ["app.orders"]})
    arn = ev.put_rule(Name="r1", EventPattern=pattern, Description="first")["RuleArn"]
    assert arn == RULE_ARN + "r1"
    d = ev.describe_rule(Name="r1")
    assert (d["Name"], d["Arn"], d["EventPattern"], d["State"], d["Description"], d["EventBusName"]) == \
        ("r1", arn, pattern, "ENABLED", "first", "default")
    ev.disable_rule(Name="r1")
    assert ev.describe_rule(Name="r1")["State"] == "DISABLED"
    ev.enable_rule(Name="r1")
    assert ev.describe_rule(Name="r1")["State"] == "ENABLED"
    ev.put_rule(Name="r2", ScheduleExpression="rate(5 minutes)", State="DISABLED")
    assert ev.describe_rule(Name="r2")["ScheduleExpression"] == "rate(5 minutes)"
    for n in ("a1", "a2", "a3"):
        ev.put_rule(Name=n, EventPattern=pattern)
    assert [r["Name"] for r in ev.list_rules(NamePrefix="a")["Rules"]] == ["a1", "a2", "a3"]
    page = ev.list_rules(Limit=2)
    assert [r["Name"] for r in page["Rules"]] == ["a1", "a2"]
    rest = ev.list_rules(Limit=2, NextToken=page["NextToken"])
    assert [r["Name"] for r in rest["Rules"]] == ["a3", "r1"]
    ev.create_event_bus(Name="b2")
    ev.put_rule(Name="r1", EventPattern=pattern, EventBusName="b2")
    assert ev.describe_rule(Name="r1", EventBusName="b2")["Arn"] == RULE_ARN + "b2/r1"
    assert [r["Name"] for r in ev.list_rules(EventBusName="b2")["Rules"]] == ["r1"]

    with pytest.raises(ev.exceptions.ResourceNotFoundException) as e:
        ev.describe_rule(Name="missing")
    assert err(e)[1] == "Rule missing does not exist on EventBus default."
    with pytest.raises(ev.exceptions.ResourceNotFoundException) as e:
        ev.enable_rule(Name="missing", EventBusName="b2")
    assert err(e)[1] == "Rule missing does not exist on EventBus b2."
    with pytest.raises(ev.exceptions.ResourceNotFoundException) as e:
        ev.put_rule(Name="x", EventPattern=pattern, EventBusName="nope")
    assert err(e)[1] == "Event bus nope does not exist."
    with pytest.raises(ev.exceptions.InvalidEventPatternException) as e:
        ev.put_rule(Name="x", EventPattern=json.dumps({"source": "a"}))
    assert err(e)[1] == 'Event pattern is not valid. Reason: "source" must be an object or an array'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_rule(Name="x")
    assert err(e) == ("ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_rule(Name="bad name", EventPattern=pattern)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_rule(Name="s", ScheduleExpression="rate(1 minute)", EventBusName="b2")
    assert err(e)[0] == "ValidationException"
    # Tags on rules.
    ev.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}, {"Key": "k2", "Value": "v2"}])
    ev.untag_resource(ResourceARN=arn, TagKeys=["k2"])
    assert ev.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ev.exceptions.ResourceNotFoundException):
        ev.list_tags_for_resource(ResourceARN=RULE_ARN + "nope")
    with pytest.raises(ev.exceptions.LimitExceededException):
        ev.tag_resource(ResourceARN=arn, Tags=[{"Key": f"t{i}", "Value": "v"} for i in range(50)])
    assert len(ev.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 1  # nothing half-written
    ev.delete_rule(Name="a1")
    ev.delete_rule(Name="a1")
    assert "a1" not in [r["Name"] for r in ev.list_rules()["Rules"]]


def test_targets(server):
    ev = server.client("events")
    ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    q = SQS_ARN + "q1"
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    r = ev.put_targets(Rule="r", Targets=[
        {"Id": "t1", "Arn": q, "InputPath": "$.detail"},
        {"Id": "t2", "Arn": fn, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
         "DeadLetterConfig": {"Arn": SQS_ARN + "dlq"}},
        {"Id": "t3", "Arn": "arn:aws:kinesis:us-east-1:0:stream/s"},
    ])
    assert r["FailedEntryCount"] == 1
    assert r["FailedEntries"][0]["TargetId"] == "t3"
    got = ev.list_targets_by_rule(Rule="r")["Targets"]
    assert [t["Id"] for t in got] == ["t1", "t2"]
    assert got[0]["InputPath"] == "$.detail"
    assert got[1]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    assert got[1]["DeadLetterConfig"] == {"Arn": SQS_ARN + "dlq"}
    assert ev.list_rule_names_by_target(TargetArn=q)["RuleNames"] == ["r"]
    assert ev.list_rule_names_by_target(TargetArn=SQS_ARN + "other")["RuleNames"] == []

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.delete_rule(Name="r")
    assert err(e) == ("ValidationException", "Rule can't be deleted since it has targets.")
    with pytest.raises(ev.exceptions.ResourceNotFoundException) as e:
        ev.put_targets(Rule="nope", Targets=[{"Id": "t", "Arn": q}])
    assert err(e)[1] == "Rule nope does not exist on EventBus default."
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": q, "Input": "{not json"}])
    assert err(e)[0] == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": "not-an-arn"}])
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ev.exceptions.LimitExceededException):
        ev.put_targets(Rule="r", Targets=[{"Id": f"x{i}", "Arn": q} for i in range(4)])
    assert len(ev.list_targets_by_rule(Rule="r")["Targets"]) == 2  # nothing half-written

    r = ev.remove_targets(Rule="r", Ids=["t1", "nope"])
    assert r["FailedEntryCount"] == 1 and r["FailedEntries"][0]["TargetId"] == "nope"
    ev.remove_targets(Rule="r", Ids=["t2"])
    ev.delete_rule(Name="r")
    with pytest.raises(ev.exceptions.ResourceNotFoundException):
        ev.list_targets_by_rule(Rule="r")


def test_put_events_answers_per_entry(server):
    ev = server.client("events")
    r = ev.put_events(Entries=[
        entry(1),
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "s", "DetailType": "t", "Detail": "[1]"},
        entry(2, EventBusName="nope"),
    ])
    assert r["FailedEntryCount"] == 3
    e = r["Entries"]
    assert "EventId" in e[0] and len(e[0]["EventId"]) == 36
    assert e[1] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[2]["ErrorCode"] == "MalformedDetail"
    assert e[3]["ErrorCode"] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as x:
        ev.put_events(Entries=[entry(i) for i in range(11)])
    assert err(x)[0] == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as x:
        ev.put_events(Entries=[entry(0, detail={"big": "x" * 200_000}), entry(1, detail={"big": "y" * 100_000})])
    assert err(x)[0] == "ValidationException"


def test_sqs_target_with_input_transformer(server):
    ev, sqs = server.client("events"), server.client("sqs")
    url = queue(sqs, "transformed")
    plain = queue(sqs, "plain")
    ev.put_rule(Name="orders", EventPattern=json.dumps({"source": ["app.orders"], "detail": {"n": [{"numeric": [">", 0]}]}}))
    ev.put_targets(Rule="orders", Targets=[
        {"Id": "t", "Arn": SQS_ARN + "transformed", "InputTransformer": {
            "InputPathsMap": {"n": "$.detail.n", "src": "$.source"},
            "InputTemplate": '{"order": <n>, "text": "order <n> from <src>", "rule": <aws.events.rule-name>}'}},
        {"Id": "p", "Arn": SQS_ARN + "plain"},
    ])
    r = ev.put_events(Entries=[entry(7), entry(0), entry(8, source="other")])
    want_id = r["Entries"][0]["EventId"]
    got = receive_all(sqs, url, 1, timeout=30)
    assert [json.loads(m["Body"]) for m in got] == [{"order": 7, "text": "order 7 from app.orders", "rule": "orders"}]
    whole = receive_all(sqs, plain, 1, timeout=30)
    body = json.loads(whole[0]["Body"])
    assert body["id"] == want_id
    assert (body["version"], body["source"], body["detail-type"], body["account"], body["region"], body["detail"]) == \
        ("0", "app.orders", "Order Placed", ACCOUNT, "us-east-1", {"n": 7})
    assert len(body["time"]) == 20 and body["time"].endswith("Z") and body["resources"] == []
    # A disabled rule sees nothing: an event for it travels with a marker for another
    # rule in one call (one durable write, matched together); once the marker is
    # delivered, the disabled rule's queue is still empty.
    ev.disable_rule(Name="orders")
    marker = queue(sqs, "marker")
    ev.put_rule(Name="marker", EventPattern=json.dumps({"source": ["marker"]}))
    ev.put_targets(Rule="marker", Targets=[{"Id": "m", "Arn": SQS_ARN + "marker"}])
    ev.put_events(Entries=[entry(99), entry(1, source="marker")])
    assert len(receive_all(sqs, marker, 1, timeout=30)) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert sqs.receive_message(QueueUrl=plain).get("Messages", []) == []


def test_failed_deliveries_go_to_the_dead_letter_queue(server):
    ev, sqs = server.client("events"), server.client("sqs")
    dlq = queue(sqs, "eb-dlq")
    ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["app.orders"]}))
    ev.put_targets(Rule="r", Targets=[
        {"Id": "missing-queue", "Arn": SQS_ARN + "does-not-exist", "RetryPolicy": {"MaximumRetryAttempts": 1},
         "DeadLetterConfig": {"Arn": SQS_ARN + "eb-dlq"}},
        {"Id": "topic", "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:topic", "RetryPolicy": {"MaximumRetryAttempts": 0},
         "DeadLetterConfig": {"Arn": SQS_ARN + "eb-dlq"}},
    ])
    event_id = ev.put_events(Entries=[entry(1)])["Entries"][0]["EventId"]
    got = receive_all(sqs, dlq, 2, timeout=60, attrs=True)
    assert len(got) == 2
    by_target = {m["MessageAttributes"]["TARGET_ARN"]["StringValue"]: m for m in got}
    q = by_target[SQS_ARN + "does-not-exist"]
    assert json.loads(q["Body"])["id"] == event_id
    assert q["MessageAttributes"]["RULE_ARN"]["StringValue"] == RULE_ARN + "r"
    assert q["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "ResourceNotFoundException"
    assert q["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "1"
    assert q["MessageAttributes"]["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "MaximumRetryAttemptsExceeded"
    t = by_target[f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"]
    assert t["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "0"


def test_cli_rule_and_put_events(server):
    sqs = server.client("sqs")
    url = queue(sqs, "cli-q")
    p = server.cli("events", "put-rule", "--name", "cli", "--event-pattern", json.dumps({"source": ["cli"]}))
    assert json.loads(p.stdout)["RuleArn"] == RULE_ARN + "cli"
    server.cli("events", "put-targets", "--rule", "cli", "--targets", json.dumps([{"Id": "q", "Arn": SQS_ARN + "cli-q"}]))
    listed = json.loads(server.cli("events", "list-targets-by-rule", "--rule", "cli").stdout)
    assert [t["Id"] for t in listed["Targets"]] == ["q"]
    out = json.loads(server.cli("events", "put-events", "--entries", json.dumps(
        [{"Source": "cli", "DetailType": "d", "Detail": "{\"k\": 1}"}])).stdout)
    assert out["FailedEntryCount"] == 0
    got = receive_all(sqs, url, 1, timeout=30)
    assert json.loads(got[0]["Body"])["id"] == out["Entries"][0]["EventId"]
    bad = server.cli("events", "describe-rule", "--name", "nope", check=False)
    assert bad.returncode != 0 and b"ResourceNotFoundException" in bad.stderr


def _ids_from_queue(sqs, url, want, timeout):
    """The event ids that reach `url` until every id in `want` has (or the time is up).
    The queue may also hold events that were never answered (committed just before the
    kill, their reply cut), so arrival is judged by ids, never by a count."""
    seen = set()
    end = time.time() + timeout
    while not want <= seen and time.time() < end:
        for m in receive_all(sqs, url, len(want - seen), timeout=5):
            seen.add(json.loads(m["Body"])["id"])
    return seen


def _where_in_stores(data_dir, event_ids):
    """For each id, the rows of the server's queue stores that hold it: the EventBridge
    stages (eventbridge.db) and the SQS queues (queues.db), so a failure says where an
    event stopped."""
    found = {i: [] for i in event_ids}
    for db in ("eventbridge.db", "queues.db"):
        conn = sqlite3.connect(f"file:{os.path.join(data_dir, db)}?mode=ro", uri=True)
        try:
            for i in event_ids:
                for row in conn.execute(
                        "SELECT q.name, m.visible_ms, m.receive_count FROM messages m "
                        "JOIN queues q ON q.id = m.queue_id WHERE m.body LIKE ?", (f"%{i}%",)):
                    found[i].append((db, *row))
        finally:
            conn.close()
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")
def test_thousand_events_reach_a_function(server):
    lam, sqs, ev = server.client("lambda"), server.client("sqs"), server.client("events")
    urls = make_function(lam, sqs, name="recorder")
    ev.put_rule(Name="to-fn", EventPattern=json.dumps({"source": ["app.orders"]}))
    ev.put_targets(Rule="to-fn", Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:recorder"}])

    def call(c):
        r = ev.put_events(Entries=[entry(c * 10 + i) for i in range(10)])
        assert r["FailedEntryCount"] == 0
        return [e["EventId"] for e in r["Entries"]]

    with ThreadPoolExecutor(4) as pool:
        ids = {i for batch in pool.map(call, range(100)) for i in batch}
    assert len(ids) == 1000
    # Each invocation's OnSuccess record carries the event the function received.
    seen = set()
    end = time.time() + 240
    while seen != ids and time.time() < end:
        for m in receive_all(sqs, urls["ok"], 1000 - len(seen), timeout=5):
            seen.add(json.loads(m["Body"])["requestPayload"]["id"])
    assert ids - seen == set()


# Runs alone, after the parallel part: under the parallel suite's load it once reported
# a few answered events missing, with the old count-based wait (docs/wire.md §24.4);
# the loss was not reproduced since. It still fails on any loss, naming where each
# missing event stopped.
@pytest.mark.serial
def test_events_accepted_before_kill_9_are_delivered(server_factory, data_dir):
    s = server_factory()
    ev, sqs = s.client("events"), s.client("sqs")
    queue(sqs, "burst")
    ev.put_rule(Name="burst", EventPattern=json.dumps({"source": ["burst"]}))
    ev.put_targets(Rule="burst", Targets=[{"Id": "q", "Arn": SQS_ARN + "burst"}])
    accepted = set()

    def call(c):
        try:
            r = s.client("events").put_events(Entries=[entry(c * 10 + i, source="burst") for i in range(10)])
        except Exception:
            return []  # the server died under this call: nothing was promised
        return [e["EventId"] for e in r["Entries"] if "EventId" in e]

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(call, c) for c in range(200)]
        # Kill while the burst is under way: after some calls were answered.
        while sum(f.done() for f in futures) < 60:
            time.sleep(0.01)
        s.stop(sig=signal.SIGKILL)
        for f in futures:
            accepted.update(f.result())
    assert accepted  # some calls were answered before the kill
    s2 = server_factory(data_dir_override=data_dir)
    sqs2 = s2.client("sqs")
    url = sqs2.get_queue_url(QueueName="burst")["QueueUrl"]
    seen = _ids_from_queue(sqs2, url, accepted, timeout=180)
    missing = accepted - seen
    assert missing == set(), (len(missing), _where_in_stores(data_dir, sorted(missing)))


def test_a_rule_publishes_to_an_sns_topic_that_fans_out(server):
    """An SNS topic target: the matched event (EventBridge's envelope) is the
    notification's Message, delivered to the topic's subscribers."""
    ev, sqs, sns = server.client("events"), server.client("sqs"), server.client("sns")
    topic = sns.create_topic(Name="from-rules")["TopicArn"]
    url = queue(sqs, "from-topic")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=SQS_ARN + "from-topic",
                  Attributes={"RawMessageDelivery": "true"})
    ev.put_rule(Name="to-topic", EventPattern=json.dumps({"source": ["app.orders"]}))
    ev.put_targets(Rule="to-topic", Targets=[{"Id": "t", "Arn": topic}])
    event_id = ev.put_events(Entries=[entry(5)])["Entries"][0]["EventId"]
    got = receive_all(sqs, url, 1, timeout=60)
    body = json.loads(got[0]["Body"])
    assert body["id"] == event_id and body["detail"] == {"n": 5}
