"""Every write to a schedule names its caller: createdBy/updatedBy, requestedBy on manual runs, and the history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.access.guard import acting_as
from shared.access.principal import FUNCTION_KEY_CALLER, Principal
from shared.api.audit import changes
from tests.unit.api.test_schedules_api import Api, schedule_doc

ALICE = Principal("8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", "alice@contoso.com", frozenset({"Scheduler.Editor"}), "entra")
BOB = Principal("0c1b2a39-4857-4d6c-8b9a-0f1e2d3c4b5a", "bob@contoso.com", frozenset({"Scheduler.Operator"}), "entra")


@pytest.fixture
def api():
    return Api()


def as_(principal, api, *args, **kwargs):
    with acting_as(principal):
        return api(*args, **kwargs)


def history(api, schedule_id="nightly", **params):
    status, body, _ = api("history", "GET", {"id": schedule_id}, params=params)
    assert status == 200, body
    return body


def test_create_two_changes_and_a_disable_newest_first_with_who_and_what(api):
    as_(ALICE, api, "create", "POST", body=schedule_doc(description="nightly scoring"))
    api.now += timedelta(minutes=1)
    as_(ALICE, api, "patch", "PATCH", {"id": "nightly"}, body={"trigger": {"cron": "0 45 2 * * *"}})
    api.now += timedelta(minutes=1)
    as_(ALICE, api, "patch", "PATCH", {"id": "nightly"},
        body={"target": {"parameterAssignments": {"day": "{{slot}}", "token": "s3cr3t-value"}}})
    api.now += timedelta(minutes=1)
    status, disabled, _ = as_(BOB, api, "disable", "POST", {"id": "nightly"})
    assert status == 200
    entries = history(api)["value"]
    assert [e["action"] for e in entries] == ["disable", "update", "update", "create"]
    assert [e["actor"]["name"] for e in entries] == ["bob@contoso.com"] + ["alice@contoso.com"] * 3
    assert entries[0]["actor"]["id"] == BOB.id and entries[0]["at"] == "2026-11-21T12:03:00Z"
    assert entries[0]["changes"] == [{"field": "enabled", "before": True, "after": False}]
    assert entries[2]["changes"] == [{"field": "trigger.cron", "before": "0 30 2 * * *", "after": "0 45 2 * * *"}]
    assert entries[1]["changes"] == [{"field": "target"}]  # named, never copied
    assert "s3cr3t" not in str(entries)
    assert {"field": "description", "after": "nightly scoring"} in entries[3]["changes"]
    assert disabled["createdBy"] == ALICE.actor() and disabled["updatedBy"] == BOB.actor()


def test_a_refused_write_leaves_no_entry(api):
    as_(ALICE, api, "create", "POST", body=schedule_doc())
    assert as_(ALICE, api, "patch", "PATCH", {"id": "nightly"}, body={"trigger": {"cron": "nope"}})[0] == 400
    assert as_(ALICE, api, "disable", "POST", {"id": "nightly"}, headers={"If-Match": 'W/"stale"'})[0] == 412
    assert as_(ALICE, api, "create", "POST", body=schedule_doc())[0] == 409
    assert [e["action"] for e in history(api)["value"]] == ["create"]


def test_runs_started_by_hand_name_who_asked(api):
    as_(ALICE, api, "create", "POST", body=schedule_doc())
    api.now += timedelta(seconds=1)
    status, run, _ = as_(BOB, api, "trigger", "POST", {"id": "nightly"})
    assert status == 201 and run["requestedBy"] == BOB.actor()
    api.now += timedelta(seconds=1)
    status, result, _ = as_(FUNCTION_KEY_CALLER, api, "backfill", "POST", {"id": "nightly"},
                            body={"from": "2026-11-19T00:00:00Z", "to": "2026-11-20T12:00:00Z"})
    assert status == 202
    queued = api.runs.get("nightly", api.runs.list_runs("nightly", status="Claimed").items[0].slot, "backfill")
    assert queued.requested_by == {"id": None, "name": "function key"}
    backfill, trigger = history(api)["value"][:2]
    assert backfill["action"] == "backfill" and backfill["actor"] == {"id": None, "name": "function key"}
    assert backfill["details"] == {"from": "2026-11-19T00:00:00Z", "to": "2026-11-20T12:00:00Z",
                                   "queued": len(result["queued"]), "existing": 0}
    assert trigger["action"] == "trigger" and trigger["details"]["slotKey"] == run["slotKey"]


def test_history_outlives_the_schedule_and_pages(api):
    as_(ALICE, api, "create", "POST", body=schedule_doc())
    for _ in range(3):
        api.now += timedelta(seconds=1)
        as_(BOB, api, "enable", "POST", {"id": "nightly"})
    api.now += timedelta(seconds=1)
    assert as_(ALICE, api, "delete", "DELETE", {"id": "nightly"})[0] == 204
    first = history(api, limit="3")
    rest = history(api, limit="3", continuationToken=first["continuationToken"])
    actions = [e["action"] for e in first["value"] + rest["value"]]
    assert actions == ["delete", "enable", "enable", "enable", "create"] and rest["continuationToken"] is None
    assert api("history", "GET", {"id": "never-was"})[0] == 404


def test_changes_keep_values_of_small_scalars_only():
    long = "x" * 201
    found = changes({"id": "a", "description": "short", "enabled": True, "trigger": {"cron": "* * * * *"},
                     "policy": {"retry": {"maxAttempts": 3}}},
                    {"id": "a", "description": long, "enabled": True,
                     "trigger": {"cron": "* * * * *", "timeZone": "Europe/Berlin"},
                     "policy": {"retry": {"maxAttempts": 5}}, "target": {"kind": "job"}})
    assert found == ({"field": "description"}, {"field": "policy.retry"}, {"field": "target"},
                     {"field": "trigger.timeZone", "after": "Europe/Berlin"})
