"""Process wiring: start-up checks, trigger kinds plugged into the host, the CLI end to end."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from devtools.devhost import DevHost, DevHostError
from devtools.devhost.triggers import TriggerKind
from tests.devtools.devhost_support import FIXTURE_APP, REPO_ROOT, app_copy, free_port, request


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import azure.functions as func\n", "no module-level"),
        (
            "import azure.functions as func\n"
            "app = func.FunctionApp()\n"
            "other = func.FunctionApp()\n",
            "several FunctionApp instances",
        ),
    ],
)
def test_app_must_define_exactly_one_function_app(tmp_path, source, message):
    app = app_copy(tmp_path, source=source)
    with pytest.raises(DevHostError, match=message):
        DevHost(app, port=0).start()


class _JournalingTimerKind(TriggerKind):
    """A stand-in trigger kind that writes down what the host asks of it."""

    trigger_type = "timerTrigger"

    def __init__(self):
        super().__init__()
        self.journal = []

    def add(self, function):
        self.journal.append(("add", function.name))

    def listing(self):
        return ["journal: listed by the plugged-in kind"]

    def start(self, stop_event):
        self.journal.append(("start", stop_event.is_set()))

    def stop(self, deadline):
        self.journal.append(("stop", deadline > time.monotonic()))


def test_a_trigger_kind_plugs_in_and_is_driven_through_its_lifecycle(monkeypatch):
    monkeypatch.setenv("FIXTURE_TIMER", "0 0 0 1 1 *")
    kind = _JournalingTimerKind()
    dev = DevHost(FIXTURE_APP, port=0, queues=False)
    dev.trigger_kinds[kind.trigger_type] = kind
    with dev:
        assert "journal: listed by the plugged-in kind" in dev.listing()
        # HTTP functions are untouched by the swap.
        assert request("GET", f"{dev.base_url}/health")[0] == 200
    assert kind.journal == [("add", "tick"), ("start", False), ("stop", True)]


def test_cli_lists_functions_serves_and_exits_cleanly_on_sigterm(tmp_path):
    port = free_port()
    env = dict(os.environ, FIXTURE_TICK_FILE=str(tmp_path / "ticks.txt"), PYTHONUNBUFFERED="1")
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.devhost", "--app-dir", str(FIXTURE_APP),
             "--port", str(port), "--no-queues"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        stdout = []
        ready = f"Dev host listening on http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 15
        while not any(ready in line for line in stdout):
            assert time.monotonic() < deadline, stdout
            try:
                stdout.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert proc.poll() is None, stderr_path.read_text()
        listing = "".join(stdout)
        assert "items: [GET,PUT] http://127.0.0.1:%d/api/items/{id}" % port in listing
        assert "tick: timerTrigger, schedule '*/1 * * * * *' (UTC)" in listing
        assert "record_item: queueTrigger, queue 'fixture-items' (queues disabled)" in listing

        assert request("GET", f"http://127.0.0.1:{port}/api/items/1?code=supersecret")[0] == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = stderr_path.read_text()
    assert "local.settings.sample.json" in log
    assert "GET /api/items/1 200 " in log
    assert "supersecret" not in log
