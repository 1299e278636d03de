"""EventBridge rules with a ScheduleExpression (docs/wire.md §24.5): fired by the
schedule ticker as EventBridge's Scheduled Event (the documented envelope: version "0",
detail-type "Scheduled Event", source "aws.events", resources [the rule's ARN],
detail {}), or the target's constant Input; a rate rule fires when it is defined and
every period after; a restart fires once, never the ticks it missed."""
import json
import shutil
import tempfile

import botocore.exceptions
import pytest

from conftest import Server
from sqsutil import receive_within

ACCOUNT = "000000000000"
SQS_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"
RULE_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/"


receive_all = receive_within


@pytest.fixture
def srv():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_a_rate_rule_sends_the_scheduled_event(srv):
    ev, sqs = srv.client("events"), srv.client("sqs")
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    const = sqs.create_queue(QueueName="const")["QueueUrl"]
    arn = ev.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
    assert arn == RULE_ARN + "every-minute"
    ev.put_targets(Rule="every-minute", Targets=[
        {"Id": "q", "Arn": SQS_ARN + "ticks"},
        {"Id": "c", "Arn": SQS_ARN + "const", "Input": '{"fixed": true}'},
    ])
    got = receive_all(sqs, url, 70, stop_after=1)
    assert len(got) == 1, "a rate rule fires within its first minute"
    body = json.loads(got[0]["Body"])
    assert (body["version"], body["detail-type"], body["source"], body["account"],
            body["region"], body["resources"], body["detail"]) == \
        ("0", "Scheduled Event", "aws.events", ACCOUNT, "us-east-1", [arn], {})
    assert body["time"].endswith("Z") and len(body["id"]) == 36
    c = receive_all(sqs, const, 70, stop_after=1)
    assert [json.loads(m["Body"]) for m in c] == [{"fixed": True}]
    # Disabled: no more fires (the next would be due within a minute).
    ev.disable_rule(Name="every-minute")
    assert receive_all(sqs, url, 65) == []
    assert ev.describe_rule(Name="every-minute")["ScheduleExpression"] == "rate(1 minute)"


def test_restart_fires_once_not_the_missed_ticks():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    try:
        ev, sqs = s.client("events"), s.client("sqs")
        url = sqs.create_queue(QueueName="r")["QueueUrl"]
        ev.put_rule(Name="ten", ScheduleExpression="rate(10 minutes)")
        ev.put_targets(Rule="ten", Targets=[{"Id": "q", "Arn": SQS_ARN + "r"}])
        assert len(receive_all(sqs, url, 30, stop_after=1)) == 1
        # Redefining targets keeps the ticks where they were: no extra fire.
        ev.put_targets(Rule="ten", Targets=[{"Id": "q", "Arn": SQS_ARN + "r"}])
        assert receive_all(sqs, url, 5) == []
        s.stop()
        # As if the server came back an hour later: six ticks were missed.
        s = Server(d, extra_args=["--schedule-clock-offset-secs", "3600"]).start()
        after = receive_all(s.client("sqs"), url, 12)
        assert len(after) == 1, f"expected one fire at start, got {len(after)}"
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("expr", [
    "rate(1 minutes)", "rate(0 minutes)", "cron(0 12 * * * *)", "cron(0 12 * * ?)",
    "at(2030-01-01T00:00:00)", "every minute",
])
def test_bad_schedule_expressions_are_refused(srv, expr):
    ev = srv.client("events")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ev.put_rule(Name="bad", ScheduleExpression=expr)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    assert ev.list_rules()["Rules"] == []
