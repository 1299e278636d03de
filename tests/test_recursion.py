"""Recursive loop detection (docs/wire.md §18): a chain of invocations through Quiver's
own async destinations is stopped after the 16th invocation when the function's
RecursiveLoop is Terminate (the default), and goes on when it is Allow.

Lambda's rule (AWS Lambda developer guide, "Lambda recursive loop detection", and the
AWS Compute Blog post announcing it): Lambda "drops requests after exceeding 16
invocations" of one chain of requests; "for asynchronous invokes, Lambda sends the event
to a dead-letter queue or on-failure destination, if one is configured"; a synchronous
caller gets RecursiveInvocationException (400 in botocore's model).

The chain reaches the function as its `_X_AMZN_TRACE_ID`, which botocore copies into
`X-Amzn-Trace-Id` on the calls a function makes (botocore.handlers.
add_recursion_detection_header), and travels through queues as SQS's AWSTraceHeader
system attribute.

Lambda refuses a function as its own destination, so the loop here is two functions,
each the other's OnSuccess destination. Each invocation's event is the previous one's
invocation record, so the nesting of `requestPayload` counts the invocations that ran.
"""
import io
import json
import os
import time
import zipfile

import botocore.exceptions
import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN_SQS = "arn:aws:sqs:us-east-1:000000000000:"
ARN_FN = "arn:aws:lambda:us-east-1:000000000000:function:"

CODE = r'''
import os

def depth(event):
    n = 1
    while isinstance(event, dict) and isinstance(event.get("requestPayload"), dict):
        event = event["requestPayload"]
        n += 1
    return n

def handler(event, context):
    d = depth(event)
    trace = os.environ.get("_X_AMZN_TRACE_ID", "")
    print("chain depth", d, trace)
    if d >= int(os.environ.get("FAIL_AT", "1000")):
        raise RuntimeError("stopping the loop at %d" % d)
    return {"depth": d, "trace": trace}
'''


def depth(event):
    n = 1
    while isinstance(event, dict) and isinstance(event.get("requestPayload"), dict):
        event = event["requestPayload"]
        n += 1
    return n


def lineage(msg):
    """(root, depth) of a received message's AWSTraceHeader system attribute."""
    parts = dict(p.split("=", 1) for p in msg["Attributes"]["AWSTraceHeader"].split(";"))
    return parts["Root"], int(parts["Lineage"])


def zip_of(code=CODE):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    return buf.getvalue()


def receive(sqs, url, want, timeout):
    got, end = [], time.time() + timeout
    while len(got) < want and time.time() < end:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                MessageAttributeNames=["All"], AttributeNames=["All"])
        msgs = r.get("Messages", [])
        if msgs:
            got += msgs
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return got


def make_loop(lam, sqs, fail_at=None, recursive_loop=None):
    """ping -> pong -> ping ... through OnSuccess; failures (and ping's DLQ) to queues."""
    urls = {q: sqs.create_queue(QueueName=q)["QueueUrl"] for q in ("loop-failed", "loop-dlq")}
    env = {"Environment": {"Variables": {"FAIL_AT": str(fail_at)}}} if fail_at else {}
    for name, other in (("ping", "pong"), ("pong", "ping")):
        dlq = {"DeadLetterConfig": {"TargetArn": f"{ARN_SQS}loop-dlq"}} if name == "ping" else {}
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_of()}, MemorySize=1769, **env, **dlq)
        if recursive_loop:
            lam.put_function_recursion_config(FunctionName=name, RecursiveLoop=recursive_loop)
    for name, other in (("ping", "pong"), ("pong", "ping")):
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={
            "OnSuccess": {"Destination": ARN_FN + other},
            "OnFailure": {"Destination": f"{ARN_SQS}loop-failed"}})
    return urls


def test_terminate_stops_the_chain_after_sixteen_invocations(server):
    lam, sqs = server.client("lambda"), server.client("sqs")
    urls = make_loop(lam, sqs)
    assert lam.get_function_recursion_config(FunctionName="ping")["RecursiveLoop"] == "Terminate"
    r = lam.invoke(FunctionName="ping", InvocationType="Event", Payload=b'{"start": true}')
    assert r["StatusCode"] == 202
    [failed] = receive(sqs, urls["loop-failed"], 1, timeout=120)
    rec = json.loads(failed["Body"])
    # The stopped event is the 17th: the record of the 16th invocation, which ran.
    assert rec["requestContext"]["condition"] == "RecursiveInvocationDetected"
    assert rec["requestContext"]["functionArn"] == ARN_FN + "ping:$LATEST"
    assert rec["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in rec and "responsePayload" not in rec
    # The chain travels with the message as its trace header, at the stopped depth.
    root = lineage(failed)[0]
    assert lineage(failed) == (root, 17)
    stopped_event = rec["requestPayload"]
    assert depth(stopped_event) == 17
    assert stopped_event["requestContext"]["condition"] == "Success"
    # The 16th saw the chain in its trace header, as an SDK call from it would send it.
    assert stopped_event["responsePayload"] == {
        "depth": 16, "trace": f"Root={root};Sampled=0;Lineage=16"}
    # The dead-letter queue of the stopped function gets the event itself.
    [dead] = receive(sqs, urls["loop-dlq"], 1, timeout=30)
    assert depth(json.loads(dead["Body"])) == 17
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"].startswith("Recursive invocation detected")
    assert set(dead["MessageAttributes"]) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert lineage(dead) == (root, 17)
    # Nothing runs after the stop.
    assert receive(sqs, urls["loop-failed"], 1, timeout=6) == []


def test_allow_lets_the_chain_go_past_sixteen(server):
    lam, sqs = server.client("lambda"), server.client("sqs")
    urls = make_loop(lam, sqs, fail_at=20, recursive_loop="Allow")
    assert lam.get_function_recursion_config(FunctionName="pong")["RecursiveLoop"] == "Allow"
    lam.invoke(FunctionName="ping", InvocationType="Event", Payload=b'{"start": true}')
    # The 20th invocation ends the loop with a function error (no retries).
    [failed] = receive(sqs, urls["loop-failed"], 1, timeout=150)
    rec = json.loads(failed["Body"])
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["responseContext"]["functionError"] == "Unhandled"
    assert rec["responsePayload"]["errorMessage"] == "stopping the loop at 20"
    assert depth(rec["requestPayload"]) == 20
    assert rec["requestContext"]["functionArn"] == ARN_FN + "pong:$LATEST"
    assert lineage(failed)[1] == 20
    assert receive(sqs, urls["loop-failed"], 1, timeout=6) == []


def _with_trace_header(client, header):
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = header
    client.meta.events.register("before-sign.lambda.Invoke", add)
    return client


def test_sync_invoke_continuing_a_deep_chain_is_refused(server):
    lam = server.client("lambda")
    lam.create_function(FunctionName="solo", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of()}, MemorySize=1769)
    root = "1-5f000000-0123456789abcdef01234567"
    # A caller that is the 15th of its chain: this invocation is the 16th and runs.
    ok = _with_trace_header(server.client("lambda"), f"Root={root};Sampled=0;Lineage=15")
    assert json.loads(ok.invoke(FunctionName="solo", Payload=b"{}")["Payload"].read()) == {
        "depth": 1, "trace": f"Root={root};Sampled=0;Lineage=16"}
    deep = _with_trace_header(server.client("lambda"), f"Root={root};Sampled=0;Lineage=16")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        deep.invoke(FunctionName="solo", Payload=b"{}")
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "RecursiveInvocationException"
    assert err["Error"]["Message"].startswith(f"Recursive invocation detected: {ARN_FN}solo ")
    with pytest.raises(deep.exceptions.RecursiveInvocationException):
        deep.invoke(FunctionName="solo", Payload=b"{}")
    lam.put_function_recursion_config(FunctionName="solo", RecursiveLoop="Allow")
    assert deep.invoke(FunctionName="solo", Payload=b"{}")["StatusCode"] == 200
    # A trace header without Quiver's lineage starts a new chain.
    plain = _with_trace_header(server.client("lambda"), f"Root={root};Sampled=1")
    lam.put_function_recursion_config(FunctionName="solo", RecursiveLoop="Terminate")
    fresh = json.loads(plain.invoke(FunctionName="solo", Payload=b"{}")["Payload"].read())["trace"]
    assert fresh.endswith(";Sampled=0;Lineage=1") and root not in fresh


def test_trace_header_is_an_sqs_system_attribute(server):
    """The form the chain travels in through queues: SQS's AWSTraceHeader system
    attribute, never one of the message's own attributes."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="traced")["QueueUrl"]
    header = "Root=1-5f000000-0123456789abcdef01234567;Sampled=0;Lineage=3"
    sent = sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}},
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}})
    assert sent["MD5OfMessageSystemAttributes"]
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "c",
        "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}}])
    assert batch["Successful"][0]["MD5OfMessageSystemAttributes"] == sent["MD5OfMessageSystemAttributes"]
    got = receive(sqs, url, 2, timeout=10)
    assert sorted(m["Body"] for m in got) == ["b", "c"]
    for m in got:
        assert m["Attributes"]["AWSTraceHeader"] == header
        assert "AWS.TraceHeader" not in m.get("MessageAttributes", {})
    assert [m["MessageAttributes"] for m in got if m["Body"] == "b"] == [
        {"k": {"DataType": "String", "StringValue": "v"}}]
    # Not asked for, not shown.
    sqs.send_message(QueueUrl=url, MessageBody="d",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}})
    r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["SentTimestamp"])
    [m] = r["Messages"]
    assert set(m["Attributes"]) == {"SentTimestamp"} and "MessageAttributes" not in m
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_event_invoke_continuing_a_deep_chain_is_accepted_then_stopped(server):
    lam, sqs = server.client("lambda"), server.client("sqs")
    urls = {q: sqs.create_queue(QueueName=q)["QueueUrl"] for q in ("deep-ok", "deep-failed")}
    lam.create_function(FunctionName="deep", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of()}, MemorySize=1769)
    lam.put_function_event_invoke_config(FunctionName="deep", MaximumRetryAttempts=0, DestinationConfig={
        "OnSuccess": {"Destination": f"{ARN_SQS}deep-ok"},
        "OnFailure": {"Destination": f"{ARN_SQS}deep-failed"}})
    root = "1-5f000000-89abcdef0123456789abcdef"
    at15 = _with_trace_header(server.client("lambda"), f"Root={root};Sampled=0;Lineage=15")
    at16 = _with_trace_header(server.client("lambda"), f"Root={root};Sampled=0;Lineage=16")
    assert at16.invoke(FunctionName="deep", InvocationType="Event", Payload=b'{"n": 17}')["StatusCode"] == 202
    assert at15.invoke(FunctionName="deep", InvocationType="Event", Payload=b'{"n": 16}')["StatusCode"] == 202
    [ok] = receive(sqs, urls["deep-ok"], 1, timeout=60)
    done = json.loads(ok["Body"])
    assert done["requestPayload"] == {"n": 16}
    assert done["responsePayload"]["trace"] == f"Root={root};Sampled=0;Lineage=16"
    assert lineage(ok) == (root, 16)
    [failed] = receive(sqs, urls["deep-failed"], 1, timeout=60)
    stopped = json.loads(failed["Body"])
    assert stopped["requestPayload"] == {"n": 17}
    assert stopped["requestContext"]["condition"] == "RecursiveInvocationDetected"
    assert lineage(failed) == (root, 17)
