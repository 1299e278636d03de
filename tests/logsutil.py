"""Helpers for the function-log tests (tests/test_logs_*.py): read what the server
stored through its CloudWatch Logs API with boto3, nothing else."""
import time

from invokeutil import wait_until


def group_of(name):
    return f"/aws/lambda/{name}"


def stream_events(logs, group, stream):
    """Every event of a stream, oldest first, following nextForwardToken to the end."""
    out, token = [], None
    while True:
        kw = dict(logGroupName=group, logStreamName=stream, startFromHead=True)
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        out += r["events"]
        if r["nextForwardToken"] == token:
            return out
        token = r["nextForwardToken"]


def filter_all(logs, **kw):
    out, token = [], None
    while True:
        if token:
            kw["nextToken"] = token
        r = logs.filter_log_events(**kw)
        out += r["events"]
        token = r.get("nextToken")
        if not token:
            return out


def wait_for_messages(logs, group, pred, timeout=10.0):
    """All events of the group once `pred(messages)` holds (logs are written
    asynchronously, a few ms after the invoke returns)."""
    def check():
        try:
            ev = filter_all(logs, logGroupName=group)
        except logs.exceptions.ResourceNotFoundException:
            return None
        return ev if pred([e["message"] for e in ev]) else None
    ev = wait_until(check, timeout=timeout, interval=0.05)
    assert ev, f"condition not met in {group} within {timeout}s"
    return ev
