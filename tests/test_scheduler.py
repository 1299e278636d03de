"""EventBridge Scheduler through boto3's `scheduler` client and the AWS CLI
(docs/wire.md §25): schedule groups, schedules, tags and their errors, then real fires
to a function and to a queue, one-time schedules deleting themselves, and the catch-up
rule across a restart.

Operations, members, status codes and error codes are botocore's scheduler model
(2021-06-30: ValidationException 400, ResourceNotFoundException 404,
ConflictException 409; names `^[0-9a-zA-Z-_.]+$`, 1-64). A rate schedule starts at
once when it has no StartDate (Scheduler's user guide), so rate fires are seen within
seconds; the one minute-level wait is the real rate(1 minute) function test.
"""
import datetime
import json
import shutil
import tempfile
import time

import botocore.exceptions
import pytest

from apiutil import ACCOUNT, REGION, ROLE, assert_client_error, create, make_zip, settled, unique_name
from conftest import Server
from sqsutil import receive_within

SCHED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler-role"
OFF = {"Mode": "OFF"}


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def sch(srv):
    return srv.client("scheduler")


@pytest.fixture(scope="module")
def sqs(srv):
    return srv.client("sqs")


def queue(sqs):
    name = unique_name("q")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


receive_all = receive_within


def target(arn, **kw):
    t = {"Arn": arn, "RoleArn": SCHED_ROLE}
    t.update(kw)
    return t


# ------------------------------------------------------------------ groups and tags


def test_groups_and_their_tags(sch):
    d = sch.get_schedule_group(Name="default")
    assert d["Name"] == "default" and d["State"] == "ACTIVE"
    assert d["Arn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default"
    name = unique_name("grp")
    arn = sch.create_schedule_group(Name=name, Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{name}"
    g = sch.get_schedule_group(Name=name)
    assert g["Name"] == name and isinstance(g["CreationDate"], datetime.datetime)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule_group(Name=name)
    assert_client_error(e, "ConflictException", 409, f"Schedule group {name} already exists.")
    names = [x["Name"] for x in sch.list_schedule_groups(NamePrefix=name)["ScheduleGroups"]]
    assert names == [name]
    assert "default" in [x["Name"] for x in sch.list_schedule_groups()["ScheduleGroups"]]

    assert sch.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    sch.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = {t["Key"]: t["Value"] for t in sch.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"env": "dev", "team": "b"}
    sch.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sch.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    missing = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/nope-{name}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.tag_resource(ResourceArn=missing, Tags=[{"Key": "k", "Value": "v"}])
    assert_client_error(e, "ResourceNotFoundException", 404, f"Schedule group nope-{name} does not exist.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.list_tags_for_resource(ResourceArn=f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/x")
    assert_client_error(e, "ValidationException", 400, "failed to satisfy constraint")

    sch.delete_schedule_group(Name=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.get_schedule_group(Name=name)
    assert_client_error(e, "ResourceNotFoundException", 404, f"Schedule group {name} does not exist.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.delete_schedule_group(Name=name)
    assert_client_error(e, "ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.delete_schedule_group(Name="default")
    assert_client_error(e, "ValidationException", 400)


# ------------------------------------------------------------------ schedules


def test_schedule_create_get_update_list_delete(sch, sqs):
    _, qarn = queue(sqs)
    group = unique_name("grp")
    sch.create_schedule_group(Name=group)
    name = unique_name("s")
    arn = sch.create_schedule(
        Name=name, GroupName=group, ScheduleExpression="cron(0 10 * * ? *)",
        ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        Target=target(qarn, Input="hello", RetryPolicy={"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}),
        State="DISABLED", Description="daily",
    )["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}"
    g = sch.get_schedule(Name=name, GroupName=group)
    assert g["Arn"] == arn and g["GroupName"] == group and g["State"] == "DISABLED"
    assert g["ScheduleExpression"] == "cron(0 10 * * ? *)"
    assert g["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert g["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert g["Target"]["Arn"] == qarn and g["Target"]["Input"] == "hello"
    assert g["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    assert g["Description"] == "daily" and g["ActionAfterCompletion"] == "NONE"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.get_schedule(Name=name)  # not in the default group
    assert_client_error(e, "ResourceNotFoundException", 404, f"Schedule {name} does not exist.")

    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule(Name=name, GroupName=group, ScheduleExpression="rate(5 minutes)",
                            FlexibleTimeWindow=OFF, Target=target(qarn))
    assert_client_error(e, "ConflictException", 409, f"Schedule {name} already exists.")

    # UpdateSchedule replaces everything: members left out return to their defaults.
    sch.update_schedule(Name=name, GroupName=group, ScheduleExpression="rate(7 days)",
                        FlexibleTimeWindow=OFF, Target=target(qarn), State="DISABLED")
    u = sch.get_schedule(Name=name, GroupName=group)
    assert u["ScheduleExpression"] == "rate(7 days)" and "Description" not in u
    assert u["FlexibleTimeWindow"] == OFF and u["CreationDate"] == g["CreationDate"]
    assert u["ScheduleExpressionTimezone"] == "UTC"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.update_schedule(Name="nope-" + name, GroupName=group, ScheduleExpression="rate(7 days)",
                            FlexibleTimeWindow=OFF, Target=target(qarn))
    assert_client_error(e, "ResourceNotFoundException", 404)

    second = name + "-b"
    sch.create_schedule(Name=second, GroupName=group, ScheduleExpression="rate(1 day)",
                        FlexibleTimeWindow=OFF, Target=target(qarn), State="DISABLED")
    listed = sch.list_schedules(GroupName=group)["Schedules"]
    assert [s["Name"] for s in listed] == [name, second]
    assert listed[0]["Target"] == {"Arn": qarn} and listed[0]["State"] == "DISABLED"
    page1 = sch.list_schedules(GroupName=group, MaxResults=1)
    assert [s["Name"] for s in page1["Schedules"]] == [name] and page1["NextToken"]
    page2 = sch.list_schedules(GroupName=group, MaxResults=1, NextToken=page1["NextToken"])
    assert [s["Name"] for s in page2["Schedules"]] == [second] and "NextToken" not in page2
    assert [s["Name"] for s in sch.list_schedules(NamePrefix=second)["Schedules"]] == [second]
    assert sch.list_schedules(GroupName=group, State="ENABLED")["Schedules"] == []
    paginated = [s["Name"] for p in sch.get_paginator("list_schedules").paginate(
        GroupName=group, PaginationConfig={"PageSize": 1}) for s in p["Schedules"]]
    assert paginated == [name, second]

    sch.delete_schedule(Name=name, GroupName=group)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.get_schedule(Name=name, GroupName=group)
    assert_client_error(e, "ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.delete_schedule(Name=name, GroupName=group)
    assert_client_error(e, "ResourceNotFoundException", 404)
    # Deleting the group deletes its schedules.
    sch.delete_schedule_group(Name=group)
    assert sch.list_schedules(NamePrefix=second)["Schedules"] == []


@pytest.mark.parametrize("kw, message", [
    ({"ScheduleExpression": "cron(0 10 * * * *)"}, "Invalid Schedule Expression cron(0 10 * * * *)."),
    ({"ScheduleExpression": "cron(0 25 * * ? *)"}, "Invalid Schedule Expression cron(0 25 * * ? *)."),
    ({"ScheduleExpression": "rate(1 minutes)"}, "Invalid Schedule Expression rate(1 minutes)."),
    ({"ScheduleExpression": "rate(0 hours)"}, "Invalid Schedule Expression rate(0 hours)."),
    ({"ScheduleExpression": "at(2001-01-01T00:00:00)"}, "is in the past"),
    ({"ScheduleExpression": "rate(5 minutes)", "ScheduleExpressionTimezone": "Mars/Base"}, "Invalid time zone Mars/Base."),
    ({"ScheduleExpression": "rate(5 minutes)", "FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes"),
    ({"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": "arn:aws:sns:us-east-1:000000000000:t", "RoleArn": SCHED_ROLE}}, "Invalid target ARN"),
    ({"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": "role"}}, "roleArn"),
    ({"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": "arn:aws:sqs:eu-west-1:000000000000:q", "RoleArn": SCHED_ROLE}}, "outside this server"),
    ({"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": "arn:aws:lambda:us-east-1:111111111111:function:f", "RoleArn": SCHED_ROLE}}, "outside this server"),
    ({"ScheduleExpression": "rate(5 minutes)", "Target": {"Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f", "RoleArn": SCHED_ROLE, "Input": "not json"}}, "well-formed JSON"),
    ({"ScheduleExpression": "rate(5 minutes)", "StartDate": datetime.datetime(2031, 1, 2, tzinfo=datetime.timezone.utc),
      "EndDate": datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)}, "EndDate you specify must be after the StartDate"),
    ({"ScheduleExpression": "rate(5 minutes)", "EndDate": datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)}, "cannot be earlier than the current time"),
])
def test_create_schedule_refusals(sch, kw, message):
    params = dict(Name=unique_name("bad"), FlexibleTimeWindow=OFF,
                  Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    params.update(kw)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule(**params)
    assert_client_error(e, "ValidationException", 400, message)
    assert sch.list_schedules(NamePrefix=params["Name"])["Schedules"] == []


def test_unknown_group_and_bad_names(sch):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule(Name="s", GroupName="no-such-group", ScheduleExpression="rate(5 minutes)",
                            FlexibleTimeWindow=OFF, Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    assert_client_error(e, "ResourceNotFoundException", 404, "Schedule group no-such-group does not exist.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.get_schedule(Name="bad name")
    assert_client_error(e, "ValidationException", 400, "regular expression pattern")


# ------------------------------------------------------------------ fires


def test_sqs_target_receives_the_input(sch, sqs):
    url, qarn = queue(sqs)
    name = unique_name("s")
    sch.create_schedule(Name=name, ScheduleExpression="rate(10 minutes)", FlexibleTimeWindow=OFF,
                        Target=target(qarn, Input='{"hello": "queue"}'))
    try:
        got = receive_all(sqs, url, 30, stop_after=1)
        assert [m["Body"] for m in got] == ['{"hello": "queue"}']
    finally:
        sch.delete_schedule(Name=name)


def test_one_time_schedule_with_delete_fires_once_and_is_gone(sch, sqs):
    url, qarn = queue(sqs)
    name = unique_name("once")
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%S")
    sch.create_schedule(Name=name, ScheduleExpression=f"at({at})", FlexibleTimeWindow=OFF,
                        Target=target(qarn, Input="once"), ActionAfterCompletion="DELETE")
    got = receive_all(sqs, url, 30, stop_after=1)
    assert [m["Body"] for m in got] == ["once"]
    deadline = time.time() + 10
    while True:
        try:
            sch.get_schedule(Name=name)
        except botocore.exceptions.ClientError as e:
            assert_client_error(e, "ResourceNotFoundException", 404)
            break
        assert time.time() < deadline, "the completed one-time schedule was not deleted"
        time.sleep(0.2)
    assert receive_all(sqs, url, 3) == []


def test_rate_one_minute_invokes_a_python_function(srv, sch):
    lam = srv.client("lambda")
    logs = srv.client("logs")
    src = b"import json\ndef handler(event, context):\n    print('SCHEDULED ' + json.dumps(event))\n    return event\n"
    fn, resp = create(lam, zip_bytes=make_zip({"app.py": src}))
    settled(lam, fn)
    name = unique_name("s")
    sch.create_schedule(Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                        Target=target(resp["FunctionArn"], Input='{"from": "scheduler"}'))
    try:
        # The first fire comes at once (no StartDate); the second is the real minute tick.
        deadline = time.time() + 150
        events = []
        while time.time() < deadline and len(events) < 2:
            try:
                events = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}", filterPattern='"SCHEDULED"')["events"]
            except botocore.exceptions.ClientError:
                events = []
            if len(events) < 2:
                time.sleep(2)
        assert len(events) >= 2, f"rate(1 minute) fired {len(events)} time(s) in 150 s"
        assert all('{"from": "scheduler"}' in e["message"] for e in events)
    finally:
        sch.delete_schedule(Name=name)


def test_restart_fires_a_missed_tick_once_not_a_burst():
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    try:
        sch, sqs = s.client("scheduler"), s.client("sqs")
        url, qarn = queue(sqs)
        sch.create_schedule(Name="every-10", ScheduleExpression="rate(10 minutes)", FlexibleTimeWindow=OFF,
                            Target=target(qarn, Input="tick"))
        assert len(receive_all(sqs, url, 30, stop_after=1)) == 1  # a rate starts at once
        s.stop()
        # As if the server came back an hour later: six ticks were missed.
        s = Server(d, extra_args=["--schedule-clock-offset-secs", "3600"]).start()
        sqs = s.client("sqs")
        after = receive_all(sqs, url, 12)
        assert [m["Body"] for m in after] == ["tick"], f"expected one catch-up fire, got {len(after)}"
        # The fire is recorded: a second restart at the same offset owes nothing.
        s.stop()
        s = Server(d, extra_args=["--schedule-clock-offset-secs", "3600"]).start()
        assert receive_all(s.client("sqs"), url, 6) == []
        assert s.client("scheduler").get_schedule(Name="every-10")["State"] == "ENABLED"
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_aws_cli_create_get_delete(srv, sqs):
    _, qarn = queue(sqs)
    name = unique_name("cli")
    out = json.loads(srv.cli(
        "scheduler", "create-schedule", "--name", name, "--schedule-expression", "cron(15 10 ? * 6L 2030-2032)",
        "--flexible-time-window", '{"Mode": "OFF"}', "--state", "DISABLED",
        "--target", json.dumps({"Arn": qarn, "RoleArn": SCHED_ROLE}),
    ).stdout)
    assert out["ScheduleArn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    got = json.loads(srv.cli("scheduler", "get-schedule", "--name", name).stdout)
    assert got["ScheduleExpression"] == "cron(15 10 ? * 6L 2030-2032)" and got["State"] == "DISABLED"
    bad = srv.cli("scheduler", "create-schedule", "--name", name + "x", "--schedule-expression", "rate(1 minutes)",
                  "--flexible-time-window", '{"Mode": "OFF"}', "--target", json.dumps({"Arn": qarn, "RoleArn": SCHED_ROLE}),
                  check=False)
    assert bad.returncode != 0 and b"ValidationException" in bad.stderr
    srv.cli("scheduler", "delete-schedule", "--name", name)
    gone = srv.cli("scheduler", "get-schedule", "--name", name, check=False)
    assert gone.returncode != 0 and b"ResourceNotFoundException" in gone.stderr


def test_a_retried_create_with_the_same_client_token_succeeds(sch):
    name = unique_name("idem")
    params = dict(Name=name, ScheduleExpression="rate(1 day)", FlexibleTimeWindow=OFF, State="DISABLED",
                  Target=target(f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"), ClientToken="token-1")
    first = sch.create_schedule(**params)["ScheduleArn"]
    assert sch.create_schedule(**params)["ScheduleArn"] == first
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule(**{**params, "ClientToken": "token-2"})
    assert_client_error(e, "ConflictException", 409)
    group = unique_name("grp")
    garn = sch.create_schedule_group(Name=group, ClientToken="g-1")["ScheduleGroupArn"]
    assert sch.create_schedule_group(Name=group, ClientToken="g-1")["ScheduleGroupArn"] == garn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sch.create_schedule_group(Name=group)
    assert_client_error(e, "ConflictException", 409)
    sch.delete_schedule(Name=name)
    sch.delete_schedule_group(Name=group)


def test_an_undeliverable_fire_goes_to_the_dead_letter_queue(sch, sqs):
    url, qarn = queue(sqs)
    name = unique_name("dlq")
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique_name('missing')}"
    sch.create_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                        Target=target(missing, Input='{"lost": true}', DeadLetterConfig={"Arn": qarn}))
    try:
        deadline = time.time() + 30
        got = []
        while time.time() < deadline and not got:
            got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MessageAttributeNames=["All"]).get("Messages", [])
        assert got, "the undeliverable fire did not reach the dead-letter queue"
        m = got[0]
        assert m["Body"] == '{"lost": true}'
        assert m["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "TargetDeliveryFailed"
        assert m["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    finally:
        sch.delete_schedule(Name=name)
