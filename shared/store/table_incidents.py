"""Incident rows on Table storage: `I_<schedule id>` in the schedule's shard of the schedules table.

See `shared.store.incidents` for why the row is not the schedule row. Writes are a single
conditional insert (the first incident) or a replace with If-Match on the row's ETag.
"""

from __future__ import annotations

from typing import Any

from shared.store import NotFound, to_ms
from shared.store.incidents import IncidentRecord
from shared.store.keys import INCIDENT_PREFIX, shard_of
from shared.store.table_common import drop_none, mapped_errors, read_time, update_op


class TableIncidentStore:
    def __init__(self, schedules: Any):
        # The schedules table (a TableScheduleStore's), which deletes the row with its schedule.
        self._table = schedules._table

    def get(self, schedule_id: str) -> IncidentRecord | None:
        try:
            with mapped_errors(schedule_id):
                entity = self._table.client.get_entity(shard_of(schedule_id), INCIDENT_PREFIX + schedule_id)
        except NotFound:
            return None
        return _record(entity)

    def create(self, record: IncidentRecord) -> IncidentRecord:
        (result,) = self._table.transact([("create", _entity(record))], record.schedule_id)
        return _stored(record, result["etag"])

    def replace(self, record: IncidentRecord) -> IncidentRecord:
        (result,) = self._table.transact([update_op(_entity(record), record.etag)], record.schedule_id)
        return _stored(record, result["etag"])


def _entity(record: IncidentRecord) -> dict:
    return drop_none({
        "PartitionKey": shard_of(record.schedule_id),
        "RowKey": INCIDENT_PREFIX + record.schedule_id,
        "ScheduleId": record.schedule_id,
        "IncidentId": record.incident_id,
        "Open": record.open,
        "Cause": record.cause,
        "OpenedAt": to_ms(record.opened_at),
        "OpenedBy": record.opened_by,
        "ClosedAt": to_ms(record.closed_at) if record.closed_at else None,
        "ClosedBy": record.closed_by,
        "ClosedSlot": to_ms(record.closed_slot) if record.closed_slot else None,
        "PausedAlerted": record.paused_alerted,
    })


def _record(entity: Any) -> IncidentRecord:
    return IncidentRecord(
        schedule_id=entity["ScheduleId"],
        incident_id=entity["IncidentId"],
        open=bool(entity.get("Open")),
        cause=entity["Cause"],
        opened_at=read_time(entity.get("OpenedAt")),
        opened_by=entity.get("OpenedBy"),
        closed_at=read_time(entity.get("ClosedAt")),
        closed_by=entity.get("ClosedBy"),
        closed_slot=read_time(entity.get("ClosedSlot")),
        paused_alerted=bool(entity.get("PausedAlerted")),
        etag=entity.metadata.get("etag"),
    )


def _stored(record: IncidentRecord, etag: str) -> IncidentRecord:
    return record.evolve(opened_at=to_ms(record.opened_at),
                         closed_at=to_ms(record.closed_at) if record.closed_at else None,
                         closed_slot=to_ms(record.closed_slot) if record.closed_slot else None, etag=etag)
