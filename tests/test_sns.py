"""SNS-compatible topics over the AWS query protocol (docs/wire.md §26): every
operation through boto3 and the AWS CLI v1, with SNS's errors, shapes and statuses.
Delivery is in test_sns_delivery.py."""
import json
import urllib.request

import botocore.exceptions
import pytest

from apiutil import UUID_RE, assert_client_error

ACCOUNT = "000000000000"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"


@pytest.fixture
def sns(server):
    return server.client("sns")


def test_create_is_idempotent_and_lists_page(sns):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    assert arn == TOPIC + "orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Orders")
    # Same name, same attributes: the same topic; different ones: refused.
    assert sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    e = pytest.raises(botocore.exceptions.ClientError, sns.create_topic, Name="orders",
                      Attributes={"DisplayName": "Other"})
    assert_client_error(e, "InvalidParameter", 400,
                        "Invalid parameter: Attributes Reason: Topic already exists with different attributes")
    for i in range(104):
        sns.create_topic(Name=f"t{i:03d}")
    first = sns.list_topics()
    assert len(first["Topics"]) == 100
    second = sns.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    names = [t["TopicArn"].rsplit(":", 1)[1] for t in first["Topics"] + second["Topics"]]
    assert sorted(names) == sorted(["orders"] + [f"t{i:03d}" for i in range(104)])
    assert len(names) == 105


def test_topic_names_and_unknown_topics(sns):
    for bad in ["has space", "a" * 257, "dot.ted"]:
        e = pytest.raises(botocore.exceptions.ClientError, sns.create_topic, Name=bad)
        assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: Topic Name")
    e = pytest.raises(botocore.exceptions.ClientError, sns.create_topic, Name="f.fifo",
                      Attributes={"FifoTopic": "true"})
    assert_client_error(e, "InvalidParameter", 400, "FIFO topics are not supported")
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_topic_attributes, TopicArn=TOPIC + "missing")
    assert_client_error(e, "NotFound", 404, "Topic does not exist")
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_topic_attributes, TopicArn="not-an-arn")
    assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: TopicArn")
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish,
                      TopicArn="arn:aws:sns:eu-west-1:000000000000:t", Message="m")
    assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: TopicArn")
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish, PhoneNumber="+15550100", Message="m")
    assert_client_error(e, "InvalidParameter", 400, "PhoneNumber")
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish, TopicArn=TOPIC + "missing", Message="m")
    assert_client_error(e, "NotFound", 404, "Topic does not exist")
    # DeleteTopic is idempotent.
    sns.delete_topic(TopicArn=TOPIC + "missing")


def test_topic_attributes(sns):
    arn = sns.create_topic(Name="attrs", Attributes={"DisplayName": "D", "KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["TopicArn"] == arn and a["Owner"] == ACCOUNT and a["DisplayName"] == "D"
    assert a["KmsMasterKeyId"] == "alias/aws/sns"
    assert (a["SubscriptionsConfirmed"], a["SubscriptionsPending"], a["SubscriptionsDeleted"]) == ("0", "0", "0")
    policy = json.loads(a["Policy"])
    assert policy["Statement"][0]["Resource"] == arn
    assert json.loads(a["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    dp = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 1}}})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=dp)
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert a["DeliveryPolicy"] == dp and a["EffectiveDeliveryPolicy"] == dp
    e = pytest.raises(botocore.exceptions.ClientError, sns.set_topic_attributes, TopicArn=arn,
                      AttributeName="Bogus", AttributeValue="x")
    assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: AttributeName")
    e = pytest.raises(botocore.exceptions.ClientError, sns.set_topic_attributes, TopicArn=arn,
                      AttributeName="Policy", AttributeValue="not json")
    assert_client_error(e, "InvalidParameter", 400, "Policy")
    sns.delete_topic(TopicArn=arn)
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_topic_attributes, TopicArn=arn)
    assert_client_error(e, "NotFound", 404)


def test_subscriptions_lifecycle(sns):
    arn = sns.create_topic(Name="subs")["TopicArn"]
    s1 = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + "q1")["SubscriptionArn"]
    assert s1.startswith(arn + ":") and UUID_RE.match(s1[len(arn) + 1:])
    # Subscribe is idempotent for the same endpoint.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + "q1")["SubscriptionArn"] == s1
    s2 = sns.subscribe(TopicArn=arn, Protocol="lambda",
                       Endpoint=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
                       ReturnSubscriptionArn=True)["SubscriptionArn"]
    # http waits for its confirmation (the endpoint is never reached in this test).
    pending = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    assert pending["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted([s1, s2, "PendingConfirmation"])
    one = next(s for s in listed if s["SubscriptionArn"] == s1)
    assert one == {"SubscriptionArn": s1, "Owner": ACCOUNT, "Protocol": "sqs",
                   "Endpoint": QUEUE + "q1", "TopicArn": arn}
    assert len(sns.list_subscriptions()["Subscriptions"]) == 3
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (a["SubscriptionsConfirmed"], a["SubscriptionsPending"]) == ("2", "1")

    attrs = sns.get_subscription_attributes(SubscriptionArn=s1)["Attributes"]
    assert attrs["RawMessageDelivery"] == "false" and attrs["PendingConfirmation"] == "false"
    assert attrs["Protocol"] == "sqs" and attrs["TopicArn"] == arn and attrs["Endpoint"] == QUEUE + "q1"
    sns.set_subscription_attributes(SubscriptionArn=s1, AttributeName="RawMessageDelivery", AttributeValue="true")
    policy = json.dumps({"color": ["red"]})
    sns.set_subscription_attributes(SubscriptionArn=s1, AttributeName="FilterPolicy", AttributeValue=policy)
    attrs = sns.get_subscription_attributes(SubscriptionArn=s1)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
    assert attrs["FilterPolicy"] == policy and attrs["FilterPolicyScope"] == "MessageAttributes"
    e = pytest.raises(botocore.exceptions.ClientError, sns.set_subscription_attributes, SubscriptionArn=s1,
                      AttributeName="RawMessageDelivery", AttributeValue="maybe")
    assert_client_error(e, "InvalidParameter", 400,
                        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [maybe]. Must be true or false.")
    e = pytest.raises(botocore.exceptions.ClientError, sns.set_subscription_attributes, SubscriptionArn=s1,
                      AttributeName="FilterPolicy", AttributeValue="{nope")
    assert_client_error(e, "InvalidParameter", 400, "FilterPolicy")
    e = pytest.raises(botocore.exceptions.ClientError, sns.set_subscription_attributes, SubscriptionArn=s2,
                      AttributeName="RawMessageDelivery", AttributeValue="true")
    assert_client_error(e, "InvalidParameter", 400, "does not support raw message delivery")

    sns.unsubscribe(SubscriptionArn=s1)
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_subscription_attributes, SubscriptionArn=s1)
    assert_client_error(e, "NotFound", 404, "Subscription does not exist")
    e = pytest.raises(botocore.exceptions.ClientError, sns.unsubscribe, SubscriptionArn=s1)
    assert_client_error(e, "NotFound", 404, "Subscription does not exist")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsDeleted"] == "1"
    # A topic's subscriptions go with it.
    sns.delete_topic(TopicArn=arn)
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_subscription_attributes, SubscriptionArn=s2)
    assert_client_error(e, "NotFound", 404)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_subscribe_errors(sns):
    arn = sns.create_topic(Name="suberr")["TopicArn"]
    cases = [
        ({"Protocol": "email", "Endpoint": "a@b.c"},
         "Invalid parameter: Amazon SNS does not support this protocol string: email"),
        ({"Protocol": "sqs", "Endpoint": "not-an-arn"}, "Invalid parameter: SQS endpoint ARN"),
        ({"Protocol": "lambda", "Endpoint": QUEUE + "q"}, "Invalid parameter: Lambda endpoint ARN"),
        ({"Protocol": "https", "Endpoint": "http://127.0.0.1/x"},
         "Invalid parameter: Endpoint must match the specified protocol"),
        ({"Protocol": "sqs", "Endpoint": QUEUE + "q", "Attributes": {"FilterPolicyScope": "Everything"}},
         "FilterPolicyScope: Invalid value [Everything]"),
        ({"Protocol": "sqs", "Endpoint": QUEUE + "q", "Attributes": {"RedrivePolicy": '{"deadLetterTargetArn":"x"}'}},
         "RedrivePolicy"),
    ]
    for kw, message in cases:
        e = pytest.raises(botocore.exceptions.ClientError, sns.subscribe, TopicArn=arn, **kw)
        assert_client_error(e, "InvalidParameter", 400, message)
    e = pytest.raises(botocore.exceptions.ClientError, sns.subscribe, TopicArn=TOPIC + "gone",
                      Protocol="sqs", Endpoint=QUEUE + "q")
    assert_client_error(e, "NotFound", 404, "Topic does not exist")
    e = pytest.raises(botocore.exceptions.ClientError, sns.confirm_subscription, TopicArn=arn, Token="0" * 64)
    assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: Invalid token")
    e = pytest.raises(botocore.exceptions.ClientError, sns.get_subscription_attributes, SubscriptionArn="bad")
    assert_client_error(e, "InvalidParameter", 400, "Invalid parameter: SubscriptionArn")
    # Nothing half-written.
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_publish_validation(sns):
    arn = sns.create_topic(Name="pub")["TopicArn"]
    mid = sns.publish(TopicArn=arn, Message="hello", Subject="s")["MessageId"]
    assert UUID_RE.match(mid)
    assert UUID_RE.match(sns.publish(TargetArn=arn, Message="hello")["MessageId"])
    cases = [
        ({"Message": ""}, "InvalidParameter", "Invalid parameter: Empty message"),
        ({"Message": "x" * (262144 + 1)}, "InvalidParameter", "Invalid parameter: Message too long"),
        ({"Message": '{"sqs": "q"}', "MessageStructure": "json"}, "InvalidParameter",
         "Invalid parameter: Message Structure - No default entry in JSON message body"),
        ({"Message": "not json", "MessageStructure": "json"}, "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        ({"Message": "m", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "abc"}}},
         "InvalidParameterValue", "Could not cast message attribute 'n' value to number."),
        ({"Message": "m", "MessageAttributes": {"t": {"DataType": "Blob", "StringValue": "x"}}},
         "InvalidParameterValue", "has an invalid message attribute type"),
        ({"Message": "m", "MessageGroupId": "g"}, "InvalidParameter", "MessageGroupId"),
    ]
    for kw, code, message in cases:
        e = pytest.raises(botocore.exceptions.ClientError, sns.publish, TopicArn=arn, **kw)
        assert_client_error(e, code, 400, message)
    assert sns.publish(TopicArn=arn, Message="x" * 262144)["MessageId"]
    assert sns.publish(TopicArn=arn, Message='{"default": "d", "sqs": "q"}', MessageStructure="json")["MessageId"]


def test_publish_batch_partial_failures(sns):
    arn = sns.create_topic(Name="batch")["TopicArn"]
    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "ok1", "Message": "one"},
        {"Id": "bad", "Message": '{"x": 1}', "MessageStructure": "json"},
        {"Id": "ok2", "Message": "two", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["ok1", "ok2"]
    assert all(UUID_RE.match(s["MessageId"]) for s in r["Successful"])
    assert r["Failed"] == [{"Id": "bad", "Code": "InvalidParameter", "SenderFault": True,
                            "Message": "Invalid parameter: Message Structure - No default entry in JSON message body"}]
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish_batch, TopicArn=arn,
                      PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(11)])
    assert_client_error(e, "TooManyEntriesInBatchRequest", 400)
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish_batch, TopicArn=arn,
                      PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}])
    assert_client_error(e, "BatchEntryIdsNotDistinct", 400)
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish_batch, TopicArn=arn,
                      PublishBatchRequestEntries=[{"Id": "has space", "Message": "m"}])
    assert_client_error(e, "InvalidBatchEntryId", 400)
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish_batch, TopicArn=arn,
                      PublishBatchRequestEntries=[{"Id": "a", "Message": "x" * 200000},
                                                  {"Id": "b", "Message": "x" * 200000}])
    assert_client_error(e, "BatchRequestTooLong", 400)
    e = pytest.raises(botocore.exceptions.ClientError, sns.publish_batch, TopicArn=TOPIC + "none",
                      PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}])
    assert_client_error(e, "NotFound", 404)


def test_tags(sns):
    arn = sns.create_topic(Name="tagged", Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "b")]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    e = pytest.raises(botocore.exceptions.ClientError, sns.tag_resource, ResourceArn=arn,
                      Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert_client_error(e, "TagLimitExceeded", 400)
    assert len(sns.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 1
    e = pytest.raises(botocore.exceptions.ClientError, sns.list_tags_for_resource, ResourceArn=TOPIC + "none")
    assert_client_error(e, "ResourceNotFound", 404, "Resource does not exist")


def test_unknown_action_is_an_sns_error(server):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    body = "Action=NoSuchThing&Version=2010-03-31"
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDQUIVERTEST", "s"), "sns", "us-east-1").add_auth(req)
    r = urllib.request.Request(server.endpoint + "/", data=body.encode(), headers=dict(req.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=30)
    assert e.value.code == 400
    text = e.value.read().decode()
    assert "<Code>InvalidAction</Code>" in text and "<Type>Sender</Type>" in text
    assert "The action NoSuchThing is not valid for this web service." in text


def test_cli(server):
    def cli(*args, check=True):
        return server.cli("sns", *args, check=check)

    arn = json.loads(cli("create-topic", "--name", "cli-topic").stdout)["TopicArn"]
    assert arn == TOPIC + "cli-topic"
    sub = json.loads(cli("subscribe", "--topic-arn", arn, "--protocol", "sqs",
                         "--notification-endpoint", QUEUE + "q").stdout)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    topics = json.loads(cli("list-topics").stdout)["Topics"]
    assert topics == [{"TopicArn": arn}]
    mid = json.loads(cli("publish", "--topic-arn", arn, "--message", "hello from the cli",
                         "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}').stdout)["MessageId"]
    assert UUID_RE.match(mid)
    p = cli("get-topic-attributes", "--topic-arn", TOPIC + "missing", check=False)
    assert p.returncode != 0
    assert b"NotFound" in p.stderr and b"Topic does not exist" in p.stderr
    cli("unsubscribe", "--subscription-arn", sub)
    cli("delete-topic", "--topic-arn", arn)
    assert json.loads(cli("list-topics").stdout)["Topics"] == []


def test_topics_and_subscriptions_survive_a_restart(server_factory):
    s1 = server_factory()
    sns = s1.client("sns")
    arn = sns.create_topic(Name="kept", Attributes={"DisplayName": "Kept"},
                           Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=QUEUE + "q",
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert s1.stop() == 0 or s1.proc.returncode is not None
    sns = server_factory().client("sns")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Kept"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
