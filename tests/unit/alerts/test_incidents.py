"""The incident state machine, with time passed in: one alert per incident, one on recovery."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.alerts.incidents import decide, event_of

T0 = datetime(2026, 11, 22, 2, 30, tzinfo=timezone.utc)


def run(events, start=None):
    """Feed events in order, storing what each decision writes; the alerts told, in order."""
    current, told = start, []
    for minute, (event, run_key) in enumerate(events):
        decision = decide(current, event, "nightly", T0 + timedelta(minutes=minute), run_key)
        if decision.incident is not None:
            current = decision.incident
        if decision.alert:
            told.append((decision.alert, current.incident_id))
    return current, told


@pytest.mark.parametrize("status, event", [
    ("Failed", "failed"), ("SubmitFailed", "failed"), ("TimedOut", "failed"), ("Completed", "completed"),
    ("Skipped", None), ("Canceled", None), ("Running", None),
])
def test_what_a_runs_final_status_means(status, event):
    assert event_of(status) == event


def test_the_first_failure_opens_an_incident_and_the_next_ones_say_nothing():
    current, told = run([("failed", "r1"), ("failed", "r2"), ("late", "r3"), ("failed", "r4")])
    assert told == [("failed", "nightly-20261122T023000000")]
    assert current.open and current.cause == "failed" and current.opened_by == "r1" and current.opened_at == T0


def test_the_first_completed_run_closes_it_once():
    current, told = run([("failed", "r1"), ("failed", "r2"), ("completed", "r3"), ("completed", "r4")])
    assert [alert for alert, _ in told] == ["failed", "recovered"]
    assert told[0][1] == told[1][1], "the recovery names the incident it closes"
    assert not current.open and current.closed_by == "r3" and current.closed_at == T0 + timedelta(minutes=2)


def test_completed_runs_without_an_incident_write_nothing():
    decision = decide(None, "completed", "nightly", T0, "r1")
    assert decision.incident is None and decision.alert is None


def test_after_a_recovery_the_next_failure_is_a_new_incident():
    _, told = run([("failed", "r1"), ("completed", "r2"), ("failed", "r3")])
    assert [alert for alert, _ in told] == ["failed", "recovered", "failed"]
    assert told[0][1] != told[2][1]


def test_a_late_run_opens_an_incident_that_its_completion_closes():
    current, told = run([("late", "r1"), ("failed", "r2"), ("completed", "r1")])
    assert [alert for alert, _ in told] == ["late", "recovered"]
    assert current.cause == "late"


def test_a_pause_is_told_once_even_during_an_incident_of_failures():
    current, told = run([("failed", "r1"), ("failed", "r2"), ("paused", None), ("paused", None), ("completed", "r9")])
    assert [alert for alert, _ in told] == ["failed", "paused", "recovered"]
    assert len({incident for _, incident in told}) == 1


def test_a_pause_alone_opens_an_incident():
    current, told = run([("paused", None), ("failed", "r1")])
    assert [alert for alert, _ in told] == ["paused"] and current.cause == "paused" and current.paused_alerted


def test_a_decision_carries_the_etag_it_was_read_with():
    closed, _ = run([("failed", "r1"), ("completed", "r2")])
    closed.etag = "W/\"read\""
    decision = decide(closed, "failed", "nightly", T0 + timedelta(hours=1), "r3")
    assert decision.incident.etag == "W/\"read\"" and decision.current is closed


def test_a_failure_of_an_older_slot_reported_after_the_recovery_opens_nothing():
    slot = T0 - timedelta(minutes=10)
    opened = decide(None, "failed", "nightly", T0, "r1", slot).incident
    closed = decide(opened, "completed", "nightly", T0, "r3", slot + timedelta(minutes=2)).incident
    assert closed.closed_slot == slot + timedelta(minutes=2)
    older = decide(closed, "failed", "nightly", T0 + timedelta(seconds=5), "r2", slot + timedelta(minutes=1))
    assert older.incident is None and older.alert is None
    newer = decide(closed, "failed", "nightly", T0 + timedelta(minutes=3), "r4", slot + timedelta(minutes=3))
    assert newer.alert == "failed" and newer.incident.open
