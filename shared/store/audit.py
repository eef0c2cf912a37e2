"""Audit entries: who changed a schedule, or ran it by hand, when, and what changed.

One entry per write through the API. The schedule store keeps them beside the schedule,
in its shard partition, keyed newest first:

    A_<schedule id>_<reverse milliseconds>_<tie-breaker>

so a schedule's history is one key range (`_` never occurs in a schedule id, so one id's
range never runs into another's). A create, change or delete of the schedule writes its
entry in the same transaction as the schedule itself: there is no change without its
entry. Entries outlive a deleted schedule (the delete is an entry too) and are pruned
with the run records when they are older than the retention period (engine.poll).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from shared.schedules import iso

UTC = timezone.utc
AUDIT_PREFIX = "A_"
# Far beyond any plausible instant in milliseconds (year 5138), for newest-first keys.
_REVERSE_EPOCH_MS = 10**14

ACTIONS = ("create", "replace", "update", "delete", "enable", "disable", "trigger", "backfill", "import", "pause")
# Who is named when the scheduler itself changes a schedule (a pause after refused slots).
SCHEDULER = {"id": None, "name": "scheduler"}


@dataclass(frozen=True)
class AuditEntry:
    schedule_id: str
    at: datetime
    action: str
    actor: dict  # {"id": object id or None, "name": ...}
    changes: tuple = ()  # ({"field", "before"?, "after"?}, ...)
    details: dict | None = None
    # Orders two entries of one millisecond and keeps their keys apart.
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def row_key(self) -> str:
        return audit_row_key(self.schedule_id, self.at, self.tag)

    def to_api(self) -> dict:
        return {"scheduleId": self.schedule_id, "at": iso(self.at), "action": self.action,
                "actor": {"id": self.actor.get("id"), "name": self.actor.get("name")},
                "changes": [dict(c) for c in self.changes], "details": self.details}


def audit_prefix(schedule_id: str) -> str:
    return f"{AUDIT_PREFIX}{schedule_id}_"


def audit_row_key(schedule_id: str, at: datetime, tag: str) -> str:
    millis = int(at.astimezone(UTC).timestamp() * 1000)
    return f"{audit_prefix(schedule_id)}{_REVERSE_EPOCH_MS - millis:014d}_{tag}"


def audit_cutoff_key(schedule_id: str, cutoff: datetime) -> str:
    """Every entry of the schedule from before `cutoff` sorts above this key."""
    millis = int(cutoff.astimezone(UTC).timestamp() * 1000)
    return f"{audit_prefix(schedule_id)}{_REVERSE_EPOCH_MS - millis:014d}_~"
