"""EventBridge's pattern language over the wire: TestEventPattern answers the documented
table (crates/quiver-events/src/pattern/cases.json, also the engine's unit test) and
refuses bad patterns with InvalidEventPatternException in EventBridge's words."""
import json
import os

import botocore.exceptions
import pytest

TABLE = json.load(open(os.path.join(os.path.dirname(__file__), "..", "crates", "quiver-events", "src",
                                    "pattern", "cases.json")))


@pytest.fixture(scope="module")
def events():
    from conftest import Server
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="quiver-test-")
    s = Server(d).start()
    try:
        yield s.client("events")
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_the_table_is_big_enough():
    assert len(TABLE["cases"]) >= 60
    assert {c["matches"] for c in TABLE["cases"]} == {True, False}


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_documented_case(events, case):
    event = TABLE["events"][case["event"]]
    r = events.test_event_pattern(EventPattern=json.dumps(case["pattern"]), Event=json.dumps(event))
    assert r["Result"] is case["matches"]


@pytest.mark.parametrize("case", TABLE["invalid"], ids=[c["reason"][:40] for c in TABLE["invalid"]])
def test_bad_pattern(events, case):
    event = TABLE["events"]["ec2"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.test_event_pattern(EventPattern=json.dumps(case["pattern"]), Event=json.dumps(event))
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidEventPatternException"
    assert err["Message"] == "Event pattern is not valid. Reason: " + case["reason"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_pattern_that_is_not_json(events):
    with pytest.raises(events.exceptions.InvalidEventPatternException) as e:
        events.test_event_pattern(EventPattern="{\"source\": [", Event=json.dumps(TABLE["events"]["ec2"]))
    assert e.value.response["Error"]["Message"].startswith("Event pattern is not valid. Reason: ")


@pytest.mark.parametrize("event", ["not json", "[1]", json.dumps({"source": "a"})])
def test_event_must_be_an_envelope(events, event):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": ["a"]}', Event=event)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Parameter Event is not valid."
