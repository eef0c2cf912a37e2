"""Who hears that a slot's run ended, or that a schedule was paused.

The run record is the truth; listeners keep things derived from it (the schedule's health
summary, alerts) and are told after the record is written. A listener that fails is
logged and skipped: a missed summary update or alert must never undo or block the slot's
own record. Listeners run on the thread that wrote the record, so they must be quick or
hand their work off (alerts go through a queue).
"""

from __future__ import annotations

import logging
from typing import Protocol

from shared.store import TERMINAL_STATUSES, RunRecord, ScheduleRecord

log = logging.getLogger("shared.engine")


class OutcomeListener(Protocol):
    def run_finished(self, run: RunRecord) -> None:
        """`run` is as stored, final; its finished_at says when."""

    def run_late(self, run: RunRecord) -> None:
        """`run` (as stored) passed its schedule's deadline (sla.completeWithinMinutes after
        its slot) without completing; told once per run."""

    def schedule_paused(self, record: ScheduleRecord) -> None:
        """`record` is as stored, disabled, with paused_reason and paused_at."""


class RunOutcomes:
    def __init__(self, listeners: "list[OutcomeListener] | None" = None):
        self._listeners: list[OutcomeListener] = list(listeners or [])

    def add(self, listener: OutcomeListener) -> None:
        self._listeners.append(listener)

    def saved(self, before: RunRecord, after: RunRecord) -> None:
        """`after` was written over `before`: tell the listeners if that ended the run."""
        if after.status in TERMINAL_STATUSES and before.stored_status not in TERMINAL_STATUSES:
            self.finished(after)

    def finished(self, run: RunRecord) -> None:
        self._tell("run_finished", run, f"run {run.run_key}")

    def late(self, run: RunRecord) -> None:
        self._tell("run_late", run, f"run {run.run_key}")

    def paused(self, record: ScheduleRecord) -> None:
        self._tell("schedule_paused", record, f"schedule {record.id}")

    def _tell(self, event: str, subject: "RunRecord | ScheduleRecord", name: str) -> None:
        for listener in self._listeners:
            try:
                getattr(listener, event)(subject)
            except Exception:  # noqa: BLE001 - a listener never fails the slot's own record
                log.exception("%s: outcome listener %s failed", name, type(listener).__name__)
