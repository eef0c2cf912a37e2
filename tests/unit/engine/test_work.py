"""A queue worker taking slot messages: the claim's copy in the message saves the read, and
a copy that is no longer the record falls back to reading it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.engine import RUN_KEY_TAG
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class CountingRuns:
    """The memory run store, counting reads of single records."""

    def __init__(self):
        self.inner, self.gets = MemoryRunStore(), 0

    def get(self, *args, **kwargs):
        self.gets += 1
        return self.inner.get(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def setup():
    schedules, runs, aml = MemoryScheduleStore(), CountingRuns(), RecordingAml()
    definition = parse_schedule({"id": "s1", "trigger": {"cron": "* * * * *"},
                                 "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                            "experimentName": "exp"}})
    schedules.create(ScheduleRecord(definition, T0, None, T0, T0))
    return Driven(schedules, runs, aml), runs, aml


def test_a_fresh_claim_is_taken_and_submitted_without_reading_it_back():
    driven, runs, aml = setup()
    [sent] = driven.dispatch(T0 + timedelta(seconds=1))
    assert sent.claim is not None and sent.claim.etag is not None
    driven.engine.work(sent, T0 + timedelta(seconds=2))
    assert runs.gets == 0
    assert [s["tags"][RUN_KEY_TAG] for s in aml.submissions] == ["s1_20261122T100000Z"]
    record = runs.inner.get("s1", T0)
    assert record.status == "Submitted" and record.dequeued_at == T0 + timedelta(seconds=2)


def test_a_copy_the_record_moved_on_from_is_read_again_and_the_other_lease_respected():
    driven, runs, aml = setup()
    [message] = driven.dispatch(T0 + timedelta(seconds=1))
    # Another worker took the slot after the message was sent (a repeated delivery).
    claim = runs.inner.get("s1", T0)
    runs.inner.replace(claim.evolve(owner="other-worker", dequeued_at=T0 + timedelta(seconds=1),
                                    next_attempt_at=T0 + timedelta(minutes=8)))
    report = driven.engine.work(message, T0 + timedelta(seconds=2))
    assert aml.submissions == [] and report.lost_races == 1 and runs.gets == 1
    # The other worker died: once its lease is over, the sweep's message (no copy) is read and
    # worked, with the run-key lookup first because a worker had taken the slot.
    driven.poll(T0 + timedelta(minutes=9))
    assert [s["tags"][RUN_KEY_TAG] for s in aml.submissions] == ["s1_20261122T100000Z"]
    assert runs.inner.get("s1", T0).status == "Submitted"
