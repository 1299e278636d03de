"""cgroup limits seen from inside: OOM kill of the whole sandbox, pids.max, CPU quota."""
import pytest
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "sandbox_probe"))
from harness import requires_root, run, sbx_dir, sandbox_cgroups, instance_id  # noqa: E402,F401

pytestmark = requires_root


def test_memory_hog_is_oom_killed_and_reported(sbx_dir):
    r = run(sbx_dir, ["hog", "400"], memory=128)
    assert r.report is not None, r
    assert r.report["oom_killed"] is True, r
    assert r.report["exit"] == "signal: killed", r
    assert r.returncode == 137
    assert r.probe is None  # it never got to print "survived"
    assert r.report["memory_peak_bytes"] <= 128 << 20
    assert r.report["memory_peak_bytes"] > 100 << 20
    assert sandbox_cgroups(instance_id(sbx_dir)) == []


def test_within_limit_is_not_oom(sbx_dir):
    r = run(sbx_dir, ["hog", "40"], memory=128)
    assert r.returncode == 0, r
    assert r.probe == {"hog": "survived", "mb": 40}
    assert r.report["oom_killed"] is False


def test_fork_bomb_stops_at_pids_max_and_is_cleaned_up(sbx_dir):
    r = run(sbx_dir, ["forkbomb"], memory=1769, env=["HOLD=0.5"], timeout=90)
    assert r.returncode == 0, r
    # 1024 pids: init + the probe + forked children.
    assert r.probe["error"] == "EAGAIN", r.probe
    assert 1000 <= r.probe["forked"] <= 1022, r.probe
    assert sandbox_cgroups(instance_id(sbx_dir)) == []


@pytest.mark.serial
def test_cpu_quota_caps_a_spinner(sbx_dir):
    # 442 MB = 0.25 vCPU; the quota applies right away with --cpu-quota.
    r = run(sbx_dir, ["spin", "1.0"], memory=442, extra=["--cpu-quota"])
    assert r.returncode == 0, r
    share = r.probe["cpu_s"] / r.probe["wall_s"]
    assert share <= 0.35, r.probe
    assert share >= 0.10, r.probe
    # cgroup accounting agrees with what the process measured (±0.15 s).
    assert abs(r.report["cpu_usage_ns"] / 1e9 - r.probe["cpu_s"]) < 0.15, r


@pytest.mark.serial
def test_without_quota_a_spinner_gets_a_cpu(sbx_dir):
    r = run(sbx_dir, ["spin", "0.5"], memory=442)
    assert r.returncode == 0, r
    assert r.probe["cpu_s"] / r.probe["wall_s"] >= 0.6, r.probe
