"""The store contract, run against the memory store and the Table store on Azurite (the `stores`
fixture): schedules, incidents, runs, and the indexes and retention."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shared.engine.copies import retire_queued_copies
from shared.store import (
    QUEUED,
    AlreadyExists,
    InvalidContinuationToken,
    NotFound,
    PreconditionFailed,
    RunRecord,
)
from shared.store.incidents import IncidentRecord
from shared.store.keys import due_key, shard_of
from shared.store.memory import MemoryIncidentStore, MemoryScheduleStore

from tests.contract.store_support import T0, schedule


class TestScheduleStore:
    def test_create_get_round_trip_at_millisecond_precision(self, stores):
        schedules, _ = stores
        created = schedules.create(schedule())
        got = schedules.get("s1")
        assert created.etag and got.etag == created.etag
        assert got.definition == created.definition
        assert got.next_fire_time == T0.replace(microsecond=123000)
        assert got.next_fire_time.tzinfo is not None and got.next_fire_time.utcoffset() == timedelta(0)

    def test_create_twice_raises(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        with pytest.raises(AlreadyExists):
            schedules.create(schedule())

    def test_replace_with_stale_etag_fails_and_fresh_etag_wins(self, stores):
        schedules, _ = stores
        first = schedules.create(schedule())
        first.next_fire_time = T0 + timedelta(minutes=1)
        second = schedules.replace(first)
        assert second.etag != first.etag
        first.next_fire_time = T0 + timedelta(minutes=5)
        with pytest.raises(PreconditionFailed):
            schedules.replace(first)  # still carries the old etag
        assert schedules.get("s1").next_fire_time == T0.replace(microsecond=123000) + timedelta(minutes=1)

    def test_replace_without_etag_is_unconditional_and_missing_is_not_found(self, stores):
        schedules, _ = stores
        record = schedules.create(schedule())
        record.etag = None
        schedules.replace(record)
        with pytest.raises(NotFound):
            schedules.replace(schedule("ghost"))

    def test_replace_drops_a_cleared_cursor(self, stores):
        schedules, _ = stores
        record = schedules.create(schedule())
        record.next_fire_time = None
        schedules.replace(record)
        assert schedules.get("s1").next_fire_time is None
        assert schedules.due(T0 + timedelta(days=1)) == []

    def test_delete(self, stores):
        schedules, _ = stores
        record = schedules.create(schedule())
        with pytest.raises(PreconditionFailed):
            schedules.delete("s1", etag='W/"datetime\'2000-01-01T00%3A00%3A00.0000000Z\'"')
        schedules.delete("s1", etag=record.etag)
        with pytest.raises(NotFound):
            schedules.get("s1")
        with pytest.raises(NotFound):
            schedules.delete("s1")

    def test_due_returns_enabled_schedules_at_or_before_horizon(self, stores):
        schedules, _ = stores
        schedules.create(schedule("due", next_fire=T0))
        schedules.create(schedule("later", next_fire=T0 + timedelta(minutes=5)))
        schedules.create(schedule("off", enabled=False, next_fire=T0))
        horizon = T0.replace(microsecond=123000)
        assert [r.id for r in schedules.due(horizon)] == ["due"]
        shard = shard_of("due")
        assert schedules.due_keys(horizon, shard, 10) == [due_key(T0, "due")]
        assert [r.id for r in schedules.due(horizon, shard)] == ["due"]

    def test_due_pages_read_only_their_range_of_due_rows(self, stores):
        schedules, _ = stores
        *ids, later = [i for i in (f"p{n}" for n in range(200)) if shard_of(i) == "shard_07"][:6]
        for n, schedule_id in enumerate(ids):
            schedules.create(schedule(schedule_id, next_fire=T0 + timedelta(seconds=n)))
        schedules.create(schedule(later, next_fire=T0 + timedelta(hours=1)))
        horizon = T0 + timedelta(minutes=1)
        keys = schedules.due_keys(horizon, "shard_07", 10)
        assert keys == [due_key(T0 + timedelta(seconds=n), i) for n, i in enumerate(ids)]  # in due order, due only
        assert schedules.due_keys(horizon, "shard_07", 2) == keys[:2]
        assert [r.id for r in schedules.due(horizon, "shard_07", through=keys[1])] == ids[:2]
        assert [r.id for r in schedules.due(horizon, "shard_07", after=keys[1], through=keys[3])] == ids[2:4]
        assert [r.id for r in schedules.due(horizon, "shard_07", after=keys[3])] == ids[4:]

    def test_list_pages(self, stores):
        schedules, _ = stores
        for i in range(5):
            schedules.create(schedule(f"s{i}"))
        seen, token = [], None
        while True:
            page = schedules.list(limit=2, continuation=token)
            seen += [r.id for r in page.items]
            token = page.continuation
            if not token:
                break
        assert sorted(seen) == [f"s{i}" for i in range(5)]
        with pytest.raises(InvalidContinuationToken):
            schedules.list(continuation="%%%")


def incidents_of(schedules):
    if isinstance(schedules, MemoryScheduleStore):
        return MemoryIncidentStore(schedules)
    from shared.store.table import TableIncidentStore

    return TableIncidentStore(schedules)


class TestIncidentStore:
    """A schedule's incident row: beside the schedule, conditional writes, deleted with the schedule."""

    def opened(self, schedule_id="s1"):
        return IncidentRecord(schedule_id, f"{schedule_id}-1", True, "failed", T0, opened_by=f"{schedule_id}_run1")

    def test_none_until_created_then_round_trips_at_millisecond_precision(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        incidents = incidents_of(schedules)
        assert incidents.get("s1") is None
        created = incidents.create(self.opened())
        got = incidents.get("s1")
        assert created.etag and got.etag == created.etag and got == created
        assert got.opened_at == T0.replace(microsecond=123000) and got.opened_at.utcoffset() == timedelta(0)
        assert (got.closed_at, got.closed_by, got.paused_alerted) == (None, None, False)

    def test_of_two_first_incidents_one_is_created(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        incidents = incidents_of(schedules)
        incidents.create(self.opened())
        with pytest.raises(AlreadyExists):
            incidents.create(self.opened().evolve(incident_id="s1-2"))
        assert incidents.get("s1").incident_id == "s1-1"

    def test_replace_is_conditional_on_the_etag_read(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        incidents = incidents_of(schedules)
        read = incidents.create(self.opened())
        closed = incidents.replace(read.evolve(open=False, closed_at=T0 + timedelta(minutes=5), closed_by="s1_run2",
                                               closed_slot=T0 + timedelta(minutes=4)))
        assert closed.etag != read.etag and incidents.get("s1") == closed
        assert closed.closed_slot == (T0 + timedelta(minutes=4)).replace(microsecond=123000)
        with pytest.raises(PreconditionFailed):
            incidents.replace(read.evolve(paused_alerted=True))  # read before the close: stale
        got = incidents.get("s1")
        assert not got.open and got.closed_by == "s1_run2" and not got.paused_alerted

    def test_writing_the_incident_leaves_the_schedules_etag_alone(self, stores):
        # The tick's cursor moves are guarded by the schedule's ETag (and its due row's).
        schedules, _ = stores
        record = schedules.create(schedule())
        [due] = schedules.due(T0 + timedelta(minutes=1))
        incidents_of(schedules).create(self.opened())
        assert schedules.get("s1").etag == record.etag
        due.next_fire_time = T0 + timedelta(minutes=1)
        assert schedules.advance([due]) == {"s1": None}

    def test_deleting_the_schedule_deletes_its_incident(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        schedules.create(schedule("s2"))
        incidents = incidents_of(schedules)
        incidents.create(self.opened())
        incidents.create(self.opened("s2"))
        schedules.delete("s1")
        assert incidents.get("s1") is None and incidents.get("s2").open
        with pytest.raises(NotFound):
            incidents.replace(self.opened())
        schedules.create(schedule())
        assert incidents.get("s1") is None, "a schedule created again starts without an open incident"

    def test_incident_rows_are_not_schedules(self, stores):
        schedules, _ = stores
        schedules.create(schedule())
        incidents_of(schedules).create(self.opened())
        assert [r.id for r in schedules.list().items] == ["s1"]
        assert [r.id for r in schedules.due(T0 + timedelta(minutes=1))] == ["s1"]


class TestRunStore:
    def test_claim_is_exclusive_under_contention(self, stores):
        _, runs = stores
        wins, losses = [], []

        def contender():
            try:
                wins.append(runs.claim(RunRecord("s1", T0, "Claimed", claimed_at=T0)))
            except AlreadyExists:
                losses.append(1)

        threads = [threading.Thread(target=contender) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and len(losses) == 7

    def test_replace_with_etag_and_round_trip(self, stores):
        _, runs = stores
        claimed = runs.claim(RunRecord("s1", T0, "Claimed", claimed_at=T0, experiment_name="e"))
        submitted = runs.replace(claimed.evolve(status="Submitted", aml_run_id="r1", attempts=1,
                                                parameters={"a": 1, "b": "x"}, submitted_at=T0))
        with pytest.raises(PreconditionFailed):
            runs.replace(claimed.evolve(status="SubmitFailed"))
        got = runs.get("s1", T0)
        assert (got.status, got.aml_run_id, got.attempts, got.parameters) == ("Submitted", "r1", 1, {"a": 1, "b": "x"})
        assert got.etag == submitted.etag and got.active
        assert got.run_key == "s1_20261122T100000.123Z"  # milliseconds are part of the key

    def test_in_flight_has_active_and_active_runs_of(self, stores):
        _, runs = stores
        a = runs.claim(RunRecord("s1", T0, "Claimed"))
        runs.claim(RunRecord("s1", T0 + timedelta(hours=1), "Skipped"))
        runs.claim(RunRecord("s2", T0, "Completed"))
        assert [r.slot for r in runs.in_flight("s1")] == [a.slot] and not runs.has_active("s1")
        running = runs.replace(a.evolve(status="Running"))
        assert runs.has_active("s1") and not runs.has_active("s2") and runs.in_flight("s2") == []
        assert [r.slot for r in runs.active_runs_of("s1")] == [a.slot]
        runs.replace(running.evolve(status="Completed"))
        assert runs.in_flight("s1") == [] and not runs.has_active("s1")

    def test_in_flight_records_are_current_and_guard_their_next_write(self, stores):
        _, runs = stores
        claimed = runs.claim(RunRecord("s1", T0, "Claimed", owner="queue", experiment_name="e"))
        [seen] = runs.in_flight("s1")
        assert (seen.status, seen.owner, seen.experiment_name) == ("Claimed", "queue", "e")
        runs.replace(claimed.evolve(owner="worker-1"))  # someone else writes in between
        with pytest.raises(PreconditionFailed):
            runs.replace(seen.evolve(owner="worker-2"))
        [now] = runs.in_flight("s1")
        submitted = runs.replace(now.evolve(status="Submitted", aml_run_id="r1"))
        assert runs.get("s1", T0).aml_run_id == "r1" and runs.in_flight("s1")[0].aml_run_id == "r1"
        assert submitted.active

    def test_in_flight_reads_markers_not_history(self, stores):
        # A long history and one run in flight: what comes back is the one run.
        _, runs = stores
        for i in range(300):
            runs.claim(RunRecord("s1", T0 - timedelta(minutes=i + 1), "Completed"))
        runs.claim(RunRecord("s1", T0, "Submitted", aml_run_id="r"))
        assert [r.aml_run_id for r in runs.in_flight("s1")] == ["r"]

    def test_list_newest_first_with_filter_and_pages(self, stores):
        _, runs = stores
        for i in range(7):
            runs.claim(RunRecord("s1", T0 + timedelta(hours=i), "Completed" if i % 2 else "Failed"))
        runs.claim(RunRecord("other", T0, "Completed"))
        seen, token = [], None
        while True:
            page = runs.list_runs("s1", limit=3, continuation=token)
            seen += [r.slot for r in page.items]
            token = page.continuation
            if not token:
                break
        assert seen == sorted(seen, reverse=True) and len(seen) == 7
        failed = runs.list_runs("s1", status="Failed", limit=50).items
        assert len(failed) == 4 and {r.status for r in failed} == {"Failed"}

    def test_get_missing_and_replace_missing(self, stores):
        _, runs = stores
        with pytest.raises(NotFound):
            runs.get("s1", T0)
        with pytest.raises(NotFound):
            runs.replace(RunRecord("s1", T0, "Completed"))


class TestIndexesAndRetention:
    def test_all_in_flight_reads_every_shard_and_nothing_final(self, stores):
        _, runs = stores
        for i in range(40):
            runs.claim(RunRecord(f"sched-{i}", T0, "Claimed" if i % 2 else "Submitted"))
            runs.claim(RunRecord(f"sched-{i}", T0 - timedelta(hours=1), "Completed"))
        found = sorted((r.schedule_id, r.status) for r in runs.all_in_flight())
        assert len(found) == 40 and {status for _, status in found} == {"Claimed", "Submitted"}

    def test_claim_many_claims_what_is_free_and_says_what_was_taken(self, stores):
        _, runs = stores
        runs.claim(RunRecord("s2", T0, "Claimed"))
        results = runs.claim_many([RunRecord(f"s{i}", T0, "Claimed") for i in range(5)]
                                  + [RunRecord("s1", T0 - timedelta(minutes=1), "Skipped", skipped_count=3)])
        assert [type(r).__name__ for r in results] == ["RunRecord", "RunRecord", "AlreadyExists", "RunRecord",
                                                        "RunRecord", "RunRecord"]
        assert {r.schedule_id for r in runs.all_in_flight()} == {"s0", "s1", "s2", "s3", "s4"}
        assert runs.get("s1", T0 - timedelta(minutes=1)).skipped_count == 3

    def test_retiring_queued_copies_makes_a_queued_claims_copy_stale_and_leaves_a_taken_one(self, stores):
        _, runs = stores
        queued, taken = runs.claim_many([RunRecord("s1", T0, "Claimed", owner=QUEUED),
                                         RunRecord("s1", T0 + timedelta(minutes=1), "Claimed", owner=QUEUED)])
        held = runs.replace(taken.evolve(owner="worker-1", next_attempt_at=T0 + timedelta(minutes=9)))
        assert retire_queued_copies(runs, "s1", T0 + timedelta(seconds=5)) == 1
        with pytest.raises(PreconditionFailed):  # the copy the dispatch put into the message
            runs.replace(queued.evolve(owner="worker-2"))
        assert runs.get("s1", T0).owner == QUEUED
        assert runs.replace(held.evolve(attempts=1)).attempts == 1  # the worker's lease still holds

    def test_advance_moves_cursors_unless_the_schedule_changed(self, stores):
        schedules, _ = stores
        for sid in ("a", "b", "c"):
            schedules.create(schedule(sid, next_fire=T0))
        due = {r.id: r for r in schedules.due(T0 + timedelta(seconds=1))}
        edited = schedules.get("b")
        schedules.replace(edited)  # a user saves b after the tick read it
        for record in due.values():
            record.next_fire_time = T0 + timedelta(minutes=1)
        outcome = schedules.advance(list(due.values()))
        assert outcome["a"] is None and outcome["c"] is None and isinstance(outcome["b"], PreconditionFailed)
        assert [r.id for r in schedules.due(T0 + timedelta(seconds=1))] == ["b"]
        assert {r.id for r in schedules.due(T0 + timedelta(minutes=1))} == {"a", "b", "c"}

    def test_history_pages_cover_every_schedule_once_per_round(self, stores):
        schedules, _ = stores
        for i in range(7):
            schedules.create(schedule(f"s{i}"))
        seen, position = [], None
        for _ in range(100):
            ids, position = schedules.history_page(position, 2)
            seen += ids
            if position is None:
                break
        assert sorted(seen) == [f"s{i}" for i in range(7)]
        schedules.delete("s3")
        schedules.forget_history("s3")
        schedules.forget_history("s4")  # still exists: kept
        remaining, position = [], None
        while True:
            ids, position = schedules.history_page(position, 50)
            remaining += ids
            if position is None:
                break
        assert "s3" not in remaining and "s4" in remaining

    def test_meta_round_trips(self, stores):
        schedules, _ = stores
        assert schedules.get_meta("prune-position") is None
        schedules.set_meta("prune-position", "shard_03|s9")
        assert schedules.get_meta("prune-position") == "shard_03|s9"

    def test_manual_runs_have_their_own_key(self, stores):
        _, runs = stores
        runs.claim(RunRecord("s1", T0, "Submitted"))
        manual = runs.claim(RunRecord("s1", T0, "Submitted", trigger="manual"))
        assert manual.slot_key == "20261122T100000.123Z-manual"
        assert runs.get("s1", T0, "manual").trigger == "manual"
        assert runs.get("s1", T0).trigger == "schedule"

    def test_records_around_a_range_reach_back_to_the_first_one_before_it(self, stores):
        _, runs = stores
        minute = timedelta(minutes=1)
        start = T0.replace(microsecond=0)
        runs.claim(RunRecord("s1", start - 9 * minute, "Completed"))  # beyond the one before: not read
        runs.claim(RunRecord("s1", start - 5 * minute, "Skipped", skipped_count=7,
                             last_skipped_slot=start + minute))
        runs.claim(RunRecord("s1", start + 2 * minute, "Claimed"))
        runs.claim(RunRecord("s1", start + 3 * minute, "Submitted", trigger="manual"))
        runs.claim(RunRecord("s1", start + 4 * minute, "Completed"))
        runs.claim(RunRecord("s1", start + 5 * minute, "Completed"))  # after the range
        runs.claim(RunRecord("s2", start + 3 * minute, "Completed"))  # another schedule
        found = runs.records_around("s1", start, start + 4 * minute)
        assert [(r.slot, r.status) for r in found] == [(start + 4 * minute, "Completed"),
                                                       (start + 2 * minute, "Claimed"),
                                                       (start - 5 * minute, "Skipped")]
        assert found[-1].last_skipped_slot == start + minute
        assert runs.records_around("s3", start, start + 4 * minute) == []

    def test_older_than_and_delete(self, stores):
        _, runs = stores
        for day in range(5):
            runs.claim(RunRecord("s1", T0 - timedelta(days=day), "Completed", previous_aml_run_ids=["a", "b"]))
        runs.claim(RunRecord("s2", T0 - timedelta(days=9), "Completed"))
        old = runs.older_than("s1", T0 - timedelta(days=2, hours=12))
        assert sorted(r.slot_key for r in old) == ["20261119T100000.123Z", "20261118T100000.123Z"][::-1]
        assert old[0].previous_aml_run_ids == ["a", "b"]
        for run in old:
            runs.delete(run)
        assert len(runs.list_runs("s1").items) == 3

    def test_resumed_at_round_trips(self, stores):
        schedules, _ = stores
        record = schedule()
        record.resumed_at = T0
        schedules.create(record)
        assert schedules.get("s1").resumed_at == T0.replace(microsecond=123000)
