"""Acknowledged sends survive `kill -9` of the server."""
import signal
from concurrent.futures import ThreadPoolExecutor


def test_200_sends_survive_sigkill(server_factory, data_dir):
    s = server_factory()
    sqs = s.client("sqs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    bodies = [f"message {i}" for i in range(200)]
    # Concurrent senders, so group commit actually batches; every send was acknowledged.
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda b: sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"], bodies))
    assert len(set(ids)) == 200
    s.stop(sig=signal.SIGKILL)

    s2 = server_factory(data_dir_override=data_dir)
    sqs2 = s2.client("sqs")
    url2 = sqs2.get_queue_url(QueueName="durable")["QueueUrl"]
    a = sqs2.get_queue_attributes(QueueUrl=url2, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "200"
    got = {}
    while True:
        msgs = sqs2.receive_message(QueueUrl=url2, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            got[m["MessageId"]] = m["Body"]
        sqs2.delete_message_batch(
            QueueUrl=url2, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        )
    assert sorted(got.values()) == sorted(bodies)
    assert set(got) == set(ids)
