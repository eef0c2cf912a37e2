"""The store contract for what the scheduler keeps beside schedules and runs, against both stores:
audit entries, run summaries, and the index of finished runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.store import AlreadyExists, InvalidContinuationToken, LateRun, PreconditionFailed, RunOutcome, RunRecord
from shared.store.audit import AuditEntry
from shared.store.summary import ScheduleSummary
from tests.contract.store_support import ALICE, T0, audit, history, schedule


class TestAuditEntries:
    def test_a_change_and_its_entry_are_written_together(self, stores):
        schedules, _ = stores
        created = schedules.create(schedule(), audit=audit(action="create", changes=({"field": "enabled",
                                                                                      "after": True},)))
        with pytest.raises(AlreadyExists):
            schedules.create(schedule(), audit=audit(action="create", at=T0 + timedelta(seconds=1)))
        schedules.replace(created, audit=audit(at=T0 + timedelta(seconds=2)))
        with pytest.raises(PreconditionFailed):
            schedules.replace(created, audit=audit(at=T0 + timedelta(seconds=3)))  # stale etag
        with pytest.raises(PreconditionFailed):
            schedules.delete("s1", etag=created.etag, audit=audit("s1", "delete", T0 + timedelta(seconds=4)))
        schedules.delete("s1", audit=audit("s1", "delete", T0 + timedelta(seconds=5)))
        assert [a for a, _ in history(schedules)] == ["delete", "update", "create"]

    def test_entries_round_trip_at_millisecond_precision(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        schedules.append_audit(audit(action="trigger", details={"slotKey": "20261122T100000.123Z-manual"},
                                     changes=({"field": "trigger.cron", "before": "0 2 * * *", "after": "0 3 * * *"},)))
        schedules.append_audit(AuditEntry("s1", T0, "backfill", {"id": None, "name": "function key"}))
        entries = schedules.audit_page("s1").items
        assert {e.action for e in entries} == {"trigger", "backfill"}
        trigger = next(e for e in entries if e.action == "trigger")
        assert trigger.at == T0.replace(microsecond=123000) and trigger.actor == ALICE
        assert trigger.to_api()["changes"] == [{"field": "trigger.cron", "before": "0 2 * * *", "after": "0 3 * * *"}]
        assert trigger.details == {"slotKey": "20261122T100000.123Z-manual"}
        assert next(e for e in entries if e.action == "backfill").actor == {"id": None, "name": "function key"}

    def test_history_is_newest_first_per_schedule_in_pages_and_outlives_the_schedule(self, stores):
        schedules, _ = stores
        schedules.create(schedule("s1"))
        schedules.create(schedule("s1-b"))  # an id that starts like another stays apart
        for minute in range(5):
            schedules.append_audit(audit("s1", at=T0 + timedelta(minutes=minute)))
        schedules.append_audit(audit("s1-b"))
        schedules.delete("s1", audit=audit("s1", "delete", T0 + timedelta(hours=1)))
        seen, token = [], None
        while True:
            page = schedules.audit_page("s1", limit=2, continuation=token)
            seen += [e.at for e in page.items]
            token = page.continuation
            if not token:
                break
        assert len(seen) == 6 and seen == sorted(seen, reverse=True)
        assert len(schedules.audit_page("s1-b").items) == 1 and schedules.audit_page("never").items == []

    def test_prune_deletes_only_entries_before_the_cutoff_oldest_first(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        for day in range(5):
            schedules.append_audit(audit(at=T0 - timedelta(days=day)))
        assert schedules.prune_audit("s1", T0 - timedelta(days=2, hours=12), limit=1) == 1
        assert [at for _, at in history(schedules)][-1] == (T0 - timedelta(days=3)).replace(microsecond=123000)
        assert schedules.prune_audit("s1", T0 - timedelta(days=2, hours=12)) == 1
        assert len(history(schedules)) == 3 and schedules.prune_audit("s1", T0 - timedelta(days=9)) == 0

    def test_who_created_and_changed_a_schedule_survives_a_cursor_move(self, stores):
        schedules, _ = stores
        record = schedule()
        record.created_by = record.updated_by = ALICE
        schedules.create(record)
        [due] = schedules.due(T0 + timedelta(seconds=1))
        due.next_fire_time = T0 + timedelta(minutes=1)
        assert schedules.advance([due]) == {"s1": None}
        got = schedules.get("s1")
        assert got.created_by == ALICE and got.updated_by == ALICE
        assert got.to_api()["createdBy"] == ALICE

    def test_who_asked_for_a_run_round_trips(self, stores):
        _, runs = stores
        runs.claim(RunRecord("s1", T0, "Claimed", trigger="manual", requested_by=ALICE))
        got = runs.get("s1", T0, "manual")
        assert got.requested_by == ALICE and got.to_api()["requestedBy"] == ALICE
        assert "requestedBy" not in runs.claim(RunRecord("s1", T0, "Claimed")).to_api()


class TestSummaries:
    def test_a_new_schedule_has_an_empty_summary_and_writes_are_conditional(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        empty = schedules.get_summary("s1")
        assert empty is not None and empty.recent == [] and empty.etag
        outcome = RunOutcome("s1_x", T0, "Failed", T0 + timedelta(minutes=5), "aml-1", late=True)
        written = schedules.put_summary(replace(empty, recent=[outcome], failed_in_a_row=1,
                                                late=[LateRun("s1_y", T0, T0, T0 + timedelta(minutes=1))]))
        assert written.etag != empty.etag
        with pytest.raises(PreconditionFailed):
            schedules.put_summary(replace(empty, failed_in_a_row=7))  # stale etag
        with pytest.raises(AlreadyExists):
            schedules.put_summary(replace(empty, etag=None))  # an insert over an existing summary
        got = schedules.get_summary("s1")
        assert got == written and got.etag == written.etag
        assert got.recent[0].finished_at == (T0 + timedelta(minutes=5)).replace(microsecond=123000)
        assert got.late[0].late_at == (T0 + timedelta(minutes=1)).replace(microsecond=123000)

    def test_summaries_go_with_their_schedule_and_a_new_one_starts_empty(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        summary = schedules.get_summary("s1")
        schedules.put_summary(replace(summary, failed_in_a_row=3))
        schedules.delete("s1")
        assert schedules.get_summary("s1") is None
        assert schedules.get_summary("never") is None
        schedules.create(schedule())
        assert schedules.get_summary("s1").failed_in_a_row == 0

    def test_listing_with_summaries_pages_through_every_schedule_once(self, stores):
        schedules, _ = stores
        for i in range(23):
            schedules.create(schedule(f"sched-{i:02d}"))
            if i % 3 == 0:
                current = schedules.get_summary(f"sched-{i:02d}")
                schedules.put_summary(replace(current, failed_in_a_row=i, recent=[
                    RunOutcome(f"k{i}", T0, "Failed", T0, "aml"), RunOutcome(f"j{i}", T0, "Completed", T0, None)]))
        seen, token = {}, None
        while True:
            page = schedules.list(limit=4, continuation=token, summaries=True)
            assert len(page.items) <= 4
            seen.update({r.id: r.summary for r in page.items})
            token = page.continuation
            if not token:
                break
        assert sorted(seen) == [f"sched-{i:02d}" for i in range(23)]
        assert {i: s.failed_in_a_row for i, s in seen.items() if s.failed_in_a_row} == {
            f"sched-{i:02d}": i for i in range(3, 23, 3)}
        assert seen["sched-03"] == schedules.get_summary("sched-03").view(), "the view of the stored summary"
        assert all(r.summary is None for r in schedules.list(limit=50).items), "only when asked for"


    def test_listing_finds_each_summary_among_leftovers_of_deleted_schedules(self, stores):
        schedules, _ = stores
        for i in range(12):
            schedules.create(schedule(f"sched-{i:02d}"))
            current = schedules.get_summary(f"sched-{i:02d}")
            schedules.put_summary(replace(current, failed_in_a_row=i + 1))
            # A summary whose schedule is gone (its delete could not remove it) sorts in between.
            schedules.put_summary(ScheduleSummary(f"sched-{i:02d}-gone", failed_in_a_row=99))
        seen, token = {}, None
        while True:
            page = schedules.list(limit=5, continuation=token, summaries=True)
            seen.update({r.id: r.summary.failed_in_a_row for r in page.items})
            token = page.continuation
            if not token:
                break
        assert seen == {f"sched-{i:02d}": i + 1 for i in range(12)}

def final(schedule_id, slot, status, finished, **fields):
    return RunRecord(schedule_id, slot, status, finished_at=finished, aml_run_id=f"aml-{schedule_id}", **fields)


class TestFinishedIndex:
    def test_runs_that_end_are_listed_across_schedules_newest_first(self, stores):
        _, runs = stores
        expected = []
        for i in range(30):
            schedule_id = f"sched-{i % 7}"
            ended = T0 + timedelta(minutes=i)
            status = "Failed" if i % 4 == 0 else "Completed"
            if i % 2:  # ends through a replace: claimed in flight first
                claimed = runs.claim(RunRecord(schedule_id, T0 - timedelta(hours=i), "Submitted"))
                runs.replace(claimed.evolve(status=status, finished_at=ended))
            else:  # claimed final (a tick's skip summary, say)
                runs.claim(final(schedule_id, T0 - timedelta(hours=i), status, ended))
            expected.append((ended.replace(microsecond=123000), schedule_id, status))
        runs.claim(RunRecord("sched-0", T0 + timedelta(days=1), "Submitted"))  # in flight: not listed
        listed, token = [], None
        while True:
            page = runs.list_finished(limit=7, continuation=token)
            listed += [(r.finished_at, r.schedule_id, r.status) for r in page.items]
            token = page.continuation
            if not token:
                break
        assert listed == sorted(expected, reverse=True)

    def test_status_and_time_filters_answer_what_failed_in_a_window(self, stores):
        _, runs = stores
        for i in range(40):
            status = ("Failed", "TimedOut", "Completed", "Canceled")[i % 4]
            runs.claim(final(f"sched-{i % 9}", T0 - timedelta(days=1, hours=i), status, T0 + timedelta(minutes=10 * i)))
        start, end = T0 + timedelta(minutes=50), T0 + timedelta(minutes=200)
        found, token = [], None
        for _ in range(50):
            page = runs.list_finished(status=frozenset({"Failed", "TimedOut"}), start=start, end=end, limit=3,
                                      continuation=token)
            found += page.items
            token = page.continuation
            if not token:
                break
        wanted = sorted((T0 + timedelta(minutes=10 * i)).replace(microsecond=123000) for i in range(40)
                        if i % 4 in (0, 1) and 5 <= i <= 20)
        assert [r.finished_at for r in found] == wanted[::-1]
        assert {r.status for r in found} == {"Failed", "TimedOut"}
        with pytest.raises(InvalidContinuationToken):
            runs.list_finished(continuation="bm90LWEtdG9rZW4")

    def test_pruning_removes_what_ended_before_the_cutoff(self, stores):
        _, runs = stores
        for i in range(12):
            runs.claim(final(f"sched-{i}", T0 - timedelta(days=i), "Completed", T0 - timedelta(days=i)))
        removed = 0
        while True:
            step = runs.prune_finished(T0 - timedelta(days=7, hours=12), limit=2)
            if not step:
                break
            removed += step
        assert removed == 4
        assert len(runs.list_finished(limit=50).items) == 8

    def test_deadline_fields_round_trip(self, stores):
        _, runs = stores
        claimed = runs.claim(RunRecord("s1", T0, "Claimed", complete_by=T0 + timedelta(minutes=90)))
        marked = runs.replace(claimed.evolve(status="Running", late_at=T0 + timedelta(minutes=91)))
        with pytest.raises(PreconditionFailed):
            runs.replace(claimed.evolve(late_at=T0 + timedelta(minutes=92)))  # a second poll loses
        got = runs.get("s1", T0)
        assert got.complete_by == (T0 + timedelta(minutes=90)).replace(microsecond=123000)
        assert got.late_at == (T0 + timedelta(minutes=91)).replace(microsecond=123000) and got.etag == marked.etag
        assert got.to_api()["completeBy"] == "2026-11-22T11:30:00.123Z"
