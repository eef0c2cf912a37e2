"""The incident state machine: one alert when something goes wrong, one when it is right again.

A pure function of (the stored incident, what happened, now). An incident opens on the
first failed outcome (Failed, SubmitFailed, TimedOut), the first late run or a pause;
while it is open further failures and late runs change nothing (no write, no message); a
pause during it is told once (the schedule has stopped: news even after the failures that
led to it); the first Completed run closes it and is told as `recovered`. Runs that end
Skipped or Canceled say nothing about the schedule's health and are ignored.

Runs end out of order (an older slot's job can be reported after a newer one's): a failure
of a slot older than the completed run that closed the last incident is part of that
incident's past, not a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.store import STATUS_GROUPS
from shared.store.incidents import IncidentRecord
from shared.store.keys import time_key

FAILED_STATUSES = STATUS_GROUPS["failed"]
COMPLETED = "completed"


@dataclass(frozen=True)
class Decision:
    incident: IncidentRecord | None  # what to write (carrying the ETag it was read with); None: nothing
    alert: str | None  # "failed", "late", "paused" or "recovered"; None: nothing to tell
    current: IncidentRecord | None = None  # the incident as read (the row to replace, if any)


def event_of(status: str) -> str | None:
    """What a run's final status means for incidents: "failed", "completed" or nothing."""
    if status in FAILED_STATUSES:
        return "failed"
    if status == "Completed":
        return COMPLETED
    return None


def incident_id(schedule_id: str, opened_at: datetime) -> str:
    return f"{schedule_id}-{time_key(opened_at)}"


def decide(current: IncidentRecord | None, event: str, schedule_id: str, now: datetime,
           run_key: str | None = None, slot: datetime | None = None) -> Decision:
    """`event`: "failed", "late", "paused" or "completed", by the run `run_key` of `slot` (none for a pause)."""
    is_open = current is not None and current.open
    if event in ("failed", "late", "paused"):
        if (not is_open and slot is not None and current is not None and current.closed_slot is not None
                and slot < current.closed_slot):
            return Decision(None, None, current)
        if not is_open:
            opened = IncidentRecord(schedule_id, incident_id(schedule_id, now), True, event, now, run_key,
                                    paused_alerted=event == "paused",
                                    etag=current.etag if current is not None else None)
            return Decision(opened, event, current)
        if event == "paused" and not current.paused_alerted:
            return Decision(current.evolve(paused_alerted=True), "paused", current)
        return Decision(None, None, current)
    if event == COMPLETED and is_open:
        return Decision(current.evolve(open=False, closed_at=now, closed_by=run_key, closed_slot=slot), "recovered",
                        current)
    return Decision(None, None, current)
