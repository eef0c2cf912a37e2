"""``python -m devtools.aml_emulator`` registers and seeds what its flags say and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_cli_registers_pipelines_and_exits_cleanly(token):
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.aml_emulator", "--port", "0", "--run-seconds", "0.1",
         "--pipeline", "p1", "--pipeline", "p2:Failed", "--endpoint", "e1:1,2"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("AML emulator listening on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1]
        pipelines = {p["id"]: p for p in requests.get(f"{base}/_emulator/pipelines", timeout=5).json()}
        assert pipelines["p2"]["outcome"] == "Failed"
        assert pipelines["e1"]["versions"] == ["1", "2"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert token not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_help_lists_every_flag():
    result = subprocess.run([sys.executable, "-m", "devtools.aml_emulator", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0
    flags = ("--host", "--port", "--subscription-id", "--resource-group", "--workspace", "--run-seconds",
             "--location", "--operation-seconds", "--pipeline", "--endpoint", "--verbose", "--inference-base-url",
             "--duplicate-job-put", "--compute", "--batch-endpoint", "--schedule-file", "--local-seeds")
    assert [flag for flag in flags if flag not in result.stdout] == []


def _start(*flags: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.aml_emulator", "--port", "0", *flags],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    line = process.stdout.readline().strip()
    assert line.startswith("AML emulator listening on http://127.0.0.1:"), process.stderr.read()
    return process, line.rsplit(" ", 1)[1]


def test_cli_seeds_the_aml_v2_workspace(tmp_path):
    schedule_file = tmp_path / "schedules.json"
    schedule_file.write_text(json.dumps({"weekly": {"properties": {
        "isEnabled": False,
        "trigger": {"triggerType": "Recurrence", "frequency": "Week", "interval": 1,
                    "schedule": {"hours": [1], "minutes": [0], "weekDays": ["Sunday"]}},
        "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline"}}}}}))
    process, base = _start("--local-seeds", "--compute", "gpu-cluster", "--compute", "ci-dev:ComputeInstance",
                           "--batch-endpoint", "other:a,b", "--schedule-file", str(schedule_file),
                           "--duplicate-job-put", "conflict", "--inference-base-url", "http://127.0.0.1:9")
    try:
        admin = f"{base}/_emulator"
        computes = {c["name"]: c["properties"]["computeType"]
                    for c in requests.get(f"{admin}/computes", timeout=5).json()}
        assert computes == {"cpu-cluster": "AmlCompute", "gpu-cluster": "AmlCompute", "ci-dev": "ComputeInstance"}
        endpoints = {e["name"]: e for e in requests.get(f"{admin}/batch-endpoints", timeout=5).json()}
        assert endpoints["score-batch"]["properties"]["defaults"]["deploymentName"] == "blue"
        assert endpoints["other"]["emulator"]["deployments"] == ["a", "b"]
        assert endpoints["other"]["properties"]["scoringUri"] == "http://127.0.0.1:9/batch/other/jobs"
        assert {s["name"] for s in requests.get(f"{admin}/schedules", timeout=5).json()} == {
            "nightly-batch-score", "weekly"}
        assert requests.get(f"{admin}/settings", timeout=5).json()["duplicateJobPut"] == "conflict"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_bad_seed_flag_is_a_usage_error(tmp_path):
    schedule_file = tmp_path / "schedules.json"
    schedule_file.write_text(json.dumps({"broken": {"properties": {"trigger": {}}}}))
    for flags in (["--schedule-file", str(schedule_file)], ["--schedule-file", str(tmp_path / "missing.json")],
                  ["--batch-endpoint", "a/b"]):
        result = subprocess.run([sys.executable, "-m", "devtools.aml_emulator", "--port", "0", *flags],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert result.returncode == 2 and "error:" in result.stderr, flags
