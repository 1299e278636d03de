"""An invocation's own output is stored in its environment's stream between its START
and END lines (also the last print, on stdout and stderr, also unterminated), with
Lambda's REPORT format, also with 16 invocations at once across environments."""
import json
import re
import threading

from invokeutil import assert_ok, create_py, invoke, request_id
from logsutil import group_of, stream_events, wait_for_messages

# Lambda's documented REPORT format (docs/wire.md §8).
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\tDuration: (?P<d>[\d.]+) ms\tBilled Duration: (?P<b>\d+) ms\t"
    r"Memory Size: (?P<m>\d+) MB\tMax Memory Used: (?P<u>\d+) MB\t"
)

PRINTS = r'''
import sys, time
print("init-line")
def handler(event, context):
    m = event["m"]
    print("MARK-out-" + m)
    print("MARK-err-" + m, file=sys.stderr)
    time.sleep(event.get("sleep", 0))
    print("LAST-out-" + m)
    sys.stderr.write("LAST-err-nonl-" + m)
    return context.log_stream_name
'''


def frame(events, rid):
    """Messages between this request's START and END, checking the frame and REPORT."""
    msgs = [e["message"] for e in events]
    s = msgs.index(f"START RequestId: {rid} Version: $LATEST")
    e = msgs.index(f"END RequestId: {rid}")
    assert s < e
    report = msgs[e + 1]
    m = REPORT.match(report)
    assert m and m.group("id") == rid, report
    assert int(m.group("m")) == 1769
    assert int(m.group("b")) >= float(m.group("d")) - 0.01
    ts = [ev["timestamp"] for ev in events]
    assert ts == sorted(ts), "stored in time order"
    return msgs[s + 1:e]


def test_prints_between_start_and_end_with_report(server, lam):
    logs = server.client("logs")
    name = create_py(lam, PRINTS)
    resp, _, stream = invoke(lam, name, {"m": "one"})
    assert_ok(resp)
    stream = json.loads(stream) if isinstance(stream, bytes) else stream
    rid = request_id(resp)
    group = group_of(name)
    wait_for_messages(logs, group, lambda m: f"END RequestId: {rid}" in m and any(x.startswith("REPORT RequestId: " + rid) for x in m))
    events = stream_events(logs, group, stream)
    msgs = [e["message"] for e in events]
    assert msgs.index("init-line") < msgs.index(f"START RequestId: {rid} Version: $LATEST"), "init output before START"
    body = frame(events, rid)
    for marker in ("MARK-out-one", "MARK-err-one", "LAST-out-one", "LAST-err-nonl-one"):
        assert marker in body, (marker, body)
    # The REPORT of a cold start carries Init Duration after Max Memory Used.
    report = msgs[msgs.index(f"END RequestId: {rid}") + 1]
    assert "\tInit Duration: " in report and report.endswith("\t")
    for e in events:
        assert e["ingestionTime"] >= e["timestamp"] - 5
    # A warm invocation lands in the same stream, after the first.
    resp2, _, _ = invoke(lam, name, {"m": "two"})
    rid2 = request_id(resp2)
    wait_for_messages(logs, group, lambda m: any(x.startswith("REPORT RequestId: " + rid2) for x in m))
    events = stream_events(logs, group, stream)
    body2 = frame(events, rid2)
    assert {"MARK-out-two", "MARK-err-two", "LAST-out-two", "LAST-err-nonl-two"} <= set(body2)
    assert not any("one" in x for x in body2)
    d = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in d] == [stream]
    assert d[0]["firstEventTimestamp"] <= d[0]["lastEventTimestamp"] <= d[0]["lastIngestionTime"] + 5


def test_concurrency_16_each_invocation_framed_in_its_own_stream(server_factory):
    # 16 environments of 1769 MB are an accounting figure (each uses ~10 MB): lift the
    # host budget so that none is refused on a small CI machine.
    server = server_factory(["--memory-budget-mb", "65536"])
    lam = server.client("lambda")
    logs = server.client("logs")
    name = create_py(lam, PRINTS)
    results, errors = [], []

    def worker(i):
        try:
            for j in range(3):
                m = f"t{i}x{j}"
                resp, body, _ = invoke(lam, name, {"m": m, "sleep": 0.05})
                assert_ok(resp)
                results.append((m, request_id(resp), json.loads(body)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 48
    group = group_of(name)
    rids = {rid for _, rid, _ in results}
    wait_for_messages(logs, group, lambda msgs: rids <= {x.split()[2] for x in msgs if x.startswith("REPORT ")}, timeout=20)
    streams = {s for _, _, s in results}
    assert len(streams) > 1, "16 concurrent invocations need several environments"
    by_stream = {s: stream_events(logs, group, s) for s in streams}
    for m, rid, s in results:
        body = frame(by_stream[s], rid)
        assert {f"MARK-out-{m}", f"MARK-err-{m}", f"LAST-out-{m}", f"LAST-err-nonl-{m}"} <= set(body), (m, body)
        others = [x for x in body if x.startswith(("MARK-", "LAST-")) and not x.endswith("-" + m)]
        assert not others, (m, others)
