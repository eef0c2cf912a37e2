"""``python -m devtools.aml_emulator`` registers what its flags say and stops cleanly on SIGTERM."""

from __future__ import annotations

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
             "--location", "--operation-seconds", "--pipeline", "--endpoint", "--verbose")
    assert [flag for flag in flags if flag not in result.stdout] == []
