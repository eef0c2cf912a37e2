"""Which slots already have a record: claims and single skips cover their slot, summaries a range."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.engine.coverage import Coverage
from shared.scheduling.slots import FIRE, SKIP, SlotDecision
from shared.schedules import parse_schedule
from shared.store import RunRecord

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
EVERY_MINUTE = parse_schedule({"id": "s1", "trigger": {"cron": "* * * * *"},
                               "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                          "experimentName": "e"}}).trigger.build()


def at(minutes: int) -> datetime:
    return T0 + minutes * MINUTE


def summary(first: int, last: int) -> RunRecord:
    return RunRecord("s1", at(first), "Skipped", skipped_count=last - first + 1, last_skipped_slot=at(last))


def test_gaps_are_the_runs_of_slots_between_records():
    coverage = Coverage([summary(-3, 1), RunRecord("s1", at(3), "Completed"), summary(6, 7)])
    assert coverage.gaps(at(0), at(9), EVERY_MINUTE) == [(at(2), 1, at(2)), (at(4), 2, at(5)), (at(8), 2, at(9))]
    assert coverage.gaps(at(6), at(7), EVERY_MINUTE) == []
    assert Coverage([]).gaps(at(0), at(2), EVERY_MINUTE) == [(at(0), 3, at(2))]


def test_covered_through_follows_records_that_touch():
    coverage = Coverage([summary(0, 2), RunRecord("s1", at(3), "Completed"), summary(4, 6), summary(8, 9)])
    assert coverage.covered_through(at(1), EVERY_MINUTE) == at(6)
    assert coverage.covered_through(at(7), EVERY_MINUTE) is None
    assert coverage.first_uncovered(at(0), EVERY_MINUTE) == at(7)
    assert coverage.first_uncovered(at(7), EVERY_MINUTE) == at(7)


def test_uncovered_decisions_drop_covered_fires_and_split_skip_ranges():
    coverage = Coverage([RunRecord("s1", at(2), "Skipped"), summary(5, 6)])
    decisions = [SlotDecision(at(0), SKIP, "missed", count=5, last_slot=at(4)), SlotDecision(at(5), FIRE),
                 SlotDecision(at(7), FIRE)]
    assert coverage.uncovered(decisions, EVERY_MINUTE) == [
        SlotDecision(at(0), SKIP, "missed", count=2, last_slot=at(1)),
        SlotDecision(at(3), SKIP, "missed", count=2, last_slot=at(4)),
        SlotDecision(at(7), FIRE),
    ]
    single = coverage.uncovered([SlotDecision(at(1), SKIP, "missed", count=2, last_slot=at(2))], EVERY_MINUTE)
    assert single == [SlotDecision(at(1), SKIP, "missed")]
