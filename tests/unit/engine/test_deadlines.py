"""Deadlines (policy.sla): set at the claim, found by the poll once per run, heard by listeners;
and the engine's per-slot log lines and its dead-man's switch."""

import logging
from datetime import timedelta

from shared.aml.errors import AmlTransientError
from shared.engine.summaries import SummaryKeeper
from shared.heartbeat import LAST_POLL, LAST_TICK
from shared.store.memory import MemoryRunStore
from shared.summaries import schedule_health
from tests.unit.engine.support import Driven
from tests.unit.engine.test_engine import T0, make

SLA = {"sla": {"completeWithinMinutes": 30}}


class Heard:
    def __init__(self):
        self.late = []

    def run_finished(self, run):
        pass

    def run_late(self, run):
        self.late.append((run.run_key, run.late_at))

    def schedule_paused(self, record):
        pass


def with_deadline(policy=None, cron="0 * * * *"):
    engine, schedules, runs, aml = make(cron=cron, policy={**SLA, **(policy or {})})
    heard = Heard()
    engine.outcomes.add(heard)
    engine.outcomes.add(SummaryKeeper(schedules))
    return engine, schedules, runs, aml, heard


def test_the_claim_carries_the_deadline_from_the_slot_and_a_backfill_from_its_claim():
    engine, schedules, runs, _, _ = with_deadline()
    engine.tick(T0 + timedelta(seconds=1))
    assert runs.get("s1", T0).complete_by == T0 + timedelta(minutes=30)
    now = T0 + timedelta(days=2)
    engine.backfill(schedules.get("s1"), T0 - timedelta(hours=3), T0 - timedelta(hours=3), now)
    assert runs.get("s1", T0 - timedelta(hours=3)).complete_by == now + timedelta(minutes=30)
    plain, _, plain_runs, _ = make(cron="0 * * * *")
    plain.tick(T0 + timedelta(seconds=1))
    assert plain_runs.get("s1", T0).complete_by is None


def test_an_active_run_past_its_deadline_is_marked_and_told_once_then_counts_late_when_it_completes():
    engine, schedules, runs, aml, heard = with_deadline()
    aml.end_time = None  # the run ends when the poll sees it end
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Running"
    engine.poll(T0 + timedelta(minutes=29))
    assert heard.late == [] and runs.get("s1", T0).late_at is None
    engine.poll(T0 + timedelta(minutes=31))
    engine.poll(T0 + timedelta(minutes=32))
    assert heard.late == [("s1_20261122T100000Z", T0 + timedelta(minutes=31))]
    assert runs.get("s1", T0).to_api()["lateAt"] == "2026-11-22T10:31:00Z"
    now = T0 + timedelta(minutes=33)
    assert schedule_health(schedules.get("s1"), schedules.get_summary("s1"), now) == "late"
    aml.status["run-1"] = "Completed"
    engine.poll(T0 + timedelta(minutes=40))
    summary = schedules.get_summary("s1")
    assert summary.late == [] and summary.last_run.late is True
    assert schedule_health(schedules.get("s1"), summary, now) == "late", "completed after its deadline"


class StaleReads(MemoryRunStore):
    """A second poller that read the runs in flight before the first one marked them."""

    def __init__(self):
        super().__init__()
        self.frozen = None

    def all_in_flight(self):
        return iter(self.frozen) if self.frozen is not None else super().all_in_flight()


def test_of_two_polls_that_find_the_same_late_run_only_one_tells():
    from shared.schedules import parse_schedule
    from shared.store import ScheduleRecord
    from shared.store.memory import MemoryScheduleStore
    from tests.doubles.aml import RecordingAml

    schedules, runs, aml = MemoryScheduleStore(), StaleReads(), RecordingAml()
    definition = parse_schedule({"id": "s1", "trigger": {"cron": "0 * * * *"}, "policy": SLA, "target": {
        "kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555", "experimentName": "exp"}})
    schedules.create(ScheduleRecord(definition, T0, None, T0, T0))
    first, second = Driven(schedules, runs, aml), Driven(schedules, runs, aml)
    heard = Heard()
    first.outcomes.add(heard)
    second.outcomes.add(heard)
    first.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Running"
    runs.frozen = list(MemoryRunStore.all_in_flight(runs))
    first.engine.poll(T0 + timedelta(minutes=31))
    second.engine.poll(T0 + timedelta(minutes=31))
    assert len(heard.late) == 1


def test_a_pending_slot_past_its_deadline_is_marked_by_the_sweep_that_sends_it_again():
    engine, _, runs, aml, heard = with_deadline({"retry": {"maxAttempts": 5, "backoffSeconds": 1800}})
    aml.fail_with = AmlTransientError("throttled", status=429, code="TooManyRequests")
    engine.tick(T0 + timedelta(seconds=1))
    engine.poll(T0 + timedelta(minutes=20))  # waits for its retry: its lease is not the poll's to touch
    assert heard.late == [] and runs.get("s1", T0).late_at is None
    engine.poll(T0 + timedelta(minutes=31))
    assert heard.late == [("s1_20261122T100000Z", T0 + timedelta(minutes=31))]
    assert runs.get("s1", T0).status == "Claimed"


def test_slot_log_lines_carry_structured_fields(caplog):
    engine, _, _, aml, _ = with_deadline()
    with caplog.at_level(logging.INFO, logger="shared.engine"):
        engine.tick(T0 + timedelta(seconds=1, milliseconds=500))
        aml.status["run-1"] = "Running"
        engine.poll(T0 + timedelta(minutes=31))
        aml.status["run-1"] = "Failed"
        engine.poll(T0 + timedelta(minutes=32))
    lines = {r.getMessage().split(": ")[1].split(" ")[0]: r for r in caplog.records if r.getMessage().startswith("slot ")}
    assert set(lines) >= {"submitted", "late", "Failed"}
    submitted = lines["submitted"]
    assert (submitted.scheduleId, submitted.runKey, submitted.amlRunId, submitted.status, submitted.targetKind,
            submitted.lagSeconds) == ("s1", "s1_20261122T100000Z", "run-1", "Submitted", "pipeline", 1.5)
    assert submitted.custom_dimensions["lagSeconds"] == 1.5
    assert lines["late"].levelno == logging.WARNING and lines["late"].lateSeconds == 60.0
    assert lines["Failed"].levelno == logging.WARNING and lines["Failed"].custom_dimensions["status"] == "Failed"


def test_the_tick_and_the_poll_record_their_completion():
    engine, schedules, _, _, _ = with_deadline()
    assert schedules.get_meta(LAST_TICK) is None
    engine.tick(T0 + timedelta(seconds=1))
    engine.poll(T0 + timedelta(seconds=31))
    assert schedules.get_meta(LAST_TICK) == "2026-11-22T10:00:01Z"
    assert schedules.get_meta(LAST_POLL) == "2026-11-22T10:00:31Z"
