"""GET health: what an operator sees after a deployment, and what it never shows."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import azure.functions as func
import pytest

import shared.runtime
from shared.api.health import health
from shared.config import SETTING_NAMES
from shared.store import StoreUnavailable

SECRETISH = "AccountKey=c2VjcmV0LXZhbHVlLW5ldmVyLWVjaG9lZA=="
GOOD_ENV = {
    "AML_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AML_RESOURCE_GROUP": "rg-ml",
    "AML_WORKSPACE_NAME": "mlw-scoring",
    "AML_REGION": "westeurope",
    "TABLES_ENDPOINT": "https://stscheduler.table.core.windows.net",
    "QUEUES_ENDPOINT": "https://stscheduler.queue.core.windows.net",
    "AZURE_CLIENT_ID": "12345678-1234-1234-1234-123456789abc",
    "TICK_SCHEDULE": "0 * * * * *",
    "POLL_SCHEDULE": "30 * * * * *",
}


class Credential:
    def __init__(self, failing_scopes=(), hang: threading.Event | None = None):
        self.failing_scopes, self.hang, self.scopes = set(failing_scopes), hang, []

    def get_token(self, scope):
        self.scopes.append(scope)
        if self.hang is not None:
            self.hang.wait(10)
        if scope in self.failing_scopes:
            from azure.core.exceptions import ClientAuthenticationError

            raise ClientAuthenticationError("token endpoint said no")
        return SimpleNamespace(token="t", expires_on=time.time() + 3600)


NOW = datetime(2026, 11, 22, 10, 0, 45, tzinfo=timezone.utc)
LONG_UP = NOW - timedelta(hours=1)


class Store:
    def __init__(self, error=None):
        self.error = error
        self.meta = {"last-tick": "2026-11-22T10:00:01Z", "last-poll": "2026-11-22T09:59:31Z"}

    def list(self, **_):
        if self.error:
            raise self.error

    def get_meta(self, name):
        if self.error:
            raise self.error
        return self.meta.get(name)

    def list_runs(self, *_, **__):
        if self.error:
            raise self.error


@pytest.fixture
def env(monkeypatch):
    for name in (*SETTING_NAMES, "IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def runtime(env):
    fake = SimpleNamespace(credential=Credential(), schedules=Store(), runs=Store(), clock=lambda: NOW)
    env.setattr(shared.runtime, "get_runtime", lambda: fake)
    return fake


def call(**kwargs):
    kwargs.setdefault("started", LONG_UP)
    response = health(func.HttpRequest("GET", "http://localhost/api/health", body=b""), **kwargs)
    text = response.get_body().decode()
    assert SECRETISH not in text and "c2VjcmV0" not in text
    return response.status_code, json.loads(text)


def test_all_green(runtime):
    code, body = call()
    assert code == 200 and body["status"] == "healthy"
    assert set(body["checks"]) == {"settings", "armToken", "amlToken", "schedulesTable", "runsTable", "timers"}
    assert body["lastTick"] == {"at": "2026-11-22T10:00:01Z", "ageSeconds": 44.0, "periodSeconds": 60, "state": "ok"}
    assert body["lastPoll"]["state"] == "ok" and body["lastPoll"]["ageSeconds"] == 74.0
    assert body["checks"]["schedulesTable"]["auth"] == "identity"
    assert body["checks"]["armToken"]["credential"] == "Credential"
    assert runtime.credential.scopes == ["https://management.azure.com/.default"], "one token when scopes agree"


def test_missing_and_malformed_settings_are_named_without_their_values(env):
    env.delenv("AML_WORKSPACE_NAME")
    env.setenv("AML_SUBSCRIPTION_ID", SECRETISH)
    env.setenv("TABLES_ENDPOINT", "http://" + SECRETISH)
    code, body = call()
    assert code == 503 and body["status"] == "unhealthy"
    named = {p["setting"] for p in body["checks"]["settings"]["problems"]}
    assert {"AML_WORKSPACE_NAME", "AML_SUBSCRIPTION_ID", "TABLES_ENDPOINT"} <= named
    assert set(body["checks"]) == {"settings"}


def test_timer_settings_the_host_reads_are_checked_too(runtime, env):
    env.delenv("TICK_SCHEDULE")
    env.setenv("POLL_SCHEDULE", "every minute")
    code, body = call()
    assert code == 503
    problems = {p["setting"]: p["message"] for p in body["checks"]["settings"]["problems"]}
    assert "scheduler_tick" in problems["TICK_SCHEDULE"] and "NCRONTAB" in problems["POLL_SCHEDULE"]
    assert body["checks"]["schedulesTable"]["ok"], "the other checks still run"


def test_entra_mode_without_easy_auth_is_unhealthy_and_says_why(runtime, env):
    from shared.access import mode

    env.setattr(mode, "MODE", "entra")
    env.setenv("WEBSITE_AUTH_ENABLED", "False")
    code, body = call()
    problems = {p["setting"]: p["message"] for p in body["checks"]["settings"]["problems"]}
    assert code == 503 and "App Service Authentication is off" in problems["API_AUTH_MODE"]
    env.setenv("WEBSITE_AUTH_ENABLED", "True")
    env.setenv("API_AUTH_MODE", "entra")
    assert call()[0] == 200


def test_wrong_audience_shows_as_a_failed_aml_token(runtime, env):
    env.setenv("AML_TOKEN_SCOPE", "https://ml.azure.com/.default")
    runtime.credential.failing_scopes = {"https://ml.azure.com/.default"}
    code, body = call()
    assert code == 503
    aml = body["checks"]["amlToken"]
    assert aml == {"ok": False, "scope": "https://ml.azure.com/.default", "credential": "Credential",
                   "error": "ClientAuthenticationError", "hint": aml["hint"]}
    assert "AZURE_CLIENT_ID" in aml["hint"]
    assert body["checks"]["armToken"]["ok"]


def test_table_permission_error_names_the_missing_role(runtime):
    runtime.runs.error = StoreUnavailable("table service answered 403: This request is not authorized")
    code, body = call()
    assert code == 503
    runs = body["checks"]["runsTable"]
    assert runs["ok"] is False and runs["error"] == "StoreUnavailable"
    assert "Storage Table Data Contributor" in runs["hint"]
    assert body["checks"]["schedulesTable"]["ok"]


def test_a_hanging_probe_fails_by_its_deadline_instead_of_hanging_the_request(runtime):
    release = threading.Event()
    runtime.credential = Credential(hang=release)
    try:
        started = time.monotonic()
        code, body = call(deadline=0.3)
        assert time.monotonic() - started < 3
    finally:
        release.set()
    assert code == 503
    assert body["checks"]["armToken"]["error"] == "TimeoutError"
    assert body["checks"]["runsTable"]["ok"], "probes run in parallel"


def test_runtime_that_cannot_start_is_reported(env):
    def broken():
        raise ValueError(SECRETISH)

    env.setattr(shared.runtime, "get_runtime", broken)
    code, body = call()
    assert code == 503 and body["checks"]["runtime"] == {"ok": False, "error": "ValueError"}


def test_ambiguous_table_settings_are_warned_about(runtime, env):
    env.setenv("TABLES_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=x;" + SECRETISH)
    env.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    env.delenv("AZURE_CLIENT_ID")
    code, body = call()
    assert code == 200
    warned = {w["setting"] for w in body["checks"]["settings"]["warnings"]}
    assert warned == {"TABLES_ENDPOINT", "AZURE_CLIENT_ID"}
    assert body["checks"]["runsTable"]["auth"] == "connectionString"


def test_a_timer_that_missed_three_fire_times_makes_it_unhealthy(runtime):
    runtime.schedules.meta["last-poll"] = "2026-11-22T09:56:31Z"
    code, body = call()
    assert code == 503 and body["checks"]["timers"]["stale"] == ["outcome_poll"]
    assert body["lastPoll"]["state"] == "stale" and body["lastTick"]["state"] == "ok"


def test_a_fresh_deployment_is_not_unhealthy_before_its_timers_could_run(runtime):
    runtime.schedules.meta.clear()
    code, body = call(started=NOW - timedelta(minutes=1))
    assert code == 200 and body["lastTick"]["state"] == body["lastPoll"]["state"] == "notYet"
    code, body = call()
    assert code == 503 and body["lastTick"] == {"at": None, "ageSeconds": None, "periodSeconds": 60, "state": "stale"}


def test_a_broken_timer_setting_is_not_judged_twice(runtime, env):
    env.setenv("POLL_SCHEDULE", "every minute")
    code, body = call()
    assert code == 503 and body["lastPoll"] is None and body["checks"]["timers"]["ok"]
