"""The run store on Table storage: a schedule's runs in its shard's partition, and a live row per run in flight.

Row keys (partition `shard-NN`, the schedule's shard):

    <schedule id>|<reverse time>_<slot key>    the run record: the claim, then the history
    ~<schedule id>|<reverse time>_<slot key>   the live row of a run that is pending or
                                               active: the truth while it is in flight
    !<reverse finish ms>|<record row key>      the finished index: a copy of the final
                                               record, by when the run ended

A claim inserts both rows at once, and the claims of many schedules of one shard go in
one transaction. While the run is in flight only its live row changes (a worker's lease,
the submit, the poll's statuses: one write each); when it ends, the record takes the
final state, the live row goes and its finished-index row is written, in one transaction
(so the index never misses a run that ended, and never holds one that did not). Readers of a record in flight get
the live row, so they always see the current state; the poll reads every run in flight
with one range query per shard, however long the history behind them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterator, Sequence

from azure.data.tables import TableServiceClient

from shared.store import (
    ACTIVE_STATUSES,
    MANUAL,
    PENDING_STATUS,
    _REVERSE_EPOCH,
    TERMINAL_STATUSES,
    AlreadyExists,
    NotFound,
    Page,
    RunRecord,
    StoreError,
    finished_index_key,
    run_row_key,
    status_set,
    to_ms,
)
from shared.store.keys import MARKER_PREFIX, all_shards, shard_of
from shared.store.table_finished import FinishedIndex
from shared.store.table_common import (
    MAX_TEXT,
    MAX_TRANSACTION,
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
    "DequeuedAt": "dequeued_at", "CompleteBy": "complete_by", "LateAt": "late_at",
}
_TEXT_FIELDS = {
    "Status": "status", "Trigger": "trigger", "Reason": "reason", "ExperimentName": "experiment_name",
    "AmlRunId": "aml_run_id", "AmlStatus": "aml_status", "PortalUrl": "portal_url",
    "ErrorCode": "error_code", "ErrorMessage": "error_message", "Owner": "owner", "TargetKind": "target_kind",
}
# Etags say which row they came from: the record ("r:"), its live row ("m:") or its
# finished-index copy ("f:", which no write accepts: the copy is for reading).
_RUN, _LIVE, _FINISHED = "r:", "m:", "f:"


def _in_flight(status: str | None) -> bool:
    return status == PENDING_STATUS or status in ACTIVE_STATUSES


def record_key(schedule_id: str, slot: datetime, trigger: str = "schedule") -> str:
    return f"{schedule_id}|{run_row_key(slot, trigger)}"


def live_key(record_row: str) -> str:
    return MARKER_PREFIX + record_row


class TableRunStore:
    def __init__(self, service: TableServiceClient, table_name: str):
        self._table = Table(service, table_name)
        self._finished = FinishedIndex(self._table, lambda e: _record(e, _FINISHED))

    # -- claims ------------------------------------------------------------------------
    def claim(self, run: RunRecord) -> RunRecord:
        result = self.claim_many([run])[0]
        if isinstance(result, StoreError):
            raise result
        return result

    def claim_many(self, runs: Sequence[RunRecord]) -> list[RunRecord | StoreError]:
        """Claim each run (insert its record, and its live row if in flight), a shard's in one
        transaction when none is taken; each result is the stored run or the error for it."""
        results: dict[int, RunRecord | StoreError] = {}
        by_shard: dict[str, list[int]] = defaultdict(list)
        for index, run in enumerate(runs):
            by_shard[shard_of(run.schedule_id)].append(index)
        for shard, indexes in by_shard.items():
            chunk: list[int] = []
            size = 0
            for index in indexes + [None]:  # None flushes the last chunk
                # The record, and its live row (in flight) or its finished-index row (final).
                ops = 0 if index is None else len(_claim_ops(runs[index], shard))
                if index is None or size + ops > MAX_TRANSACTION:
                    results.update(self._claim_chunk(shard, [runs[i] for i in chunk], chunk))
                    chunk, size = [], 0
                if index is not None:
                    chunk.append(index)
                    size += ops
        return [results[i] for i in range(len(runs))]

    def _claim_chunk(self, shard: str, runs: list[RunRecord], indexes: list[int]) -> dict:
        if not runs:
            return {}
        try:
            etags = self._table.transact([op for run in runs for op in _claim_ops(run, shard)], shard)
        except (AlreadyExists, NotFound):
            if len(runs) == 1:
                return {indexes[0]: AlreadyExists(runs[0].run_key)}
            # One slot was already claimed (another tick): claim the others one by one.
            out = {}
            for index, run in zip(indexes, runs):
                out.update(self._claim_chunk(shard, [run], [index]))
            return out
        out, position = {}, 0
        for index, run in zip(indexes, runs):
            live = _in_flight(run.status)
            etag = etags[position + 1]["etag"] if live else etags[position]["etag"]
            out[index] = _stored(run, (_LIVE if live else _RUN) + etag)
            position += len(_claim_ops(run, shard))
        return out

    # -- reading -----------------------------------------------------------------------
    def get(self, schedule_id: str, slot: datetime, trigger: str = "schedule") -> RunRecord:
        """The run as it stands: its live row while in flight, else its record."""
        shard, row = shard_of(schedule_id), record_key(schedule_id, slot, trigger)
        for key, source in ((live_key(row), _LIVE), (row, _RUN)):
            try:
                with mapped_errors(f"{schedule_id}/{slot.isoformat()}"):
                    return _record(self._table.client.get_entity(shard, key), source)
            except NotFound:
                continue
        raise NotFound(f"{schedule_id}/{slot.isoformat()}")

    def list_runs(self, schedule_id: str, *, status: "str | frozenset[str] | None" = None, limit: int = 50,
                  continuation: str | None = None) -> Page:
        wanted = status_set(status)
        if wanted is not None and all(_in_flight(s) for s in wanted):
            # Only a live row knows an in-flight status; there are few of them.
            runs = sorted((r for r in self.in_flight(schedule_id) if r.status in wanted),
                          key=lambda r: (r.slot, r.slot_key), reverse=True)
            return Page(runs[:limit], None)
        query, params = ("PartitionKey eq @pk and RowKey gt @low and RowKey lt @high",
                         {"pk": shard_of(schedule_id), "low": f"{schedule_id}|", "high": f"{schedule_id}|~"})
        if wanted is not None:
            if any(_in_flight(s) for s in wanted):
                raise ValueError("a status filter is either all in flight or all final")
            names = sorted(wanted)
            # Spaces around the names: the SDK reads a parameter name up to the next space.
            query += " and ( " + " or ".join(f"Status eq @s{i}" for i in range(len(names))) + " )"
            params.update({f"s{i}": name for i, name in enumerate(names)})
            return page_of(self._table.client, query, params, limit, continuation, lambda e: _record(e, _RUN))
        # Runs in flight are shown as their live rows say: their record lags until they end.
        # Live rows first: a run that ends in between then shows its final record, not a
        # record from before its live row was removed.
        live = {r.slot_key: r for r in self.in_flight(schedule_id)}
        page = page_of(self._table.client, query, params, limit, continuation, lambda e: _record(e, _RUN))
        return Page([live.get(r.slot_key, r) for r in page.items], page.continuation)

    def in_flight(self, schedule_id: str) -> list[RunRecord]:
        low = live_key(f"{schedule_id}|")
        return [_record(e, _LIVE) for e in self._table.query(
            "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high", pk=shard_of(schedule_id),
            low=low, high=low + "~")]

    def all_in_flight(self) -> Iterator[RunRecord]:
        """Every run in flight: one range query per shard."""
        for shard in all_shards():
            for entity in self._table.query("PartitionKey eq @pk and RowKey ge @low", pk=shard, low=MARKER_PREFIX):
                yield _record(entity, _LIVE)

    def active_runs_of(self, schedule_id: str) -> list[RunRecord]:
        return [r for r in self.in_flight(schedule_id) if r.active]

    def has_active(self, schedule_id: str) -> bool:
        return bool(self.active_runs_of(schedule_id))

    def older_than(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> list[RunRecord]:
        # Record keys hold the slot's reverse time: slots before the cutoff's second sort after
        # every key of that second.
        seconds = int(to_ms(cutoff).timestamp())
        rows = self._table.query_first("PartitionKey eq @pk and RowKey gt @low and RowKey lt @high", limit,
                                       pk=shard_of(schedule_id),
                                       low=f"{schedule_id}|{_REVERSE_EPOCH - seconds:011d}_~", high=f"{schedule_id}|~")
        return [_record(e, _RUN) for e in rows]

    def records_around(self, schedule_id: str, first: datetime, last: datetime) -> list[RunRecord]:
        """The schedule's records of slots in [first, last] and the latest one before `first`
        (a missed-slot summary keyed there can reach into the range), newest first; manual
        runs, which have a key space of their own, left out. One range read from `last` back."""
        newest = f"{schedule_id}|{run_row_key(last).split('_', 1)[0]}"
        found: list[RunRecord] = []
        with mapped_errors(f"{schedule_id} records from {last.isoformat()} back"):
            for entity in self._table.client.query_entities(
                    "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high", results_per_page=100,
                    parameters={"pk": shard_of(schedule_id), "low": newest, "high": f"{schedule_id}|~"}):
                run = _record(entity, _RUN)
                if run.trigger == MANUAL:
                    continue
                found.append(run)
                if run.slot < first:
                    break
        return found

    # -- writing -----------------------------------------------------------------------
    def replace(self, run: RunRecord) -> RunRecord:
        """Write the run's current state (If-Match on its etag when it has one): to its live row
        while in flight; to its record, with the live row removed, when it leaves flight."""
        shard, row = shard_of(run.schedule_id), record_key(run.schedule_id, run.slot, run.trigger)
        source, etag = _split(run.etag)
        entity = _entity(run, shard, row)
        was = _in_flight(run.stored_status) if run.stored_status is not None else source == _LIVE
        now = _in_flight(run.status)
        if was and now:
            etags = self._table.transact([update_op(_live(entity), etag if source == _LIVE else None)], run.run_key)
            return _stored(run, _LIVE + etags[0]["etag"])
        if was:
            operations = [upsert_op(entity), delete_op(shard, live_key(row), etag if source == _LIVE else None),
                          *_index_ops(run, entity)]
            etags = self._table.transact(operations, run.run_key)
            return _stored(run, _RUN + etags[0]["etag"])
        operations = [update_op(entity, etag if source == _RUN else None)]
        if now:
            operations.append(upsert_op(_live(entity)))
        else:
            operations.extend(_index_ops(run, entity))
        etags = self._table.transact(operations, run.run_key)
        return _stored(run, (_LIVE + etags[1]["etag"]) if now else (_RUN + etags[0]["etag"]))

    # -- the finished index (shared.store.table_finished) ------------------------------------
    def list_finished(self, *, status: "frozenset[str] | None" = None, start: datetime | None = None,
                      end: datetime | None = None, limit: int = 50, continuation: str | None = None) -> Page:
        return self._finished.page(status=status, start=start, end=end, limit=limit, continuation=continuation)

    def prune_finished(self, cutoff: datetime, *, limit: int = 100) -> int:
        return self._finished.prune(cutoff, limit=limit)

    def delete(self, run: RunRecord) -> None:
        shard, row = shard_of(run.schedule_id), record_key(run.schedule_id, run.slot, run.trigger)
        with mapped_errors(run.run_key):
            self._table.client.delete_entity(shard, row)
            if _in_flight(run.stored_status or run.status):
                self._table.client.delete_entity(shard, live_key(row))


def _claim_ops(run: RunRecord, shard: str) -> list[tuple]:
    entity = _entity(run, shard, record_key(run.schedule_id, run.slot, run.trigger))
    return [("create", entity)] + ([("create", _live(entity))] if _in_flight(run.status) else _index_ops(run, entity))


def _index_ops(run: RunRecord, entity: dict) -> list[tuple]:
    """The finished-index row of a final run: a copy of its record (an upsert: writing it again is harmless)."""
    if run.status not in TERMINAL_STATUSES:
        return []
    return [upsert_op({**entity, "RowKey": finished_index_key(run)})]


def _split(etag: str | None) -> tuple[str | None, str | None]:
    if not etag:
        return None, None
    if etag.startswith((_RUN, _LIVE)):
        return etag[:2], etag[2:]
    return _RUN, etag


def _entity(run: RunRecord, shard: str, row: str) -> dict:
    entity: dict[str, Any] = {
        "PartitionKey": shard,
        "RowKey": row,
        "ScheduleId": run.schedule_id,
        "Slot": to_ms(run.slot),
        "RunKey": run.run_key,
        "PreviousAmlRunIds": json.dumps(run.previous_aml_run_ids) if run.previous_aml_run_ids else None,
        "Attempts": run.attempts,
        "SkippedCount": run.skipped_count,
        "Parameters": json.dumps(run.parameters)[:MAX_TEXT] if run.parameters is not None else None,
        "RunTimeoutMinutes": run.run_timeout_minutes,
        "Retry": json.dumps(run.retry) if run.retry else None,
        "RequestedBy": json.dumps(run.requested_by) if run.requested_by else None,
    }
    for column, attr in _TEXT_FIELDS.items():
        value = getattr(run, attr)
        entity[column] = value[:MAX_TEXT] if isinstance(value, str) else value
    for column, attr in _TIME_FIELDS.items():
        value = getattr(run, attr)
        entity[column] = to_ms(value) if value else None
    return drop_none(entity)


def _live(entity: dict) -> dict:
    return {**entity, "RowKey": live_key(entity["RowKey"])}


def _record(entity: Any, source: str) -> RunRecord:
    kwargs: dict[str, Any] = {attr: entity.get(column) for column, attr in _TEXT_FIELDS.items()}
    kwargs.update({attr: read_time(entity.get(column)) for column, attr in _TIME_FIELDS.items()})
    parameters = entity.get("Parameters")
    try:
        parsed = json.loads(parameters) if parameters else None
    except ValueError:  # truncated on write; keep the record readable
        parsed = {"_truncated": parameters}
    previous, retry, requested = entity.get("PreviousAmlRunIds"), entity.get("Retry"), entity.get("RequestedBy")
    return RunRecord(
        schedule_id=entity["ScheduleId"],
        slot=read_time(entity["Slot"]),
        previous_aml_run_ids=json.loads(previous) if previous else None,
        attempts=int(entity.get("Attempts", 0)),
        skipped_count=int(entity.get("SkippedCount", 1)),
        parameters=parsed,
        run_timeout_minutes=entity.get("RunTimeoutMinutes"),
        retry=json.loads(retry) if retry else None,
        requested_by=json.loads(requested) if requested else None,
        etag=source + entity.metadata["etag"],
        stored_status=entity.get("Status"),
        **kwargs,
    )


def _stored(run: RunRecord, etag: str) -> RunRecord:
    times = {attr: to_ms(getattr(run, attr)) for attr in _TIME_FIELDS.values() if getattr(run, attr)}
    return run.evolve(slot=to_ms(run.slot), etag=etag, stored_status=run.status, **times)
