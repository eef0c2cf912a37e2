"""A schedule's alert incident: one row per schedule, beside the schedule, never in it.

The row is not part of the schedule record on purpose: the tick moves a schedule's cursor
with If-Match on the schedule's ETag, so every write to the schedule row by a run's end
would make the tick's conditional moves fail and retry. The incident has its own row (and
ETag) in the schedule's shard partition (`shared.store.keys`: `I_<id>`).

Contract (checked by tests/contract on the memory store and on Azurite):
* `get(schedule_id)` is the incident row, or None when the schedule never had one;
* `create` inserts and raises AlreadyExists if the row exists: of two workers opening
  the first incident at once, one wins;
* `replace` with the record's ETag succeeds only if the row is unchanged since it was read
  (else PreconditionFailed; NotFound if it was deleted); it returns the new ETag;
* deleting the schedule (ScheduleStore.delete) deletes its incident row too, so a schedule
  created again under the same id starts without an open incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

# What opens an incident; "recovered" is what closes one.
CAUSES = ("failed", "late", "paused")


@dataclass
class IncidentRecord:
    schedule_id: str
    incident_id: str
    open: bool
    cause: str  # one of CAUSES: what opened it
    opened_at: datetime
    opened_by: str | None = None  # the run key that opened it (None for a pause)
    closed_at: datetime | None = None
    closed_by: str | None = None  # the run key of the completed run that closed it
    # That run's slot: a failure of an older slot reported after it (runs end out of order)
    # belongs to the incident already closed, and opens no new one.
    closed_slot: datetime | None = None
    # Whether this incident's pause was already alerted: a pause is news even during an
    # incident of failures (the schedule stopped), but only once.
    paused_alerted: bool = False
    etag: str | None = field(default=None, compare=False)

    def evolve(self, **changes) -> "IncidentRecord":
        return replace(self, **changes)


class IncidentStore(Protocol):
    def get(self, schedule_id: str) -> IncidentRecord | None: ...
    def create(self, record: IncidentRecord) -> IncidentRecord: ...
    def replace(self, record: IncidentRecord) -> IncidentRecord: ...
