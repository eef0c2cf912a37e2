"""Through the dev host: import the local workspace's own AML schedule, twice.

The local stack's AML emulator holds one AML v2 schedule (devtools.aml_emulator.local_seeds):
nightly-batch-score, Cron "0 2 * * *" in W. Europe Standard Time, invoking batch endpoint
score-batch.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

SEEDED = "nightly-batch-score"


def test_the_seeded_aml_schedule_is_imported_once_disabled_and_then_reported_existing(api):
    status, first = api("POST", "schedules/import")
    assert status == 200, first
    assert {"name": SEEDED, "scheduleId": SEEDED} in first["imported"]
    assert all(item["name"] != SEEDED for item in first["existing"] + first["skipped"])

    status, schedule = api("GET", f"schedules/{SEEDED}")
    assert status == 200
    assert schedule["enabled"] is False
    assert schedule["description"].startswith(f"Imported from AML schedule '{SEEDED}'")
    trigger = schedule["trigger"]
    assert (trigger["cron"], trigger["timeZone"], trigger["startTime"]) == (
        "0 2 * * *", "W. Europe Standard Time", "2025-12-31T23:00:00Z")
    assert schedule["target"] == {
        "kind": "batchEndpoint", "endpointName": "score-batch", "experimentName": SEEDED,
        "inputs": {"input_data": {"type": "uri_folder",
                                  "uri": "azureml://datastores/workspaceblobstore/paths/scoring/input/"}},
        "outputs": {"score": {"type": "uri_folder",
                              "uri": "azureml://datastores/workspaceblobstore/paths/scoring/output/"}}}
    status, preview = api("GET", f"schedules/{SEEDED}/preview?count=2&from=2026-07-01T00:30:00Z")
    assert status == 200
    assert [(f["utc"], f["local"]) for f in preview["value"]] == [
        ("2026-07-02T00:00:00Z", "2026-07-02T02:00:00+02:00"), ("2026-07-03T00:00:00Z", "2026-07-03T02:00:00+02:00")]

    status, second = api("POST", "schedules/import", {"names": [SEEDED]})
    assert status == 200
    assert second == {"imported": [], "existing": [{"name": SEEDED, "scheduleId": SEEDED}], "skipped": []}
    status, listed = api("GET", "schedules?limit=500")
    assert [s["id"] for s in listed["value"]].count(SEEDED) == 1
    status, again = api("GET", f"schedules/{SEEDED}")
    assert again["etag"] == schedule["etag"]  # untouched by the second import

    # Disabled: the timers (every two seconds here) leave it alone.
    time.sleep(5)
    status, runs = api("GET", f"schedules/{SEEDED}/runs")
    assert status == 200 and runs["value"] == []
