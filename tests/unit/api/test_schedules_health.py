"""Schedule answers carry their run health, read-only; GET schedules?health= filters across pages."""

from datetime import timedelta

from shared.engine.summaries import SummaryKeeper
from shared.store import RunRecord
from tests.unit.api.test_schedules_api import NOW, Api, schedule_doc

EVERY_MINUTE = {"cron": "0 * * * * *"}


def api_with_runs():
    api = Api()
    keeper = SummaryKeeper(api.schedules)
    return api, keeper


def finish(api, keeper, schedule_id, minute, status):
    """A run of `schedule_id` that ended with `status`, told to the summary as the engine would."""
    slot = NOW - timedelta(hours=1) + timedelta(minutes=minute)
    run = api.runs.claim(RunRecord(schedule_id, slot, status, finished_at=slot + timedelta(minutes=5),
                                   aml_run_id=f"aml-{schedule_id}-{minute}"))
    keeper.run_finished(run)
    return run


def test_a_schedule_shows_its_last_run_success_rate_and_health():
    api, keeper = api_with_runs()
    status, created, _ = api("create", "POST", body=schedule_doc(trigger=EVERY_MINUTE))
    assert status == 201 and (created["health"], created["lastRun"], created["successRate"]) == ("ok", None, None)
    finish(api, keeper, "nightly", 1, "Completed")
    last = finish(api, keeper, "nightly", 2, "Failed")
    status, got, _ = api("get", "GET", {"id": "nightly"})
    assert got["health"] == "failing" and got["failedInARow"] == 1 and got["consecutiveFailures"] == 0
    assert got["lastRun"] == {"runKey": last.run_key, "slot": "2026-11-21T11:02:00Z", "status": "Failed",
                              "finishedAt": "2026-11-21T11:07:00Z", "amlRunId": "aml-nightly-2"}
    assert (got["successRate"], got["recentRuns"]) == (0.5, 2)
    status, disabled, _ = api("disable", "POST", {"id": "nightly"})
    assert disabled["health"] == "disabled" and disabled["lastRun"] == got["lastRun"]


def test_read_only_health_fields_sent_back_are_ignored():
    api, keeper = api_with_runs()
    api("create", "POST", body=schedule_doc(trigger=EVERY_MINUTE))
    finish(api, keeper, "nightly", 1, "Failed")
    _, got, _ = api("get", "GET", {"id": "nightly"})
    sent = {**got, "description": "v2", "health": "ok", "failedInARow": 0, "lastRun": None}
    status, body, _ = api("put", "PUT", {"id": "nightly"}, body=sent)
    assert status == 200 and body["description"] == "v2"
    assert (body["health"], body["failedInARow"], body["lastRun"]) == ("failing", 1, got["lastRun"])


def test_a_health_filter_pages_through_every_match_once():
    api, keeper = api_with_runs()
    failing = set()
    for i in range(17):
        api("create", "POST", body=schedule_doc(f"s{i:02d}", trigger=EVERY_MINUTE))
        if i % 3 == 0:
            finish(api, keeper, f"s{i:02d}", 1, "SubmitFailed")
            failing.add(f"s{i:02d}")
        else:
            finish(api, keeper, f"s{i:02d}", 1, "Completed")
    api("disable", "POST", {"id": "s01"})
    seen, token, pages = [], None, 0
    while True:
        status, page, _ = api("list", "GET", params={"health": "failing,disabled", "limit": "2",
                                                     **({"continuationToken": token} if token else {})})
        assert status == 200 and len(page["value"]) <= 2
        seen += [s["id"] for s in page["value"]]
        token, pages = page["continuationToken"], pages + 1
        if not token:
            break
    assert sorted(seen) == sorted(failing | {"s01"}) and len(seen) == len(set(seen))
    status, page, _ = api("list", "GET", params={"health": "failing", "limit": "500"})
    assert sorted(s["id"] for s in page["value"]) == sorted(failing)


def test_an_unknown_health_value_is_400_naming_the_parameter():
    api, _ = api_with_runs()
    for bad in ("sick", "", "late,,ok"):
        status, body, _ = api("list", "GET", params={"health": bad})
        assert status == 400 and body["error"]["details"][0]["field"] == "health"
