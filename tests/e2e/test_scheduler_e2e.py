"""Through the dev host: create a schedule over HTTP, let the timers fire, see the outcome."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
FAILING_PIPELINE_ID = "22222222-3333-4444-5555-666666666666"


def schedule(schedule_id, pipeline_id=PIPELINE_ID, cron="*/3 * * * * *"):
    return {
        "id": schedule_id,
        "trigger": {"cron": cron, "timeZone": "America/New_York"},
        "target": {"kind": "pipeline", "pipelineId": pipeline_id, "experimentName": "e2e_scoring",
                   "parameterAssignments": {"day": "{{slot_local:%Y-%m-%d}}", "key": "{{run_key}}"}},
    }


def wait_for_run(api, schedule_id, status, timeout=60):
    deadline = time.monotonic() + timeout
    runs = []
    while time.monotonic() < deadline:
        code, body = api("GET", f"schedules/{schedule_id}/runs")
        assert code == 200
        runs = body["value"]
        match = [r for r in runs if r["status"] == status]
        if match:
            return match[0], runs
        time.sleep(0.5)
    raise AssertionError(f"no {status} run for {schedule_id} within {timeout}s; saw {[r['status'] for r in runs]}")


def test_health_reports_every_check_green_without_echoing_values(api, stack):
    code, body = api("GET", "health")
    assert code == 200, body
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"settings", "armToken", "amlToken", "schedulesTable", "runsTable", "timers"}
    assert body["lastTick"]["state"] in ("ok", "notYet") and body["lastPoll"]["periodSeconds"]
    text = json.dumps(body)
    assert stack.identity_header not in text and "AccountKey" not in text and stack.aml_url not in text


def test_schedule_fires_and_run_reaches_completed(api, stack):
    code, created = api("POST", "schedules", schedule("e2e-completes"))
    assert code == 201, created
    run, runs = wait_for_run(api, "e2e-completes", "Completed")
    assert run["amlRunId"] and run["portalUrl"].startswith("https://ml.azure.com/runs/")
    assert run["parameters"]["key"] == run["runKey"]
    assert run["submittedAt"] and run["finishedAt"] >= run["submittedAt"]
    slots = [r["slot"] for r in runs]
    assert slots == sorted(slots, reverse=True), "runs are listed newest first"
    with urllib.request.urlopen(f"{stack.aml_url}/_emulator/runs") as response:
        aml_runs = json.loads(response.read())
    keys = [r["tags"].get("scheduler_run_key") for r in aml_runs]
    assert keys.count(run["runKey"]) == 1


def wait_for_health(api, schedule_id, health, timeout=30):
    """The summary follows the run's record (written right after it, by the outcome listener)."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = api("GET", f"schedules/{schedule_id}")
        assert code == 200
        if body["health"] == health or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_failed_pipeline_run_is_recorded_with_amls_error(api):
    assert api("POST", "schedules", schedule("e2e-fails", FAILING_PIPELINE_ID))[0] == 201
    run, _ = wait_for_run(api, "e2e-fails", "Failed")
    assert run["error"]["message"]
    body = wait_for_health(api, "e2e-fails", "failing")
    assert body["health"] == "failing" and body["failedInARow"] >= 1 and body["lastRun"]["status"] == "Failed"
    code, listed = api("GET", "schedules?health=failing&limit=500")
    assert code == 200 and "e2e-fails" in [s["id"] for s in listed["value"]]
    code, failed = api("GET", "runs?status=failed&limit=500")
    assert code == 200 and run["runKey"] in [r["runKey"] for r in failed["value"]]


def test_preview_and_delete(api):
    assert api("PUT", "schedules/e2e-preview", schedule("e2e-preview", cron="0 30 2 * * *"))[0] == 201
    code, body = api("GET", "schedules/e2e-preview/preview?count=3&from=2026-03-07T12:00:00Z")
    assert code == 200
    assert [f["utc"] for f in body["value"]] == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    assert api("DELETE", "schedules/e2e-preview")[0] == 204
    assert api("GET", "schedules/e2e-preview")[0] == 404


@pytest.mark.parametrize("raw, field", [
    (b"{oops", "body"),
    (json.dumps({**schedule("e2e-bad"), "colour": "red"}).encode(), "colour"),
    (json.dumps(schedule("e2e-bad", cron="99 * * * *")).encode(), "trigger.cron"),
    (json.dumps({**schedule("e2e-bad"), "trigger": {"cron": "* * * * *", "timeZone": "Atlantis/Capital"}}).encode(),
     "trigger.timeZone"),
    (json.dumps(schedule("bad/id")).encode(), "id"),
    (json.dumps(schedule("bad'id")).encode(), "id"),
])
def test_bad_input_is_rejected_with_the_field_named_and_nothing_stored(api, raw, field):
    code, body = api("POST", "schedules", raw=raw)
    assert code == 400
    assert body["error"]["details"][0]["field"] == field
    code, listed = api("GET", "schedules?limit=500")
    assert all(not s["id"].startswith(("e2e-bad", "bad")) for s in listed["value"])


def test_ids_with_slash_or_quote_in_the_url_are_400(api):
    for path in ("schedules/bad'id", "schedules/bad%27id", "schedules/bad%2Fid"):
        code, body = api("GET", path)
        assert code == 400, path
        assert body["error"]["details"][0]["field"] == "id"


def test_manual_trigger_backfill_and_disable_through_the_dev_host(api):
    doc = schedule("e2e-manual", cron="0 0 3 * * *")
    assert api("POST", "schedules", doc)[0] == 201
    code, run = api("POST", "schedules/e2e-manual/trigger", {"parameterAssignments": {"day": "2026-01-01"}})
    assert code == 201 and run["trigger"] == "manual" and run["status"] == "Submitted"
    assert run["parameters"]["day"] == "2026-01-01"
    code, body = api("POST", "schedules/e2e-manual/backfill", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T23:00:00Z"})
    assert code == 202 and body["count"] == 3
    assert api("POST", "schedules/e2e-manual/backfill", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T23:00:00Z"})[1]["count"] == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = api("GET", "schedules/e2e-manual/runs?limit=50")[1]["value"]
        backfilled = [r for r in runs if r["trigger"] == "backfill"]
        if len(backfilled) == 3 and all(r["amlRunId"] for r in backfilled):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"backfill not submitted: {[(r['slotKey'], r['status']) for r in runs]}")
    code, body = api("POST", "schedules/e2e-manual/disable")
    assert code == 200 and body["enabled"] is False
    code, body = api("POST", "schedules/e2e-manual/enable")
    assert code == 200 and body["enabled"] is True
    assert api("POST", "schedules/e2e-manual/backfill", {"from": "soon"})[0] == 400
