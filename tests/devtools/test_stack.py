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

from devtools.stack import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    LocalStack,
    StackError,
    find_azurite,
    free_port,
    process_group_members,
    start_azurite,
    stop_process_group,
    wait_for_port,
)

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


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
    assert [pid for pid in members if _alive(pid)] == []
    assert "successfully started" in log_path.read_text()


def test_missing_azurite_says_how_to_install_it(tmp_path):
    with pytest.raises(StackError, match="make setup"):
        find_azurite(tmp_path)


def test_stop_process_group_kills_what_ignores_sigterm(tmp_path):
    # A child that ignores SIGTERM and forks a grandchild: both must go.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    members = process_group_members(proc.pid)
    assert len(members) == 2
    started = time.monotonic()
    stop_process_group(proc, timeout=0.5)
    assert time.monotonic() - started < 5
    assert [pid for pid in members if _alive(pid)] == []
    proc.stdout.close()


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
        assert set(pids) == {"azurite", "identity", "aml", "devhost"}
        assert all(pids.values())

        assert _get(f"{stack.dev_host_url}/health")[0] == 200
        for url in stack.health_urls.values():
            assert _get(url)[0] == 200
        assert _table_request(stack.azurite_port, "GET", "Tables")[0] == 200
        # Stack settings beat the fixture's local.settings.sample.json.
        assert _get(f"{stack.dev_host_url}/greeting") == (200, b"from-stack, world")
        assert stack.env["TABLES_CONNECTION_STRING"] == stack.tables_connection_string
        assert stack.env["IDENTITY_HEADER"] == stack.identity_header
        assert stack.env["AML_API_BASE_URL"] == stack.aml_url

        token_url = (
            f"{stack.identity_endpoint}?api-version=2019-08-01"
            "&resource=https://management.azure.com"
        )
        status, body = _get(token_url, {"X-IDENTITY-HEADER": stack.identity_header})
        assert status == 200 and json.loads(body)["access_token"]
        assert _get(token_url, {"X-IDENTITY-HEADER": "wrong"})[0] != 200

    everything = [pid for group in pids.values() for pid in group]
    assert [pid for pid in everything if _alive(pid)] == []
    assert stack.pids() == {}
    stack.stop()  # idempotent
    assert set(stack.log_paths) == {"azurite", "identity", "aml", "devhost"}
    assert "Dev host listening" in stack.log_paths["devhost"].read_text()


@needs_azurite
@needs_emulators
def test_a_child_that_fails_to_start_takes_the_stack_down(tmp_path):
    stack = LocalStack(
        FIXTURE_APP, fixed_ports=False, log_dir=tmp_path, extra_env={"FIXTURE_TIMER": "not cron"}
    )
    with pytest.raises(StackError, match=r"(?s)devhost did not become ready.*NCRONTAB"):
        stack.start()
    assert stack.started_pids.keys() == {"azurite", "identity", "aml", "devhost"}
    assert [pid for pid in stack.started_pids.values() if _alive(pid)] == []


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
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        parent.stdout.close()
    assert [pid for pid in pids if _alive(pid)] == []


def test_console_filter_hides_lines_from_the_console_but_not_from_the_log(tmp_path, capsys):
    import io

    from devtools.stack import _pump

    source = io.BytesIO(b"GET /api/schedules/demo/runs 200 5ms\nslot demo: submitted\n")
    log_path = tmp_path / "devhost.log"
    _pump(source, open(log_path, "wb"), "devhost", lambda line: "/runs 200" not in line)
    assert capsys.readouterr().out == "[devhost] slot demo: submitted\n"
    assert log_path.read_bytes() == b"GET /api/schedules/demo/runs 200 5ms\nslot demo: submitted\n"
