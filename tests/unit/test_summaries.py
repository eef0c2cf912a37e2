"""The summary rules: folding finished and late runs in, and the health a schedule shows (time passed in)."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord, ScheduleSummary
from shared.summaries import (
    WINDOW,
    fold_finished,
    fold_late,
    health_fields,
    parse_health_filter,
    schedule_health,
)

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


def ended(hour, status="Completed", *, took=timedelta(minutes=20), complete_by=None, trigger="schedule"):
    slot = T0 + timedelta(hours=hour)
    return RunRecord("s1", slot, status, trigger=trigger, finished_at=slot + took, aml_run_id=f"aml-{hour}",
                     complete_by=complete_by)


def fold_all(runs, summary=None):
    summary = summary or ScheduleSummary("s1")
    for run in runs:
        summary = fold_finished(summary, run) or summary
    return summary


def record(enabled=True, paused_reason=None, next_fire=T0 + timedelta(hours=30), jitter=0):
    definition = parse_schedule({"id": "s1", "enabled": enabled, "trigger": {"cron": "0 * * * *", "jitterSeconds": jitter},
                                 "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "e"}})
    return ScheduleRecord(definition, next_fire, None, T0, T0, paused_reason=paused_reason)


class TestFolding:
    def test_the_last_run_is_the_newest_slot_even_when_an_older_one_finishes_later(self):
        summary = fold_all([ended(2, "Failed"), ended(1, took=timedelta(hours=3))])
        assert summary.last_run.run_key == "s1_20261122T120000Z" and summary.last_run.status == "Failed"
        assert [o.slot.hour for o in summary.recent] == [12, 11]

    def test_the_window_keeps_the_newest_outcomes_and_leaves_out_a_straggler_older_than_all(self):
        summary = fold_all([ended(h) for h in range(1, WINDOW + 6)])
        assert len(summary.recent) == WINDOW and summary.recent[-1].slot == T0 + timedelta(hours=6)
        assert fold_finished(summary, ended(0, "Failed")) is None

    def test_a_repeat_and_a_skip_change_nothing(self):
        summary = fold_all([ended(1)])
        assert fold_finished(summary, ended(1)) is None
        assert fold_finished(summary, ended(2, "Skipped")) is None

    def test_failed_in_a_row_counts_the_failed_group_from_the_newest_back(self):
        summary = fold_all([ended(1, "Failed"), ended(2), ended(3, "SubmitFailed"), ended(4, "TimedOut")])
        assert summary.failed_in_a_row == 2
        assert fold_all([ended(5, "Canceled")], summary).failed_in_a_row == 0
        # An older failure arriving late extends nothing past the completed run before it.
        assert fold_all([ended(0, "Failed")], summary).failed_in_a_row == 2

    def test_failed_in_a_row_reaches_past_the_window(self):
        summary = fold_all([ended(h, "Failed") for h in range(WINDOW + 7)])
        assert len(summary.recent) == WINDOW and summary.failed_in_a_row == WINDOW + 7
        assert fold_all([ended(0, "Completed")], fold_all([ended(h, "Failed") for h in range(1, 5)])).failed_in_a_row == 4

    def test_a_completion_after_the_deadline_is_remembered_as_late(self):
        deadline = T0 + timedelta(hours=1, minutes=10)
        assert fold_all([ended(1, complete_by=deadline)]).last_run.late is True
        assert fold_all([ended(1, took=timedelta(minutes=5), complete_by=deadline)]).last_run.late is False

    def test_a_late_marker_is_added_once_and_cleared_when_the_run_ends(self):
        running = RunRecord("s1", T0, "Running", complete_by=T0 + timedelta(minutes=30),
                            late_at=T0 + timedelta(minutes=31))
        marked = fold_late(ScheduleSummary("s1"), running)
        assert [m.run_key for m in marked.late] == [running.run_key] and fold_late(marked, running) is None
        assert fold_finished(marked, running.evolve(status="Completed", finished_at=T0 + timedelta(hours=1))).late == []
        assert fold_finished(marked, running.evolve(status="Skipped", finished_at=T0)).late == []
        assert fold_late(fold_all([ended(0)]), ended(0).evolve(status="Running")) is None


class TestHealth:
    NOW = T0 + timedelta(hours=29, minutes=30)

    def health(self, rec=None, summary=None, now=None):
        return schedule_health(rec or record(), summary, now or self.NOW)

    def test_paused_then_disabled_come_first(self):
        failing = fold_all([ended(1, "Failed")])
        assert self.health(record(enabled=False, paused_reason="refused 5 times"), failing) == "paused"
        assert self.health(record(enabled=False), failing) == "disabled"

    def test_failing_when_the_last_finished_run_failed(self):
        assert self.health(summary=fold_all([ended(1), ended(2, "TimedOut")])) == "failing"
        assert self.health(summary=fold_all([ended(1, "Failed"), ended(2, "Canceled")])) == "ok"

    def test_late_for_a_run_past_its_deadline_or_a_late_completion(self):
        running = RunRecord("s1", T0 + timedelta(hours=3), "Running", complete_by=T0, late_at=T0)
        assert self.health(summary=fold_late(fold_all([ended(1)]), running)) == "late"
        late_completion = fold_all([ended(1, complete_by=T0 + timedelta(hours=1, minutes=1))])
        assert self.health(summary=late_completion) == "late"
        assert self.health(summary=fold_all([ended(2)], late_completion)) == "ok", "something newer finished"
        assert self.health(summary=fold_all([ended(1, "Failed"), ended(2)])) == "ok"

    def test_late_when_the_cursor_is_past_due_by_more_than_the_grace(self):
        behind = record(next_fire=self.NOW - timedelta(minutes=6))
        assert self.health(behind) == "late"
        assert self.health(record(next_fire=self.NOW - timedelta(minutes=4))) == "ok"
        # Jitter delays the due time: a schedule due later by its jitter is not behind.
        assert self.health(record(next_fire=self.NOW - timedelta(minutes=6), jitter=3600)) == "ok"
        assert self.health(record(next_fire=None)) == "ok"

    def test_fields_for_a_schedule_with_and_without_runs(self):
        assert health_fields(record(), None, self.NOW) == {
            "health": "ok", "lastRun": None, "successRate": None, "recentRuns": 0, "failedInARow": 0}
        summary = fold_all([ended(1), ended(2, "Failed"), ended(3), ended(4, "Failed")])
        fields = health_fields(record(), summary, self.NOW)
        assert fields["lastRun"] == {"runKey": "s1_20261122T140000Z", "slot": "2026-11-22T14:00:00Z",
                                     "status": "Failed", "finishedAt": "2026-11-22T14:20:00Z", "amlRunId": "aml-4"}
        assert (fields["health"], fields["successRate"], fields["recentRuns"], fields["failedInARow"]) == (
            "failing", 0.5, 4, 1)


def test_health_filter_takes_a_comma_list_and_names_what_it_does_not_know():
    assert parse_health_filter("failing") == {"failing"}
    assert parse_health_filter("late, failing") == {"late", "failing"}
    for bad in ("sick", "late,", ""):
        with pytest.raises(ValueError):
            parse_health_filter(bad)
