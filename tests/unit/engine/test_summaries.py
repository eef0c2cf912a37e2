"""The summary listener over a running engine: it follows the slots' outcomes, never writes the
schedule's row, survives races, and never costs a slot its record."""

import threading
from datetime import timedelta

from shared.aml.errors import AmlPermanentError
from shared.engine.summaries import SummaryKeeper
from shared.store import PreconditionFailed, RunRecord, StoreUnavailable
from shared.store.memory import MemoryScheduleStore
from shared.summaries import schedule_health
from tests.unit.engine.test_engine import T0, make


def kept(**options):
    engine, schedules, runs, aml = make(**options)
    engine.outcomes.add(SummaryKeeper(schedules))
    return engine, schedules, runs, aml


def run_for(minutes, engine, aml, status):
    """Tick at minute `minutes`, then let AML end the slot's run with `status`."""
    engine.tick(T0 + timedelta(minutes=minutes, seconds=1))
    run_id = f"run-{len(aml.submissions)}"
    aml.status[run_id] = status
    return run_id


def test_outcomes_fold_into_the_summary_and_the_schedule_row_is_not_written():
    engine, schedules, runs, aml = kept()
    run_for(0, engine, aml, "Completed")
    etag = schedules.get("s1").etag
    engine.poll(T0 + timedelta(seconds=30))
    assert schedules.get("s1").etag == etag, "a run's end never writes the schedule row (cursor moves need it)"
    run_for(1, engine, aml, "Failed")
    engine.poll(T0 + timedelta(minutes=1, seconds=30))
    summary = schedules.get_summary("s1")
    assert [(o.status, o.aml_run_id) for o in summary.recent] == [("Failed", "run-2"), ("Completed", "run-1")]
    assert summary.failed_in_a_row == 1
    assert schedule_health(schedules.get("s1"), summary, T0 + timedelta(minutes=2)) == "failing"


def test_a_refused_submit_counts_as_failed_like_any_run():
    engine, schedules, _, aml = kept()
    aml.fail_with = AmlPermanentError("Pipeline not found", status=404, code="NotFound")
    engine.tick(T0 + timedelta(seconds=1))
    assert schedules.get_summary("s1").last_run.status == "SubmitFailed"


class Racing(MemoryScheduleStore):
    """Another writer updates the summary between this listener's read and its write, `times` times."""

    def __init__(self, times):
        super().__init__()
        self.times, self.writes = times, 0

    def put_summary(self, summary):
        self.writes += 1
        if self.times:
            self.times -= 1
            raise PreconditionFailed(summary.schedule_id)
        return super().put_summary(summary)


def test_a_lost_write_is_read_again_and_a_store_that_keeps_changing_is_given_up_on(caplog):
    engine, schedules, runs, aml = kept()
    store = Racing(times=2)
    store.create(schedules.get("s1"))
    keeper = SummaryKeeper(store, rounds=3)
    done = RunRecord("s1", T0, "Completed", finished_at=T0 + timedelta(minutes=1))
    keeper.run_finished(done)
    assert store.writes == 3 and store.get_summary("s1").last_run.run_key == done.run_key
    store.times = 5
    keeper.run_finished(done.evolve(slot=T0 + timedelta(minutes=1)))
    assert store.get_summary("s1").last_run.run_key == done.run_key
    assert "run summary not updated" in caplog.text


class BeforeSummaries(MemoryScheduleStore):
    """Schedules created before summaries existed: they have none until a run ends."""

    def create(self, record):
        created = super().create(record)
        with self._lock:
            self._summaries.pop(record.id)
        return created


def test_a_deleted_schedule_gets_no_summary_and_an_old_one_gets_its_first():
    _, schedules, _, _ = kept()
    keeper = SummaryKeeper(schedules)
    schedules.delete("s1")
    keeper.run_finished(RunRecord("s1", T0, "Completed", finished_at=T0))
    assert schedules.get_summary("s1") is None
    old = BeforeSummaries()
    old.create(make()[1].get("s1"))
    assert old.get_summary("s1") is None
    SummaryKeeper(old).run_finished(RunRecord("s1", T0, "Completed", finished_at=T0))
    assert old.get_summary("s1").last_run.status == "Completed"


def test_parallel_ends_of_one_schedule_all_land():
    engine, schedules, _, _ = kept()
    keeper = SummaryKeeper(schedules, rounds=50)
    ends = [RunRecord("s1", T0 + timedelta(minutes=i), "Completed", finished_at=T0 + timedelta(hours=1))
            for i in range(8)]
    threads = [threading.Thread(target=keeper.run_finished, args=(run,)) for run in ends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(schedules.get_summary("s1").recent) == 8


class Unavailable(MemoryScheduleStore):
    def put_summary(self, summary):
        raise StoreUnavailable("table service answered 503: Server Busy")


def test_a_summary_that_cannot_be_written_never_costs_the_slot_its_record():
    engine, schedules, runs, aml = make()
    broken = Unavailable()
    broken.create(schedules.get("s1"))
    engine.outcomes.add(SummaryKeeper(broken))
    run_for(0, engine, aml, "Completed")
    engine.poll(T0 + timedelta(seconds=30))
    assert runs.get("s1", T0).status == "Completed"
