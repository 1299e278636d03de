"""InvokeWithResponseStream through boto3 (docs/wire.md §23): the event-stream body
(PayloadChunk events, then InvokeComplete) as botocore's parser reads it, with its
CRCs checked by botocore itself."""
import base64
import json
import time

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


NODE_STREAMING = r'''
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  for (let i = 0; i < 5; i++) {
    responseStream.write(JSON.stringify({ i, at: Date.now() }) + '\n');
    if (event.failAt === i) throw new Error('broke at ' + i);
    await new Promise((r) => setTimeout(r, event.delay ?? 300));
  }
  responseStream.end();
});
'''


def node_streaming_fn(lam, **kw):
    from invokeutil import create, make_zip
    return create(lam, make_zip({"index.js": NODE_STREAMING}), runtime="nodejs20.x",
                  handler="index.handler", **kw)


def lines_of(data):
    return [json.loads(line) for line in data.decode().splitlines()]


def test_streamed_output_through_both_apis(lam):
    name = node_streaming_fn(lam)
    # A plain Invoke collects the whole stream.
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"delay": 50}))
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    body = resp["Payload"].read()
    assert [d["i"] for d in lines_of(body)] == [0, 1, 2, 3, 4]
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"delay": 50}))
    events = stream_events(resp)
    assert next(iter(events[-1])) == "InvokeComplete"
    assert "ErrorCode" not in events[-1]["InvokeComplete"]
    data = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert [d["i"] for d in lines_of(data)] == [0, 1, 2, 3, 4]


def test_error_mid_stream(lam):
    name = node_streaming_fn(lam)
    resp = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"failAt": 2, "delay": 20})
    )
    events = stream_events(resp)
    done = events[-1]["InvokeComplete"]
    assert done["ErrorCode"] == "Error"
    assert done["ErrorDetails"] == "broke at 2"
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"failAt": 0}))
    assert resp["FunctionError"] == "Unhandled"
    doc = json.loads(resp["Payload"].read())
    assert doc["errorType"] == "Error" and doc["errorMessage"] == "broke at 0"


def test_chunks_arrive_as_they_are_written(lam):
    name = node_streaming_fn(lam)
    lam.invoke(FunctionName=name, Payload=json.dumps({"delay": 1}))  # warm: no INIT in the timing
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({}))
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    received = []
    kinds = []
    for event in resp["EventStream"]:
        kinds.append(next(iter(event)))
        if "PayloadChunk" in event:
            for d in lines_of(event["PayloadChunk"]["Payload"]):
                received.append((time.time() * 1000, d))
    assert kinds == ["PayloadChunk"] * 5 + ["InvokeComplete"], kinds
    assert [d["i"] for _, d in received] == [0, 1, 2, 3, 4]
    written_last = received[-1][1]["at"]
    first_seen = received[0][0]
    # The first chunk was in the client's hands before the function wrote its last one
    # (the function waits 300 ms between writes, 1.2 s from first to last).
    assert first_seen < written_last, (first_seen, written_last)
    for seen, d in received:
        assert seen >= d["at"] - 5


def test_timeout_mid_stream_is_sandbox_timedout(lam):
    name = node_streaming_fn(lam, timeout=1)
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"delay": 400}))
    events = stream_events(resp)
    chunks = [e for e in events if "PayloadChunk" in e]
    assert 1 <= len(chunks) < 5, events
    done = events[-1]["InvokeComplete"]
    assert done["ErrorCode"] == "Sandbox.Timedout", done
    assert "Task timed out after" in done["ErrorDetails"]
