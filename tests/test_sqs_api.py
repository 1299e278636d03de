"""SQS-compatible queues through boto3 (JSON protocol): every call, success and failure."""
import json
import threading
import time

import botocore.exceptions
import pytest

from sqsutil import md5_attributes, md5_body


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_create_get_list_delete(server, sqs):
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    host = server.endpoint.split("://", 1)[1]
    assert url == f"http://{host}/000000000000/orders"
    assert sqs.create_queue(QueueName="orders")["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    for n in ["orders-b", "other"]:
        sqs.create_queue(QueueName=n)
    assert sqs.list_queues()["QueueUrls"] == [url, url + "-b", url.replace("orders", "other")]
    assert sqs.list_queues(QueueNamePrefix="ord")["QueueUrls"] == [url, url + "-b"]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
    page = sqs.list_queues(MaxResults=2)
    assert len(page["QueueUrls"]) == 2 and page["NextToken"]
    rest = sqs.list_queues(MaxResults=2, NextToken=page["NextToken"])
    assert rest["QueueUrls"] == [url.replace("orders", "other")] and "NextToken" not in rest
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName="orders")
    assert err(e) == ("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", 400)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=url)


def test_create_conflicts_and_validation(sqs):
    sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})
    assert sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})["QueueUrl"].endswith("/q")
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "61"})
    code, msg, status = err(e)
    assert (code, status) == ("QueueAlreadyExists", 400) and "VisibilityTimeout" in msg
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="bad name!")
    assert err(e)[0] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="x" * 81)
    assert err(e)[0] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="jobs.fifo")
    assert err(e)[0] == "InvalidParameterValue", "a .fifo name needs FifoQueue=true"
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as e:
        sqs.create_queue(QueueName="q2", Attributes={"Bogus": "1"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="q2", Attributes={"VisibilityTimeout": "43201"})
    assert err(e)[0] == "InvalidAttributeValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(
            QueueName="q2",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:nope", "maxReceiveCount": 3})},
        )
    assert err(e)[0] == "InvalidParameterValue" and "Dead letter target does not exist" in err(e)[1]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="q2"), "a refused create leaves nothing"


def test_attributes(sqs):
    url = sqs.create_queue(QueueName="attrs", Attributes={"DelaySeconds": "2", "MessageRetentionPeriod": "120"})["QueueUrl"]
    before = time.time()
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:attrs"
    assert a["DelaySeconds"] == "2" and a["MessageRetentionPeriod"] == "120" and a["VisibilityTimeout"] == "30"
    assert a["ReceiveMessageWaitTimeSeconds"] == "0" and a["MaximumMessageSize"] == "262144"
    assert abs(int(a["CreatedTimestamp"]) - before) < 5 and a["LastModifiedTimestamp"] == a["CreatedTimestamp"]
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"]) == ("0", "0", "0")
    sqs.send_message(QueueUrl=url, MessageBody="delayed")
    sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    sqs.receive_message(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="visible", DelaySeconds=0)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert a == {names[0]: "1", names[1]: "1", names[2]: "1"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "ReceiveMessageWaitTimeSeconds": "1"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "ReceiveMessageWaitTimeSeconds", "DelaySeconds"])
    assert a["Attributes"] == {"VisibilityTimeout": "5", "ReceiveMessageWaitTimeSeconds": "1", "DelaySeconds": "2"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "x"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "59"})
    assert err(e)[0] == "InvalidAttributeValue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=url + "x", AttributeNames=["All"])


def test_send_receive_delete_with_checksums(sqs):
    url = sqs.create_queue(QueueName="m")["QueueUrl"]
    attrs = {
        "color": {"DataType": "String", "StringValue": "blue ☂"},
        "n": {"DataType": "Number", "StringValue": "42.5"},
        "blob": {"DataType": "Binary.gzip", "BinaryValue": b"\x00\x01\xff"},
        "trace.id": {"DataType": "String.custom", "StringValue": "t-1"},
    }
    body = "héllo wörld 🌍"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == md5_body(body)
    assert sent["MD5OfMessageAttributes"] == md5_attributes(attrs)
    before = int(time.time() * 1000)
    got = sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"] and m["Body"] == body and m["MD5OfBody"] == md5_body(body)
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == md5_attributes(attrs)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["Attributes"]["SenderId"] == "000000000000"
    assert abs(int(m["Attributes"]["SentTimestamp"]) - before) < 5000
    assert abs(int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]) - before) < 5000
    # Only the attributes asked for, with a checksum over just those.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    m2 = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["trace.*"], AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert m2["MessageAttributes"] == {"trace.id": attrs["trace.id"]}
    assert m2["MD5OfMessageAttributes"] == md5_attributes({"trace.id": attrs["trace.id"]})
    assert m2["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert "MessageAttributes" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [{}])[0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert err(e)[2] == 400
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url + "-gone", MessageBody="x")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=url + "-gone")


def test_send_validation(sqs):
    url = sqs.create_queue(QueueName="v", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    cases = [
        (dict(MessageBody="bad \x01 char"), "InvalidMessageContents"),
        (dict(MessageBody="x" * 1025), "InvalidParameterValue"),
        (dict(MessageBody="x", DelaySeconds=901), "InvalidParameterValue"),
        (dict(MessageBody="x", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}), "InvalidParameterValue"),
        (dict(MessageBody="x", MessageAttributes={"a": {"DataType": "Weird", "StringValue": "v"}}), "InvalidParameterValue"),
        (dict(MessageBody="x", MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}}), "InvalidParameterValue"),
        (dict(MessageBody="x", MessageAttributes={f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}), "InvalidParameterValue"),
        (dict(MessageBody=""), "MissingParameter"),
    ]
    for kwargs, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sqs.send_message(QueueUrl=url, **kwargs)
        assert err(e)[0] == code, kwargs
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"
    for kwargs in [dict(MaxNumberOfMessages=11), dict(MaxNumberOfMessages=0), dict(WaitTimeSeconds=21), dict(VisibilityTimeout=43201)]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sqs.receive_message(QueueUrl=url, **kwargs)
        assert err(e)[0] == "InvalidParameterValue", kwargs


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs):
    url = sqs.create_queue(QueueName="lp")["QueueUrl"]
    result = {}

    def poll():
        t = time.monotonic()
        result["r"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["at"] = time.monotonic()
        result["start"] = t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(1.0)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="ping")
    th.join(15)
    assert result["r"]["Messages"][0]["Body"] == "ping"
    assert result["at"] - sent_at < 1.0, f"returned {result['at'] - sent_at:.3f}s after the send"
    # With nothing to receive it waits the whole time.
    t = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)
    assert time.monotonic() - t >= 1.9
    # The queue's ReceiveMessageWaitTimeSeconds applies when the call names none.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    t = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert time.monotonic() - t >= 0.9


def test_visibility_timeout_expiry_and_redelivery(sqs):
    url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # Long poll that wakes when the message becomes visible again (~1 s).
    t = time.monotonic()
    second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert time.monotonic() - t < 3
    assert second["MessageId"] == first["MessageId"] and second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # Extend, then the message stays hidden past the queue's timeout.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=30)
    time.sleep(1.5)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # Back to visible right away.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=5)
    assert err(e)[0] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="nope", VisibilityTimeout=5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=43201)
    assert err(e)[0] == "InvalidParameterValue"


def test_redrive_to_dead_letter_queue(sqs):
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    src = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": policy})["QueueUrl"]
    rp = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert rp == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    mid = sqs.send_message(QueueUrl=src, MessageBody="poison")["MessageId"]
    for n in (1, 2):
        m = sqs.receive_message(QueueUrl=src, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)["Messages"][0]
    assert (moved["MessageId"], moved["Body"]) == (mid, "poison")
    # Removing the policy stops redrive.
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]


def test_batches(sqs):
    url = sqs.create_queue(QueueName="b")["QueueUrl"]
    entries = [{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(9)]
    entries.append({"Id": "bad", "MessageBody": "\x02"})
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(s["Id"] for s in r["Successful"]) == sorted(f"e{i}" for i in range(9))
    assert all(s["MD5OfMessageBody"] == md5_body(f"body {s['Id'][1:]}") for s in r["Successful"])
    assert r["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents", "Message": r["Failed"][0]["Message"]}]
    got = []
    while len(got) < 9:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert msgs, "fewer than 9 messages came back"
        got += msgs
    assert sorted(m["Body"] for m in got) == sorted(f"body {i}" for i in range(9))
    vis = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "v0", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 60}, {"Id": "v1", "ReceiptHandle": "junk", "VisibilityTimeout": 60}],
    )
    assert [s["Id"] for s in vis["Successful"]] == ["v0"]
    assert [(f["Id"], f["Code"]) for f in vis["Failed"]] == [("v1", "ReceiptHandleIsInvalid")]
    dels = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    r = sqs.delete_message_batch(QueueUrl=url, Entries=dels + [{"Id": "dx", "ReceiptHandle": "junk"}][: 10 - len(dels)])
    assert len(r["Successful"]) == 9
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == [("dx", "ReceiptHandleIsInvalid", True)]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")

    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}])
    assert err(e)[0] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)])
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "no spaces", "MessageBody": "x"}])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"i{i}", "MessageBody": "x" * 100_000} for i in range(3)])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "r"}, {"Id": "a", "ReceiptHandle": "r"}])
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"i{i}", "ReceiptHandle": "r"} for i in range(11)])
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message_batch(QueueUrl=url + "nope", Entries=[{"Id": "a", "MessageBody": "1"}])


def test_purge(sqs):
    url = sqs.create_queue(QueueName="p")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.purge_queue(QueueUrl=url + "nope")
