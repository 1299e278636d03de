"""Event source mappings' Lambda API (docs/wire.md §28): Create/Get/Update/Delete/List
with Lambda's status codes, shapes and errors, driven by boto3's lambda client."""
import io
import zipfile

import botocore.exceptions
import pytest

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN_SQS = "arn:aws:sqs:us-east-1:000000000000:"


def zip_of(code="def handler(e, c):\n    return None\n"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    return buf.getvalue()


@pytest.fixture
def env(server):
    lam = server.client("lambda")
    sqs = server.client("sqs")
    lam.create_function(FunctionName="fn", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of()})
    sqs.create_queue(QueueName="q1")
    return lam, sqs


def err(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_create_get_update_delete(env):
    lam, _ = env
    r = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "q1", FunctionName="fn")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert r["State"] == "Creating"
    assert r["BatchSize"] == 10
    assert r["MaximumBatchingWindowInSeconds"] == 0
    assert r["EventSourceArn"] == ARN_SQS + "q1"
    assert r["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert r["EventSourceMappingArn"].endswith(":event-source-mapping:" + r["UUID"])
    uuid = r["UUID"]
    g = lam.get_event_source_mapping(UUID=uuid)
    assert g["UUID"] == uuid and g["State"] in ("Creating", "Enabled")
    u = lam.update_event_source_mapping(UUID=uuid, BatchSize=5, Enabled=False)
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert u["BatchSize"] == 5 and u["State"] == "Disabling"
    d = lam.delete_event_source_mapping(UUID=uuid)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 202 and d["State"] == "Deleting"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_event_source_mapping(UUID=uuid)
    assert err(e)[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("kwargs,code,fragment", [
    ({"EventSourceArn": ARN_SQS + "nope"}, "InvalidParameterValueException", "NonExistentQueue"),
    ({"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1}, "InvalidParameterValueException", "BatchSize"),
    ({"BatchSize": 11}, "InvalidParameterValueException",
     "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
    ({"MaximumBatchingWindowInSeconds": 301}, "InvalidParameterValueException", "MaximumBatchingWindowInSeconds"),
    ({"FunctionName": "missing"}, "ResourceNotFoundException", "missing"),
    ({"StartingPosition": "LATEST"}, "InvalidParameterValueException",
     "Unsupported StartingPosition parameter for given event source."),
    ({"FilterCriteria": {"Filters": [{"Pattern": "{nope"}]}}, "InvalidParameterValueException",
     "Invalid filter pattern definition."),
    ({"EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000"},
     "InvalidParameterValueException", "no DynamoDB-compatible table service"),
    ({"EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s", "StartingPosition": "LATEST"},
     "InvalidParameterValueException", "Stream not found"),
    ({"EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s", "StartingPosition": "LATEST",
      "ParallelizationFactor": 11}, "InvalidParameterValueException", "ParallelizationFactor"),
])
def test_create_errors(env, kwargs, code, fragment):
    lam, _ = env
    args = {"EventSourceArn": ARN_SQS + "q1", "FunctionName": "fn", **kwargs}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_event_source_mapping(**args)
    c, m = err(e)
    assert c == code, m
    assert fragment in m
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_existing_kinesis_stream_is_refused_with_the_reason(env, server):
    # The stream exists, so the answer is not "not found": it says the stream poller is
    # not part of this server yet, and nothing is stored.
    lam, _ = env
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="esm-s", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="esm-s")["StreamDescriptionSummary"]["StreamARN"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="fn", StartingPosition="LATEST")
    c, m = err(e)
    assert c == "InvalidParameterValueException", m
    assert "not supported by this server yet" in m and arn in m
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_duplicate_and_unknown_uuid(env):
    lam, _ = env
    first = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "q1", FunctionName="fn")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "q1", FunctionName="fn")
    c, m = err(e)
    assert c == "ResourceConflictException" and first["UUID"] in m
    for call in (lambda: lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000"),
                 lambda: lam.delete_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000"),
                 lambda: lam.update_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000",
                                                         BatchSize=2)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_event_source_mapping(UUID=first["UUID"], BatchSize=50)
    assert "Maximum batch window" in err(e)[1]


def test_list_filters_pagination_and_function_delete(env):
    lam, sqs = env
    uuids = set()
    for i in range(5):
        sqs.create_queue(QueueName=f"p{i}")
        uuids.add(lam.create_event_source_mapping(EventSourceArn=f"{ARN_SQS}p{i}",
                                                  FunctionName="fn")["UUID"])
    seen, marker, pages = [], None, 0
    while True:
        kw = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = lam.list_event_source_mappings(**kw)
        pages += 1
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages == 3 and set(seen) == uuids and len(seen) == 5
    by_src = lam.list_event_source_mappings(EventSourceArn=ARN_SQS + "p3")["EventSourceMappings"]
    assert len(by_src) == 1
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert len(lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]) == 5
    assert lam.list_event_source_mappings(FunctionName="other")["EventSourceMappings"] == []
    lam.delete_function(FunctionName="fn")
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_restart_keeps_mappings(server_factory):
    s = server_factory()
    lam = s.client("lambda")
    s.client("sqs").create_queue(QueueName="keep")
    lam.create_function(FunctionName="fn", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of()})
    uuid = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "keep", FunctionName="fn",
                                           BatchSize=7)["UUID"]
    s.stop()
    s2 = server_factory()
    g = s2.client("lambda").get_event_source_mapping(UUID=uuid)
    assert g["BatchSize"] == 7 and g["EventSourceArn"] == ARN_SQS + "keep"


def test_tags_on_mapping_arn(env):
    lam, _ = env
    r = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "q1", FunctionName="fn")
    arn = r["EventSourceMappingArn"]
    lam.tag_resource(Resource=arn, Tags={"team": "a", "env": "dev"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "env": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["env"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    gone = arn.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_tags(Resource=gone)
    assert err(e)[0] == "ResourceNotFoundException"


def test_create_with_tags(env):
    lam, _ = env
    r = lam.create_event_source_mapping(EventSourceArn=ARN_SQS + "q1", FunctionName="fn",
                                        Tags={"k": "v"})
    assert lam.list_tags(Resource=r["EventSourceMappingArn"])["Tags"] == {"k": "v"}
