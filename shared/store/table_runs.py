"""The run store on Table storage: one partition per schedule, and a marker beside each run in flight.

A run record that is pending (Claimed) or active has a marker in its partition, a full
copy of the record under row key `~<run row key>`, written in the same transaction as the
record (one partition, all or nothing). `in_flight(schedule)` reads the markers alone,
however long the schedule's history: what the poll and the pending sweep need, with one
range query. A record read from its marker carries the marker's ETag, and its next write
is guarded by it: the marker changes with every write of the record, so it guards as well.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from azure.data.tables import TableServiceClient

from shared.store import (
    ACTIVE_STATUSES,
    PENDING_STATUS,
    _REVERSE_EPOCH,
    NotFound,
    Page,
    RunRecord,
    run_row_key,
    to_ms,
)
from shared.store.keys import MARKER_PREFIX, marker_key
from shared.store.table_common import (
    MAX_TEXT,
    Table,
    delete_op,
    drop_none,
    mapped_errors,
    page_of,
    read_time,
    update_op,
    upsert_op,
)

_TIME_FIELDS = {
    "ClaimedAt": "claimed_at", "SubmittedAt": "submitted_at", "FinishedAt": "finished_at",
    "LastSkippedSlot": "last_skipped_slot", "UpdatedAt": "updated_at", "NextAttemptAt": "next_attempt_at",
    "DequeuedAt": "dequeued_at",
}
_TEXT_FIELDS = {
    "Status": "status", "Trigger": "trigger", "Reason": "reason", "ExperimentName": "experiment_name",
    "AmlRunId": "aml_run_id", "AmlStatus": "aml_status", "PortalUrl": "portal_url",
    "ErrorCode": "error_code", "ErrorMessage": "error_message", "Owner": "owner",
}
# Etags say which row they came from: the run row ("r:") or its marker ("m:").
_RUN, _MARKER = "r:", "m:"


def _in_flight(status: str | None) -> bool:
    return status == PENDING_STATUS or status in ACTIVE_STATUSES


class TableRunStore:
    def __init__(self, service: TableServiceClient, table_name: str):
        self._table = Table(service, table_name)

    def claim(self, run: RunRecord) -> RunRecord:
        entity = _entity(run)
        operations = [("create", entity)]
        if _in_flight(run.status):
            operations.append(("create", _marker(entity)))
        etags = self._table.transact(operations, run.run_key)
        return _stored(run, _RUN + etags[0]["etag"])

    def get(self, schedule_id: str, slot: datetime, trigger: str = "schedule") -> RunRecord:
        with mapped_errors(f"{schedule_id}/{slot.isoformat()}"):
            entity = self._table.client.get_entity(schedule_id, run_row_key(slot, trigger))
        return _record(entity, _RUN)

    def replace(self, run: RunRecord) -> RunRecord:
        """Write the record (If-Match on its etag when it has one) and keep its marker in step."""
        entity = _entity(run)
        source, etag = _split(run.etag)
        # A record whose stored status is unknown may have a marker: look for one to delete.
        was = run.stored_status is None or _in_flight(run.stored_status)
        now = _in_flight(run.status)
        operations = [update_op(entity, etag if source == _RUN else None)]
        if now:
            marker = _marker(entity)
            # Guarded by the marker when the record was read from it: either guard fails
            # for a record that changed since.
            operations.append(update_op(marker, etag) if source == _MARKER else upsert_op(marker))
        elif was:
            operations.append(delete_op(run.schedule_id, marker_key(entity["RowKey"]),
                                        etag if source == _MARKER else None))
        try:
            etags = self._table.transact(operations, run.run_key)
        except NotFound:
            if not (was and not now) or source == _MARKER:
                raise
            # A record written before markers existed has none to delete.
            etags = self._table.transact(operations[:1], run.run_key)
        return _stored(run, _RUN + etags[0]["etag"])

    def delete(self, run: RunRecord) -> None:
        row = run_row_key(run.slot, run.trigger)
        with mapped_errors(run.run_key):
            self._table.client.delete_entity(run.schedule_id, row)
            if _in_flight(run.stored_status or run.status):
                self._table.client.delete_entity(run.schedule_id, marker_key(row))

    def list_runs(self, schedule_id: str, *, status: str | None = None, limit: int = 50,
                  continuation: str | None = None) -> Page:
        query, params = "PartitionKey eq @pk and RowKey lt @markers", {"pk": schedule_id, "markers": MARKER_PREFIX}
        if status:
            query, params = query + " and Status eq @status", {**params, "status": status}
        return page_of(self._table.client, query, params, limit, continuation, lambda e: _record(e, _RUN))

    def in_flight(self, schedule_id: str) -> list[RunRecord]:
        return [_record(e, _MARKER) for e in self._table.query("PartitionKey eq @pk and RowKey ge @markers",
                                                               pk=schedule_id, markers=MARKER_PREFIX)]

    def active_runs_of(self, schedule_id: str) -> list[RunRecord]:
        return [r for r in self.in_flight(schedule_id) if r.active]

    def has_active(self, schedule_id: str) -> bool:
        return bool(self.active_runs_of(schedule_id))

    def older_than(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> list[RunRecord]:
        # Row keys start with the slot's reverse time: slots before the cutoff's second sort
        # after every key of that second, and markers after them all.
        seconds = int(to_ms(cutoff).timestamp())
        low = f"{_REVERSE_EPOCH - seconds:011d}_~"
        rows = self._table.query("PartitionKey eq @pk and RowKey gt @low and RowKey lt @markers",
                                 pk=schedule_id, low=low, markers=MARKER_PREFIX)
        return [_record(e, _RUN) for e in rows[:limit]]


def _split(etag: str | None) -> tuple[str | None, str | None]:
    if not etag:
        return None, None
    if etag.startswith((_RUN, _MARKER)):
        return etag[:2], etag[2:]
    return _RUN, etag  # an etag from before this encoding: a run row's


def _entity(run: RunRecord) -> dict:
    entity: dict[str, Any] = {
        "PartitionKey": run.schedule_id,
        "RowKey": run_row_key(run.slot, run.trigger),
        "Slot": to_ms(run.slot),
        "RunKey": run.run_key,
        "PreviousAmlRunIds": json.dumps(run.previous_aml_run_ids) if run.previous_aml_run_ids else None,
        "Attempts": run.attempts,
        "SkippedCount": run.skipped_count,
        "Parameters": json.dumps(run.parameters)[:MAX_TEXT] if run.parameters is not None else None,
        "RunTimeoutMinutes": run.run_timeout_minutes,
        "Retry": json.dumps(run.retry) if run.retry else None,
    }
    for column, attr in _TEXT_FIELDS.items():
        value = getattr(run, attr)
        entity[column] = value[:MAX_TEXT] if isinstance(value, str) else value
    for column, attr in _TIME_FIELDS.items():
        value = getattr(run, attr)
        entity[column] = to_ms(value) if value else None
    return drop_none(entity)


def _marker(entity: dict) -> dict:
    return {**entity, "RowKey": marker_key(entity["RowKey"])}


def _record(entity: Any, source: str) -> RunRecord:
    kwargs: dict[str, Any] = {attr: entity.get(column) for column, attr in _TEXT_FIELDS.items()}
    kwargs.update({attr: read_time(entity.get(column)) for column, attr in _TIME_FIELDS.items()})
    parameters = entity.get("Parameters")
    try:
        parsed = json.loads(parameters) if parameters else None
    except ValueError:  # truncated on write; keep the record readable
        parsed = {"_truncated": parameters}
    previous, retry = entity.get("PreviousAmlRunIds"), entity.get("Retry")
    return RunRecord(
        schedule_id=entity["PartitionKey"],
        slot=read_time(entity["Slot"]),
        previous_aml_run_ids=json.loads(previous) if previous else None,
        attempts=int(entity.get("Attempts", 0)),
        skipped_count=int(entity.get("SkippedCount", 1)),
        parameters=parsed,
        run_timeout_minutes=entity.get("RunTimeoutMinutes"),
        retry=json.loads(retry) if retry else None,
        etag=source + entity.metadata["etag"],
        stored_status=entity.get("Status"),
        **kwargs,
    )


def _stored(run: RunRecord, etag: str) -> RunRecord:
    times = {attr: to_ms(getattr(run, attr)) for attr in _TIME_FIELDS.values() if getattr(run, attr)}
    return run.evolve(slot=to_ms(run.slot), etag=etag, stored_status=run.status, **times)
