"""The local stack launcher: Azurite alone, then the whole stack, leaving no process behind."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devtools.stack import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION_ID,
    LOCAL_WORKSPACE_NAME,
    LocalStack,
    StackError,
    find_azurite,
    free_port,
    process_group_members,
    start_azurite,
    stop_process_group,
    storage_connection_string,
    wait_for_port,
)
from tests.devtools.process_support import alive

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEVTOOLS = REPO_ROOT / "devtools"

needs_azurite = pytest.mark.skipif(
    not (REPO_ROOT / "node_modules" / ".bin" / "azurite-table").exists(),
    reason="Azurite is not installed (make setup)",
)
needs_emulators = pytest.mark.skipif(
    not ((DEVTOOLS / "identity_emulator.py").exists() and (DEVTOOLS / "aml_emulator" / "__init__.py").exists()),
    reason="the identity and AML emulators are not written yet",
)


def _table_request(port: int, method: str, path: str, body: dict | None = None):
    """A SharedKeyLite-signed Table request, so the test needs no storage SDK."""
    date = email.utils.formatdate(usegmt=True)
    # Emulator URLs are path-style, so the account name appears twice.
    to_sign = f"{date}\n/{AZURITE_ACCOUNT_NAME}/{AZURITE_ACCOUNT_NAME}/{path}"
    digest = hmac.new(base64.b64decode(AZURITE_ACCOUNT_KEY), to_sign.encode(), hashlib.sha256)
    headers = {
        "x-ms-date": date,
        "x-ms-version": "2019-02-02",
        "Accept": "application/json;odata=nometadata",
        "Content-Type": "application/json",
        "DataServiceVersion": "3.0",
        "Authorization": f"SharedKeyLite {AZURITE_ACCOUNT_NAME}:"
        + base64.b64encode(digest.digest()).decode(),
    }
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT_NAME}/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@needs_azurite
def test_azurite_alone_serves_tables_and_leaves_nothing_behind(tmp_path):
    port = free_port()
    log_path = tmp_path / "azurite.log"
    proc = start_azurite(port, log_path)
    try:
        wait_for_port("127.0.0.1", port, 30, proc=proc)
        members = process_group_members(proc.pid)
        assert proc.pid in members
        assert _table_request(port, "POST", "Tables", {"TableName": "probe"})[0] == 201
        status, listing = _table_request(port, "GET", "Tables")
        assert status == 200 and {"TableName": "probe"} in listing["value"]
    finally:
        stop_process_group(proc)
    assert proc.returncode is not None
    assert [pid for pid in members if alive(pid)] == []
    assert "successfully started" in log_path.read_text()


@needs_azurite
def test_azurite_queue_service_alone_serves_queues_and_leaves_nothing_behind(tmp_path):
    port = free_port()
    proc = start_azurite(port, tmp_path / "azurite-queue.log", service="queue")
    try:
        wait_for_port("127.0.0.1", port, 30, proc=proc)
        members = process_group_members(proc.pid)
        # The table port is never contacted here; only the queue endpoint matters.
        client = QueueClient.from_connection_string(storage_connection_string(free_port(), port), "probe")
        client.create_queue()
        client.send_message("hello")
        assert [m.content for m in client.peek_messages()] == ["hello"]
    finally:
        stop_process_group(proc)
    assert [pid for pid in members if alive(pid)] == []


def test_missing_azurite_says_how_to_install_it(tmp_path):
    with pytest.raises(StackError, match="make setup"):
        find_azurite(tmp_path)
    with pytest.raises(StackError, match="azurite-queue"):
        find_azurite(tmp_path, "queue")


def test_without_queues_the_stack_gives_the_tables_only_connection():
    stack = LocalStack(FIXTURE_APP, fixed_ports=False, queues=False)
    assert stack.app_settings["AzureWebJobsStorage"] == stack.tables_connection_string
    with_queues = LocalStack(FIXTURE_APP, fixed_ports=False)
    connection = with_queues.app_settings["AzureWebJobsStorage"]
    assert connection == storage_connection_string(with_queues.azurite_port, with_queues.queue_port)
    assert f"QueueEndpoint=http://127.0.0.1:{with_queues.queue_port}/" in connection


@needs_azurite
@needs_emulators
def test_full_stack_comes_up_healthy_and_goes_away_completely(tmp_path):
    stack = LocalStack(
        FIXTURE_APP,
        fixed_ports=False,
        log_dir=tmp_path,
        extra_env={"FIXTURE_GREETING": "from-stack"},
        pipelines=["pipe-ok", ("pipe-bad", "Failed")],
        run_seconds=2,
    )
    with stack:
        pids = stack.pids()
        assert set(pids) == {"azurite", "azurite-queue", "identity", "aml", "devhost"}
        assert all(pids.values())

        # The dev host polls the fixture's queue on the stack's Azurite and runs its function.
        sender = QueueClient.from_connection_string(
            stack.storage_connection_string, "fixture-items", message_encode_policy=TextBase64EncodePolicy()
        )
        sender.create_queue()
        sender.send_message("through the stack")
        deadline = time.monotonic() + 30
        while _get(f"{stack.dev_host_url}/queue-received") != (200, b'["through the stack"]'):
            assert time.monotonic() < deadline, stack.log_paths["devhost"].read_text()[-3000:]
            time.sleep(0.1)

        assert _get(f"{stack.dev_host_url}/health")[0] == 200
        for url in stack.health_urls.values():
            assert _get(url)[0] == 200
        assert _table_request(stack.azurite_port, "GET", "Tables")[0] == 200
        # Stack settings beat the fixture's local.settings.sample.json.
        assert _get(f"{stack.dev_host_url}/greeting") == (200, b"from-stack, world")
        assert stack.env["TABLES_CONNECTION_STRING"] == stack.tables_connection_string
        assert stack.env["AzureWebJobsStorage"] == stack.storage_connection_string
        assert stack.env["IDENTITY_HEADER"] == stack.identity_header
        assert stack.env["AML_API_BASE_URL"] == stack.aml_url

        token_url = (
            f"{stack.identity_endpoint}?api-version=2019-08-01"
            "&resource=https://management.azure.com"
        )
        status, body = _get(token_url, {"X-IDENTITY-HEADER": stack.identity_header})
        assert status == 200 and json.loads(body)["access_token"]
        assert _get(token_url, {"X-IDENTITY-HEADER": "wrong"})[0] != 200

        # The AML emulator's workspace holds the local AML v2 seeds, readable over ARM.
        arm = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
        workspace = (f"{stack.aml_url}/subscriptions/{LOCAL_SUBSCRIPTION_ID}/resourceGroups/{LOCAL_RESOURCE_GROUP}"
                     f"/providers/Microsoft.MachineLearningServices/workspaces/{LOCAL_WORKSPACE_NAME}")
        for resource in ("computes/cpu-cluster", "batchEndpoints/score-batch", "schedules/nightly-batch-score"):
            status, body = _get(f"{workspace}/{resource}?api-version=2025-12-01", arm)
            assert status == 200, resource
        assert json.loads(body)["properties"]["action"]["actionType"] == "InvokeBatchEndpoint"

    everything = [pid for group in pids.values() for pid in group]
    assert [pid for pid in everything if alive(pid)] == []
    assert stack.pids() == {}
    stack.stop()  # idempotent
    assert set(stack.log_paths) == {"azurite", "azurite-queue", "identity", "aml", "devhost"}
    assert "Dev host listening" in stack.log_paths["devhost"].read_text()


@needs_azurite
@needs_emulators
def test_a_child_that_fails_to_start_takes_the_stack_down(tmp_path):
    stack = LocalStack(
        FIXTURE_APP, fixed_ports=False, log_dir=tmp_path, extra_env={"FIXTURE_TIMER": "not cron"}
    )
    with pytest.raises(StackError, match=r"(?s)devhost did not become ready.*NCRONTAB"):
        stack.start()
    assert stack.started_pids.keys() == {"azurite", "azurite-queue", "identity", "aml", "devhost"}
    assert [pid for pid in stack.started_pids.values() if alive(pid)] == []


@needs_azurite
@needs_emulators
def test_sigterm_to_the_parent_stops_the_stack(tmp_path):
    script = (
        "import json, sys, time\n"
        "from devtools.stack import LocalStack\n"
        "stack = LocalStack(sys.argv[1], fixed_ports=False, log_dir=sys.argv[2]).start()\n"
        "print(json.dumps(stack.pids()), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(FIXTURE_APP), str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    pids: list[int] = []
    try:
        line = parent.stdout.readline()
        assert line, "the parent exited before the stack was up"
        pids = [pid for group in json.loads(line).values() for pid in group]
        parent.send_signal(signal.SIGTERM)
        # Stopped, then the default action: the parent dies of the SIGTERM it got.
        assert parent.wait(timeout=15) == -signal.SIGTERM
    finally:
        if parent.poll() is None:
            stop_process_group(parent)
        for pid in pids:  # only if the launcher failed at its job
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        parent.stdout.close()
    assert [pid for pid in pids if alive(pid)] == []
