"""`LogType='Tail'`: the base64 `LogResult` holds this invocation's log — START, the
function's output (stdout and stderr, up to its last print), END, REPORT — in Lambda's
exact line formats (docs/wire.md §8), at most 4 KB of it."""
import base64
import re

from invokeutil import (
    REPORT_RE,
    assert_ok,
    assert_unhandled,
    create,
    create_py,
    fixture_zip,
    invoke,
    make_zip,
    request_id,
    tail_lines,
)

PY_PRINTS = r'''
import sys, time
print("init-output-line")
def handler(event, context):
    print("MARK-stdout-" + event["m"])
    print("MARK-stderr-" + event["m"], file=sys.stderr)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("spam"):
        for i in range(event["spam"]):
            print("spam line %04d %s" % (i, "x" * 60))
    if event.get("raise"):
        raise ValueError("went wrong " + event["m"])
    print("LAST-stdout-" + event["m"])
    sys.stderr.write("LAST-stderr-no-newline-" + event["m"])
    return "ok"
'''


def parse_tail(resp, rid):
    """(lines between START and END, REPORT match) after checking the frame around them."""
    lines = tail_lines(resp)
    assert lines[-1] == "", "the tail ends with a newline"
    lines = lines[:-1]
    starts = [i for i, l in enumerate(lines) if l.startswith("START ")]
    ends = [i for i, l in enumerate(lines) if l.startswith("END ")]
    reports = [i for i, l in enumerate(lines) if l.startswith("REPORT ")]
    assert len(starts) == len(ends) == len(reports) == 1, lines
    s, e, r = starts[0], ends[0], reports[0]
    assert s < e < r, lines
    assert lines[s] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[e] == f"END RequestId: {rid}"
    m = REPORT_RE.match(lines[r])
    assert m, lines[r]
    assert m.group(1) == rid
    assert lines[r].endswith("\t"), "REPORT is tab-terminated"
    return lines[s + 1:e], m, lines


def test_tail_holds_start_output_end_report_and_init_only_when_cold(lam):
    name = create_py(lam, PY_PRINTS, memory=1769)
    resp, _, doc = invoke(lam, name, {"m": "one"}, LogType="Tail")
    assert_ok(resp, doc)
    rid = request_id(resp)
    body, m, _ = parse_tail(resp, rid)
    # Output order within one stream is kept; every line printed is inside the frame,
    # including the last one and an unterminated one on stderr.
    for marker in ("MARK-stdout-one", "MARK-stderr-one", "LAST-stdout-one", "LAST-stderr-no-newline-one"):
        assert marker in body, (marker, body)
    assert body.index("MARK-stdout-one") < body.index("LAST-stdout-one")
    assert body.index("MARK-stderr-one") < body.index("LAST-stderr-no-newline-one")
    duration, billed, mem, used = float(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
    assert duration - 0.01 <= billed < duration + 1.01
    assert mem == 1769
    assert 0 < used <= mem
    assert m.group(6), "a cold start reports Init Duration"
    assert float(m.group(7)) > 0

    resp, _, doc = invoke(lam, name, {"m": "two", "sleep": 0.3}, LogType="Tail")
    assert_ok(resp, doc)
    rid2 = request_id(resp)
    body, m, lines = parse_tail(resp, rid2)
    assert "MARK-stdout-two" in body and "LAST-stderr-no-newline-two" in body
    assert not any("one" in l for l in lines), "the previous invocation's output must not leak in"
    assert "init-output-line" not in body
    assert m.group(6) is None, "a warm invoke has no Init Duration"
    assert float(m.group(2)) >= 300.0
    # Billed: the duration rounded up to the ms (Duration is printed rounded to 0.01).
    assert float(m.group(2)) - 0.01 <= int(m.group(3)) < float(m.group(2)) + 1.01


def test_no_tail_without_log_type(lam):
    name = create_py(lam, PY_PRINTS)
    resp, _, doc = invoke(lam, name, {"m": "x"})
    assert_ok(resp, doc)
    assert "LogResult" not in resp
    resp, _, doc = invoke(lam, name, {"m": "y"}, LogType="None")
    assert "LogResult" not in resp


def test_tail_is_the_last_4kb(lam):
    name = create_py(lam, PY_PRINTS)
    resp, _, doc = invoke(lam, name, {"m": "big", "spam": 200}, LogType="Tail")
    assert_ok(resp, doc)
    raw = base64.b64decode(resp["LogResult"])
    assert len(raw) <= 4096
    text = raw.decode()
    lines = text.split("\n")
    assert REPORT_RE.match(lines[-2]), lines[-3:]
    assert lines[-3] == f"END RequestId: {request_id(resp)}"
    assert "LAST-stdout-big" in text
    assert "spam line 0199" in text
    assert "spam line 0000" not in text, "only the tail is kept"


def test_tail_of_a_handler_error(lam):
    name = create_py(lam, PY_PRINTS)
    resp, _, doc = invoke(lam, name, {"m": "err", "raise": True}, LogType="Tail")
    assert_unhandled(resp, doc)
    rid = request_id(resp)
    body, m, _ = parse_tail(resp, rid)
    assert "MARK-stdout-err" in body
    # awslambdaric's error line: [ERROR] <type>: <message>, then the traceback (\r-joined).
    assert any(l.startswith("[ERROR] ValueError: went wrong err") for l in body), body


def test_tail_of_a_timeout_has_the_timeout_line_after_report(lam):
    name = create_py(lam, PY_PRINTS, timeout=1)
    resp, _, doc = invoke(lam, name, {"m": "slow", "sleep": 5}, LogType="Tail")
    assert_unhandled(resp, doc)
    rid = request_id(resp)
    lines = tail_lines(resp)[:-1]
    assert "MARK-stdout-slow" in "\n".join(lines)
    rep = [i for i, l in enumerate(lines) if l.startswith("REPORT ")]
    assert len(rep) == 1
    m = REPORT_RE.match(lines[rep[0]])
    assert m and int(m.group(3)) == 1000, "a timeout bills the whole timeout"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z " + rid + r" Task timed out after 1\.\d\d seconds",
        lines[rep[0] + 1],
    ), lines


def test_node_console_lines(lam):
    src = "exports.handler = async (e) => { console.log('node-marker', {a: 1}); console.error('node-err'); return 1; };\n"
    name = create(lam, make_zip({"index.js": src}), runtime="nodejs20.x", handler="index.handler")
    resp, _, doc = invoke(lam, name, {}, LogType="Tail")
    assert_ok(resp, doc)
    rid = request_id(resp)
    body, _, _ = parse_tail(resp, rid)
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert any(re.fullmatch(ts + "\t" + rid + r"\tINFO\tnode-marker \{ a: 1 \}", l) for l in body), body
    assert any(re.fullmatch(ts + "\t" + rid + r"\tERROR\tnode-err", l) for l in body), body


def test_official_python_client_logging_lands_in_tail(lam):
    # The unchanged awslambdaric fixture prints nothing itself; its error path logs
    # "[ERROR] ValueError: ..." through the client's own code.
    name = create(lam, fixture_zip("python-ric.zip"), runtime="provided.al2023", handler="app.handler")
    resp, _, doc = invoke(lam, name, {"fail": "ric-tail"}, LogType="Tail")
    assert_unhandled(resp, doc)
    rid = request_id(resp)
    body, m, _ = parse_tail(resp, rid)
    assert any("ric-tail" in l for l in body), body
    assert m.group(6), "first invoke is cold"


def test_init_output_comes_before_start(lam):
    # Lambda runs INIT before the first event: output of module import time belongs
    # before START (after INIT_START on AWS), never inside the invocation's frame.
    name = create_py(lam, PY_PRINTS)
    resp, _, doc = invoke(lam, name, {"m": "cold"}, LogType="Tail")
    assert_ok(resp, doc)
    lines = tail_lines(resp)
    start = next(i for i, l in enumerate(lines) if l.startswith("START "))
    assert "init-output-line" in lines, lines
    assert lines.index("init-output-line") < start, lines
