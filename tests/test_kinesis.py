"""Kinesis-compatible streams through boto3 and the AWS CLI (docs/wire.md §29)."""
import base64
import hashlib
import json
import signal
import time

import pytest
from botocore.exceptions import ClientError


def code(e):
    return e.value.response["Error"]["Code"]


def make(k, name, shards=4):
    k.create_stream(StreamName=name, ShardCount=shards)
    k.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def read_shard(k, name, shard_id, kind="TRIM_HORIZON", **kw):
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind, **kw)["ShardIterator"]
    out = []
    while True:
        r = k.get_records(ShardIterator=it, Limit=10000)
        out += r["Records"]
        it = r["NextShardIterator"]
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            return out


def test_lifecycle_describe_list_tags_retention(server):
    k = server.client("kinesis")
    make(k, "life", 3)
    d = k.describe_stream(StreamName="life")["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE"
    assert d["RetentionPeriodHours"] == 24
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in d["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert ranges[1][0] == 2**128 // 3
    arn = d["StreamARN"]
    s = k.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert s["OpenShardCount"] == 3 and s["StreamName"] == "life"
    with pytest.raises(ClientError) as e:
        k.create_stream(StreamName="life", ShardCount=1)
    assert code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        k.describe_stream(StreamName="nope")
    assert code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"].startswith("Stream nope under account ")
    k.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert len(k.list_shards(StreamName="od")["Shards"]) == 4
    page = k.list_streams(Limit=1)
    assert page["StreamNames"] == ["life"] and page["HasMoreStreams"]
    page2 = k.list_streams(NextToken=page["NextToken"])
    assert page2["StreamNames"] == ["od"] and page2["StreamSummaries"][0]["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    sh = k.list_shards(StreamName="life", MaxResults=2)
    assert [x["ShardId"] for x in sh["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = k.list_shards(NextToken=sh["NextToken"])
    assert [x["ShardId"] for x in rest["Shards"]] == ["shardId-000000000002"]
    assert len(k.list_shards(StreamName="life", ExclusiveStartShardId="shardId-000000000000")["Shards"]) == 2
    k.add_tags_to_stream(StreamName="life", Tags={"a": "1", "b": "2"})
    k.remove_tags_from_stream(StreamName="life", TagKeys=["a"])
    assert k.list_tags_for_stream(StreamName="life")["Tags"] == [{"Key": "b", "Value": "2"}]
    k.increase_stream_retention_period(StreamName="life", RetentionPeriodHours=48)
    with pytest.raises(ClientError) as e:
        k.increase_stream_retention_period(StreamName="life", RetentionPeriodHours=30)
    assert code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        k.decrease_stream_retention_period(StreamName="life", RetentionPeriodHours=23)
    assert code(e) == "InvalidArgumentException"
    k.decrease_stream_retention_period(StreamName="life", RetentionPeriodHours=24)
    assert k.describe_stream(StreamName="life")["StreamDescription"]["RetentionPeriodHours"] == 24
    for op in (lambda: k.update_shard_count(StreamName="life", TargetShardCount=4, ScalingType="UNIFORM_SCALING"),
               lambda: k.register_stream_consumer(StreamARN=arn, ConsumerName="c")):
        with pytest.raises(ClientError) as e:
            op()
        assert code(e) == "InvalidArgumentException"
    k.delete_stream(StreamName="life", EnforceConsumerDeletion=True)
    with pytest.raises(ClientError) as e:
        k.delete_stream(StreamName="life")
    assert code(e) == "ResourceNotFoundException"


def test_put_and_read_10000_records_over_4_shards(server):
    k = server.client("kinesis")
    make(k, "big", 4)
    ranges = {s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in k.list_shards(StreamName="big")["Shards"]}
    where = {}
    for batch in range(20):
        recs = [{"PartitionKey": f"pk{i % 97}", "Data": f"{batch * 500 + i}".encode()} for i in range(500)]
        r = k.put_records(StreamName="big", Records=recs)
        assert r["FailedRecordCount"] == 0 and len(r["Records"]) == 500
        for rec, res in zip(recs, r["Records"]):
            where.setdefault(rec["PartitionKey"], set()).add(res["ShardId"])
    assert all(len(v) == 1 for v in where.values())
    # Each key is on the shard whose range holds its MD5.
    for key, shards in where.items():
        h = int(hashlib.md5(key.encode()).hexdigest(), 16)
        (sid,) = shards
        assert ranges[sid][0] <= h <= ranges[sid][1]
    total = 0
    for sid in ranges:
        recs = read_shard(k, "big", sid)
        seqs = [int(r["SequenceNumber"]) for r in recs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        vals = [int(r["Data"]) for r in recs]
        assert vals == sorted(vals)  # appended in order, read back in order
        assert all(sid in where[r["PartitionKey"]] for r in recs)
        total += len(recs)
    assert total == 10000


def test_put_record_errors_and_iterator_types(server):
    k = server.client("kinesis")
    make(k, "it", 1)
    sid = "shardId-000000000000"
    first = k.put_record(StreamName="it", PartitionKey="k", Data=b"zero")
    assert first["ShardId"] == sid and len(first["SequenceNumber"]) == 56
    second = k.put_record(StreamName="it", PartitionKey="k", Data=b"one", ExplicitHashKey="5")
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    data = lambda recs: [r["Data"] for r in recs]
    assert data(read_shard(k, "it", sid)) == [b"zero", b"one"]
    assert data(read_shard(k, "it", sid, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=second["SequenceNumber"])) == [b"one"]
    assert data(read_shard(k, "it", sid, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=first["SequenceNumber"])) == [b"one"]
    latest = k.get_shard_iterator(StreamName="it", ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
    k.put_record(StreamName="it", PartitionKey="k", Data=b"two")
    r = k.get_records(ShardIterator=latest)
    assert data(r["Records"]) == [b"two"] and r["MillisBehindLatest"] == 0
    assert "ApproximateArrivalTimestamp" in r["Records"][0]
    assert data(read_shard(k, "it", sid, "AT_TIMESTAMP", Timestamp=0)) == [b"zero", b"one", b"two"]
    assert data(read_shard(k, "it", sid, "AT_TIMESTAMP", Timestamp=time.time() + 3600)) == []
    r = k.get_records(ShardIterator=k.get_shard_iterator(StreamName="it", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=1)
    assert len(r["Records"]) == 1 and r["MillisBehindLatest"] >= 0
    errors = [
        (lambda: k.put_record(StreamName="nope", PartitionKey="k", Data=b"x"), "ResourceNotFoundException"),
        (lambda: k.put_record(StreamName="it", PartitionKey="k", Data=b"x" * (1024 * 1024 + 1)), "ValidationException"),
        (lambda: k.put_record(StreamName="it", PartitionKey="k", Data=b"x", ExplicitHashKey=str(2**128)), "InvalidArgumentException"),
        (lambda: k.get_shard_iterator(StreamName="it", ShardId="shardId-000000000009", ShardIteratorType="LATEST"), "ResourceNotFoundException"),
        (lambda: k.get_shard_iterator(StreamName="it", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="123"), "InvalidArgumentException"),
        (lambda: k.get_records(ShardIterator="not-an-iterator"), "InvalidArgumentException"),
        (lambda: k.put_records(StreamName="it", Records=[{"PartitionKey": "k", "Data": b"x"}] * 501), "ValidationException"),
    ]
    for call, want in errors:
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == want


def test_restart_and_kill9_keep_records_and_sequence_grows(server_factory, data_dir):
    s = server_factory()
    k = s.client("kinesis")
    make(k, "dur", 2)
    seqs = {}
    for i in range(50):
        r = k.put_record(StreamName="dur", PartitionKey=f"p{i}", Data=f"{i}".encode())
        seqs.setdefault(r["ShardId"], []).append(int(r["SequenceNumber"]))
    s.stop(sig=signal.SIGKILL)
    s2 = server_factory(data_dir_override=data_dir)
    k2 = s2.client("kinesis")
    got = []
    for sid in ("shardId-000000000000", "shardId-000000000001"):
        got += [int(r["Data"]) for r in read_shard(k2, "dur", sid)]
    assert sorted(got) == list(range(50))
    r = k2.put_record(StreamName="dur", PartitionKey="p0", Data=b"after")
    assert int(r["SequenceNumber"]) > max(seqs[r["ShardId"]])


def test_aws_cli_put_and_get(server):
    make(server.client("kinesis"), "cli", 1)
    # AWS CLI v1 takes a blob argument as raw text and base64-encodes it itself.
    p = server.cli("kinesis", "put-record", "--stream-name", "cli", "--partition-key", "k", "--data", "hello")
    out = json.loads(p.stdout)
    assert out["ShardId"] == "shardId-000000000000"
    it = json.loads(server.cli("kinesis", "get-shard-iterator", "--stream-name", "cli", "--shard-id",
                               "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON").stdout)["ShardIterator"]
    recs = json.loads(server.cli("kinesis", "get-records", "--shard-iterator", it).stdout)["Records"]
    assert [base64.b64decode(r["Data"]) for r in recs] == [b"hello"]
