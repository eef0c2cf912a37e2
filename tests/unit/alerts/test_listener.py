"""The engine's run outcomes through the alert listener: one message per incident, one on recovery,
a structured log event per transition, and nothing that can hold up or undo a slot's record."""

import json
import logging
from datetime import timedelta

import pytest

from shared.alerts.listener import AlertListener
from shared.alerts.message import EVENT_PREFIX
from shared.aml.errors import AmlNotFoundError
from shared.queue import MemoryQueue
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord, StoreUnavailable
from shared.store.memory import MemoryIncidentStore, MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven
from tests.unit.engine.test_v2_targets import BATCH, JOB, T0

WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/SECRETSECRETSECRET"


class Setup:
    def __init__(self, target=JOB, alerts=None, policy=None, with_alerts=True, incidents=MemoryIncidentStore):
        self.schedules, self.runs, self.aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
        doc = {"id": "s1", "trigger": {"cron": "* * * * *"}, "target": target, "policy": policy or {}}
        if with_alerts:
            doc["alerts"] = alerts or {"webhook": WEBHOOK}
        definition = parse_schedule(doc)
        self.schedules.create(ScheduleRecord(definition, T0, None, T0, T0))
        self.engine = Driven(self.schedules, self.runs, self.aml)
        self.incidents = incidents(self.schedules)
        self.alerts = MemoryQueue()
        self.now = T0
        self.listener = AlertListener(self.incidents, self.schedules, self.alerts, lambda: self.now)
        self.engine.outcomes.add(self.listener)

    def slot(self, minute: int, outcome: str) -> None:
        """The slot of T0 + minute fires, and AML ends its job with `outcome`."""
        self.now = T0 + timedelta(minutes=minute, seconds=1)
        self.engine.tick(self.now)
        self.aml.status[f"s1_{(T0 + timedelta(minutes=minute)):%Y%m%dT%H%M%SZ}"] = outcome
        self.now += timedelta(seconds=30)
        self.engine.poll(self.now)

    def sent(self):
        return [(m.kind, m.incident_id) for m in self.alerts.sent]


def events(caplog):
    found = []
    for record in caplog.records:
        if record.name == "shared.alerts" and record.getMessage().startswith(EVENT_PREFIX):
            found.append(json.loads(record.getMessage()[len(EVENT_PREFIX):]))
    return found


def test_a_failing_schedule_sends_one_message_per_incident_and_one_on_recovery(caplog):
    caplog.set_level(logging.INFO, logger="shared.alerts")
    s = Setup()
    for minute, outcome in enumerate(["Failed", "Failed", "Failed", "Completed", "Completed", "Failed"]):
        s.slot(minute, outcome)
    kinds = [kind for kind, _ in s.sent()]
    assert kinds == ["failed", "recovered", "failed"]
    first, recovered, second = s.sent()
    assert first[1] == recovered[1] != second[1]
    message = s.alerts.sent[0]
    assert (message.schedule_id, message.status, message.run_key) == ("s1", "Failed", "s1_20261122T100000Z")
    assert message.target_kind == "job" and message.aml_run_id == "s1_20261122T100000Z"
    logged = events(caplog)
    assert [e["kind"] for e in logged] == kinds and all(e["delivery"] == "queued" for e in logged)
    assert logged[0] == {"event": "alert", "kind": "failed", "scheduleId": "s1", "incidentId": first[1],
                         "runKey": "s1_20261122T100000Z", "amlRunId": "s1_20261122T100000Z", "status": "Failed",
                         "targetKind": "job", "slot": "2026-11-22T10:00:00Z", "cause": "failed",
                         "errorCode": logged[0].get("errorCode"), "delivery": "queued"}
    assert WEBHOOK not in caplog.text and "SECRETSECRET" not in caplog.text


def test_the_log_event_carries_its_keys_as_extra_fields_too(caplog):
    caplog.set_level(logging.INFO, logger="shared.alerts")
    s = Setup()
    s.slot(0, "Failed")
    (record,) = [r for r in caplog.records if r.name == "shared.alerts"]
    assert record.levelno == logging.WARNING
    assert (record.event, record.scheduleId, record.incidentId) == ("alert", "s1", s.alerts.sent[0].incident_id)
    assert record.custom_dimensions["runKey"] == "s1_20261122T100000Z"


def test_only_the_events_asked_for_are_queued_but_every_transition_is_logged(caplog):
    caplog.set_level(logging.INFO, logger="shared.alerts")
    s = Setup(alerts={"webhook": WEBHOOK, "on": ["failed"]})
    s.slot(0, "Failed")
    s.slot(1, "Completed")
    assert [kind for kind, _ in s.sent()] == ["failed"]
    assert [(e["kind"], e["delivery"]) for e in events(caplog)] == [("failed", "queued"),
                                                                      ("recovered", "not requested")]


def test_a_schedule_without_alerts_still_has_incidents_in_the_log(caplog):
    caplog.set_level(logging.INFO, logger="shared.alerts")
    s = Setup(with_alerts=False)
    s.slot(0, "Failed")
    s.slot(1, "Failed")
    assert s.sent() == []
    assert [(e["kind"], e["delivery"]) for e in events(caplog)] == [("failed", "not requested")]
    assert s.incidents.get("s1").open


def test_refused_slots_open_an_incident_and_the_pause_they_lead_to_is_told_once():
    s = Setup(target=BATCH, policy={"pauseAfterFailures": 2})
    s.aml.fail_with = AmlNotFoundError("Batch endpoint score-batch was not found.", status=404, code="UserError")
    for minute in range(3):
        s.now = T0 + timedelta(minutes=minute, seconds=1)
        s.engine.tick(s.now)
    assert [kind for kind, _ in s.sent()] == ["failed", "paused"]
    assert len({incident for _, incident in s.sent()}) == 1
    paused = s.alerts.sent[1]
    assert paused.status == "Paused" and "2 slots in a row" in paused.reason and paused.run_key is None
    failed = s.alerts.sent[0]
    assert failed.status == "SubmitFailed" and failed.error_code == "UserError"


def test_a_late_run_opens_an_incident_that_its_completion_closes():
    s = Setup()
    s.now = T0 + timedelta(seconds=1)
    s.engine.tick(s.now)
    run = s.runs.get("s1", T0)
    s.engine.outcomes.late(run)  # what the deadline check tells the listeners
    s.engine.outcomes.late(run)
    s.aml.status["s1_20261122T100000Z"] = "Completed"
    s.now += timedelta(minutes=30)
    s.engine.poll(s.now)
    assert [kind for kind, _ in s.sent()] == ["late", "recovered"]
    assert s.alerts.sent[0].status == "Submitted" and s.alerts.sent[0].run_key == run.run_key


def test_two_workers_finishing_runs_at_once_open_one_incident():
    s = Setup()
    s.engine.tick(T0 + timedelta(seconds=1))
    s.engine.tick(T0 + timedelta(minutes=1, seconds=1))
    first, second = s.runs.get("s1", T0), s.runs.get("s1", T0 + timedelta(minutes=1))
    other = AlertListener(s.incidents, s.schedules, s.alerts, lambda: s.now)

    class Interleaved(MemoryIncidentStore):
        """The other worker reads, decides and writes between this worker's read and its write."""
        raced = False

        def create(self, record):
            if not Interleaved.raced:
                Interleaved.raced = True
                other.run_finished(second.evolve(status="Failed"))
            return super().create(record)

    racing = AlertListener(Interleaved(s.schedules), s.schedules, s.alerts, lambda: s.now)
    racing.run_finished(first.evolve(status="Failed"))
    assert Interleaved.raced and [kind for kind, _ in s.sent()] == ["failed"]
    assert s.incidents.get("s1").opened_by == second.run_key


def test_a_queue_outage_costs_the_message_never_the_runs_record(caplog):
    caplog.set_level(logging.INFO, logger="shared.alerts")
    s = Setup()
    s.alerts.down = True
    s.slot(0, "Failed")
    assert s.runs.get("s1", T0).status == "Failed" and s.incidents.get("s1").open
    assert [e["delivery"] for e in events(caplog)] == ["queue unavailable"]


def test_a_storage_outage_leaves_the_runs_record_and_raises_nothing(caplog):
    class Down(MemoryIncidentStore):
        def get(self, schedule_id):
            raise StoreUnavailable("table service unreachable")

    s = Setup(incidents=Down)
    s.slot(0, "Failed")
    assert s.runs.get("s1", T0).status == "Failed" and s.sent() == []
    assert "failed not weighed for alerts" in caplog.text


def test_an_older_failure_the_same_poll_reports_after_the_recovery_opens_no_new_incident():
    s = Setup()
    s.slot(0, "Failed")
    s.engine.tick(T0 + timedelta(minutes=1, seconds=1))
    s.engine.tick(T0 + timedelta(minutes=2, seconds=1))
    # Both end by the same poll, which takes the newer run first (runs end out of order).
    s.aml.status["s1_20261122T100100Z"] = "Failed"
    s.aml.status["s1_20261122T100200Z"] = "Completed"
    s.now = T0 + timedelta(minutes=2, seconds=40)
    s.engine.poll(s.now)
    assert {s.runs.get("s1", T0 + timedelta(minutes=m)).status for m in (1, 2)} == {"Failed", "Completed"}
    assert [kind for kind, _ in s.sent()] == ["failed", "recovered"]


@pytest.mark.parametrize("status", ["Skipped", "Canceled"])
def test_runs_that_say_nothing_about_health_are_ignored(status):
    s = Setup()
    s.engine.tick(T0 + timedelta(seconds=1))
    s.listener.run_finished(s.runs.get("s1", T0).evolve(status=status))
    assert s.sent() == [] and s.incidents.get("s1") is None


def test_a_run_of_a_deleted_schedule_leaves_no_incident_behind():
    s = Setup()
    s.engine.tick(T0 + timedelta(seconds=1))
    s.schedules.delete("s1")
    s.aml.status["s1_20261122T100000Z"] = "Failed"
    s.engine.poll(T0 + timedelta(seconds=30))
    assert s.runs.get("s1", T0).status == "Failed"
    assert s.incidents.get("s1") is None and s.sent() == []
