"""Listeners hear each slot's end once, and a schedule's pause, after the records are written;
a failing listener never costs the slot its record."""

from datetime import timedelta

from shared.aml.errors import AmlNotFoundError
from tests.unit.engine.test_v2_targets import BATCH, JOB, T0, make


class Heard:
    def run_late(self, run):
        pass

    def __init__(self, runs=None, schedules=None):
        self.finished, self.paused = [], []
        self._runs, self._schedules = runs, schedules

    def run_finished(self, run):
        # Told after the write: the store already holds what the listener is given.
        if self._runs is not None:
            assert self._runs.get(run.schedule_id, run.slot).status == run.status
        self.finished.append((run.slot, run.status))

    def schedule_paused(self, record):
        if self._schedules is not None:
            assert not self._schedules.get(record.id).definition.enabled
        self.paused.append((record.id, record.paused_reason))


class Broken:
    def run_late(self, run):
        raise RuntimeError("listener bug")

    def run_finished(self, run):
        raise RuntimeError("listener bug")

    def schedule_paused(self, record):
        raise RuntimeError("listener bug")


def test_a_run_that_ends_is_heard_once_with_its_final_status():
    engine, _, runs, aml = make(JOB)
    heard = Heard(runs)
    engine.outcomes.add(heard)
    engine.tick(T0 + timedelta(seconds=1))
    assert heard.finished == []  # submitted is not an end
    aml.status["s1_20261122T100000Z"] = "Running"
    engine.poll(T0 + timedelta(seconds=30))
    aml.status["s1_20261122T100000Z"] = "Completed"
    engine.poll(T0 + timedelta(seconds=40))
    engine.poll(T0 + timedelta(seconds=50))
    assert heard.finished == [(T0, "Completed")]


def test_refused_slots_are_heard_and_so_is_the_pause_they_lead_to():
    engine, schedules, runs, aml = make(BATCH, policy={"pauseAfterFailures": 2, "misfire": "all", "maxCatchup": 10})
    heard = Heard(runs, schedules)
    engine.outcomes.add(heard)
    aml.fail_with = AmlNotFoundError("Batch endpoint score-batch was not found.", status=404, code="UserError")
    for minute in range(3):
        engine.tick(T0 + timedelta(minutes=minute, seconds=1))
    assert heard.finished == [(T0, "SubmitFailed"), (T0 + timedelta(minutes=1), "SubmitFailed")]
    ((schedule_id, reason),) = heard.paused
    assert schedule_id == "s1" and "2 slots in a row" in reason


def test_a_failing_listener_is_skipped_and_the_others_still_hear():
    engine, _, runs, aml = make(JOB)
    heard = Heard()
    engine.outcomes.add(Broken())
    engine.outcomes.add(heard)
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["s1_20261122T100000Z"] = "Failed"
    engine.poll(T0 + timedelta(seconds=30))
    assert runs.get("s1", T0).status == "Failed" and heard.finished == [(T0, "Failed")]


