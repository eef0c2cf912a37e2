"""POST schedules/import against the AML emulator (AML's v2 schedules on ARM) and Azurite.

The conversion itself has its unit tests (tests/unit/test_importing.py); these check the
handler: reading every page or the named schedules, creating each once, disabled, telling
imported, existing and skipped apart, refusing bad bodies and AML failures without writing.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import azure.functions as func
import pytest

from devtools.aml_emulator.local_seeds import local_schedule_properties
from shared.api.http import handle
from shared.api.schedule_import import ScheduleImport
from shared.config import load_settings
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord

UTC = timezone.utc
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

DAILY_JOB = {
    "displayName": "Daily retrain", "isEnabled": False,
    "trigger": {"triggerType": "Recurrence", "frequency": "Day", "interval": 1, "timeZone": "Pacific Standard Time",
                "startTime": "2026-01-01T00:00:00", "schedule": {"hours": [6], "minutes": [30]}},
    "action": {"actionType": "CreateJob", "jobDefinition": {
        "jobType": "Pipeline", "experimentName": "retrain", "status": "NotStarted", "isArchived": False,
        "settings": {"default_compute": "azureml:cpu-cluster"}, "jobs": {}}},
}
MONITOR = {
    "isEnabled": True, "trigger": {"triggerType": "Cron", "expression": "0 3 * * *"},
    "action": {"actionType": "CreateMonitor", "monitorDefinition": {"computeConfiguration": {}}},
}
MONTHLY_CRON = {
    "isEnabled": True, "trigger": {"triggerType": "Cron", "expression": "0 2 1 * *"},
    "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Command", "command": "echo"}},
}


@pytest.fixture
def workspace(aml_emulator):
    """The emulator's schedules, emptied before and after (they outlive its reset)."""
    def clear():
        for schedule in aml_emulator.schedules():
            aml_emulator.remove_schedule(schedule["name"])
    clear()
    page_size = aml_emulator.arm_page_size
    yield aml_emulator
    aml_emulator.arm_page_size = page_size
    clear()


@pytest.fixture
def runtime(app_env, workspace):
    return build_runtime(load_settings(app_env))


class Importer:
    def __init__(self, runtime):
        self.runtime = runtime
        self.handler = ScheduleImport(runtime.schedules, lambda: runtime.aml.schedules, lambda: NOW,
                                      runtime.settings.workspace_path)

    def __call__(self, body=None, *, raw: bytes | None = None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        headers = {"Content-Type": content_type} if content_type else {}
        req = func.HttpRequest("POST", "http://localhost/api/schedules/import", headers=headers, body=data)
        response = handle(lambda: self.handler.run(req))
        return response.status_code, json.loads(response.get_body())

    def stored(self) -> dict:
        """Every schedule of the store: id -> (etag, document)."""
        page = self.runtime.schedules.list(limit=500)
        return {r.id: (r.etag, r.to_api()) for r in page.items}


@pytest.fixture
def importer(runtime):
    return Importer(runtime)


def seed_workspace(emulator):
    emulator.seed_schedule("nightly-batch-score", local_schedule_properties(emulator.workspace_path))
    emulator.seed_schedule("Daily_Retrain", DAILY_JOB)
    emulator.seed_schedule("drift-monitor", MONITOR)
    emulator.seed_schedule("monthly", MONTHLY_CRON)


def test_every_schedule_on_every_page_is_imported_disabled_or_skipped_with_a_reason(importer, workspace):
    workspace.arm_page_size = 1
    seed_workspace(workspace)
    status, body = importer()
    assert status == 200
    assert body["imported"] == [{"name": "Daily_Retrain", "scheduleId": "daily-retrain"},
                                {"name": "nightly-batch-score", "scheduleId": "nightly-batch-score"}]
    assert body["existing"] == []
    assert [s["name"] for s in body["skipped"]] == ["drift-monitor", "monthly"]
    assert "CreateMonitor" in body["skipped"][0]["reason"]
    assert "day of month or the month" in body["skipped"][1]["reason"]
    # Every page was read, the disabled AML schedule included.
    lists = [r for r in workspace.requests_log() if r["path"].endswith("/schedules")]
    assert len(lists) == 4 and all("listViewType=All" in r["query"] for r in lists)

    stored = importer.stored()
    assert sorted(stored) == ["daily-retrain", "nightly-batch-score"]
    batch = stored["nightly-batch-score"][1]
    assert batch["enabled"] is False and batch["nextFireTime"] == "2026-11-22T01:00:00Z"
    assert batch["trigger"]["cron"] == "0 2 * * *" and batch["target"]["endpointName"] == "score-batch"
    job = stored["daily-retrain"][1]
    assert job["enabled"] is False and job["trigger"]["recurrence"] == {"frequency": "Day", "interval": 1,
                                                                        "hours": [6], "minutes": [30]}
    assert job["target"]["job"] == {"jobType": "Pipeline", "experimentName": "retrain", "jobs": {},
                                    "settings": {"default_compute": "azureml:cpu-cluster"}}
    assert job["description"] == "Imported from AML schedule 'Daily_Retrain' (Daily retrain)"


def test_importing_twice_creates_nothing_twice(importer, workspace):
    seed_workspace(workspace)
    importer()
    before = importer.stored()
    status, body = importer()
    assert status == 200 and body["imported"] == []
    assert body["existing"] == [{"name": "Daily_Retrain", "scheduleId": "daily-retrain"},
                                {"name": "nightly-batch-score", "scheduleId": "nightly-batch-score"}]
    assert [s["name"] for s in body["skipped"]] == ["drift-monitor", "monthly"]
    assert importer.stored() == before  # not even rewritten: the same ETags


def test_an_imported_schedule_that_was_changed_since_is_still_recognised(importer, workspace, runtime):
    workspace.seed_schedule("nightly-batch-score", local_schedule_properties(workspace.workspace_path))
    importer()
    record = runtime.schedules.get("nightly-batch-score")
    changed = parse_schedule({**record.definition.to_dict(), "enabled": True,
                              "description": record.definition.description + " (now ours)"})
    runtime.schedules.replace(ScheduleRecord(changed, record.next_fire_time, None, NOW, NOW, etag=record.etag))
    status, body = importer({"names": ["nightly-batch-score"]})
    assert status == 200 and body["existing"] == [{"name": "nightly-batch-score", "scheduleId": "nightly-batch-score"}]
    assert runtime.schedules.get("nightly-batch-score").definition.enabled is True  # left as it is


def test_an_id_held_by_another_schedule_is_skipped_and_left_alone(importer, workspace, runtime):
    workspace.seed_schedule("nightly-batch-score", local_schedule_properties(workspace.workspace_path))
    mine = parse_schedule({"id": "nightly-batch-score", "description": "my own", "trigger": {"cron": "0 4 * * *"},
                           "target": {"kind": "batchEndpoint", "endpointName": "other-endpoint"}})
    runtime.schedules.create(ScheduleRecord(mine, None, None, NOW, NOW))
    before = importer.stored()
    status, body = importer()
    assert status == 200 and body["imported"] == [] and body["existing"] == []
    assert body["skipped"] == [{"name": "nightly-batch-score", "reason": "schedule id 'nightly-batch-score' is taken "
                                "by a schedule that was not imported from this AML schedule; it was left as it is"}]
    assert importer.stored() == before


def test_two_aml_names_with_one_id_import_the_first_and_skip_the_second(importer, workspace):
    workspace.seed_schedule("score_eu", MONTHLY_CRON | {"trigger": {"triggerType": "Cron", "expression": "0 1 * * *"}})
    workspace.seed_schedule("score-eu", MONTHLY_CRON | {"trigger": {"triggerType": "Cron", "expression": "0 2 * * *"}})
    status, body = importer()
    assert body["imported"] == [{"name": "score-eu", "scheduleId": "score-eu"}]
    assert body["skipped"][0]["name"] == "score_eu" and "is taken" in body["skipped"][0]["reason"]


def test_names_import_only_those_and_an_unknown_name_is_skipped(importer, workspace):
    seed_workspace(workspace)
    status, body = importer({"names": ["Daily_Retrain", "no-such-schedule"]})
    assert status == 200
    assert body["imported"] == [{"name": "Daily_Retrain", "scheduleId": "daily-retrain"}]
    assert body["skipped"] == [{"name": "no-such-schedule",
                                "reason": "the workspace has no AML schedule of this name"}]
    assert list(importer.stored()) == ["daily-retrain"]
    assert not [r for r in workspace.requests_log() if r["path"].endswith("/schedules")]  # no list was read


@pytest.mark.parametrize("body", [None, {}])
def test_no_body_or_an_empty_one_imports_everything(importer, workspace, body):
    workspace.seed_schedule("nightly-batch-score", local_schedule_properties(workspace.workspace_path))
    assert importer(body)[1]["imported"] == [{"name": "nightly-batch-score", "scheduleId": "nightly-batch-score"}]


def test_imported_targets_are_not_checked_in_aml(importer, workspace):
    # The emulator has no batch endpoint "gone-endpoint": AML's schedule points at it, and so does ours.
    properties = local_schedule_properties(workspace.workspace_path)
    properties["action"]["endpointInvocationDefinition"]["endpointId"] = "gone-endpoint"
    workspace.seed_schedule("orphan", properties)
    status, body = importer()
    assert status == 200 and body["imported"] == [{"name": "orphan", "scheduleId": "orphan"}]
    assert not [r for r in workspace.requests_log() if "batchEndpoints" in r["path"]]


@pytest.mark.parametrize("raw, content_type, status, field", [
    (b'{"names": ["a"], "all": true}', "application/json", 400, "all"),
    (b'{"names": []}', "application/json", 400, "names"),
    (b'{"names": null}', "application/json", 400, "names"),
    (b'{"names": "nightly"}', "application/json", 400, "names"),
    (b'{"names": ["ok", "has space"]}', "application/json", 400, "names[1]"),
    (b'{"names": ["../x"]}', "application/json", 400, "names[0]"),
    (b'{"names": ["Nightly", "nightly"]}', "application/json", 400, "names"),
    (json.dumps({"names": [f"n{i}" for i in range(101)]}).encode(), "application/json", 400, "names"),
    (b'["nightly"]', "application/json", 400, "body"),
    (b"{not json", "application/json", 400, "body"),
    (b'{"names": ["nightly"]}', "text/plain", 415, "Content-Type"),
    (b'{"names": ["nightly"]}', None, 415, "Content-Type"),
])
def test_bad_bodies_are_refused_before_aml_is_asked_and_nothing_is_written(importer, workspace, raw, content_type,
                                                                          status, field):
    seed_workspace(workspace)
    answer, body = importer(raw=raw, content_type=content_type)
    assert answer == status and body["error"]["details"][0]["field"] == field
    assert importer.stored() == {} and not [r for r in workspace.requests_log() if "/schedules" in r["path"]]


@pytest.mark.parametrize("fault, status, code", [
    ({"status": 500}, 502, "AmlError"),
    ({"status": 403}, 502, "AmlAccessDenied"),
    ({"status": 404}, 404, "NotFound"),
])
def test_aml_failures_answer_in_the_error_envelope_and_write_nothing(importer, workspace, fault, status, code):
    seed_workspace(workspace)
    workspace.add_fault("GET", "/schedules", times=10, **fault)
    answer, body = importer()
    assert (answer, body["error"]["code"]) == (status, code)
    assert body["error"]["details"][0]["field"] == "aml" and body["error"]["details"][0]["amlStatus"] == fault["status"]
    assert importer.stored() == {}


def test_a_failure_reading_one_named_schedule_fails_the_request(importer, workspace):
    seed_workspace(workspace)
    workspace.add_fault("GET", "/schedules/monthly", status=500, times=10)
    answer, body = importer({"names": ["monthly"]})
    assert answer == 502 and body["error"]["code"] == "AmlError"


def test_the_schedules_client_checks_names_before_any_request(runtime, workspace):
    from shared.aml.errors import InvalidAmlName

    client = runtime.aml.schedules
    with pytest.raises(InvalidAmlName):
        client.get("../computes/x")
    with pytest.raises(ValueError):
        client.list(list_view_type="Some")
    assert not [r for r in workspace.requests_log() if "/schedules" in r["path"]]
    workspace.seed_schedule("nightly", MONITOR)
    assert client.get("nightly")["name"] == "nightly"
    assert [s["name"] for s in client.list(list_view_type="DisabledOnly")] == []
