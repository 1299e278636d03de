"""SNS-compatible topics' delivery (docs/wire.md §26): a topic fans out to a Python
function (its SNS event seen through the function's OnSuccess queue) and to queues
(envelope and raw), to a loopback HTTP endpoint after the SubscriptionConfirmation
flow, and serves as an asynchronous invocation's dead-letter target and destination.
Functions run in real sandboxes (root only)."""
import base64
import http.server
import io
import json
import os
import queue
import threading
import time
import urllib.request
import zipfile

import pytest

from apiutil import UUID_RE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN_SQS = "arn:aws:sqs:us-east-1:000000000000:"
ARN_FN = "arn:aws:lambda:us-east-1:000000000000:function:"

CODE = r'''
def handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("boom")
    return {"seen": event}
'''


def zip_of(code=CODE):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    return buf.getvalue()


@pytest.fixture
def clients(server):
    return server.client("sns"), server.client("sqs"), server.client("lambda")


def make_queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, ARN_SQS + name


def receive(sqs, url, want, timeout=90):
    """Receives (and deletes) until `want` messages arrived or the time is up."""
    got = []
    end = time.time() + timeout
    while len(got) < want and time.time() < end:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) >= want, f"got {len(got)} of {want} messages"
    return got


def test_fan_out_to_a_function_and_queues(clients):
    sns, sqs, lam = clients
    topic = sns.create_topic(Name="fan")["TopicArn"]
    env_url, env_arn = make_queue(sqs, "envelope")
    raw_url, raw_arn = make_queue(sqs, "raw")
    ok_url, ok_arn = make_queue(sqs, "fn-ok")
    lam.create_function(FunctionName="subscriber", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of()})
    lam.put_function_event_invoke_config(FunctionName="subscriber",
                                         DestinationConfig={"OnSuccess": {"Destination": ok_arn}})
    env_sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    fn_sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=ARN_FN + "subscriber")["SubscriptionArn"]

    attrs = {"color": {"DataType": "String", "StringValue": "red"},
             "n": {"DataType": "Number", "StringValue": "42"},
             "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    mid = sns.publish(TopicArn=topic, Message="hello fan-out", Subject="greeting", MessageAttributes=attrs)["MessageId"]

    [m] = receive(sqs, env_url, 1)
    body = json.loads(m["Body"])
    assert body["Type"] == "Notification" and body["MessageId"] == mid and body["TopicArn"] == topic
    assert body["Message"] == "hello fan-out" and body["Subject"] == "greeting"
    assert body["SignatureVersion"] == "1" and body["Signature"]
    assert body["UnsubscribeURL"].endswith(env_sub)
    assert body["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"},
                                         "n": {"Type": "Number", "Value": "42"},
                                         "bin": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()}}
    assert "MessageAttributes" not in m  # the envelope carries them, not SQS

    [r] = receive(sqs, raw_url, 1)
    assert r["Body"] == "hello fan-out"
    ma = r["MessageAttributes"]
    assert ma["color"] == {"DataType": "String", "StringValue": "red"}
    assert ma["n"] == {"DataType": "Number", "StringValue": "42"}
    assert ma["bin"] == {"DataType": "Binary", "BinaryValue": b"\x00\x01"}

    [rec] = receive(sqs, ok_url, 1, timeout=120)
    seen = json.loads(rec["Body"])["responsePayload"]["seen"]
    [record] = seen["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == fn_sub
    s = record["Sns"]
    assert s["Type"] == "Notification" and s["MessageId"] == mid and s["TopicArn"] == topic
    assert s["Message"] == "hello fan-out" and s["Subject"] == "greeting"
    assert s["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
    assert s["SigningCertUrl"] and s["UnsubscribeUrl"].endswith(fn_sub)

    # MessageStructure=json: each protocol its own body. Unsubscribed: none at all.
    sns.unsubscribe(SubscriptionArn=fn_sub)
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
    [m2] = receive(sqs, env_url, 1)
    assert json.loads(m2["Body"])["Message"] == "for queues"
    assert receive(sqs, raw_url, 1)[0]["Body"] == "for queues"


def test_publish_batch_delivers_the_successful_entries(clients):
    sns, sqs, _ = clients
    topic = sns.create_topic(Name="batchfan")["TopicArn"]
    url, arn = make_queue(sqs, "batch-raw")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "first"},
        {"Id": "b", "Message": ""},
        {"Id": "c", "Message": "third"},
    ])
    assert [f["Id"] for f in r["Failed"]] == ["b"]
    assert r["Failed"][0]["Message"] == "Invalid parameter: Empty message"
    got = receive(sqs, url, 2)
    assert sorted(m["Body"] for m in got) == ["first", "third"]


class Hook(http.server.BaseHTTPRequestHandler):
    """A loopback endpoint that records every POST (headers and body)."""
    received = None

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        body = self.rfile.read(n).decode()
        self.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def hook():
    got = queue.Queue()
    handler = type("H", (Hook,), {"received": got})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    srv.shutdown()
    srv.server_close()


def test_http_subscription_confirms_then_receives(clients, hook):
    sns, _, _ = clients
    endpoint, got = hook
    topic = sns.create_topic(Name="web")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)["SubscriptionArn"] == "pending confirmation"
    headers, body = got.get(timeout=60)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    c = json.loads(body)
    assert c["Type"] == "SubscriptionConfirmation" and c["TopicArn"] == topic and c["Token"]
    assert UUID_RE.match(c["MessageId"]) and headers["x-amz-sns-message-id"] == c["MessageId"]
    # Pending: nothing is delivered to it yet.
    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    # The SubscribeURL is an unsigned GET, as an endpoint's owner (or a browser) visits it.
    with urllib.request.urlopen(c["SubscribeURL"], timeout=30) as r:
        xml = r.read().decode()
    assert "<ConfirmSubscriptionResponse" in xml
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    sub_arn = sub["SubscriptionArn"]
    assert sub_arn.startswith(topic + ":") and f"<SubscriptionArn>{sub_arn}</SubscriptionArn>" in xml
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"] == "false"

    mid = sns.publish(TopicArn=topic, Message="to the web", MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}})["MessageId"]
    headers, body = got.get(timeout=60)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == mid
    assert headers["x-amz-sns-subscription-arn"] == sub_arn
    assert headers["content-type"].startswith("text/plain")
    n = json.loads(body)
    assert n["Message"] == "to the web" and n["MessageAttributes"]["k"] == {"Type": "String", "Value": "v"}

    sns.set_subscription_attributes(SubscriptionArn=sub_arn, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="raw to the web")
    headers, body = got.get(timeout=60)
    assert body == "raw to the web" and headers["x-amz-sns-rawdelivery"] == "true"

    # The UnsubscribeURL every notification carries works the same way.
    with urllib.request.urlopen(n["UnsubscribeURL"], timeout=30) as r:
        assert "<UnsubscribeResponse" in r.read().decode()
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_confirm_subscription_through_the_api(clients, hook):
    sns, _, _ = clients
    endpoint, got = hook
    topic = sns.create_topic(Name="web2")["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    _, body = got.get(timeout=60)
    token = json.loads(body)["Token"]
    assert sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"] == arn
    a = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (a["SubscriptionsConfirmed"], a["SubscriptionsPending"]) == ("1", "0")


def test_failed_async_invoke_lands_in_an_sns_dead_letter_topic(clients):
    sns, sqs, lam = clients
    dlq_topic = sns.create_topic(Name="dead-letters")["TopicArn"]
    fail_topic = sns.create_topic(Name="failures")["TopicArn"]
    dlq_url, dlq_arn = make_queue(sqs, "dlq-reader")
    fail_url, fail_arn = make_queue(sqs, "failure-reader")
    sns.subscribe(TopicArn=dlq_topic, Protocol="sqs", Endpoint=dlq_arn)
    sns.subscribe(TopicArn=fail_topic, Protocol="sqs", Endpoint=fail_arn, Attributes={"RawMessageDelivery": "true"})
    lam.create_function(FunctionName="failing", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of()}, DeadLetterConfig={"TargetArn": dlq_topic})
    assert lam.get_function_configuration(FunctionName="failing")["DeadLetterConfig"] == {"TargetArn": dlq_topic}
    lam.put_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": fail_topic}})
    r = lam.invoke(FunctionName="failing", InvocationType="Event", Payload=json.dumps({"fail": 1, "id": "x1"}))
    assert r["StatusCode"] == 202
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    [m] = receive(sqs, dlq_url, 1, timeout=120)
    env = json.loads(m["Body"])
    assert env["Type"] == "Notification" and env["TopicArn"] == dlq_topic
    assert json.loads(env["Message"]) == {"fail": 1, "id": "x1"}
    ma = env["MessageAttributes"]
    assert ma["RequestID"] == {"Type": "String", "Value": rid}
    assert ma["ErrorCode"] == {"Type": "Number", "Value": "200"}
    assert "boom" in ma["ErrorMessage"]["Value"]

    [f] = receive(sqs, fail_url, 1, timeout=120)
    record = json.loads(f["Body"])
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"fail": 1, "id": "x1"}


class FailingHook(Hook):
    """Confirms, then answers every notification with a 500."""

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        body = self.rfile.read(n).decode()
        kind = self.headers.get("x-amz-sns-message-type")
        self.received.put((kind, body))
        self.send_response(200 if kind == "SubscriptionConfirmation" else 500)
        self.end_headers()


def test_failed_http_deliveries_are_retried_then_redriven(server_factory):
    server = server_factory(["--sns-retry-delay-secs", "1"])
    sns, sqs = server.client("sns"), server.client("sqs")
    got = queue.Queue()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("F", (FailingHook,), {"received": got}))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{srv.server_address[1]}/fails"
        topic = sns.create_topic(Name="flaky")["TopicArn"]
        dlq_url, dlq_arn = make_queue(sqs, "flaky-dlq")
        arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True,
                            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["SubscriptionArn"]
        kind, body = got.get(timeout=60)
        assert kind == "SubscriptionConfirmation"
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(body)["Token"])
        mid = sns.publish(TopicArn=topic, Message="never accepted")["MessageId"]
        [m] = receive(sqs, dlq_url, 1, timeout=120)
        env = json.loads(m["Body"])
        assert env["MessageId"] == mid and env["Message"] == "never accepted"
        # Every try reached the endpoint before the redrive: 1 + 3 retries.
        tries = []
        while not got.empty():
            tries.append(got.get())
        assert [k for k, _ in tries] == ["Notification"] * 4
        assert all(json.loads(b)["MessageId"] == mid for _, b in tries)
        assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    finally:
        srv.shutdown()
        srv.server_close()


def test_filter_policies_choose_what_each_subscription_receives(clients):
    """Examples from SNS's "Amazon SNS message filtering" (attribute and payload-based
    policies): each queue receives exactly the messages its policy matches."""
    sns, sqs, _ = clients
    topic = sns.create_topic(Name="filtered")["TopicArn"]
    attr_url, attr_arn = make_queue(sqs, "by-attribute")
    body_url, body_arn = make_queue(sqs, "by-body")
    all_url, all_arn = make_queue(sqs, "everything")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attr_arn, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps({"store": ["example_corp"],
                                    "price_usd": [{"numeric": [">=", 100]}]}),
    })
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=body_arn, Attributes={
        "RawMessageDelivery": "true",
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"kind": [{"prefix": "big"}]}}),
    })
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_arn,
                  Attributes={"RawMessageDelivery": "true"})

    def attrs(store, price):
        return {"store": {"DataType": "String", "StringValue": store},
                "price_usd": {"DataType": "Number", "StringValue": str(price)}}

    sent = [
        ("m1", attrs("example_corp", 210), {"order": {"kind": "big-box"}}),   # both match
        ("m2", attrs("example_corp", 5), {"order": {"kind": "small"}}),      # neither
        ("m3", attrs("other_corp", 500), {"order": {"kind": "bigger"}}),     # body only
        ("m4", {}, "not json"),                                              # neither
    ]
    for tag, a, body in sent:
        sns.publish(TopicArn=topic, Message=body if isinstance(body, str) else json.dumps(dict(body, tag=tag)),
                    MessageAttributes=a)
    everything = receive(sqs, all_url, 4)
    assert len(everything) == 4
    by_attr = receive(sqs, attr_url, 1)
    by_body = receive(sqs, body_url, 2)
    tags = lambda ms: sorted(json.loads(m["Body"])["tag"] for m in ms)  # noqa: E731
    assert tags(by_attr) == ["m1"]
    assert tags(by_body) == ["m1", "m3"]
    # Nothing else arrives later.
    for url in (attr_url, body_url):
        r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
        assert r.get("Messages", []) == []
    # A policy the pattern engine refuses is refused when set, and nothing changes.
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                        AttributeValue=json.dumps({"price": [{"numeric": [">", "x"]}]}))
    assert "FilterPolicy" in e.value.response["Error"]["Message"]
