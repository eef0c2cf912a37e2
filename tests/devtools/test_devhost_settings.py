"""Settings: the file, the environment's precedence, ``%SETTING%`` tokens, taking them back."""

from __future__ import annotations

import json
import os
import sys

import pytest

from devtools.devhost import DevHost, DevHostError, load_settings, resolve_setting_tokens
from tests.devtools.devhost_support import FIXTURE_APP, app_copy, fixture_host, request


def test_environment_beats_the_settings_file():
    with fixture_host(timers=False) as host:
        status, _, body = request("GET", f"{host.base_url}/settings")
    assert status == 200
    assert json.loads(body) == {
        "FIXTURE_GREETING": "from-env",
        "FIXTURE_TIMER": "*/1 * * * * *",
        "FIXTURE_ONLY_IN_FILE": "file-value",
    }


def test_stop_takes_back_the_settings_it_added(tmp_path, monkeypatch):
    monkeypatch.delenv("FIXTURE_ONLY_IN_FILE", raising=False)
    monkeypatch.setenv("FIXTURE_TIMER", "0 0 0 1 1 *")
    module_before = sys.modules.get("function_app")
    dev = DevHost(FIXTURE_APP, port=0, timers=False, queues=False).start()
    assert os.environ["FIXTURE_ONLY_IN_FILE"] == "file-value"
    assert dev.timers == {"tick": "0 0 0 1 1 *"}
    dev.stop()
    assert "FIXTURE_ONLY_IN_FILE" not in os.environ
    assert os.environ["FIXTURE_TIMER"] == "0 0 0 1 1 *"
    assert sys.modules.get("function_app") is module_before


def test_unresolved_schedule_setting_stops_startup(tmp_path, monkeypatch):
    monkeypatch.delenv("FIXTURE_TIMER", raising=False)
    # local.settings.json wins over the sample, and it lacks FIXTURE_TIMER.
    app = app_copy(tmp_path, settings={"FIXTURE_GREETING": "x"})
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
