"""Engine over memory stores with a recording AML double: claims, misfire, concurrency, poll."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from shared.aml.client import RunState, SubmittedRun
from shared.aml.errors import AmlPermanentError, AmlTransientError
from shared.engine import RUN_KEY_TAG, Engine
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


class RecordingAml:
    """Stands in for AML; records submissions and answers run status from a script."""

    def __init__(self):
        self.lock = threading.Lock()
        self.submissions = []
        self.cancelled = []
        self.status = {}
        self.fail_with = None

    def submit_pipeline(self, pipeline_id, **kwargs):
        with self.lock:
            if self.fail_with:
                raise self.fail_with
            run_id = f"run-{len(self.submissions) + 1}"
            self.submissions.append({"pipeline": pipeline_id, "run_id": run_id, **kwargs})
            self.status[run_id] = "NotStarted"
            return SubmittedRun(run_id, "NotStarted", {})

    submit_pipeline_endpoint = submit_pipeline

    def get_run(self, experiment_name, run_id):
        status = self.status[run_id]
        error = ("UserError", "boom") if status == "Failed" else (None, None)
        return RunState(run_id, status, None, "2026-11-22T10:05:00.1234567Z" if status in ("Completed", "Failed") else None,
                        error[0], error[1], {}, {})

    def cancel_run(self, experiment_name, run_id):
        self.cancelled.append(run_id)
        self.status[run_id] = "Canceled"

    def portal_url(self, run_id):
        return f"https://ml.azure.com/runs/{run_id}"


def make(cron="* * * * *", policy=None, params=None):
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    definition = parse_schedule({
        "id": "s1", "trigger": {"cron": cron},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "exp",
                   "parameterAssignments": params or {"day": "{{slot:%Y-%m-%d %H:%M}}", "n": 1}},
        "policy": policy or {},
    })
    first = definition.trigger.build().next_after(T0 - timedelta(seconds=1))
    schedules.create(ScheduleRecord(definition, first, None, T0, T0))
    return Engine(schedules, runs, aml), schedules, runs, aml


def statuses(runs):
    return [(r.slot_key, r.status) for r in runs.list_runs("s1", limit=500).items]


def test_due_slot_is_submitted_once_with_rendered_parameters_and_run_key_tag():
    engine, schedules, runs, aml = make()
    report = engine.tick(T0 + timedelta(seconds=1))
    assert report.submitted == ["s1_20261122T100000Z"]
    sub = aml.submissions[0]
    assert sub["parameter_assignments"] == {"day": "2026-11-22 10:00", "n": 1}
    assert sub["tags"][RUN_KEY_TAG] == "s1_20261122T100000Z"
    run = runs.get("s1", T0)
    assert (run.status, run.aml_run_id, run.attempts) == ("Submitted", "run-1", 1)
    assert schedules.get("s1").next_fire_time == T0 + timedelta(minutes=1)
    # The same tick again (a retried or duplicated timer) owes nothing.
    assert engine.tick(T0 + timedelta(seconds=2)).submitted == []
    assert len(aml.submissions) == 1


def test_parallel_ticks_submit_each_slot_once():
    engine, schedules, runs, aml = make()
    now = T0 + timedelta(minutes=1, seconds=1)
    threads = [threading.Thread(target=engine.tick, args=(now,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s["tags"][RUN_KEY_TAG] for s in aml.submissions) == ["s1_20261122T100000Z", "s1_20261122T100100Z"]


def test_permanent_submit_error_is_recorded_with_amls_message():
    engine, schedules, runs, aml = make()
    aml.fail_with = AmlPermanentError("Pipeline not found", status=404, code="NotFound")
    report = engine.tick(T0 + timedelta(seconds=1))
    run = runs.get("s1", T0)
    assert report.failed == ["s1_20261122T100000Z"]
    assert (run.status, run.error_code, run.error_message) == ("SubmitFailed", "NotFound", "Pipeline not found")
    assert schedules.get("s1").next_fire_time == T0 + timedelta(minutes=1)


def test_transient_error_records_and_next_slot_still_fires():
    engine, schedules, runs, aml = make()
    aml.fail_with = AmlTransientError("throttled", status=429, code="TooManyRequests")
    engine.tick(T0 + timedelta(seconds=1))
    aml.fail_with = None
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert statuses(runs) == [("20261122T100100Z", "Submitted"), ("20261122T100000Z", "SubmitFailed")]


def test_forbid_skips_while_a_run_is_active():
    engine, schedules, runs, aml = make(policy={"concurrency": "Forbid"})
    engine.tick(T0 + timedelta(seconds=1))
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert statuses(runs)[0] == ("20261122T100100Z", "Skipped")
    assert "concurrency" in runs.get("s1", T0 + timedelta(minutes=1)).reason
    assert len(aml.submissions) == 1


def test_replace_cancels_the_active_run_first():
    engine, schedules, runs, aml = make(policy={"concurrency": "Replace"})
    engine.tick(T0 + timedelta(seconds=1))
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert aml.cancelled == ["run-1"] and len(aml.submissions) == 2


def test_downtime_with_latest_skips_summarised_and_fires_current():
    engine, schedules, runs, aml = make()
    engine.tick(T0 + timedelta(days=3, seconds=1))
    recorded = runs.list_runs("s1", limit=500).items
    assert len(recorded) <= 8
    assert sum(r.skipped_count for r in recorded if r.status == "Skipped") + len(aml.submissions) == 3 * 24 * 60 + 1


def test_poll_moves_runs_to_terminal_states():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Running"
    assert engine.poll(T0 + timedelta(minutes=1)).changed == 1
    assert runs.get("s1", T0).status == "Running"
    aml.status["run-1"] = "Failed"
    engine.poll(T0 + timedelta(minutes=2))
    run = runs.get("s1", T0)
    assert (run.status, run.error_code, run.error_message) == ("Failed", "UserError", "boom")
    assert run.finished_at == datetime(2026, 11, 22, 10, 5, 0, 123000, tzinfo=UTC)
    assert engine.poll(T0 + timedelta(minutes=3)).checked == 0


def test_disabled_schedule_is_not_due():
    engine, schedules, runs, aml = make()
    record = schedules.get("s1")
    record.definition = parse_schedule({**record.definition.to_dict(), "enabled": False})
    schedules.replace(record)
    assert engine.tick(T0 + timedelta(seconds=1)).schedules == 0
