"""Timers: schedules resolved and fired, no overlap, missed occurrences collapsed, run on start-up."""

from __future__ import annotations

import threading
import time

from devtools.devhost import TimerRunner
from tests.devtools.devhost_support import fixture_host, wait_for


def test_timer_schedule_is_resolved_and_fires_every_second(tmp_path):
    tick_file = tmp_path / "ticks.txt"

    def ticks():
        return tick_file.read_text().splitlines() if tick_file.exists() else []

    with fixture_host(tick_file) as host:
        assert host.timers == {"tick": "*/1 * * * * *"}
        assert any("tick: timerTrigger, schedule '*/1 * * * * *'" in line for line in host.listing())
        assert wait_for(lambda: len(ticks()) >= 2, timeout=3.5), ticks()


class _RecordingFunction:
    """Stands in for an indexed timer function; optionally slow on its first call."""

    name = "probe"

    def __init__(self, first_call_seconds=0.0):
        self.calls = []
        self.active = 0
        self.max_active = 0
        self._first = first_call_seconds
        self._lock = threading.Lock()

    def invoke(self, request, invocation_id):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            first = not self.calls
            self.calls.append((time.monotonic(), request.past_due))
        try:
            if first and self._first:
                time.sleep(self._first)
            if len(self.calls) == 2:
                raise RuntimeError("a failing invocation must not stop the timer")
        finally:
            with self._lock:
                self.active -= 1


def test_timer_never_overlaps_and_collapses_missed_occurrences():
    probe = _RecordingFunction(first_call_seconds=2.2)
    runner = TimerRunner(probe, "* * * * * *")
    runner.start()
    try:
        assert wait_for(lambda: len(probe.calls) >= 3, timeout=6)
    finally:
        runner.stop_event.set()
        runner.join(5)
    (t0, due0), (t1, due1), (t2, due2) = probe.calls[:3]
    assert probe.max_active == 1
    # The two occurrences missed during the 2.2 s run became one immediate, past-due call.
    assert due0 is False and due1 is True and due2 is False
    assert 2.1 <= t1 - t0 < 3.0
    assert 0 < t2 - t1 <= 1.2
    assert not runner.is_alive()


def test_run_on_startup_fires_once_at_once():
    probe = _RecordingFunction()
    runner = TimerRunner(probe, "0 0 0 1 1 *", run_on_startup=True)
    runner.start()
    try:
        assert wait_for(lambda: probe.calls, timeout=2)
    finally:
        runner.stop_event.set()
        runner.join(2)
    assert len(probe.calls) == 1 and probe.calls[0][1] is False
    assert not runner.is_alive()
