"""Script runs through the execution service's startrun, and run details.

Shapes follow the execution service's startrun/StartRunResult.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import requests

from devtools.aml_emulator import AmlEmulator
from tests.devtools.aml_emulator.support import ML, minted_token


@pytest.fixture
def aml():
    with AmlEmulator(run_seconds=0.4) as running:
        yield running


def _zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", "print('hi')")
    return buffer.getvalue()


def test_startrun_takes_amls_multipart_upload_and_runs_advance(aml):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {minted_token(ML)}"
    base = f"{aml.base_url}/execution/v1.0/{aml.workspace_path}/experiments/train"
    definition = json.dumps({"configuration": {"script": "train.py", "target": "cpu-cluster"}})
    files = {"runDefinitionFile": ("definition.json", definition), "projectZipFile": ("project.zip", _zip())}
    started = session.post(f"{base}/startrun", params={"runId": "train_1"}, files=files, timeout=5)
    assert started.status_code == 200 and started.json() == {"runId": "train_1"}
    assert session.post(f"{base}/startrun", params={"runId": "train_1"}, files=files, timeout=5).status_code == 409
    assert session.post(f"{base}/startrun", json={}, timeout=5).status_code == 415
    bad = {"runDefinitionFile": ("definition.json", definition), "projectZipFile": ("project.zip", b"nope")}
    assert session.post(f"{base}/startrun", files=bad, timeout=5).status_code == 400
    assert session.post(f"{base}/startrun", files={"runDefinitionFile": ("d.json", definition)},
                        timeout=5).status_code == 400
    history = f"{aml.base_url}/history/v1.0/{aml.workspace_path}/experiments/train/runs/train_1"
    run = session.get(history, timeout=5).json()
    # A new run starts out queued; on a busy machine it may already have moved on by the first read.
    assert run["runType"] == "azureml.scriptrun" and run["target"] == "cpu-cluster"
    assert run["status"] in ("NotStarted", "Queued", "Preparing", "Starting", "Running", "Completed")
    details = _details_once_final(session, f"{history}/details")
    assert details["status"] == "Completed" and details["runDefinition"]["configuration"]["script"] == "train.py"
    assert details["logFiles"] and details["computeDuration"]


def _details_once_final(session, url, wait_seconds=10.0):
    """The run's details once it has finished (the emulator's runs take 0.4 s here)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        details = session.get(url, timeout=5).json()
        if details["status"] in ("Completed", "Failed", "Canceled") or time.monotonic() > deadline:
            return details
        time.sleep(0.05)
