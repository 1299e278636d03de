"""SQS wire details below boto3: error shape and headers, unknown operations, body limits."""
import json
import urllib.request

import pytest


def call(server, op, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(
        server.endpoint + "/",
        data=data,
        method="POST",
        headers={
            "X-Amz-Target": f"AmazonSQS.{op}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDQUIVERTEST/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read() or b"{}")


def test_error_shape_and_query_header(server):
    status, headers, body = call(server, "GetQueueUrl", {"QueueName": "missing"})
    assert status == 400
    assert body == {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers.get("x-amzn-requestid")


def test_unknown_operation_and_missing_parameters(server):
    status, headers, body = call(server, "DoMagic", {})
    assert status == 400 and body["__type"] == "com.amazonaws.sqs#UnsupportedOperation"
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.UnsupportedOperation;Sender"
    status, _, body = call(server, "CreateQueue", {})
    assert status == 400 and body["__type"].endswith("#MissingParameter") and "QueueName" in body["message"]
    status, _, body = call(server, "SendMessage", {"MessageBody": "x"})
    assert status == 400 and body["__type"].endswith("#MissingParameter")
    status, _, body = call(server, "SendMessage", {"QueueUrl": "nonsense", "MessageBody": "x"})
    assert status == 400 and body["__type"].endswith("#InvalidAddress")


def test_bad_json_and_oversized_body(server):
    status, _, body = call(server, "CreateQueue", None, raw=b"{not json")
    assert status == 400 and "SerializationException" in body["__type"]
    status, _, body = call(server, "CreateQueue", {"QueueName": 5})
    assert status == 400 and "SerializationException" in body["__type"]
    status, _, body = call(server, "SendMessage", {"QueueUrl": "/000000000000/q", "MessageBody": "x" * (1 << 20)})
    assert status == 413 and "RequestEntityTooLarge" in body["__type"]
    # The server is fine afterwards.
    status, _, body = call(server, "CreateQueue", {"QueueName": "after"})
    assert status == 200 and body["QueueUrl"].endswith("/000000000000/after")
