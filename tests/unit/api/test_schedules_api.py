"""Schedule handlers over the memory stores: validation, ETags, nothing written on 4xx."""

import json
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest

from shared.api.http import handle
from shared.api.schedules import ScheduleHandlers
from shared.engine import Engine
from shared.queue import MemoryQueue
from shared.store import RunRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml

UTC = timezone.utc
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


def schedule_doc(schedule_id="nightly", **overrides):
    doc = {"id": schedule_id, "trigger": {"cron": "0 30 2 * * *", "timeZone": "Europe/Berlin"},
           "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "batch_scoring",
                      "parameterAssignments": {"day": "{{slot_local:%Y-%m-%d}}"}}}
    doc.update(overrides)
    return doc


class Api:
    def __init__(self, schedules=None, **options):
        self.schedules = schedules or MemoryScheduleStore()
        self.runs = MemoryRunStore()
        self.aml = RecordingAml()
        self.now = NOW
        self.handlers = ScheduleHandlers(self.schedules, self.runs, lambda: self.now,
                                         Engine(self.schedules, self.runs, self.aml, MemoryQueue()), **options)

    def __call__(self, operation, method, route_params=None, body=None, params=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        req = func.HttpRequest(method, "http://localhost/api/x", headers=hdrs, params=params or {},
                               route_params=route_params or {}, body=data)
        resp = handle(lambda: getattr(self.handlers, operation)(req))
        payload = json.loads(resp.get_body()) if resp.get_body() else None
        return resp.status_code, payload, resp.headers


@pytest.fixture
def api():
    return Api()


def test_create_read_and_list(api):
    status, body, headers = api("create", "POST", body=schedule_doc())
    assert status == 201 and headers["Location"] == "/api/schedules/nightly"
    assert body["nextFireTime"] == "2026-11-22T01:30:00Z" and body["etag"] == headers["ETag"]
    status, got, _ = api("get", "GET", {"id": "nightly"})
    assert status == 200 and got["trigger"]["timeZone"] == "Europe/Berlin"
    status, listed, _ = api("list", "GET")
    assert [s["id"] for s in listed["value"]] == ["nightly"]


def test_create_twice_is_a_conflict(api):
    api("create", "POST", body=schedule_doc())
    status, body, _ = api("create", "POST", body=schedule_doc())
    assert status == 409 and body["error"]["details"][0]["field"] == "id"


@pytest.mark.parametrize("raw, field", [
    (b"{not json", "body"),
    (b"", "body"),
    (json.dumps(schedule_doc(unknown=1)).encode(), "unknown"),
    (json.dumps(schedule_doc(trigger={"cron": "bad cron"})).encode(), "trigger.cron"),
    (json.dumps(schedule_doc(trigger={"cron": "* * * * *", "timeZone": "Nowhere/Land"})).encode(), "trigger.timeZone"),
    (json.dumps(schedule_doc("a/b")).encode(), "id"),
    (json.dumps(schedule_doc("it's")).encode(), "id"),
    (json.dumps([1, 2]).encode(), ""),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, raw, field):
    status, body, _ = api("create", "POST", raw=raw)
    assert status == 400
    assert body["error"]["code"] == "ValidationFailed"
    if field:
        assert body["error"]["details"][0]["field"] == field
    assert api.schedules.list().items == []


def test_oversized_body_is_413(api):
    doc = schedule_doc(description="x" * 70_000)
    status, body, _ = api("create", "POST", body=doc)
    assert status == 413 and body["error"]["code"] == "PayloadTooLarge"


def test_route_id_with_unsafe_characters_is_400(api):
    for bad in ("a'b", "A", "a/b", "-x", ""):
        status, body, _ = api("get", "GET", {"id": bad})
        assert status == 400 and body["error"]["details"][0]["field"] == "id"


def test_put_creates_then_replaces_with_if_match(api):
    status, created, _ = api("put", "PUT", {"id": "nightly"}, body=schedule_doc())
    assert status == 201
    changed = schedule_doc(description="v2")
    status, body, _ = api("put", "PUT", {"id": "nightly"}, body=changed, headers={"If-Match": '"stale"'})
    assert status == 412
    status, body, _ = api("put", "PUT", {"id": "nightly"}, body=changed, headers={"If-Match": created["etag"]})
    assert status == 200 and body["description"] == "v2" and body["etag"] != created["etag"]
    assert body["nextFireTime"] == created["nextFireTime"]  # trigger unchanged: cursor kept


def test_patch_merges_and_revalidates(api):
    api("create", "POST", body=schedule_doc())
    status, body, _ = api("patch", "PATCH", {"id": "nightly"}, body={"trigger": {"cron": "0 0 6 * * *"}})
    assert status == 200 and body["trigger"]["cron"] == "0 0 6 * * *"
    assert body["trigger"]["timeZone"] == "Europe/Berlin"
    assert body["nextFireTime"] == "2026-11-22T05:00:00Z"  # new trigger: cursor recomputed
    status, body, _ = api("patch", "PATCH", {"id": "nightly"}, body={"policy": {"misfire": "sometimes"}})
    assert status == 400 and body["error"]["details"][0]["field"] == "policy.misfire"
    assert api.schedules.get("nightly").definition.policy.misfire == "latest"


def test_delete_honours_if_match_and_404s_after(api):
    _, created, _ = api("create", "POST", body=schedule_doc())
    assert api("delete", "DELETE", {"id": "nightly"}, headers={"If-Match": '"old"'})[0] == 412
    assert api("delete", "DELETE", {"id": "nightly"}, headers={"If-Match": created["etag"]})[0] == 204
    assert api("delete", "DELETE", {"id": "nightly"})[0] == 404
    assert api("get", "GET", {"id": "nightly"})[0] == 404


def test_runs_newest_first_with_status_filter_and_paging(api):
    api("create", "POST", body=schedule_doc())
    for i in range(5):
        api.runs.claim(RunRecord("nightly", NOW - timedelta(days=i), "Completed" if i % 2 else "Failed"))
    status, body, _ = api("runs", "GET", {"id": "nightly"}, params={"limit": "2"})
    assert status == 200 and len(body["value"]) == 2
    assert body["value"][0]["slot"] > body["value"][1]["slot"]
    _, rest, _ = api("runs", "GET", {"id": "nightly"}, params={"limit": "10", "continuationToken": body["continuationToken"]})
    assert len(rest["value"]) == 3
    _, failed, _ = api("runs", "GET", {"id": "nightly"}, params={"status": "Failed"})
    assert {r["status"] for r in failed["value"]} == {"Failed"} and len(failed["value"]) == 3
    assert api("runs", "GET", {"id": "nightly"}, params={"status": "Bogus"})[0] == 400
    assert api("runs", "GET", {"id": "nightly"}, params={"continuationToken": "!!"})[0] == 400
    assert api("runs", "GET", {"id": "ghost"})[0] == 404


def test_preview_lists_next_fire_times_in_utc_and_local(api):
    api("create", "POST", body=schedule_doc())
    status, body, _ = api("preview", "GET", {"id": "nightly"}, params={"count": "3", "from": "2026-03-28T00:00:00Z"})
    assert status == 200
    assert [f["utc"] for f in body["value"]] == ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
    assert body["value"][1]["local"] == "2026-03-29T03:00:00+02:00"
    assert api("preview", "GET", {"id": "nightly"}, params={"count": "0"})[0] == 400
    assert api("preview", "GET", {"id": "nightly"}, params={"from": "soon"})[0] == 400


def test_disable_then_enable_marks_the_resume_time(api):
    api("create", "POST", body=schedule_doc())
    status, body, _ = api("disable", "POST", {"id": "nightly"})
    assert status == 200 and body["enabled"] is False
    api.now = NOW + timedelta(days=2)
    status, body, _ = api("enable", "POST", {"id": "nightly"})
    assert status == 200 and body["enabled"] is True
    stored = api.schedules.get("nightly")
    assert stored.resumed_at == api.now
    assert stored.next_fire_time == datetime(2026, 11, 22, 1, 30, tzinfo=UTC)  # cursor kept: misfire applies
    assert api("enable", "POST", {"id": "ghost"})[0] == 404


def test_trigger_runs_now_with_overrides(api):
    api("create", "POST", body=schedule_doc())
    status, body, _ = api("trigger", "POST", {"id": "nightly"}, body={"parameterAssignments": {"day": "2026-01-01"}})
    assert status == 201 and body["trigger"] == "manual" and body["status"] == "Submitted"
    assert api.aml.submissions[0]["parameter_assignments"] == {"day": "2026-01-01"}
    # The same instant again is a second run under Allow, in a slot of its own.
    status, again, _ = api("trigger", "POST", {"id": "nightly"})
    assert status == 201 and again["slotKey"] != body["slotKey"] and again["status"] == "Submitted"
    status, body, _ = api("trigger", "POST", {"id": "nightly"}, body={"parameterAssignments": {"d": "{{nope}}"}})
    assert status == 400 and body["error"]["details"][0]["field"] == "parameterAssignments.d"
    assert api("trigger", "POST", {"id": "nightly"}, body={"colour": 1})[0] == 400
    assert len(api.aml.submissions) == 2


def test_trigger_refused_under_forbid_with_active_run(api):
    api("create", "POST", body=schedule_doc(policy={"concurrency": "Forbid"}))
    assert api("trigger", "POST", {"id": "nightly"})[0] == 201
    api.now = NOW + timedelta(seconds=5)
    status, body, _ = api("trigger", "POST", {"id": "nightly"})
    assert status == 409 and "Forbid" in body["error"]["message"]


def test_backfill_queues_slots_idempotently_and_validates(api):
    api("create", "POST", body=schedule_doc())
    window = {"from": "2026-11-15T00:00:00Z", "to": "2026-11-18T00:00:00Z"}
    status, body, _ = api("backfill", "POST", {"id": "nightly"}, body=window)
    assert status == 202 and body["count"] == 3 and body["queued"][0] == "20261115T013000Z"
    status, body, _ = api("backfill", "POST", {"id": "nightly"}, body=window)
    assert status == 202 and body["count"] == 0 and len(body["existing"]) == 3
    for bad, field in (({"from": "2026-11-15T00:00:00Z"}, "to"), ({**window, "x": 1}, "x"),
                       ({"from": "2026-11-18T00:00:00Z", "to": "2026-11-15T00:00:00Z"}, "to"),
                       ({"from": "2020-01-01T00:00:00Z", "to": "2026-11-18T00:00:00Z"}, "to"),
                       ({"from": "2026-11-15T00:00:00Z", "to": "2026-12-30T00:00:00Z"}, "to"),
                       ({"from": "soon", "to": "2026-11-18T00:00:00Z"}, "from")):
        status, body, _ = api("backfill", "POST", {"id": "nightly"}, body=bad)
        assert status == 400 and body["error"]["details"][0]["field"] == field, bad
    assert len(api.runs.list_runs("nightly", limit=100).items) == 3


def test_jitter_only_edit_keeps_the_cursor(api):
    _, created, _ = api("create", "POST", body=schedule_doc())
    status, body, _ = api("patch", "PATCH", {"id": "nightly"}, body={"trigger": {"jitterSeconds": 120}})
    assert status == 200 and body["trigger"]["jitterSeconds"] == 120
    assert body["nextFireTime"] == created["nextFireTime"]


def test_recurrence_schedule_with_windows_zone_previews_in_local_time(api):
    doc = schedule_doc("weekly", trigger={"recurrence": {"frequency": "Week", "interval": 1, "weekDays": ["Monday"],
                                                         "hours": [6], "minutes": [0]},
                                          "timeZone": "Pacific Standard Time"})
    status, body, _ = api("create", "POST", body=doc)
    assert status == 201, body
    status, body, _ = api("preview", "GET", {"id": "weekly"}, params={"count": "2", "from": "2026-11-21T00:00:00Z"})
    assert [f["local"] for f in body["value"]] == ["2026-11-23T06:00:00-08:00", "2026-11-30T06:00:00-08:00"]
    bad = schedule_doc("weekly2", trigger={"recurrence": {"frequency": "Week", "interval": 1, "hours": [25]}})
    status, body, _ = api("create", "POST", body=bad)
    assert status == 400 and body["error"]["details"][0]["field"].startswith("trigger.recurrence.hours")


def test_six_field_cron_with_both_day_fields_previews_only_days_matching_both(api):
    # An Azure Functions timer schedule copied as is: noon on Friday the 13th (NCRONTAB).
    doc = schedule_doc("friday13", trigger={"cron": "0 0 12 13 * Friday", "timeZone": "UTC"})
    status, body, _ = api("create", "POST", body=doc)
    assert status == 201, body
    assert body["trigger"]["cron"] == "0 0 12 13 * FRI"  # names are stored abbreviated
    status, body, _ = api("preview", "GET", {"id": "friday13"}, params={"count": "3", "from": "2026-01-01T00:00:00Z"})
    fires = [datetime.fromisoformat(f["utc"].replace("Z", "+00:00")) for f in body["value"]]
    assert len(fires) == 3 and all(f.day == 13 and f.strftime("%A") == "Friday" for f in fires)
    # The 5-field form is classic cron: every 13th and every Friday.
    doc = schedule_doc("either", trigger={"cron": "0 12 13 * Friday", "timeZone": "UTC"})
    assert api("create", "POST", body=doc)[0] == 201
    status, body, _ = api("preview", "GET", {"id": "either"}, params={"count": "3", "from": "2026-01-01T00:00:00Z"})
    assert [f["utc"] for f in body["value"]] == ["2026-01-02T12:00:00Z", "2026-01-09T12:00:00Z", "2026-01-13T12:00:00Z"]


def test_whole_numbers_written_as_decimals_are_integers_as_json_schema_says(api):
    doc = schedule_doc(trigger={"recurrence": {"frequency": "Day", "interval": 2.0, "hours": [6.0]}},
                       policy={"maxCatchup": 5.0})
    status, body, _ = api("create", "POST", body=doc)
    assert status == 201, body
    assert body["trigger"]["recurrence"] == {"frequency": "Day", "interval": 2, "hours": [6]}
    assert body["policy"]["maxCatchup"] == 5
    assert api("create", "POST", body=schedule_doc("other", policy={"maxCatchup": 5.5}))[0] == 400
