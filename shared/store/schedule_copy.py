"""What an attempt needs of a schedule, as a JSON document: the dispatch's copy for a slot message.

The dispatch has just read each due schedule (its due row carries the whole schedule), so
it puts that schedule into the slot message beside the claim's copy (`run_copy`). A
worker whose lease write against the claim's copy succeeds then submits from this copy
instead of reading the schedule again: one table request less per slot.

Why the copy is as good as a read (the rules live in `shared.engine.copies`): the
dispatch only sends it once its cursor move, guarded by the due row it read, has gone
through, so no change came between that read and the claim; and every change after it
rewrites the schedule's claims still waiting in the queue, so the lease write against
the claim's copy fails and the worker reads both afresh.

Left out, because no attempt uses them: the description (up to 1 KiB) and the alerts
(the webhook URL carries its token and has no business on a queue).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.schedules import iso, parse_instant, parse_schedule
from shared.scheduling import ScheduleError
from shared.store import ScheduleRecord

_KEYS = {"definition", "failureStreak", "createdAt", "updatedAt"}


def schedule_document(record: ScheduleRecord) -> dict:
    definition = {**record.definition.to_dict(), "description": "", "alerts": None}
    return {"definition": definition, "failureStreak": record.failure_streak,
            "createdAt": iso(record.created_at), "updatedAt": iso(record.updated_at)}


def schedule_from_document(doc: Any, schedule_id: str) -> ScheduleRecord:
    """The schedule a document describes, validated as any stored schedule is; ValueError if
    it is not one, or is another schedule's (a copy is never trusted blindly)."""
    if not isinstance(doc, dict) or set(doc) != _KEYS:
        raise ValueError("not a schedule copy")
    streak = doc["failureStreak"]
    if not isinstance(streak, int) or isinstance(streak, bool) or streak < 0:
        raise ValueError("failureStreak: not a count")
    try:
        definition = parse_schedule(doc["definition"], schedule_id=schedule_id)
        created: datetime = parse_instant("createdAt", doc["createdAt"])
        updated: datetime = parse_instant("updatedAt", doc["updatedAt"])
    except ScheduleError as exc:
        raise ValueError(f"{exc.field}: {exc.message}") from None
    # The cursor is the tick's business, not the attempt's: a copy carries none.
    return ScheduleRecord(definition, None, None, created, updated, failure_streak=streak)
