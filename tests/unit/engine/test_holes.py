"""Holes found by probing the engine on bad days, each pinned by the test that found it.

Memory stores and a recording AML double: the engine is the code under test.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

from shared.engine import RUN_KEY_TAG, Engine
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


class SimulatedCrash(BaseException):
    """The process dies here (a BaseException, so no handler in the engine swallows it)."""


def add_schedule(schedules, schedule_id="s1", cron="* * * * *", cursor=T0, policy=None):
    definition = parse_schedule({
        "id": schedule_id, "trigger": {"cron": cron},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "exp"},
        "policy": policy or {},
    })
    schedules.create(ScheduleRecord(definition, cursor, None, T0, T0))
    return definition.trigger.build()


def coverage(runs, schedule_id, trigger):
    covered = Counter()
    for record in runs.list_runs(schedule_id, limit=1000).items:
        slot = record.slot
        covered[slot] += 1
        for _ in range(record.skipped_count - 1):
            slot = trigger.next_after(slot)
            covered[slot] += 1
    return covered


class CrashOnCursorMove:
    """A schedule store whose first cursor write kills the process."""

    def __init__(self, inner):
        self._inner, self.crashes = inner, 0

    def replace(self, record):
        if self.crashes == 0:
            self.crashes += 1
            raise SimulatedCrash("before the cursor moved")
        return self._inner.replace(record)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_a_summary_that_overlaps_earlier_skip_records_still_covers_every_slot():
    # Tick 1 records five missed slots one by one and dies before moving the cursor;
    # tick 2, later, plans the same slots and more as one summary keyed by the same
    # first slot. Every slot must end with exactly one record.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    trigger = add_schedule(schedules, policy={"misfire": "skip"})
    crashing = Engine(CrashOnCursorMove(schedules), runs, aml, elapsed=lambda: 0.0)
    try:
        crashing.tick(T0 + timedelta(minutes=7, seconds=1))  # 10:00-10:04 missed, 10:05-10:07 on time
    except SimulatedCrash:
        pass
    now = T0 + timedelta(minutes=15, seconds=1)
    Engine(schedules, runs, aml, elapsed=lambda: 0.0).tick(now)
    owed = [s for s in trigger.fire_times(T0 - timedelta(seconds=1), limit=100) if s <= now]
    covered = coverage(runs, "s1", trigger)
    assert {slot: covered[slot] for slot in owed} == {slot: 1 for slot in owed}
    assert set(covered) == set(owed)


def test_a_schedule_deleted_during_a_tick_gets_no_further_submissions():
    schedules, runs = MemoryScheduleStore(), MemoryRunStore()
    add_schedule(schedules, policy={"misfire": "all", "maxCatchup": 10})

    class DeletingAml(RecordingAml):
        def submit_pipeline(self, pipeline_id, **kwargs):
            submitted = super().submit_pipeline(pipeline_id, **kwargs)
            if len(self.submissions) == 1:
                schedules.delete("s1")  # a user deletes the schedule while the tick runs
            return submitted

    aml = DeletingAml()
    Engine(schedules, runs, aml, elapsed=lambda: 0.0).tick(T0 + timedelta(minutes=4, seconds=1))
    assert len(aml.submissions) == 1


class FakeElapsed:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self):
        return self.seconds


def test_a_lease_runs_from_the_claim_not_from_the_start_of_a_long_tick():
    # Each submit of tick A takes 200 s; its third claim is made 400 s into the tick. A
    # second tick at that same moment must not take that claim over while A is still
    # submitting it.
    schedules, runs = MemoryScheduleStore(), MemoryRunStore()
    for sid in ("s1", "s2", "s3"):
        add_schedule(schedules, sid, cron="0 * * * *")
    elapsed = FakeElapsed()
    release_s3 = threading.Event()
    s3_in_flight = threading.Event()

    class SlowAml(RecordingAml):
        def submit_pipeline(self, pipeline_id, **kwargs):
            if kwargs["tags"][RUN_KEY_TAG].startswith("s3_"):
                s3_in_flight.set()
                release_s3.wait(10)
            else:
                elapsed.seconds += 200
            return super().submit_pipeline(pipeline_id, **kwargs)

    aml = SlowAml()
    tick_a = threading.Thread(target=Engine(schedules, runs, aml, elapsed=elapsed).tick,
                              args=(T0 + timedelta(seconds=1),))
    tick_a.start()
    assert s3_in_flight.wait(10)
    # Tick B runs when A's clock says 400 s have passed, well past a lease timed from A's start.
    Engine(schedules, runs, aml, elapsed=lambda: 0.0).tick(T0 + timedelta(seconds=401))
    release_s3.set()
    tick_a.join(10)
    per_key = Counter(s["tags"][RUN_KEY_TAG] for s in aml.submissions)
    assert per_key == {"s1_20261122T100000Z": 1, "s2_20261122T100000Z": 1, "s3_20261122T100000Z": 1}


def test_no_attempt_starts_on_a_claim_whose_lease_is_too_short_without_renewing_it():
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    add_schedule(schedules, cron="0 * * * *")
    engine = Engine(schedules, runs, aml, elapsed=lambda: 0.0)
    from shared.store import RunRecord

    # A claim from an earlier owner whose lease is about to run out.
    short = T0 + timedelta(seconds=10)
    runs.claim(RunRecord("s1", T0, "Claimed", claimed_at=T0, next_attempt_at=short, experiment_name="exp"))
    engine.tick(short + timedelta(seconds=1))
    run = runs.get("s1", T0)
    assert run.status == "Submitted" and len(aml.submissions) == 1
    # The owner that took it over renewed the lease before submitting.
    assert run.claimed_at == short + timedelta(seconds=1)


def test_a_retry_waiting_behind_forbid_is_not_starved_by_new_on_time_slots():
    from shared.store import RunRecord

    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    add_schedule(schedules, policy={"concurrency": "Forbid"})
    engine = Engine(schedules, runs, aml, elapsed=lambda: 0.0)
    # An older slot waiting for its next attempt, due now.
    earlier = T0 - timedelta(hours=1)
    runs.claim(RunRecord("s1", earlier, "Claimed", attempts=1, claimed_at=earlier, next_attempt_at=T0,
                         experiment_name="exp"))
    for minute in range(3):
        engine.tick(T0 + timedelta(minutes=minute, seconds=1))
        for run_id in list(aml.status):
            aml.status[run_id] = "Completed"
        engine.poll(T0 + timedelta(minutes=minute, seconds=30))
    assert runs.get("s1", earlier).status in ("Submitted", "Completed")
