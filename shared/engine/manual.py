"""Runs people ask for: run now (a manual slot) and backfill (scheduled slots of a past range)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.engine.attempt import SlotRunner
from shared.engine.model import BACKFILL, MAX_BACKFILL_SLOTS, BackfillError, BackfillResult, ConcurrencyConflict, TickReport
from shared.engine.timing import WorkClock
from shared.store import MANUAL, AlreadyExists, PreconditionFailed, RunRecord, ScheduleRecord

# Two "run now" requests in the same millisecond get neighbouring slots; more than this
# many in one millisecond is a client in a loop, and the store's conflict is the answer.
_MANUAL_SLOT_TRIES = 5


def trigger_now(runner: SlotRunner, record: ScheduleRecord, clock: WorkClock,
                overrides: dict | None = None) -> RunRecord:
    """Run a schedule now, recorded as a manual slot; raises ConcurrencyConflict or AlreadyExists.

    Manual slots are kept to the millisecond, so two requests in the same second are two
    runs (under Allow), while the key of a manual slot at a whole second reads as before.
    """
    if record.definition.policy.concurrency == "Forbid" and runner.runs.has_active(record.id):
        raise ConcurrencyConflict(record.id)
    now = clock.now()
    slot = now.replace(microsecond=now.microsecond // 1000 * 1000)
    for attempt in range(_MANUAL_SLOT_TRIES):
        try:
            run = runner.runs.claim(runner.new_claim(record, slot, clock.now(), MANUAL, overrides))
            break
        except AlreadyExists:
            if attempt == _MANUAL_SLOT_TRIES - 1:
                raise
            slot += timedelta(milliseconds=1)
    runner.attempt(run, clock, TickReport(), recovering=False, record=record)
    return runner.runs.get(record.id, slot, MANUAL)


def backfill(runner: SlotRunner, record: ScheduleRecord, start: datetime, end: datetime,
             now: datetime) -> BackfillResult:
    """Queue every slot in [start, end] for the next ticks; slots that already ran are left alone."""
    if end < start:
        raise BackfillError("to", "must not be before from")
    if end > now:
        raise BackfillError("to", "must not be in the future: future slots run on schedule")
    trigger = record.definition.trigger.build()
    slots = list(trigger.fire_times(start - timedelta(microseconds=1), limit=MAX_BACKFILL_SLOTS + 1))
    slots = [s for s in slots if s <= end]
    if len(slots) > MAX_BACKFILL_SLOTS:
        raise BackfillError("to", f"the range holds more than {MAX_BACKFILL_SLOTS} slots; split it")
    queued, existing = [], []
    for slot in slots:
        claim = runner.new_claim(record, slot, now, BACKFILL, next_attempt_at=now, reason="backfill: queued")
        try:
            runner.runs.claim(claim)
            queued.append(claim.slot_key)
            continue
        except AlreadyExists:
            pass
        current = runner.runs.get(record.id, slot)
        # A slot skipped on its own (not a summary of many) is exactly what backfill is for.
        if current.status == "Skipped" and current.skipped_count == 1:
            try:
                runner.runs.replace(claim.evolve(etag=current.etag,
                                                 reason=f"backfill: queued (was skipped: {current.reason})"))
                queued.append(claim.slot_key)
                continue
            except PreconditionFailed:
                pass
        existing.append(current.slot_key)
    return BackfillResult(queued, existing)
