"""The AWS CLI v1 (JSON protocol) against the SQS API: every call, success and failure."""
import json


def cli_json(server, *args):
    p = server.cli("sqs", *args)
    out = p.stdout.decode().strip()
    return json.loads(out) if out else {}


def test_cli_round_trip(server):
    url = cli_json(server, "create-queue", "--queue-name", "cli-q", "--attributes", "VisibilityTimeout=1")["QueueUrl"]
    assert url.endswith("/000000000000/cli-q")
    assert cli_json(server, "get-queue-url", "--queue-name", "cli-q")["QueueUrl"] == url
    assert cli_json(server, "list-queues")["QueueUrls"] == [url]
    attrs = cli_json(server, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "1"
    cli_json(server, "set-queue-attributes", "--queue-url", url, "--attributes", "DelaySeconds=0,VisibilityTimeout=120")
    sent = cli_json(
        server, "send-message", "--queue-url", url, "--message-body", "from the cli",
        "--message-attributes", json.dumps({"k": {"DataType": "String", "StringValue": "v"}}),
    )
    assert sent["MD5OfMessageBody"] and sent["MD5OfMessageAttributes"]
    batch = cli_json(
        server, "send-message-batch", "--queue-url", url, "--entries",
        json.dumps([{"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}]),
    )
    assert sorted(s["Id"] for s in batch["Successful"]) == ["a", "b"]
    got = []
    for _ in range(5):
        got += cli_json(
            server, "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
            "--attribute-names", "All", "--message-attribute-names", "All", "--wait-time-seconds", "1",
        ).get("Messages", [])
        if len(got) == 3:
            break
    assert sorted(m["Body"] for m in got) == ["from the cli", "one", "two"]
    first = next(m for m in got if m["Body"] == "from the cli")
    assert first["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    cli_json(server, "change-message-visibility", "--queue-url", url, "--receipt-handle", first["ReceiptHandle"], "--visibility-timeout", "30")
    cli_json(
        server, "change-message-visibility-batch", "--queue-url", url, "--entries",
        json.dumps([{"Id": "x", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 30}]),
    )
    cli_json(server, "delete-message", "--queue-url", url, "--receipt-handle", first["ReceiptHandle"])
    r = cli_json(
        server, "delete-message-batch", "--queue-url", url, "--entries",
        json.dumps([{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[1:])]),
    )
    assert len(r["Successful"]) == 2 and r["Failed"] == []
    cli_json(server, "purge-queue", "--queue-url", url)
    cli_json(server, "delete-queue", "--queue-url", url)
    assert "QueueUrls" not in cli_json(server, "list-queues")


def test_cli_errors(server):
    p = server.cli("sqs", "get-queue-url", "--queue-name", "nope", check=False)
    assert p.returncode != 0
    assert b"AWS.SimpleQueueService.NonExistentQueue" in p.stderr and b"The specified queue does not exist." in p.stderr
    url = json.loads(server.cli("sqs", "create-queue", "--queue-name", "e").stdout)["QueueUrl"]
    p = server.cli("sqs", "send-message-batch", "--queue-url", url, "--entries",
                   json.dumps([{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]), check=False)
    assert p.returncode != 0 and b"BatchEntryIdsNotDistinct" in p.stderr
    p = server.cli("sqs", "delete-message", "--queue-url", url, "--receipt-handle", "bogus", check=False)
    assert p.returncode != 0 and b"ReceiptHandleIsInvalid" in p.stderr
    p = server.cli("sqs", "create-queue", "--queue-name", "e", "--attributes", "VisibilityTimeout=99", check=False)
    assert p.returncode != 0 and b"QueueAlreadyExists" in p.stderr
    p = server.cli("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "11", check=False)
    assert p.returncode != 0 and b"InvalidParameterValue" in p.stderr
