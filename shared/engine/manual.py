"""Runs people ask for: run now (a manual slot, attempted at once) and backfill (past slots, queued)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.engine.attempt import SlotRunner
from shared.engine.model import BACKFILL, MAX_BACKFILL_SLOTS, BackfillError, BackfillResult, ConcurrencyConflict, TickReport
from shared.engine.timing import WorkClock
from shared.queue import QueueUnavailable, SlotMessage, SlotQueue
from shared.store import MANUAL, AlreadyExists, PreconditionFailed, RunRecord, ScheduleRecord

# Two "run now" requests in the same millisecond get neighbouring slots; more than this
# many in one millisecond is a client in a loop, and the store's conflict is the answer.
_MANUAL_SLOT_TRIES = 5


def trigger_now(runner: SlotRunner, record: ScheduleRecord, clock: WorkClock, owner: str,
                overrides: dict | None = None, requested_by: dict | None = None) -> RunRecord:
    """Run a schedule now, recorded as a manual slot; raises ConcurrencyConflict or AlreadyExists.

    Manual slots are kept to the millisecond, so two requests in the same second are two
    runs (under Allow), while the key of a manual slot at a whole second reads as before.
    The caller is waiting, so the slot is attempted here rather than through the queue.
    """
    if record.definition.policy.concurrency == "Forbid" and runner.runs.has_active(record.id):
        raise ConcurrencyConflict(record.id)
    now = clock.now()
    slot = now.replace(microsecond=now.microsecond // 1000 * 1000)
    for attempt in range(_MANUAL_SLOT_TRIES):
        try:
            run = runner.runs.claim(runner.new_claim(record, slot, clock.now(), MANUAL, overrides, owner=owner,
                                                     requested_by=requested_by))
            break
        except AlreadyExists:
            if attempt == _MANUAL_SLOT_TRIES - 1:
                raise
            slot += timedelta(milliseconds=1)
    runner.attempt(run, clock, TickReport(), owner=owner, record=record)
    return runner.runs.get(record.id, slot, MANUAL)


def backfill(runner: SlotRunner, queue: SlotQueue, record: ScheduleRecord, start: datetime, end: datetime,
             now: datetime, requested_by: dict | None = None) -> BackfillResult:
    """Claim every slot in [start, end] and queue each; slots that already ran are left alone."""
    if end < start:
        raise BackfillError("to", "must not be before from")
    if end > now:
        raise BackfillError("to", "must not be in the future: future slots run on schedule")
    trigger = record.definition.trigger.build()
    slots = list(trigger.fire_times(start - timedelta(microseconds=1), limit=MAX_BACKFILL_SLOTS + 1))
    slots = [s for s in slots if s <= end]
    if len(slots) > MAX_BACKFILL_SLOTS:
        raise BackfillError("to", f"the range holds more than {MAX_BACKFILL_SLOTS} slots; split it")
    if slots:
        queued, existing = [], []
    for slot in slots:
        claim = runner.new_claim(record, slot, now, BACKFILL, reason="backfill: queued", requested_by=requested_by)
        try:
            runner.runs.claim(claim)
            queued.append(claim)
            continue
        except AlreadyExists:
            pass
        current = runner.runs.get(record.id, slot)
        # A slot skipped on its own (not a summary of many) is exactly what backfill is for.
        if current.status == "Skipped" and current.skipped_count == 1:
            try:
                runner.runs.replace(claim.evolve(etag=current.etag, stored_status=current.stored_status,
                                                 reason=f"backfill: queued (was skipped: {current.reason})"))
                queued.append(claim)
                continue
            except PreconditionFailed:
                pass
        existing.append(current.slot_key)
    for claim in queued:
        try:
            queue.send(SlotMessage(claim.schedule_id, claim.slot, claim.trigger))
        except QueueUnavailable:
            break  # the rest are swept once their lease runs out
    return BackfillResult([c.slot_key for c in queued], existing)



