"""The dev host against a small fixture app: routing, errors, settings, timers, shutdown."""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devtools.devhost import (
    DevHost,
    DevHostError,
    RouteTemplate,
    TimerRunner,
    decode_segment,
    load_settings,
    resolve_setting_tokens,
)

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="module")
def tick_file(tmp_path_factory):
    return tmp_path_factory.mktemp("ticks") / "ticks.txt"


@pytest.fixture(scope="module")
def host(tick_file):
    saved = dict(os.environ)
    os.environ["FIXTURE_TICK_FILE"] = str(tick_file)
    os.environ["FIXTURE_GREETING"] = "from-env"
    dev = DevHost(FIXTURE_APP, port=0)
    dev.start()
    try:
        yield dev
    finally:
        dev.stop()
        os.environ.clear()
        os.environ.update(saved)


def test_route_params_query_body_and_header(host):
    status, headers, body = _request(
        "PUT",
        f"{host.base_url}/items/42?x=1&x=2&empty=",
        body=b"hello",
        headers={"X-Fixture": "hi"},
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "method": "PUT",
        "route_params": {"id": "42"},
        "params": {"x": "1", "empty": ""},
        "body": "hello",
        "header": "hi",
    }


def test_route_less_function_is_served_under_its_name(host):
    status, _, body = _request("GET", f"{host.base_url}/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    # Literal segments, the prefix included, match case-insensitively like the host.
    assert _request("GET", f"{host.root_url}/API/Health")[0] == 200


def test_unknown_path_is_a_json_404(host):
    for url in (f"{host.base_url}/nope", f"{host.root_url}/other/health", f"{host.base_url}/items"):
        status, headers, body = _request("GET", url)
        assert status == 404
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["error"]["code"] == "NotFound"


def test_method_not_in_the_list_is_a_json_405(host):
    status, headers, body = _request("POST", f"{host.base_url}/items/1", body=b"{}")
    assert status == 405
    assert headers["Allow"] == "GET, PUT"
    assert json.loads(body)["error"]["code"] == "MethodNotAllowed"
    # The connection must still be usable: the unread body was drained.
    assert _request("GET", f"{host.base_url}/health")[0] == 200


def test_exception_is_a_generic_500_and_a_logged_traceback(host, caplog):
    def request_lines():
        messages = [r.getMessage() for r in caplog.records]
        return [m for m in messages if m.startswith("GET /api/boom ")]

    with caplog.at_level(logging.INFO, logger="devhost"):
        status, _, body = _request("GET", f"{host.base_url}/boom?code=topsecret")
        # The access line is written after the response has gone out.
        assert _wait_for(request_lines, timeout=2)
    assert status == 500
    assert json.loads(body)["error"]["code"] == "InternalServerError"
    assert b"fixture secret detail" not in body
    failures = [r for r in caplog.records if r.exc_info]
    assert failures and "fixture secret detail" in str(failures[0].exc_info[1])
    assert request_lines()[0].startswith("GET /api/boom 500 ")
    assert not any("topsecret" in r.getMessage() for r in caplog.records)


def test_encoded_slash_stays_inside_its_segment(host):
    status, _, body = _request("GET", f"{host.base_url}/items/a%2Fb%20c")
    assert status == 200
    # Like Kestrel under `func start`: other escapes are decoded, %2F is kept as sent.
    assert json.loads(body)["route_params"] == {"id": "a%2Fb c"}
    assert _request("GET", f"{host.base_url}/items/a/b")[0] == 404


def test_catch_all_and_optional_parameters(host):
    status, _, body = _request("GET", f"{host.base_url}/files/a/b%20c/d")
    assert (status, json.loads(body)["route_params"]) == (200, {"path": "a/b c/d"})
    status, _, body = _request("GET", f"{host.base_url}/files")
    assert (status, json.loads(body)["route_params"]) == (200, {})
    status, headers, body = _request("GET", f"{host.base_url}/greeting")
    assert (status, body) == (200, b"from-env, world")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert _request("GET", f"{host.base_url}/greeting/bob")[2] == b"from-env, bob"


def test_environment_beats_the_settings_file(host):
    status, _, body = _request("GET", f"{host.base_url}/settings")
    assert status == 200
    assert json.loads(body) == {
        "FIXTURE_GREETING": "from-env",
        "FIXTURE_TIMER": "*/1 * * * * *",
        "FIXTURE_ONLY_IN_FILE": "file-value",
    }


def test_timer_schedule_is_resolved_and_fires_every_second(host, tick_file):
    assert host.timers == {"tick": "*/1 * * * * *"}
    assert any("tick: timerTrigger, schedule '*/1 * * * * *'" in line for line in host.listing())

    def ticks():
        return tick_file.read_text().splitlines() if tick_file.exists() else []

    assert _wait_for(lambda: len(ticks()) >= 2, timeout=3.5), ticks()


def test_stop_takes_back_the_settings_it_added(tmp_path, monkeypatch):
    monkeypatch.delenv("FIXTURE_ONLY_IN_FILE", raising=False)
    monkeypatch.setenv("FIXTURE_TIMER", "0 0 0 1 1 *")
    module_before = sys.modules.get("function_app")
    dev = DevHost(FIXTURE_APP, port=0, timers=False).start()
    assert os.environ["FIXTURE_ONLY_IN_FILE"] == "file-value"
    assert dev.timers == {"tick": "0 0 0 1 1 *"}
    dev.stop()
    assert "FIXTURE_ONLY_IN_FILE" not in os.environ
    assert os.environ["FIXTURE_TIMER"] == "0 0 0 1 1 *"
    assert sys.modules.get("function_app") is module_before


def _app_copy(tmp_path, settings=None, source=None):
    app = tmp_path / "app"
    app.mkdir()
    if source is None:
        shutil.copy(FIXTURE_APP / "function_app.py", app / "function_app.py")
    else:
        (app / "function_app.py").write_text(source)
    shutil.copy(FIXTURE_APP / "local.settings.sample.json", app / "local.settings.sample.json")
    if settings is not None:
        (app / "local.settings.json").write_text(json.dumps({"Values": settings}))
    return app


def test_unresolved_schedule_setting_stops_startup(tmp_path, monkeypatch):
    monkeypatch.delenv("FIXTURE_TIMER", raising=False)
    # local.settings.json wins over the sample, and it lacks FIXTURE_TIMER.
    app = _app_copy(tmp_path, settings={"FIXTURE_GREETING": "x"})
    assert load_settings(app).path.name == "local.settings.json"
    with pytest.raises(DevHostError, match="FIXTURE_TIMER"):
        DevHost(app, port=0).start()
    assert os.environ.get("FIXTURE_GREETING") != "x"


def test_resolve_setting_tokens():
    env = {"A": "1", "B": "two"}
    assert resolve_setting_tokens("%A%-%B%", env) == "1-two"
    assert resolve_setting_tokens("0 */5 * * * *", env) == "0 */5 * * * *"
    with pytest.raises(DevHostError, match="'%C%' does not resolve"):
        resolve_setting_tokens("%C%", env, function_name="tick")


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
    app = _app_copy(tmp_path, source=source)
    with pytest.raises(DevHostError, match=message):
        DevHost(app, port=0).start()


def test_route_templates():
    assert RouteTemplate("items/{id}").match_path("items/42") == {"id": "42"}
    assert RouteTemplate("items/{id}").match_path("ITEMS/42/") == {"id": "42"}
    assert RouteTemplate("items/{id}").match_path("items/4/2") is None
    assert RouteTemplate("items/{id}").match_path("items") is None
    assert RouteTemplate("items/{id?}").match_path("items") == {}
    assert RouteTemplate("items/{id=7}").match_path("items") == {"id": "7"}
    assert RouteTemplate("items/{id:int}").match_path("items/x") is None
    assert RouteTemplate("items/{id:int:min(1)}").match_path("items/5") == {"id": "5"}
    assert RouteTemplate("items/{id:regex(^a+$)}").match_path("items/aaa") == {"id": "aaa"}
    assert RouteTemplate("{*rest}").match_path("a/b%2Fc") == {"rest": "a/b%2Fc"}
    assert RouteTemplate("files/{name}.{ext}").match_path("files/a.b.txt") == {
        "name": "a",
        "ext": "b.txt",
    }
    assert decode_segment("caf%C3%A9+%2f") == "café+%2f"
    with pytest.raises(DevHostError):
        RouteTemplate("{*rest}/tail")
    with pytest.raises(DevHostError):
        RouteTemplate("items/{id:nosuch}")


def test_more_specific_routes_win():
    templates = [RouteTemplate(t) for t in ("x/{*rest}", "x/{id}", "x/{id:int}", "x/new")]
    ordered = sorted(templates, key=lambda t: t.precedence)
    assert [t.template for t in ordered] == ["x/new", "x/{id:int}", "x/{id}", "x/{*rest}"]


class _RecordingFunction:
    """Stands in for an indexed timer function; optionally slow on its first call."""

    name = "probe"

    def __init__(self, first_call_seconds=0.0):
        self.calls = []
        self.active = 0
        self.max_active = 0
        self._first = first_call_seconds
        self._lock = threading.Lock()

    def invoke(self, request, invocation_id):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            first = not self.calls
            self.calls.append((time.monotonic(), request.past_due))
        try:
            if first and self._first:
                time.sleep(self._first)
            if len(self.calls) == 2:
                raise RuntimeError("a failing invocation must not stop the timer")
        finally:
            with self._lock:
                self.active -= 1


def test_timer_never_overlaps_and_collapses_missed_occurrences():
    probe = _RecordingFunction(first_call_seconds=2.2)
    runner = TimerRunner(probe, "* * * * * *")
    runner.start()
    try:
        assert _wait_for(lambda: len(probe.calls) >= 3, timeout=6)
    finally:
        runner.stop_event.set()
        runner.join(5)
    (t0, due0), (t1, due1), (t2, due2) = probe.calls[:3]
    assert probe.max_active == 1
    # The two occurrences missed during the 2.2 s run became one immediate, past-due call.
    assert due0 is False and due1 is True and due2 is False
    assert 2.1 <= t1 - t0 < 3.0
    assert 0 < t2 - t1 <= 1.2
    assert not runner.is_alive()


def test_run_on_startup_fires_once_at_once():
    probe = _RecordingFunction()
    runner = TimerRunner(probe, "0 0 0 1 1 *", run_on_startup=True)
    runner.start()
    try:
        assert _wait_for(lambda: probe.calls, timeout=2)
    finally:
        runner.stop_event.set()
        runner.join(2)
    assert len(probe.calls) == 1 and probe.calls[0][1] is False
    assert not runner.is_alive()


def test_cli_lists_functions_serves_and_exits_cleanly_on_sigterm(tmp_path):
    port = _free_port()
    env = dict(os.environ, FIXTURE_TICK_FILE=str(tmp_path / "ticks.txt"), PYTHONUNBUFFERED="1")
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.devhost", "--app-dir", str(FIXTURE_APP),
             "--port", str(port)],
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

        assert _request("GET", f"http://127.0.0.1:{port}/api/items/1?code=supersecret")[0] == 200
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
