"""Holes found by probing the engine on bad days, each pinned by the test that found it.

Memory stores and a recording AML double: the engine is the code under test.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shared.aml.errors import AmlTimeoutError
from shared.engine import RUN_KEY_TAG
from shared.engine.copies import retire_queued_copies
from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven, GatedAml

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
    crashing = Driven(CrashOnCursorMove(schedules), runs, aml)
    try:
        crashing.tick(T0 + timedelta(minutes=7, seconds=1))  # 10:00-10:04 missed, 10:05-10:07 on time
    except SimulatedCrash:
        pass
    now = T0 + timedelta(minutes=15, seconds=1)
    Driven(schedules, runs, aml).tick(now)
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
                # A user deletes the schedule while the tick runs, as the API does it: the
                # schedule, then the copies its queued slot messages carry.
                schedules.delete("s1")
                retire_queued_copies(runs, "s1", T0 + timedelta(minutes=4, seconds=1))
            return submitted

    aml = DeletingAml()
    Driven(schedules, runs, aml).tick(T0 + timedelta(minutes=4, seconds=1))
    assert len(aml.submissions) == 1
    assert {r.status for r in runs.list_runs("s1").items} == {"Submitted", "Skipped"}


class FakeElapsed:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self):
        return self.seconds


def test_a_lease_runs_from_when_a_worker_takes_the_slot_not_from_the_claim():
    # The claim waits in a long queue for 7 minutes; the worker that takes it then is slow.
    # A sweep after the claim's own lease has run out must not hand the slot out again
    # while that worker is still submitting it.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), GatedAml()
    add_schedule(schedules, cron="0 * * * *")
    driven = Driven(schedules, runs, aml)
    [message] = driven.dispatch(T0 + timedelta(seconds=1))  # claimed and queued, not yet taken
    taken_at = T0 + timedelta(minutes=7)
    worker = threading.Thread(target=driven.engine.work, args=(message, taken_at))
    worker.start()
    assert aml.in_flight.wait(10)
    claim_lease_end = T0 + timedelta(seconds=1) + driven.leases.lease
    assert driven.poll(claim_lease_end + timedelta(seconds=1)).requeued == 0
    aml.release.set()
    worker.join(10)
    assert Counter(s["tags"][RUN_KEY_TAG] for s in aml.submissions) == {"s1_20261122T100000Z": 1}
    assert runs.get("s1", T0).dequeued_at == taken_at


def test_no_attempt_starts_on_a_claim_whose_lease_is_too_short_without_renewing_it():
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    add_schedule(schedules, cron="0 * * * *")
    engine = Driven(schedules, runs, aml)
    from shared.store import RunRecord

    # A claim from an earlier owner whose lease is about to run out.
    short = T0 + timedelta(seconds=10)
    runs.claim(RunRecord("s1", T0, "Claimed", claimed_at=T0, next_attempt_at=short, experiment_name="exp",
                         owner="worker-that-died"))
    engine.poll(short + timedelta(seconds=1))
    run = runs.get("s1", T0)
    assert run.status == "Submitted" and len(aml.submissions) == 1
    # The worker that took it over from the sweep held a fresh lease from that moment.
    assert run.dequeued_at == short + timedelta(seconds=1) and run.owner.startswith(engine.engine.owner + "/")


def test_a_retry_waiting_behind_forbid_is_not_starved_by_new_on_time_slots():
    from shared.store import RunRecord

    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    add_schedule(schedules, policy={"concurrency": "Forbid"})
    engine = Driven(schedules, runs, aml)
    # An older slot waiting for its next attempt, due now.
    earlier = T0 - timedelta(hours=1)
    runs.claim(RunRecord("s1", earlier, "Claimed", attempts=1, claimed_at=earlier, next_attempt_at=T0,
                         experiment_name="exp", owner="a-worker"))
    for minute in range(3):
        engine.tick(T0 + timedelta(minutes=minute, seconds=1))
        for run_id in list(aml.status):
            aml.status[run_id] = "Completed"
        engine.poll(T0 + timedelta(minutes=minute, seconds=30))
    assert runs.get("s1", earlier).status in ("Submitted", "Completed")


def test_one_slot_delivered_twice_to_one_process_is_submitted_once():
    # A repeated message (or a sweep's resend) reaches two worker threads of the same
    # process while the first is still submitting: they share the process, not the lease.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), GatedAml()
    add_schedule(schedules, cron="0 * * * *")
    driven = Driven(schedules, runs, aml)
    now = T0 + timedelta(seconds=1)
    [message] = driven.dispatch(now)
    first = threading.Thread(target=driven.engine.work, args=(message, now))
    first.start()
    assert aml.in_flight.wait(10)
    second = driven.engine.work(message, now + timedelta(milliseconds=50))
    aml.release.set()
    first.join(10)
    assert second.lost_races == 1 and second.submitted == []
    assert Counter(s["tags"][RUN_KEY_TAG] for s in aml.submissions) == {"s1_20261122T100000Z": 1}


def test_claims_inside_a_summary_another_dispatch_wrote_first_are_taken_back():
    # Two dispatches plan one schedule from the same cursor at different moments (the chaos
    # suite's clock jump): the later one records 10:00-10:20 as missed in one summary keyed
    # 10:00 and fires after that. The earlier one, catching up, would fire 10:00-10:07: its
    # claim at 10:00 collides with the summary, and 10:01-10:07 lie inside it.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    trigger = add_schedule(schedules, policy={"misfire": "all", "maxCatchup": 10})
    summary_end = T0 + timedelta(minutes=20)
    runs.claim(RunRecord("s1", T0, "Skipped", reason="missed", skipped_count=21, last_skipped_slot=summary_end,
                         finished_at=T0 + timedelta(minutes=21)))
    now = T0 + timedelta(minutes=7, seconds=1)
    Driven(schedules, runs, aml).tick(now)
    assert aml.submissions == []
    covered = coverage(runs, "s1", trigger)
    assert set(covered.values()) == {1} and min(covered) == T0 and max(covered) == summary_end
    # The cursor moved past the summary: later ticks claim only what it does not cover.
    assert schedules.get("s1").next_fire_time == summary_end + timedelta(minutes=1)
    Driven(schedules, runs, aml).tick(T0 + timedelta(minutes=21, seconds=1))
    covered = coverage(runs, "s1", trigger)
    assert set(covered.values()) == {1} and max(covered) == T0 + timedelta(minutes=21)
    assert len(aml.submissions) == 1  # 10:21, the first slot after the summary


def test_slots_inside_a_summary_keyed_before_them_get_no_second_record():
    # Another dispatch, planning from an older cursor, recorded 10:00-10:09 as missed under
    # the key 10:00; this schedule's cursor says 10:01 (the chaos suite's clock jumps and
    # edits). None of this plan's keys collide with the summary's, and all its slots lie inside.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    trigger = add_schedule(schedules, cursor=T0 + timedelta(minutes=1), policy={"misfire": "skip"})
    summary_end = T0 + timedelta(minutes=9)
    runs.claim(RunRecord("s1", T0, "Skipped", reason="missed", skipped_count=10, last_skipped_slot=summary_end,
                         finished_at=T0 + timedelta(minutes=10)))
    Driven(schedules, runs, aml).tick(T0 + timedelta(minutes=5, seconds=1))
    assert aml.submissions == []
    covered = coverage(runs, "s1", trigger)
    assert set(covered.values()) == {1} and min(covered) == T0 and max(covered) == summary_end
    assert schedules.get("s1").next_fire_time == summary_end + timedelta(minutes=1)


def test_a_summary_is_written_around_the_records_already_inside_its_range():
    # An earlier dispatch recorded 10:01 and 10:02 as missed one by one and fired 10:04, then
    # died before moving the cursor. Later, the same slots are older and become one summary
    # keyed 10:00: it must leave those three records alone and cover only the slots between.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    trigger = add_schedule(schedules, policy={"misfire": "skip"})
    for minute in (1, 2):
        runs.claim(RunRecord("s1", T0 + timedelta(minutes=minute), "Skipped", reason="missed",
                             finished_at=T0 + timedelta(minutes=5)))
    runs.claim(RunRecord("s1", T0 + timedelta(minutes=4), "Completed", finished_at=T0 + timedelta(minutes=6)))
    now = T0 + timedelta(minutes=12, seconds=1)
    Driven(schedules, runs, aml).tick(now)
    owed = [s for s in trigger.fire_times(T0 - timedelta(seconds=1), limit=100) if s <= now]
    covered = coverage(runs, "s1", trigger)
    assert {slot: covered[slot] for slot in owed} == {slot: 1 for slot in owed}
    assert [s["tags"][RUN_KEY_TAG] for s in aml.submissions] == ["s1_20261122T101100Z", "s1_20261122T101200Z"]


def test_skip_records_inside_a_summary_written_while_the_dispatch_ran_are_taken_back():
    # Between this dispatch's read and its insert, another dispatch recorded 10:00-10:20 as
    # missed under the key 10:00. This plan's skip records for 10:01-10:03 and its claims for
    # 10:04-10:05 would each have a key of their own; only the collision at 10:00 shows the summary.
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    trigger = add_schedule(schedules, policy={"misfire": "skip"})
    summary_end = T0 + timedelta(minutes=20)

    class RacedRuns:
        def __init__(self, inner):
            self._inner = inner

        def claim_many(self, batch):
            if not any(r.slot == T0 and r.skipped_count > 1 for r in self._inner.list_runs("s1").items):
                self._inner.claim(RunRecord("s1", T0, "Skipped", reason="missed", skipped_count=21,
                                            last_skipped_slot=summary_end, finished_at=T0 + timedelta(minutes=21)))
            return self._inner.claim_many(batch)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    Driven(schedules, RacedRuns(runs), aml).tick(T0 + timedelta(minutes=5, seconds=1))
    assert aml.submissions == []
    covered = coverage(runs, "s1", trigger)
    assert set(covered.values()) == {1} and min(covered) == T0 and max(covered) == summary_end
    assert schedules.get("s1").next_fire_time == summary_end + timedelta(minutes=1)


class LateActingAml(RecordingAml):
    """AML carries out the first submit after the client gave up on it (a read timeout)."""

    def __init__(self, acts: bool = True):
        super().__init__()
        self.acts, self.timed_out = acts, False

    def submit_pipeline(self, pipeline_id, **kwargs):
        if self.timed_out:
            return super().submit_pipeline(pipeline_id, **kwargs)
        self.timed_out = True
        if self.acts:
            super().submit_pipeline(pipeline_id, **kwargs)
        raise AmlTimeoutError("AML did not answer in time", uncertain=True)


@pytest.mark.parametrize("aml_acted", [True, False])
def test_a_slot_whose_submit_may_have_reached_aml_is_looked_up_before_a_deleted_schedule_skips_it(aml_acted):
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), LateActingAml(acts=aml_acted)
    add_schedule(schedules)
    driven = Driven(schedules, runs, aml)
    driven.tick(T0 + timedelta(seconds=1))
    assert runs.get("s1", T0).pending and runs.get("s1", T0).attempts == 1  # outcome unknown: retried later
    schedules.delete("s1")
    retire_queued_copies(runs, "s1", T0 + timedelta(seconds=2))
    driven.poll(T0 + timedelta(minutes=30))  # the sweep brings the slot back once its retry is due
    record = runs.get("s1", T0)
    if aml_acted:
        # AML has the run: adopted, not left without a record.
        assert record.status == "Submitted" and record.aml_run_id == aml.submissions[0]["run_id"]
    else:
        assert record.status == "Skipped" and "deleted" in record.reason
    assert len(aml.submissions) == (1 if aml_acted else 0)
