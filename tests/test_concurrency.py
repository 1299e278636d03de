"""Reserved concurrency (Put/Get/DeleteFunctionConcurrency), its enforcement on sync and
async invokes, and GetAccountSettings' concurrency figures (docs/wire.md §12). Invokes
run in real sandboxes (root)."""
import io
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest

from apiutil import (
    ROLE,
    assert_client_error,
    create,
    fn_arn,
    make_zip,
    not_found_message,
    unvalidated_client,
)

ARN_SQS = "arn:aws:sqs:us-east-1:000000000000:"
UNQUALIFIED_ONLY = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN."
)


def below_minimum(minimum=100):
    return ("Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}].")


SLEEPER = r'''
import time, uuid
ENV_ID = uuid.uuid4().hex
count = 0
def handler(event, context):
    global count
    count += 1
    time.sleep(event.get("sleep", 0))
    return {"env": ENV_ID, "count": count, "i": event.get("i")}
'''


def sleeper_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", SLEEPER)
    return buf.getvalue()


def make_sleeper(lam, name, memory=128):
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": sleeper_zip()}, MemorySize=memory, Timeout=30)


def invoke(lam, name, event=None):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def limits(lam):
    return lam.get_account_settings()["AccountLimit"]


def test_put_get_delete_round_trip(lam):
    name, _ = create(lam, zip_bytes=make_zip())
    r = lam.get_function_concurrency(FunctionName=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "ReservedConcurrentExecutions" not in r
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 1000

    r = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    lim = limits(lam)
    assert (lim["ConcurrentExecutions"], lim["UnreservedConcurrentExecutions"]) == (1000, 995)
    # By ARN and partial ARN too, replacing the value; 0 is a reservation like any other.
    lam.put_function_concurrency(FunctionName=fn_arn(name), ReservedConcurrentExecutions=900)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 100
    lam.put_function_concurrency(FunctionName=f"000000000000:function:{name}",
                                 ReservedConcurrentExecutions=0)
    assert lam.get_function_concurrency(FunctionName=fn_arn(name))["ReservedConcurrentExecutions"] == 0
    assert limits(lam)["UnreservedConcurrentExecutions"] == 1000

    r = lam.delete_function_concurrency(FunctionName=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    # Deleting again is fine; deleting the function drops its reservation.
    lam.delete_function_concurrency(FunctionName=name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 993
    lam.delete_function(FunctionName=name)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 1000


def test_refusals(server, lam):
    name, _ = create(lam, zip_bytes=make_zip(), Publish=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
    assert_client_error(e, "ResourceNotFoundException", 404)
    assert e.value.response["Error"]["Message"] == not_found_message("nope", "$LATEST")
    for call in (lam.get_function_concurrency, lam.delete_function_concurrency):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(FunctionName="nope")
        assert_client_error(e, "ResourceNotFoundException", 404)
        assert e.value.response["Error"]["Message"] == not_found_message("nope")

    for qualified in (f"{name}:1", fn_arn(name, "$LATEST"), f"{name}:prod"):
        for call, kw in ((lam.put_function_concurrency, {"ReservedConcurrentExecutions": 1}),
                         (lam.get_function_concurrency, {}), (lam.delete_function_concurrency, {})):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(FunctionName=qualified, **kw)
            assert_client_error(e, "InvalidParameterValueException", 400)
            assert e.value.response["Error"]["Message"] == UNQUALIFIED_ONLY

    # botocore refuses these itself; without its checks the server does.
    nv = unvalidated_client(server)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=-1)
    assert_client_error(e, "ValidationException", 400)
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 0")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nv.put_function_concurrency(FunctionName=name)
    assert_client_error(e, "ValidationException", 400, "Value null at 'reservedConcurrentExecutions'")
    # Beyond the account limit: the same refusal as eating into the unreserved minimum.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1001)
    assert_client_error(e, "InvalidParameterValueException", 400)
    assert e.value.response["Error"]["Message"] == below_minimum()
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_reservations_are_carved_out_of_max_concurrency(server_factory):
    server = server_factory(extra_args=["--max-concurrency", "150"])
    lam = server.client("lambda")
    f, _ = create(lam, zip_bytes=make_zip())
    g, _ = create(lam, zip_bytes=make_zip())
    assert limits(lam)["ConcurrentExecutions"] == 150
    assert limits(lam)["UnreservedConcurrentExecutions"] == 150
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=f, ReservedConcurrentExecutions=60)
    assert_client_error(e, "InvalidParameterValueException", 400)
    assert e.value.response["Error"]["Message"] == below_minimum(100), "60 would leave 90"
    assert lam.put_function_concurrency(FunctionName=f, ReservedConcurrentExecutions=50)[
        "ReservedConcurrentExecutions"] == 50
    lim = limits(lam)
    assert (lim["ConcurrentExecutions"], lim["UnreservedConcurrentExecutions"]) == (150, 100)
    # Nothing left for g; f's own 50 is replaced, so f may move within it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=g, ReservedConcurrentExecutions=1)
    assert e.value.response["Error"]["Message"] == below_minimum(100)
    lam.put_function_concurrency(FunctionName=f, ReservedConcurrentExecutions=50)
    lam.put_function_concurrency(FunctionName=f, ReservedConcurrentExecutions=30)
    lam.put_function_concurrency(FunctionName=g, ReservedConcurrentExecutions=20)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 100
    lam.delete_function_concurrency(FunctionName=f)
    assert limits(lam)["UnreservedConcurrentExecutions"] == 130
    usage = lam.get_account_settings()["AccountUsage"]
    assert usage["FunctionCount"] == 2


def test_reserved_three_runs_three_of_eight_and_changes_drain_nothing(server, lam):
    make_sleeper(lam, "three")
    warm = invoke(lam, "three")
    lam.put_function_concurrency(FunctionName="three", ReservedConcurrentExecutions=3)
    again = invoke(lam, "three")
    assert again["env"] == warm["env"] and again["count"] == 2, "a reservation drained the pool"

    oks, throttled = [], []

    def call(i):
        try:
            oks.append(invoke(lam, "three", {"sleep": 2, "i": i}))
        except lam.exceptions.TooManyRequestsException as e:
            throttled.append(e.response)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(8)))
    assert (len(oks), len(throttled)) == (3, 5)
    for err in throttled:
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert err["Error"]["Code"] == "TooManyRequestsException"
        assert err["Error"]["Message"] == "Rate Exceeded."
        assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # The places are free again; without the reservation five run at once.
    assert invoke(lam, "three")["count"] >= 1
    lam.delete_function_concurrency(FunctionName="three")
    with ThreadPoolExecutor(5) as pool:
        assert len(list(pool.map(lambda i: invoke(lam, "three", {"sleep": 1}), range(5)))) == 5


def receive_all(sqs, url, want, timeout):
    got, end = [], time.time() + timeout
    while len(got) < want and time.time() < end:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_reserved_zero_throttles_sync_and_holds_async_until_deleted(server_factory):
    server = server_factory(extra_args=["--async-retry-base-secs", "1"])
    lam, sqs = server.client("lambda"), server.client("sqs")
    make_sleeper(lam, "off")
    url = sqs.create_queue(QueueName="off-ok")["QueueUrl"]
    lam.put_function_event_invoke_config(
        FunctionName="off", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": f"{ARN_SQS}off-ok"}})
    lam.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(lam.exceptions.TooManyRequestsException) as e:
            lam.invoke(FunctionName="off", Payload=b"{}")
        assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert e.value.response["Error"]["Message"] == "Rate Exceeded."

    r = lam.invoke(FunctionName="off", InvocationType="Event", Payload=b'{"i": 42}')
    assert r["StatusCode"] == 202, "an async invoke is accepted while throttled"
    rid = r["ResponseMetadata"]["RequestId"]
    # Held: throttled attempts are postponed, not run and not counted.
    assert receive_all(sqs, url, 1, timeout=5) == []
    lam.delete_function_concurrency(FunctionName="off")
    [rec] = receive_all(sqs, url, 1, timeout=60)
    assert rec["requestContext"]["requestId"] == rid
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["requestContext"]["approximateInvokeCount"] == 1, "throttles used an attempt"
    assert rec["responsePayload"]["i"] == 42
    assert invoke(lam, "off")["i"] is None
