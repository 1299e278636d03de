"""Helpers for the SQS tests: independent MD5 computations (SQS's documented encoding),
and draining a queue for a while (tests of what triggers deliver to queues)."""
import hashlib
import struct
import time


def md5_body(body):
    return hashlib.md5(body.encode()).hexdigest()


def md5_attributes(attrs):
    """MD5OfMessageAttributes as SQS documents it, from boto3-shaped attributes."""
    h = hashlib.md5()

    def put(b):
        h.update(struct.pack(">I", len(b)))
        h.update(b)

    for name in sorted(attrs):
        a = attrs[name]
        put(name.encode())
        put(a["DataType"].encode())
        if "BinaryValue" in a:
            h.update(b"\x02")
            put(a["BinaryValue"])
        else:
            h.update(b"\x01")
            put(a["StringValue"].encode())
    return h.hexdigest()


def receive_within(sqs, url, wait_total, stop_after=None):
    """Every message received (and deleted) within wait_total seconds; stops early once
    stop_after messages arrived."""
    got = []
    deadline = time.time() + wait_total
    while time.time() < deadline:
        if stop_after is not None and len(got) >= stop_after:
            break
        left = max(1, min(5, int(deadline - time.time())))
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=left)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got
