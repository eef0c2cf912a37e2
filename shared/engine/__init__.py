"""The scheduler's engine: tick and poll, written against ports, with time passed in.

* `tick` (tick.py) settles due schedules: plans their owed slots, claims each by
  inserting its run record, attempts it, records skips, advances the cursor;
* every submit goes through one attempt (attempt.py): lease, reconciliation by run
  key, concurrency policy, submit, record;
* `poll` (poll.py) brings active runs up to date and prunes history;
* manual runs and backfill (manual.py).

Claims are owned for a lease (timing.py) derived from how long a submit can take; a
claim not finished when its lease runs out is taken up by a later tick, which first
asks AML for a run carrying the slot's run key before it submits anything.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable

from shared.engine import manual
from shared.engine.attempt import SlotRunner
from shared.engine.model import (
    ATTEMPT_TAG,
    BACKFILL,
    RUN_KEY_TAG,
    AmlPort,
    BackfillError,
    BackfillResult,
    ConcurrencyConflict,
    PollReport,
    TickReport,
    status_from_aml,
)
from shared.engine.poll import Poller
from shared.engine.tick import Ticker
from shared.engine.timing import DEFAULT_LEASES, LeasePolicy, WorkClock
from shared.store import RunRecord, RunStore, ScheduleRecord, ScheduleStore

# The default lease, for callers and tests that think in one number.
LEASE = DEFAULT_LEASES.lease

__all__ = ["ATTEMPT_TAG", "BACKFILL", "LEASE", "RUN_KEY_TAG", "BackfillError", "BackfillResult",
           "ConcurrencyConflict", "Engine", "LeasePolicy", "PollReport", "TickReport", "status_from_aml"]


class Engine:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, aml: AmlPort, *,
                 retention: timedelta | None = None, leases: LeasePolicy = DEFAULT_LEASES,
                 elapsed: Callable[[], float] = time.monotonic):
        self._runner = SlotRunner(schedules, runs, aml, leases)
        self._ticker = Ticker(self._runner)
        self._poller = Poller(self._runner, retention)
        self._elapsed = elapsed

    @property
    def leases(self) -> LeasePolicy:
        return self._runner.leases

    def tick(self, now: datetime) -> TickReport:
        return self._ticker.tick(WorkClock(now, self._elapsed))

    def poll(self, now: datetime) -> PollReport:
        return self._poller.poll(now)

    def trigger_now(self, record: ScheduleRecord, now: datetime, overrides: dict | None = None) -> RunRecord:
        return manual.trigger_now(self._runner, record, WorkClock(now, self._elapsed), overrides)

    def backfill(self, record: ScheduleRecord, start: datetime, end: datetime, now: datetime) -> BackfillResult:
        return manual.backfill(self._runner, record, start, end, now)
