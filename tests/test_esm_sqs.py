"""Event source mappings over SQS queues (docs/wire.md §28): the poller delivers Lambda's
SQS event to a Python function, deletes what succeeded, leaves failures for the
visibility timeout (then the queue's DLQ), honours ReportBatchItemFailures,
FilterCriteria and Enabled=false. Deliveries are observed in the function's log."""
import io
import json
import os
import time
import zipfile

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN_SQS = "arn:aws:sqs:us-east-1:000000000000:"

CODE = r'''
import json
def handler(event, context):
    recs = event["Records"]
    print("BATCH " + json.dumps([r["messageId"] for r in recs]))
    print("BODIES " + json.dumps([r["body"] for r in recs]))
    print("FIRST " + json.dumps(recs[0]))
    fails = [r["messageId"] for r in recs if "fail" in r["body"]]
    if any("crash" in r["body"] for r in recs):
        raise ValueError("boom")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in fails]}
'''


def zip_of(code=CODE):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    return buf.getvalue()


def log_lines(logs, fn, prefix):
    out, token = [], None
    while True:
        kw = {"logGroupName": f"/aws/lambda/{fn}", "filterPattern": f'"{prefix}"'}
        if token:
            kw["nextToken"] = token
        try:
            r = logs.filter_log_events(**kw)
        except logs.exceptions.ResourceNotFoundException:
            return out
        out += [json.loads(e["message"].split(prefix + " ", 1)[1]) for e in r["events"]
                if (prefix + " ") in e["message"]]
        token = r.get("nextToken")
        if not token:
            return out


def wait_for(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    return pred()


@pytest.fixture
def env(server):
    lam, sqs, logs = server.client("lambda"), server.client("sqs"), server.client("logs")
    lam.create_function(FunctionName="fn", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of()}, Timeout=30)
    return lam, sqs, logs


def test_event_shape_and_state(env):
    lam, sqs, logs = env
    url = sqs.create_queue(QueueName="shape")["QueueUrl"]
    uuid = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "shape",
                                           FunctionName="fn")["UUID"]
    assert wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", 30)
    sqs.send_message(QueueUrl=url, MessageBody="hello",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    firsts = wait_for(lambda: log_lines(logs, "fn", "FIRST"))
    r = firsts[0]
    assert r["body"] == "hello" and r["eventSource"] == "aws:sqs"
    assert r["eventSourceARN"] == ARN_SQS + "shape" and r["awsRegion"] == "us-east-1"
    assert r["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert r["messageAttributes"]["k"] == {"stringValue": "v", "stringListValues": [],
                                           "binaryListValues": [], "dataType": "String"}
    assert r["md5OfMessageAttributes"]
    assert set(r["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                    "ApproximateFirstReceiveTimestamp"}
    # Deleted after success: the queue drains.
    assert wait_for(lambda: sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0", 30)
    assert wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK", 10)


def test_many_messages_exactly_once(env):
    lam, sqs, logs = env
    url = sqs.create_queue(QueueName="bulk")["QueueUrl"]
    lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "bulk", FunctionName="fn",
                                    BatchSize=10)
    sent = set()
    n = 5000
    for i in range(0, n, 10):
        r = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)])
        sent |= {m["MessageId"] for m in r["Successful"]}
    assert len(sent) == n

    def delivered():
        ids = [i for b in log_lines(logs, "fn", "BATCH") for i in b]
        return ids if set(ids) >= sent else None
    ids = wait_for(delivered, 170)
    assert ids is not None
    print(f"redeliveries: {len(ids) - len(set(ids))}")
    assert set(ids) == sent
    assert all(len(b) <= 10 for b in log_lines(logs, "fn", "BATCH"))


def test_partial_failures_end_in_dlq(env):
    lam, sqs, logs = env
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    url = sqs.create_queue(QueueName="pf", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": ARN_SQS + "dlq",
                                     "maxReceiveCount": "2"})})["QueueUrl"]
    lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "pf", FunctionName="fn",
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "ok-1"}, {"Id": "b", "MessageBody": "fail-1"},
        {"Id": "c", "MessageBody": "ok-2"}])

    def in_dlq():
        r = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)
        return r.get("Messages")
    got = wait_for(in_dlq, 60)
    assert got and got[0]["Body"] == "fail-1"
    bodies = [b for batch in log_lines(logs, "fn", "BODIES") for b in batch]
    assert bodies.count("fail-1") == 2
    assert bodies.count("ok-1") == 1 and bodies.count("ok-2") == 1


def test_disable_stops_delivery_and_filters(env):
    lam, sqs, logs = env
    url = sqs.create_queue(QueueName="dis")["QueueUrl"]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=ARN_SQS + "dis", FunctionName="fn",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})["UUID"]
    for kind in ("keep", "drop", "keep"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": kind}))
    assert wait_for(lambda: len([b for x in log_lines(logs, "fn", "BODIES") for b in x]) >= 2)
    # The filtered-out record is deleted, not delivered.
    assert wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
                    ["Attributes"]["ApproximateNumberOfMessages"] == "0", 20)
    delivered = [b for x in log_lines(logs, "fn", "BODIES") for b in x]
    assert sorted(json.loads(b)["kind"] for b in delivered) == ["keep", "keep"]
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", 10)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep"}))
    time.sleep(3)
    assert len([b for x in log_lines(logs, "fn", "BODIES") for b in x]) == 2
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"


CASES = json.load(open(os.path.join(os.path.dirname(__file__), "data", "esm_filter_cases.json")))


def test_filter_criteria_table(env):
    """Each case on its own queue and mapping; delivered records are told apart by
    their eventSourceARN; every record, matching or not, leaves its queue."""
    lam, sqs, logs = env
    urls = []
    for i, case in enumerate(CASES):
        urls.append(sqs.create_queue(QueueName=f"fc{i}")["QueueUrl"])
        lam.create_event_source_mapping(
            EventSourceArn=f"{ARN_SQS}fc{i}", FunctionName="fn",
            ScalingConfig={"MaximumConcurrency": 2},
            FilterCriteria={"Filters": [{"Pattern": json.dumps(case["pattern"])}]})
    for url, case in zip(urls, CASES):
        sqs.send_message(QueueUrl=url, MessageBody=case["body"])

    def drained():
        return all(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
                   ["ApproximateNumberOfMessages"] == "0" and
                   sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
                   ["ApproximateNumberOfMessagesNotVisible"] == "0" for u in urls)
    assert wait_for(drained, 120)
    want = {f"{ARN_SQS}fc{i}" for i, c in enumerate(CASES) if c["delivered"]}
    got = wait_for(lambda: (lambda s: s if s >= want else None)(
        {r["eventSourceARN"] for r in log_lines(logs, "fn", "FIRST")}), 30) or set()
    got = {r["eventSourceARN"] for r in log_lines(logs, "fn", "FIRST")}
    wrong = [(c["note"], c["delivered"]) for i, c in enumerate(CASES)
             if (f"{ARN_SQS}fc{i}" in got) != c["delivered"]]
    assert not wrong


def test_maximum_concurrency_respected(env):
    lam, sqs, logs = env
    code = r'''
import json, time, uuid
def handler(event, context):
    me = str(uuid.uuid4())
    print("SPAN " + json.dumps(["start", me, time.time()]))
    time.sleep(0.3)
    print("SPAN " + json.dumps(["end", me, time.time()]))
'''
    lam.create_function(FunctionName="slow", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of(code)}, Timeout=30)
    url = sqs.create_queue(QueueName="conc")["QueueUrl"]
    for i in range(0, 30, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"c{i + j}"} for j in range(10)])
    lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "conc", FunctionName="slow",
                                    BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    spans = wait_for(lambda: (lambda s: s if len(s) >= 60 else None)(
        log_lines(logs, "slow", "SPAN")), 150)
    assert spans and len(spans) == 60
    # Overlap by counting: sweep the start/end events in time order.
    events = sorted((t, 0 if kind == "end" else 1) for kind, _, t in spans)
    live = peak = 0
    for _, delta in events:
        live += 1 if delta else -1
        peak = max(peak, live)
    print(f"peak concurrency: {peak}")
    assert peak <= 2


def test_ps_mappings_shows_pollers_and_batches(env, server):
    import subprocess
    from conftest import QUIVER_BIN
    lam, sqs, logs = env
    url = sqs.create_queue(QueueName="psq")["QueueUrl"]
    uuid = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "psq", FunctionName="fn",
                                           ScalingConfig={"MaximumConcurrency": 3})["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="one")

    def row():
        out = subprocess.run([QUIVER_BIN, "ps", "--mappings", "--json", "--endpoint",
                              server.endpoint], capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr.decode()
        rows = [m for m in json.loads(out.stdout)["Mappings"] if m["uuid"] == uuid]
        return rows[0] if rows and rows[0]["batches"] >= 1 else None
    r = wait_for(row, 60)
    assert r and r["pollers"] == 3 and r["queue"] == "psq" and r["errors"] == 0
    table = subprocess.run([QUIVER_BIN, "ps", "--mappings", "--endpoint", server.endpoint],
                           capture_output=True, timeout=30)
    assert table.returncode == 0 and uuid in table.stdout.decode()


FIFO_CODE = r'''
import json, time
def handler(event, context):
    recs = event["Records"]
    print("FIFO " + json.dumps({"t": time.time(), "b": [r["body"] for r in recs],
                                 "g": [r["attributes"].get("MessageGroupId") for r in recs],
                                 "s": [r["attributes"].get("SequenceNumber") for r in recs]}))
    # The group's second message fails on its first delivery only.
    fails = [r["messageId"] for r in recs
             if r["body"] == "a2" and r["attributes"]["ApproximateReceiveCount"] == "1"]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in fails]}
'''


def test_fifo_group_waits_behind_its_failed_message(env):
    # a2 fails once (ReportBatchItemFailures). On a FIFO queue the later messages of
    # its group (a3, a4) must not be deleted before a2 succeeds: their last delivery
    # comes with or after a2's successful one, in order. Group b is not held back.
    lam, sqs, logs = env
    lam.create_function(FunctionName="ff", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of(FIFO_CODE)}, Timeout=30)
    url = sqs.create_queue(QueueName="ord.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
        "VisibilityTimeout": "2"})["QueueUrl"]
    lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "ord.fifo", FunctionName="ff",
                                    BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"{g}{i}", "MessageBody": f"{g}{i}", "MessageGroupId": g}
        for g in ("a", "b") for i in range(1, 5)])

    def drained():
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert wait_for(drained, 90), "the queue drains once a2 succeeds"
    batches = sorted(log_lines(logs, "ff", "FIFO"), key=lambda x: x["t"])
    deliveries = [(i, pos, body) for i, bt in enumerate(batches) for pos, body in enumerate(bt["b"])]
    print("FIFO batches:", [bt["b"] for bt in batches])
    for bt in batches:
        assert all(g == b[0] for g, b in zip(bt["g"], bt["b"])), "MessageGroupId in the event"
        assert all(s and s.isdigit() for s in bt["s"]), "SequenceNumber in the event"
        for g in ("a", "b"):
            mine = [b for b in bt["b"] if b[0] == g]
            assert mine == sorted(mine), f"group {g} in order within a batch: {bt['b']}"
    last = {body: (i, pos) for i, pos, body in deliveries}
    assert [b for _, _, b in deliveries].count("a2") == 2, "a2 retried once"
    assert last["a1"] < last["a2"] < last["a3"] < last["a4"], last
    a2_first = next((i, p) for i, p, b in deliveries if b == "a2")
    assert last["a3"] > a2_first and last["a3"][0] >= last["a2"][0], \
        "a3 was kept behind the failed a2, not deleted in the failed batch"
    assert all([b for _, _, b in deliveries].count(f"b{i}") == 1 for i in range(1, 5)), \
        "the other group is not held back"
