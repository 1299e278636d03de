"""InvokeWithResponseStream through boto3 (docs/wire.md §23): the event-stream body
(PayloadChunk events, then InvokeComplete) as botocore's parser reads it, with its
CRCs checked by botocore itself."""
import base64
import json

import pytest
from botocore.exceptions import ClientError

from invokeutil import REPORT_RE, create_py, unique_name

PY_SOURCE = r'''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("no way")
    return {"echo": event, "big": "x" * 100000}
'''


def stream_events(resp):
    """All events of the response's EventStream, in order."""
    return list(resp["EventStream"])


def test_buffered_function_streams_its_whole_payload_as_one_chunk(lam):
    name = create_py(lam, PY_SOURCE)
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"a": 1}))
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = stream_events(resp)
    assert [next(iter(e)) for e in events] == ["PayloadChunk", "InvokeComplete"], events
    doc = json.loads(events[0]["PayloadChunk"]["Payload"])
    assert doc == {"echo": {"a": 1}, "big": "x" * 100000}
    assert "ErrorCode" not in events[1]["InvokeComplete"]


def test_function_error_is_in_invoke_complete(lam):
    name = create_py(lam, PY_SOURCE)
    resp = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"fail": True}), LogType="Tail"
    )
    assert resp["StatusCode"] == 200
    events = stream_events(resp)
    assert [next(iter(e)) for e in events] == ["InvokeComplete"], events
    done = events[0]["InvokeComplete"]
    assert done["ErrorCode"] == "ValueError"
    assert done["ErrorDetails"] == "no way"
    log = base64.b64decode(done["LogResult"]).decode()
    assert any(REPORT_RE.match(line) for line in log.split("\n")), log


def test_dry_run_and_refusals(lam):
    name = create_py(lam, PY_SOURCE)
    resp = lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")
    assert resp["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=unique_name("missing"))
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
