"""Helpers for the SQS tests: independent MD5 computations (SQS's documented encoding)."""
import hashlib
import struct


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
