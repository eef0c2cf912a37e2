"""A schedule's streak of refused slots, and the pause it leads to (policy.pauseAfterFailures).

A target deleted in AML, or access taken away, makes every slot fail the same way; without
a pause that is one SubmitFailed record per slot, forever. A slot AML refuses outright
(a permanent error, not an outage) adds one to the schedule's streak; a submit AML accepts
ends it; at the policy's count the schedule is disabled, with the reason on the record.
The streak lives on the schedule record and is written with If-Match, re-read on a race.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from shared.aml.errors import AmlError
from shared.engine.copies import retire_queued_copies
from shared.engine.logs import slot_fields
from shared.engine.outcomes import RunOutcomes
from shared.store import (
    NotFound,
    PreconditionFailed,
    RunRecord,
    RunStore,
    ScheduleRecord,
    ScheduleStore,
    StoreError,
)
from shared.store.audit import SCHEDULER, AuditEntry

log = logging.getLogger("shared.engine")
_WRITE_ROUNDS = 5


class ScheduleHealth:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, outcomes: RunOutcomes):
        self._schedules = schedules
        self._runs = runs
        self._outcomes = outcomes

    def refused(self, record: ScheduleRecord, run: RunRecord, exc: AmlError, now: datetime) -> None:
        def change(current: ScheduleRecord) -> ScheduleRecord | None:
            streak = current.failure_streak + 1
            limit = current.definition.policy.pause_after_failures
            if limit and streak >= limit and current.definition.enabled:
                reason = (f"paused after {streak} slots in a row that AML refused; last: slot {run.slot_key}: "
                          f"{exc.code or exc.status or 'error'}: {exc.message}")[:1000]
                log.warning("schedule %s: %s", current.id, reason, extra=slot_fields(run, status="Paused"))
                return replace(current, definition=replace(current.definition, enabled=False),
                               failure_streak=streak, paused_reason=reason, paused_at=now, updated_at=now,
                               updated_by=SCHEDULER)
            return replace(current, failure_streak=streak)
        if self._update(record.id, change):
            # Slots already queued must see the new streak (and a pause): not their message's copy.
            retire_queued_copies(self._runs, record.id, now)

    def accepted(self, record: ScheduleRecord, now: datetime) -> None:
        self._update(record.id, lambda current: replace(current, failure_streak=0) if current.failure_streak else None)

    def _update(self, schedule_id: str, change) -> bool:
        """Apply `change` to a fresh read and write it conditionally; a few rounds, then give up
        (the streak is advice: losing one count to a storm of writers is harmless). Whether
        the schedule was written."""
        for _ in range(_WRITE_ROUNDS):
            try:
                current = self._schedules.get(schedule_id)
                updated = change(current)
                if updated is not None:
                    stored = self._schedules.replace(updated, audit=_pause_entry(current, updated))
                    if stored.paused_at is not None and current.paused_at != stored.paused_at:
                        self._outcomes.paused(stored)
                return updated is not None
            except PreconditionFailed:
                continue
            except NotFound:
                return False
            except StoreError as exc:
                # The slot's own record is written; its effect on the streak waits for the next one.
                log.warning("schedule %s: failure streak not updated: %s", schedule_id, exc)
                return False
        log.info("schedule %s: failure streak not updated (kept changing)", schedule_id)
        return False


def _pause_entry(current: ScheduleRecord, updated: ScheduleRecord) -> AuditEntry | None:
    """The history entry of a pause: the scheduler disabled the schedule, and why."""
    if not (current.definition.enabled and not updated.definition.enabled and updated.paused_at):
        return None
    return AuditEntry(updated.id, updated.paused_at, "pause", SCHEDULER,
                      ({"field": "enabled", "before": True, "after": False},), {"reason": updated.paused_reason})
