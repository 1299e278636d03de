"""FunctionEventInvokeConfig (Put/Update/Get/Delete/List) and DeadLetterConfig, end to end
through boto3 and the AWS CLI v1 against the real server."""
import json

import botocore.exceptions
import pytest

from apiutil import assert_client_error, create, fn_arn, handler_zip, not_found_message, raw_request, unique_name, unvalidated_client

QUEUE = "arn:aws:sqs:us-east-1:000000000000:async-failures"
QUEUE2 = "arn:aws:sqs:us-east-1:000000000000:async-successes"
OTHER_FN = "arn:aws:lambda:us-east-1:000000000000:function:some-other-fn"


def no_config_message(name, qualifier="$LATEST"):
    return f"The function {fn_arn(name, qualifier)} doesn't have an EventInvokeConfig"


def strip(resp):
    resp = dict(resp)
    resp.pop("ResponseMetadata", None)
    return resp


# ------------------------------------------------------------------ put / get / update / delete


def test_put_then_get_returns_lambdas_shape(lam):
    name, _ = create(lam)
    create(lam, name=OTHER_FN.rsplit(":", 1)[1])
    put = strip(lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnSuccess": {"Destination": OTHER_FN}, "OnFailure": {"Destination": QUEUE}},
    ))
    assert put["FunctionArn"] == fn_arn(name, "$LATEST")
    assert put["MaximumRetryAttempts"] == 1
    assert put["MaximumEventAgeInSeconds"] == 120
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": OTHER_FN}, "OnFailure": {"Destination": QUEUE}}
    got = strip(lam.get_function_event_invoke_config(FunctionName=name))
    assert got == put
    # the same config is reachable by ARN and with an explicit $LATEST
    assert strip(lam.get_function_event_invoke_config(FunctionName=fn_arn(name), Qualifier="$LATEST")) == put


def test_last_modified_is_an_epoch_number_on_the_wire(server, lam):
    """Lambda writes this timestamp as a JSON number, not the FunctionConfiguration string."""
    name, _ = create(lam)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    # botocore turns it into a datetime whatever the encoding; read the raw body instead.
    resp = lam.get_function_event_invoke_config(FunctionName=name)
    r = raw_request(server, "GET", f"/2019-09-25/functions/{name}/event-invoke-config")
    assert r.status == 200, r
    body = r.json()
    assert isinstance(body["LastModified"], (int, float)) and not isinstance(body["LastModified"], bool)
    assert abs(body["LastModified"] - resp["LastModified"].timestamp()) < 1
    assert body["FunctionArn"].endswith(f":function:{name}:$LATEST")
    assert body["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert "MaximumEventAgeInSeconds" not in body


def test_put_replaces_everything(lam):
    name, _ = create(lam)
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=300,
        DestinationConfig={"OnFailure": {"Destination": QUEUE}},
    )
    again = strip(lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60))
    assert again["MaximumEventAgeInSeconds"] == 60
    assert "MaximumRetryAttempts" not in again
    assert again["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert strip(lam.get_function_event_invoke_config(FunctionName=name)) == again


def test_update_merges_and_needs_an_existing_config(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert_client_error(e, "ResourceNotFoundException", 404, no_config_message(name))
    first = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": QUEUE}},
    )
    upd = strip(lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=900))
    assert (upd["MaximumRetryAttempts"], upd["MaximumEventAgeInSeconds"]) == (2, 900)
    assert upd["DestinationConfig"]["OnFailure"] == {"Destination": QUEUE}
    assert upd["LastModified"] >= first["LastModified"]
    # one side of DestinationConfig changes, the other stays
    upd = strip(lam.update_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": QUEUE2}}))
    assert upd["DestinationConfig"] == {"OnSuccess": {"Destination": QUEUE2}, "OnFailure": {"Destination": QUEUE}}
    # an empty Destination clears that side
    upd = strip(lam.update_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": ""}}))
    assert upd["DestinationConfig"] == {"OnSuccess": {"Destination": QUEUE2}, "OnFailure": {}}
    assert strip(lam.get_function_event_invoke_config(FunctionName=name)) == upd


def test_delete_then_get_is_404(lam):
    name, _ = create(lam)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    resp = lam.delete_function_event_invoke_config(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404, no_config_message(name))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.delete_function_event_invoke_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404, no_config_message(name))


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize("kw,member", [
    ({"MaximumRetryAttempts": 3}, "maximumRetryAttempts"),
    ({"MaximumRetryAttempts": -1}, "maximumRetryAttempts"),
    ({"MaximumEventAgeInSeconds": 59}, "maximumEventAgeInSeconds"),
    ({"MaximumEventAgeInSeconds": 21601}, "maximumEventAgeInSeconds"),
])
def test_out_of_range_limits_are_400_and_store_nothing(server, kw, member):
    # botocore would refuse -1 / 59 itself; send them anyway to test the server.
    lam = unvalidated_client(server)
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=name, **kw)
    assert_client_error(e, "ValidationException", 400, f"at '{member}' failed to satisfy constraint")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404)


def test_out_of_range_update_leaves_config_unchanged(lam):
    name, _ = create(lam)
    before = strip(lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=99999)
    assert_client_error(e, "ValidationException", 400, "less than or equal to 21600")
    assert strip(lam.get_function_event_invoke_config(FunctionName=name)) == before


@pytest.mark.parametrize("arn", [
    "arn:aws:events:us-east-1:000000000000:event-bus/default",
    "arn:aws:s3:::my-bucket",
])
def test_unsupported_destinations_are_400_naming_what_is_supported(lam, arn):
    name, _ = create(lam)
    for side in ("OnSuccess", "OnFailure"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={side: {"Destination": arn}})
        err = assert_client_error(e, "InvalidParameterValueException", 400, "Quiver supports SQS queues")
        assert arn in err.response["Error"]["Message"]


def test_destination_functions_must_exist_and_be_local(lam):
    name, _ = create(lam)
    target, _ = create(lam)
    for bad in (fn_arn(unique_name("nope")), fn_arn(target, "9"),
                f"arn:aws:lambda:eu-west-1:000000000000:function:{target}",
                "arn:aws:sqs:us-east-1:123456789012:elsewhere"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": bad}})
        assert_client_error(e, "InvalidParameterValueException", 400, f"The destination ARN {bad} is invalid")
    ok = lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": fn_arn(target, "$LATEST")}})
    assert ok["DestinationConfig"]["OnSuccess"]["Destination"] == fn_arn(target, "$LATEST")


def test_malformed_destination_and_self_destination_are_400(lam):
    name, _ = create(lam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}})
    assert_client_error(e, "ValidationException", 400, "destinationConfig.onFailure.destination")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": fn_arn(name)}})
    assert_client_error(e, "InvalidParameterValueException", 400, "destination for itself")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=name)
    assert_client_error(e, "InvalidParameterValueException", 400, "at least one")


def test_unknown_function_and_qualifier_are_404(lam):
    missing = unique_name("missing")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=missing, MaximumRetryAttempts=1)
    assert_client_error(e, "ResourceNotFoundException", 404, not_found_message(missing))
    for call in (lam.get_function_event_invoke_config, lam.delete_function_event_invoke_config):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(FunctionName=missing)
        assert_client_error(e, "ResourceNotFoundException", 404, not_found_message(missing))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_function_event_invoke_configs(FunctionName=missing)
    assert_client_error(e, "ResourceNotFoundException", 404, not_found_message(missing))
    name, _ = create(lam)
    for q in ("7", "no-such-alias"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(FunctionName=name, Qualifier=q, MaximumRetryAttempts=1)
        assert_client_error(e, "ResourceNotFoundException", 404, not_found_message(name, q))


def test_unknown_body_members_are_refused(server):
    lam = server.client("lambda")
    name, _ = create(lam)
    path = f"/2019-09-25/functions/{name}/event-invoke-config"
    r = raw_request(server, "PUT", path, json.dumps({"MaximumRetries": 1}).encode())
    assert (r.status, r.error_type) == (400, "InvalidRequestContentException"), r
    assert b"MaximumRetries" in r.body
    r = raw_request(server, "PUT", path, json.dumps({"DestinationConfig": {"OnFailure": {"Arn": QUEUE}}}).encode())
    assert (r.status, r.error_type) == (400, "InvalidRequestContentException"), r


# ------------------------------------------------------------------ qualifiers and listing


def test_configs_are_per_qualifier_listed_and_deleted_with_their_version(lam):
    name, created = create(lam, zip_bytes=handler_zip("v1"), Publish=True)
    assert created["Version"] == "1"
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    v1 = strip(lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumEventAgeInSeconds=600))
    assert v1["FunctionArn"] == fn_arn(name, "1")
    # the qualifier may also come as an ARN suffix
    assert strip(lam.get_function_event_invoke_config(FunctionName=f"{name}:1")) == v1
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [fn_arn(name, "$LATEST"), fn_arn(name, "1")]
    # pages of one
    page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1)
    assert len(page["FunctionEventInvokeConfigs"]) == 1 and page.get("NextMarker")
    rest = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1, Marker=page["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [fn_arn(name, "1")]
    assert "NextMarker" not in rest
    paged = [c["FunctionArn"] for p in lam.get_paginator("list_function_event_invoke_configs").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 1}) for c in p["FunctionEventInvokeConfigs"]]
    assert paged == [fn_arn(name, "$LATEST"), fn_arn(name, "1")]
    # deleting the version deletes its config
    lam.delete_function(FunctionName=name, Qualifier="1")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [fn_arn(name, "$LATEST")]


def test_list_max_items_range(server):
    lam = unvalidated_client(server)
    name, _ = create(lam)
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []
    for bad in (0, 51):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=bad)
        assert_client_error(e, "ValidationException", 400, "maxItems")


def test_deleting_the_function_deletes_its_configs(lam):
    name, _ = create(lam)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    lam.delete_function(FunctionName=name)
    create(lam, name=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert_client_error(e, "ResourceNotFoundException", 404, no_config_message(name))


# ------------------------------------------------------------------ AWS CLI v1


def test_cli_put_update_get_list_delete(server):
    lam = server.client("lambda")
    name, _ = create(lam)
    out = json.loads(server.cli(
        "lambda", "put-function-event-invoke-config", "--function-name", name,
        "--maximum-retry-attempts", "1",
        "--destination-config", json.dumps({"OnFailure": {"Destination": QUEUE}})).stdout)
    assert out["MaximumRetryAttempts"] == 1
    assert out["FunctionArn"] == fn_arn(name, "$LATEST")
    out = json.loads(server.cli("lambda", "update-function-event-invoke-config", "--function-name", name,
                                "--maximum-event-age-in-seconds", "3600").stdout)
    assert (out["MaximumRetryAttempts"], out["MaximumEventAgeInSeconds"]) == (1, 3600)
    out = json.loads(server.cli("lambda", "get-function-event-invoke-config", "--function-name", name).stdout)
    assert out["DestinationConfig"]["OnFailure"]["Destination"] == QUEUE
    out = json.loads(server.cli("lambda", "list-function-event-invoke-configs", "--function-name", name).stdout)
    assert [c["FunctionArn"] for c in out["FunctionEventInvokeConfigs"]] == [fn_arn(name, "$LATEST")]
    server.cli("lambda", "delete-function-event-invoke-config", "--function-name", name)
    p = server.cli("lambda", "get-function-event-invoke-config", "--function-name", name, check=False)
    assert p.returncode != 0
    assert b"ResourceNotFoundException" in p.stderr and b"doesn't have an EventInvokeConfig" in p.stderr
    p = server.cli("lambda", "put-function-event-invoke-config", "--function-name", name,
                   "--maximum-retry-attempts", "5", check=False)
    assert p.returncode != 0  # the CLI or the server refuses it; never stored
    p = server.cli("lambda", "put-function-event-invoke-config", "--function-name", name,
                   "--destination-config", json.dumps({"OnFailure": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/b"}}),
                   check=False)
    assert p.returncode != 0 and b"InvalidParameterValueException" in p.stderr


# ------------------------------------------------------------------ DeadLetterConfig


def test_dead_letter_config_set_change_clear(lam):
    name, created = create(lam, DeadLetterConfig={"TargetArn": QUEUE})
    assert created["DeadLetterConfig"] == {"TargetArn": QUEUE}
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": QUEUE}
    assert lam.get_function(FunctionName=name)["Configuration"]["DeadLetterConfig"] == {"TargetArn": QUEUE}
    upd = lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": QUEUE2})
    assert upd["DeadLetterConfig"] == {"TargetArn": QUEUE2}
    # unrelated updates keep it
    upd = lam.update_function_configuration(FunctionName=name, Timeout=7)
    assert upd["DeadLetterConfig"] == {"TargetArn": QUEUE2}
    # published versions freeze it
    v = lam.publish_version(FunctionName=name)
    assert v["DeadLetterConfig"] == {"TargetArn": QUEUE2}
    cleared = lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in cleared
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    assert lam.get_function_configuration(FunctionName=name, Qualifier=v["Version"])["DeadLetterConfig"] == {"TargetArn": QUEUE2}


def test_dead_letter_config_refuses_what_quiver_cannot_deliver_to(lam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        create(lam, DeadLetterConfig={"TargetArn": "arn:aws:events:us-east-1:000000000000:event-bus/b"})
    assert_client_error(e, "InvalidParameterValueException", 400, "Quiver supports SQS queues")
    name, _ = create(lam)
    for bad in ("arn:aws:events:us-east-1:000000000000:event-bus/b", OTHER_FN):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": bad})
        assert_client_error(e, "InvalidParameterValueException", 400, "SQS queues")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": "queue"})
    assert_client_error(e, "ValidationException", 400, "deadLetterConfig.targetArn")
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)


def test_dead_letter_config_with_the_cli(server):
    lam = server.client("lambda")
    name, _ = create(lam)
    out = json.loads(server.cli("lambda", "update-function-configuration", "--function-name", name,
                                "--dead-letter-config", f"TargetArn={QUEUE}").stdout)
    assert out["DeadLetterConfig"] == {"TargetArn": QUEUE}
    out = json.loads(server.cli("lambda", "get-function-configuration", "--function-name", name).stdout)
    assert out["DeadLetterConfig"] == {"TargetArn": QUEUE}


# ------------------------------------------------------------------ persistence


def test_configs_and_dead_letter_survive_restart(server_factory):
    s1 = server_factory()
    lam = s1.client("lambda")
    name, _ = create(lam, Publish=True, DeadLetterConfig={"TargetArn": QUEUE})
    latest = strip(lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": QUEUE2}}))
    v1 = strip(lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumEventAgeInSeconds=61))
    s1.stop()

    s2 = server_factory()
    lam2 = s2.client("lambda")
    assert strip(lam2.get_function_event_invoke_config(FunctionName=name)) == latest
    assert strip(lam2.get_function_event_invoke_config(FunctionName=name, Qualifier="1")) == v1
    assert lam2.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": QUEUE}
    assert lam2.get_function_configuration(FunctionName=name, Qualifier="1")["DeadLetterConfig"] == {"TargetArn": QUEUE}
