"""FIFO queues through boto3 and the AWS CLI: creation rules, send rules, deduplication
(also across a restart), group ordering under concurrent receivers, blocking, redrive."""
import hashlib
import json
import threading

import botocore.exceptions
import pytest


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"]


def fifo(sqs, name, **attrs):
    a = {"FifoQueue": "true", **attrs}
    return sqs.create_queue(QueueName=name, Attributes=a)["QueueUrl"]


def arn(name):
    return f"arn:aws:sqs:us-east-1:000000000000:{name}"


def test_create_rules_and_attributes(server):
    sqs = server.client("sqs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="plain", Attributes={"FifoQueue": "true"})
    assert err(e) == ("InvalidParameterValue", "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="named.fifo")
    assert err(e)[0] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.create_queue(QueueName="std", Attributes={"ContentBasedDeduplication": "true"})
    assert err(e) == ("InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fifo(sqs, "t.fifo", FifoThroughputLimit="perMessageGroupId")
    assert err(e) == ("InvalidParameterValue", "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup")
    assert "QueueUrls" not in sqs.list_queues(), "refused creates leave nothing"

    url = fifo(sqs, "t.fifo", DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    assert url.endswith("/000000000000/t.fifo")
    assert sqs.get_queue_url(QueueName="t.fifo")["QueueUrl"] == url
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["FifoQueue"] == "true" and a["ContentBasedDeduplication"] == "false"
    assert a["DeduplicationScope"] == "messageGroup" and a["FifoThroughputLimit"] == "perMessageGroupId"
    assert a["QueueArn"] == arn("t.fifo")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ContentBasedDeduplication"])["Attributes"]
    assert a == {"ContentBasedDeduplication": "true"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert err(e)[0] == "InvalidAttributeName"
    # Redrive: the dead-letter queue must be of the same type.
    sqs.create_queue(QueueName="std-dlq")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fifo(sqs, "r.fifo", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn("std-dlq"), "maxReceiveCount": 2}))
    assert err(e)[0] == "InvalidParameterValue" and "Dead-letter queue must be same type of queue as the source" in err(e)[1]


def test_send_rules(server):
    sqs = server.client("sqs")
    url = fifo(sqs, "s.fifo")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert err(e) == ("MissingParameter", "The request must contain the parameter MessageGroupId.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert err(e) == ("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d", DelaySeconds=5)
    assert err(e) == ("InvalidParameterValue", "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")
    std = sqs.create_queue(QueueName="std")["QueueUrl"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.send_message(QueueUrl=std, MessageBody="x", MessageDeduplicationId="d")
    assert err(e)[0] == "InvalidParameterValue" and "not valid for this queue type" in err(e)[1]
    # Fair queues: a standard queue keeps a group id and returns it.
    sqs.send_message(QueueUrl=std, MessageBody="x", MessageGroupId="tenant-1")
    m = sqs.receive_message(QueueUrl=std, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert m["Attributes"]["MessageGroupId"] == "tenant-1" and "SequenceNumber" not in m["Attributes"]
    # A batch: one bad entry fails alone.
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "b1"},
        {"Id": "bad", "MessageBody": "b"},
    ])
    assert [s["Id"] for s in r["Successful"]] == ["ok"] and len(r["Successful"][0]["SequenceNumber"]) == 20
    assert [(f["Id"], f["Code"]) for f in r["Failed"]] == [("bad", "MissingParameter")]


def test_dedup_returns_the_original_and_survives_restart(server_factory, data_dir):
    s = server_factory()
    sqs = s.client("sqs")
    url = fifo(sqs, "d.fifo", ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageGroupId="g")
    assert len(a["SequenceNumber"]) == 20 and a["SequenceNumber"].isdigit()
    b = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageGroupId="g")
    assert (b["MessageId"], b["SequenceNumber"]) == (a["MessageId"], a["SequenceNumber"])
    c = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="explicit")
    d = sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="explicit")
    assert d["MessageId"] == c["MessageId"] and int(c["SequenceNumber"]) > int(a["SequenceNumber"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in got] == ["hello", "one"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"hello").hexdigest()
    assert got[1]["Attributes"]["MessageDeduplicationId"] == "explicit"
    assert got[1]["Attributes"]["SequenceNumber"] == c["SequenceNumber"]
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    s.stop()

    s2 = server_factory(data_dir_override=data_dir)
    sqs2 = s2.client("sqs")
    again = sqs2.send_message(QueueUrl=url.replace(s.endpoint, s2.endpoint), MessageBody="hello", MessageGroupId="g")
    assert again["MessageId"] == a["MessageId"], "the window survives a restart"
    url2 = sqs2.get_queue_url(QueueName="d.fifo")["QueueUrl"]
    assert "Messages" not in sqs2.receive_message(QueueUrl=url2, MaxNumberOfMessages=10)
    new = sqs2.send_message(QueueUrl=url2, MessageBody="fresh", MessageGroupId="g")
    assert int(new["SequenceNumber"]) > int(c["SequenceNumber"])


def test_groups_in_order_with_concurrent_receivers(server):
    sqs = server.client("sqs")
    url = fifo(sqs, "o.fifo", ContentBasedDeduplication="true")
    groups = ["a", "b", "c"]
    sent = {g: [] for g in groups}
    for i in range(50):
        for g in groups:
            r = sqs.send_message(QueueUrl=url, MessageBody=f"{g}-{i}", MessageGroupId=g)
            sent[g].append(int(r["SequenceNumber"]))
    processed = {g: [] for g in groups}
    lock = threading.Lock()
    errors = []

    def worker():
        c = server.client("sqs")
        try:
            while True:
                msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=4, WaitTimeSeconds=1,
                                         MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber"]).get("Messages", [])
                if not msgs:
                    with lock:
                        if sum(map(len, processed.values())) == 150:
                            return
                    continue
                for m in msgs:
                    with lock:
                        processed[m["Attributes"]["MessageGroupId"]].append(int(m["Attributes"]["SequenceNumber"]))
                    c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    assert not errors and not any(t.is_alive() for t in threads)
    for g in groups:
        assert processed[g] == sent[g], f"group {g} processed in send order"


def test_in_flight_blocks_the_group_until_visible_again(server):
    sqs = server.client("sqs")
    url = fifo(sqs, "b.fifo", ContentBasedDeduplication="true")
    for b in ["g1", "g2", "g3"]:
        sqs.send_message(QueueUrl=url, MessageBody=b, MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="h1", MessageGroupId="h")
    first = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in first] == ["g1"]
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in other] == ["h1"], "g is blocked while g1 is in flight"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in again] == ["g1", "g2", "g3"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url), "g2 and g3 are still in flight"


def test_redrive_to_a_fifo_dead_letter_queue_keeps_order(server):
    sqs = server.client("sqs")
    dlq = fifo(sqs, "dead.fifo")
    url = fifo(sqs, "src.fifo", ContentBasedDeduplication="true", VisibilityTimeout="0",
               RedrivePolicy=json.dumps({"deadLetterTargetArn": arn("dead.fifo"), "maxReceiveCount": 2}))
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    receives = 0
    for _ in range(2):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in got] == [f"m{i}" for i in range(5)]
        receives += 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10), "moved after 2 receives"
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"])["Messages"]
    assert [m["Body"] for m in dead] == [f"m{i}" for i in range(5)]
    assert {m["Attributes"]["MessageGroupId"] for m in dead} == {"g"}


def test_cli_send_receive(server):
    def cli(*args):
        return json.loads(server.cli("sqs", *args).stdout.decode() or "{}")

    url = cli("create-queue", "--queue-name", "cli.fifo", "--attributes", "FifoQueue=true,ContentBasedDeduplication=true")["QueueUrl"]
    sent = cli("send-message", "--queue-url", url, "--message-body", "hi", "--message-group-id", "g")
    assert len(sent["SequenceNumber"]) == 20
    got = cli("receive-message", "--queue-url", url, "--attribute-names", "All")["Messages"]
    assert got[0]["Body"] == "hi" and got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["SequenceNumber"] == sent["SequenceNumber"]
