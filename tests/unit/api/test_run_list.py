"""GET runs: every schedule's runs in one listing; finished ones by when they finished, those in flight by slot."""

import json
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest

from shared.api.run_list import RunList
from shared.api.http import handle
from shared.store import RunRecord
from shared.store.memory import MemoryRunStore

UTC = timezone.utc
NIGHT = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


@pytest.fixture
def runs():
    store = MemoryRunStore()
    for hour in range(24):  # one run ending each hour from 18:00, across six schedules
        status = "Failed" if hour % 5 == 0 else "TimedOut" if hour % 7 == 0 else "Completed"
        ended = NIGHT + timedelta(hours=hour)
        store.claim(RunRecord(f"sched-{hour % 6}", ended - timedelta(minutes=30), status, finished_at=ended))
    store.claim(RunRecord("sched-1", NIGHT + timedelta(days=1, hours=1), "Running"))
    store.claim(RunRecord("sched-2", NIGHT + timedelta(days=1, hours=2), "Claimed"))
    store.claim(RunRecord("sched-3", NIGHT + timedelta(days=1, hours=3), "Submitted"))
    return store


def get(runs, **params):
    req = func.HttpRequest("GET", "http://localhost/api/runs", params={k: str(v) for k, v in params.items()}, body=b"")
    response = handle(lambda: RunList(runs).list(req))
    return response.status_code, json.loads(response.get_body())


def every_page(runs, **params):
    found, token = [], None
    while True:
        status, page = get(runs, **params, **({"continuationToken": token} if token else {}))
        assert status == 200
        found += page["value"]
        token = page["continuationToken"]
        if not token:
            return found


def test_what_failed_last_night_is_one_call(runs):
    status, page = get(runs, status="failed", **{"from": "2026-11-21T18:00:00Z", "to": "2026-11-22T08:00:00Z"})
    assert status == 200 and page["continuationToken"] is None
    assert [(r["finishedAt"], r["status"]) for r in page["value"]] == [
        ("2026-11-22T08:00:00Z", "TimedOut"), ("2026-11-22T04:00:00Z", "Failed"), ("2026-11-22T01:00:00Z", "TimedOut"),
        ("2026-11-21T23:00:00Z", "Failed"), ("2026-11-21T18:00:00Z", "Failed")]


def test_finished_runs_page_newest_first_across_schedules(runs):
    found = every_page(runs, limit=5)
    assert len(found) == 24 and {r["scheduleId"] for r in found} == {f"sched-{i}" for i in range(6)}
    assert [r["finishedAt"] for r in found] == sorted((r["finishedAt"] for r in found), reverse=True)
    assert every_page(runs, status="finished") == found


def test_runs_in_flight_are_listed_by_slot(runs):
    found = every_page(runs, status="active", limit=1)
    assert [(r["scheduleId"], r["status"]) for r in found] == [("sched-3", "Submitted"), ("sched-1", "Running")]
    assert [r["status"] for r in every_page(runs, status="Claimed")] == ["Claimed"]


@pytest.mark.parametrize("params, field", [
    ({"status": "Broken"}, "status"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"}, "to"),
    ({"status": "active", "from": "2026-11-22T00:00:00Z"}, "from"),
    ({"continuationToken": "bm90LW91cnM"}, "continuationToken"),
    ({"status": "active", "continuationToken": "bm90LW91cnM"}, "continuationToken"),
    ({"limit": "0"}, "limit"),
])
def test_bad_parameters_are_400_naming_them(runs, params, field):
    status, body = get(runs, **params)
    assert status == 400 and body["error"]["details"][0]["field"] == field
