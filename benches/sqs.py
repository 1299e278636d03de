#!/usr/bin/env python3
"""Queue throughput: SendMessage and ReceiveMessage+DeleteMessage (msgs/s), against a
same-run baseline of raw SQLite (WAL, synchronous=FULL) insert+commit on the same disk.

Usage: target/venv/bin/python benches/sqs.py [--bin target/release/quiver] [-n 2000]

Clients are threads, each with its own keep-alive http.client connection, speaking the
SQS JSON protocol directly (no boto3 in the loop). Every request carries a SigV4
Authorization header computed once: the server parses signatures but does not verify
them yet, so signing per request would only measure the client.
"""
import argparse
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials

CREDS = botocore.credentials.Credentials("AKIDBENCH", "bench-secret")


def auth_headers(endpoint):
    req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=b"{}",
                                         headers={"Content-Type": "application/x-amz-json-1.0"})
    botocore.auth.SigV4Auth(CREDS, "sqs", "us-east-1").add_auth(req)
    return dict(req.headers.items())


class Client:
    def __init__(self, host, port, headers):
        self.conn = http.client.HTTPConnection(host, port)
        self.headers = headers

    def call(self, op, body):
        h = dict(self.headers, **{"X-Amz-Target": f"AmazonSQS.{op}"})
        self.conn.request("POST", "/", body=json.dumps(body), headers=h)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {data[:300]!r}")
        return json.loads(data or b"{}")


def baseline(dirpath, n):
    """Raw SQLite: one INSERT + COMMIT (fsync) per message, WAL, synchronous=FULL."""
    db = sqlite3.connect(os.path.join(dirpath, "baseline.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * 100
    t = time.perf_counter()
    for _ in range(n):
        db.execute("BEGIN")
        db.execute("INSERT INTO m (body) VALUES (?)", (body,))
        db.execute("COMMIT")
    dt = time.perf_counter() - t
    db.close()
    return n / dt


def run_threads(k, work):
    errors = []

    def wrap(i):
        try:
            work(i)
        except Exception as e:  # reported, and the run fails
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(k)]
    t = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/quiver")
    ap.add_argument("-n", type=int, default=2000, help="messages per measurement")
    args = ap.parse_args()
    n = args.n

    data = tempfile.mkdtemp(prefix="quiver-bench-sqs-")
    proc = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, QUIVER_LOG="warn"))
    try:
        endpoint = proc.stdout.readline().decode().strip().rsplit(" ", 1)[1]
        host, port = endpoint.removeprefix("http://").split(":")
        port = int(port)
        headers = auth_headers(endpoint)
        mk = lambda: Client(host, port, headers)  # noqa: E731
        base = baseline(data, min(n, 1000))
        print(f"| {'baseline: SQLite insert+commit (1 per fsync)':<48} | {base:9.0f} | 1 |")

        def row(label, count, dt, clients):
            rate = count / dt
            print(f"| {label:<48} | {rate:9.0f} | {clients} | {rate / base:.1f}x baseline")

        for clients in (1, 16):
            per = n // clients
            url = mk().call("CreateQueue", {"QueueName": f"bench-{clients}"})["QueueUrl"]

            def send(i):
                c = mk()
                for j in range(per):
                    c.call("SendMessage", {"QueueUrl": url, "MessageBody": f"message {i}-{j} " + "x" * 80})

            row("SendMessage", per * clients, run_threads(clients, send), clients)

            def recv_delete(i):
                c = mk()
                for _ in range(per):
                    m = c.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1})["Messages"][0]
                    c.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})

            row("ReceiveMessage + DeleteMessage", per * clients, run_threads(clients, recv_delete), clients)

            def send_batch(i):
                c = mk()
                for j in range(per // 10):
                    c.call("SendMessageBatch", {"QueueUrl": url, "Entries": [
                        {"Id": str(k), "MessageBody": f"message {i}-{j}-{k} " + "x" * 80} for k in range(10)]})

            row("SendMessageBatch (10)", (per // 10) * 10 * clients, run_threads(clients, send_batch), clients)

            def recv_delete_batch(i):
                c = mk()
                got = 0
                while got < (per // 10) * 10:
                    ms = c.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}).get("Messages", [])
                    if not ms:
                        break
                    c.call("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                        {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(ms)]})
                    got += len(ms)

            row("ReceiveMessage (10) + DeleteMessageBatch", (per // 10) * 10 * clients,
                run_threads(clients, recv_delete_batch), clients)
            left = mk().call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]})
            assert left["Attributes"]["ApproximateNumberOfMessages"] == "0", left
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
