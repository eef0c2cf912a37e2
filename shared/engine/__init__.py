"""The scheduler's engine, written against ports (stores, AML, queue), with time passed in.

* `tick` (tick.py) finds the shards with due schedules and queues one shard message
  each; a worker's `work` on a shard message dispatches it: claims the owed slots (one
  inserted run record each), records skips, queues one slot message per claim, moves
  the cursors;
* `work` on a slot message (work.py) is one attempt;
* every submit goes through one attempt (attempt.py): lease, reconciliation by run key,
  concurrency policy, submit, record;
* `poll` (poll.py) goes through every run in flight: outcomes from AML, timeouts, the
  sweep of pending slots whose time has come, and a round of history pruning;
* manual runs and backfill (manual.py).

Claims are owned for a lease (timing.py) derived from how long a submit can take; a
claim not finished when its lease runs out is taken up again by the sweep, and whoever
takes it first asks AML for a run carrying the slot's run key before submitting anything.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Callable

from shared.config import DEFAULT_DISPATCH_PAGE_SIZE
from shared.heartbeat import LAST_POLL, LAST_TICK
from shared.schedules import iso

from shared.engine import manual
from shared.engine.attempt import SlotRunner
from shared.engine.outcomes import OutcomeListener, RunOutcomes
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
from shared.engine.poll import Poller, process_owner
from shared.engine.tick import Ticker
from shared.engine.timing import DEFAULT_LEASES, LeasePolicy, WorkClock
from shared.engine.work import give_up, work
from shared.queue import ShardMessage, SlotMessage, SlotQueue
from shared.store import RunRecord, RunStore, ScheduleRecord, ScheduleStore, StoreError

log = logging.getLogger("shared.engine")

# The default lease, for callers and tests that think in one number.
LEASE = DEFAULT_LEASES.lease
DEFAULT_POLL_CONCURRENCY = 32

__all__ = ["ATTEMPT_TAG", "BACKFILL", "LEASE", "RUN_KEY_TAG", "BackfillError", "BackfillResult",
           "ConcurrencyConflict", "Engine", "LeasePolicy", "OutcomeListener", "PollReport", "RunOutcomes", "TickReport", "status_from_aml"]


class Engine:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, aml: AmlPort, queue: SlotQueue, *,
                 retention: timedelta | None = None, leases: LeasePolicy = DEFAULT_LEASES,
                 elapsed: Callable[[], float] = time.monotonic, owner: str | None = None,
                 poll_concurrency: int = DEFAULT_POLL_CONCURRENCY, dispatch_page_size: int = DEFAULT_DISPATCH_PAGE_SIZE,
                 maintenance: Callable[[], object] | None = None, outcomes: RunOutcomes | None = None):
        self.owner = owner or process_owner()
        self.outcomes = outcomes or RunOutcomes()
        self._schedules = schedules
        self._runner = SlotRunner(schedules, runs, aml, leases, self.outcomes)
        self._queue = queue
        self._ticker = Ticker(self._runner, queue, dispatch_page_size)
        self._poller = Poller(self._runner, queue, self.attempt_owner, retention=retention, concurrency=poll_concurrency,
                              maintenance=maintenance)
        self._elapsed = elapsed

    def attempt_owner(self) -> str:
        """Who holds a lease: this process and this one delivery. Two deliveries of one slot
        to the same process (a repeated message, a sweep's resend) run on different threads
        and must not pass for one holder, or both would submit."""
        return f"{self.owner}/{uuid.uuid4().hex[:8]}"

    @property
    def leases(self) -> LeasePolicy:
        return self._runner.leases

    def tick(self, now: datetime) -> TickReport:
        clock = WorkClock(now, self._elapsed)
        report = self._ticker.tick(clock)
        self._completed(LAST_TICK, clock.now())
        return report

    def work(self, message: SlotMessage | ShardMessage, now: datetime) -> TickReport:
        """What a queue worker does with one message, at `now` (the worker's clock)."""
        clock = WorkClock(now, self._elapsed)
        if isinstance(message, ShardMessage):
            return self._ticker.dispatch(message.shard, message.now, clock, after=message.after,
                                         through=message.through)
        return work(self._runner, message, clock, self.attempt_owner())

    def give_up(self, message: SlotMessage, now: datetime) -> str:
        return give_up(self._runner, message, WorkClock(now, self._elapsed), self.attempt_owner())

    def poll(self, now: datetime) -> PollReport:
        clock = WorkClock(now, self._elapsed)
        report = self._poller.poll(clock)
        self._completed(LAST_POLL, clock.now())
        return report

    def _completed(self, name: str, at: datetime) -> None:
        """The dead-man's switch (shared.heartbeat): one small write per tick or poll; GET health reads it."""
        try:
            self._schedules.set_meta(name, iso(at))
        except StoreError as exc:
            log.warning("%s not recorded: %s", name, exc)

    def trigger_now(self, record: ScheduleRecord, now: datetime, overrides: dict | None = None, *,
                    requested_by: dict | None = None) -> RunRecord:
        return manual.trigger_now(self._runner, record, WorkClock(now, self._elapsed), self.attempt_owner(),
                                  overrides, requested_by)

    def backfill(self, record: ScheduleRecord, start: datetime, end: datetime, now: datetime, *,
                 requested_by: dict | None = None) -> BackfillResult:
        return manual.backfill(self._runner, self._queue, record, start, end, now, requested_by)
