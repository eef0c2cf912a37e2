"""In-memory stores for unit tests; they pass the same contract suite as the Table stores."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Iterator, Sequence

from shared.store import (
    ACTIVE_STATUSES,
    MANUAL,
    PENDING_STATUS,
    TERMINAL_STATUSES,
    AlreadyExists,
    NotFound,
    Page,
    PreconditionFailed,
    RunRecord,
    ScheduleRecord,
    ScheduleSummary,
    StoreError,
    decode_token,
    encode_token,
    finished_index_key,
    run_row_key,
    to_ms,
    status_set,
)
from shared.store.incidents import IncidentRecord
from shared.store.audit import AuditEntry, audit_cutoff_key, audit_prefix
from shared.store.keys import due_row_key, due_upper_bound, finished_range, shard_of


def _new_etag() -> str:
    return f'W/"{uuid.uuid4().hex}"'


def _normalise_times(record):
    for name, value in vars(record).items():
        if isinstance(value, datetime):
            setattr(record, name, to_ms(value))
    return record


def _with_etag(record: ScheduleRecord, etag: str | None) -> ScheduleRecord:
    moved = copy.copy(record)
    moved.etag = etag
    return moved


class MemoryScheduleStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, ScheduleRecord] = {}
        self._history: set[str] = set()
        self._meta: dict[str, str] = {}
        # Row key -> entry, as the Table store keys them (newest first per schedule).
        self._audit: dict[str, AuditEntry] = {}
        # Incident rows (MemoryIncidentStore), kept here because they go with their schedule.
        self.incident_rows: dict[str, IncidentRecord] = {}
        self._summaries: dict[str, ScheduleSummary] = {}

    def create(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord:
        with self._lock:
            if record.id in self._rows:
                raise AlreadyExists(record.id)
            self._history.add(record.id)
            self._add_audit(audit)
            # A new schedule starts with an empty summary, whatever an earlier one of its id left.
            self._summaries[record.id] = ScheduleSummary(record.id, etag=_new_etag())
            return self._put(record)

    def get(self, schedule_id: str) -> ScheduleRecord:
        with self._lock:
            if schedule_id not in self._rows:
                raise NotFound(schedule_id)
            return copy.deepcopy(self._rows[schedule_id])

    def replace(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord:
        with self._lock:
            current = self._rows.get(record.id)
            if current is None:
                raise NotFound(record.id)
            if record.etag is not None and record.etag != current.etag:
                raise PreconditionFailed(record.id)
            self._add_audit(audit)
            return self._put(record)

    def advance(self, records: Sequence[ScheduleRecord]) -> dict[str, StoreError | None]:
        """Guarded by the record as `due` returned it, like the Table store's due row."""
        outcome: dict[str, StoreError | None] = {}
        for record in records:
            try:
                self.replace(copy.copy(record) if record.handle is None else
                             _with_etag(record, record.handle["etag"]))
                outcome[record.id] = None
            except (NotFound, PreconditionFailed) as exc:
                outcome[record.id] = exc
        return outcome

    def delete(self, schedule_id: str, *, etag: str | None = None, audit: AuditEntry | None = None) -> None:
        with self._lock:
            current = self._rows.get(schedule_id)
            if current is None:
                raise NotFound(schedule_id)
            if etag is not None and etag != current.etag:
                raise PreconditionFailed(schedule_id)
            self._add_audit(audit)
            del self._rows[schedule_id]
            self.incident_rows.pop(schedule_id, None)
            self._summaries.pop(schedule_id, None)

    def list(self, *, limit: int = 50, continuation: str | None = None, summaries: bool = False) -> Page:
        after = decode_token(continuation).get("after", "") if continuation else ""
        with self._lock:
            ids = sorted(i for i in self._rows if i > after)
            page = [copy.deepcopy(self._rows[i]) for i in ids[:limit]]
            for record in page if summaries else ():
                summary = self._summaries.get(record.id)
                record.summary = summary.view() if summary is not None else None
        more = len(ids) > limit
        return Page(page, encode_token({"after": page[-1].id}) if more else None)

    def get_summary(self, schedule_id: str) -> ScheduleSummary | None:
        with self._lock:
            return copy.deepcopy(self._summaries.get(schedule_id))

    def put_summary(self, summary: ScheduleSummary) -> ScheduleSummary:
        with self._lock:
            current = self._summaries.get(summary.schedule_id)
            if summary.etag is None and current is not None:
                raise AlreadyExists(summary.schedule_id)
            if summary.etag is not None and current is None:
                raise NotFound(summary.schedule_id)
            if summary.etag is not None and summary.etag != current.etag:
                raise PreconditionFailed(summary.schedule_id)
            stored = _normalise_summary(copy.deepcopy(summary))
            stored.etag = _new_etag()
            self._summaries[summary.schedule_id] = stored
            return copy.deepcopy(stored)

    def due(self, horizon: datetime, shard: str | None = None, *, after: str | None = None,
            through: str | None = None) -> list[ScheduleRecord]:
        with self._lock:
            found = [copy.deepcopy(r) for key, r in self._due_rows(horizon, shard)
                     if (after is None or key > after) and (through is None or key <= through)]
        for record in found:
            record.handle = {"etag": record.etag}
        return found

    def due_keys(self, horizon: datetime, shard: str, limit: int) -> list[str]:
        with self._lock:
            return [key for key, _ in self._due_rows(horizon, shard)][:limit]

    def _due_rows(self, horizon: datetime, shard: str | None) -> list[tuple[str, ScheduleRecord]]:
        """(due key, record) of the schedules due by `horizon`, in key order: the Table store's due index."""
        high = due_upper_bound(horizon)
        keyed = ((due_row_key(r), r) for r in self._rows.values() if shard is None or shard_of(r.id) == shard)
        return sorted((key, r) for key, r in keyed if key is not None and key <= high)

    def history_page(self, position: str | None, limit: int) -> tuple[list[str], str | None]:
        with self._lock:
            ids = sorted(i for i in self._history if not position or i > position)[:limit]
        return ids, (ids[-1] if len(ids) == limit else None)

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._meta[name] = value

    def forget_history(self, schedule_id: str) -> None:
        with self._lock:
            if schedule_id not in self._rows:
                self._history.discard(schedule_id)

    # -- audit entries -----------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self._add_audit(entry)

    def audit_page(self, schedule_id: str, *, limit: int = 50, continuation: str | None = None) -> Page:
        after = decode_token(continuation).get("after", "") if continuation else ""
        prefix = audit_prefix(schedule_id)
        with self._lock:
            keys = sorted(k for k in self._audit if k.startswith(prefix) and k > after)
            page = [self._audit[k] for k in keys[:limit]]
        return Page(page, encode_token({"after": keys[limit - 1]}) if len(keys) > limit else None)

    def prune_audit(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> int:
        prefix, low = audit_prefix(schedule_id), audit_cutoff_key(schedule_id, cutoff)
        with self._lock:
            # Oldest first, like the pruning of run records.
            old = sorted((k for k in self._audit if k.startswith(prefix) and k > low), reverse=True)[:limit]
            for key in old:
                del self._audit[key]
        return len(old)

    def _add_audit(self, entry: AuditEntry | None) -> None:
        if entry is not None:
            at = to_ms(entry.at)
            self._audit[entry.row_key] = AuditEntry(entry.schedule_id, at, entry.action, dict(entry.actor),
                                                    tuple(entry.changes), entry.details, entry.tag)

    def _put(self, record: ScheduleRecord) -> ScheduleRecord:
        stored = _normalise_times(copy.deepcopy(record))
        stored.etag = _new_etag()
        stored.handle = None
        self._rows[record.id] = stored
        return copy.deepcopy(stored)


def _normalise_summary(summary: ScheduleSummary) -> ScheduleSummary:
    """Times at the stores' millisecond precision, as the Table store gives them back."""
    summary.recent = [replace(o, slot=to_ms(o.slot), finished_at=o.finished_at and to_ms(o.finished_at))
                      for o in summary.recent]
    summary.late = [replace(m, slot=to_ms(m.slot), complete_by=m.complete_by and to_ms(m.complete_by),
                            late_at=m.late_at and to_ms(m.late_at)) for m in summary.late]
    return summary


class MemoryRunStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], RunRecord] = {}
        # The finished index, as the Table store keeps it: a copy of each final record by when it ended.
        self._finished: dict[str, RunRecord] = {}

    def claim(self, run: RunRecord) -> RunRecord:
        key = (run.schedule_id, run_row_key(run.slot, run.trigger))
        with self._lock:
            if key in self._rows:
                raise AlreadyExists(run.run_key)
            return self._put(key, run)

    def claim_many(self, runs: Sequence[RunRecord]) -> list[RunRecord | StoreError]:
        results: list[RunRecord | StoreError] = []
        for run in runs:
            try:
                results.append(self.claim(run))
            except AlreadyExists as exc:
                results.append(exc)
        return results

    def get(self, schedule_id: str, slot: datetime, trigger: str = "schedule") -> RunRecord:
        with self._lock:
            row = self._rows.get((schedule_id, run_row_key(slot, trigger)))
            if row is None:
                raise NotFound(f"{schedule_id}/{slot.isoformat()}")
            return copy.deepcopy(row)

    def replace(self, run: RunRecord) -> RunRecord:
        key = (run.schedule_id, run_row_key(run.slot, run.trigger))
        with self._lock:
            current = self._rows.get(key)
            if current is None:
                raise NotFound(run.run_key)
            if run.etag is not None and run.etag != current.etag:
                raise PreconditionFailed(run.run_key)
            return self._put(key, run)

    def list_runs(self, schedule_id: str, *, status: "str | frozenset[str] | None" = None, limit: int = 50,
                  continuation: str | None = None) -> Page:
        after = decode_token(continuation).get("after", "") if continuation else ""
        wanted = status_set(status)
        with self._lock:
            keys = sorted(rk for (sid, rk), row in self._rows.items()
                          if sid == schedule_id and rk > after and (wanted is None or row.status in wanted))
            page = [copy.deepcopy(self._rows[(schedule_id, rk)]) for rk in keys[:limit]]
        more = len(keys) > limit
        return Page(page, encode_token({"after": keys[limit - 1]}) if more else None)

    def in_flight(self, schedule_id: str) -> list[RunRecord]:
        with self._lock:
            return [copy.deepcopy(r) for (sid, _), r in sorted(self._rows.items())
                    if sid == schedule_id and (r.status in ACTIVE_STATUSES or r.status == PENDING_STATUS)]

    def all_in_flight(self) -> Iterator[RunRecord]:
        with self._lock:
            ids = sorted({sid for sid, _ in self._rows})
        return (run for sid in ids for run in self.in_flight(sid))

    def active_runs_of(self, schedule_id: str) -> list[RunRecord]:
        return [r for r in self.in_flight(schedule_id) if r.active]

    def has_active(self, schedule_id: str) -> bool:
        return bool(self.active_runs_of(schedule_id))

    def delete(self, run: RunRecord) -> None:
        with self._lock:
            self._rows.pop((run.schedule_id, run_row_key(run.slot, run.trigger)), None)

    def older_than(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> list[RunRecord]:
        with self._lock:
            rows = [copy.deepcopy(r) for (sid, _), r in self._rows.items() if sid == schedule_id and r.slot < cutoff]
        return sorted(rows, key=lambda r: r.slot)[:limit]

    def records_around(self, schedule_id: str, first: datetime, last: datetime) -> list[RunRecord]:
        with self._lock:
            rows = sorted((r for (sid, _), r in self._rows.items()
                           if sid == schedule_id and r.trigger != MANUAL and r.slot <= last),
                          key=lambda r: r.slot, reverse=True)
        found: list[RunRecord] = []
        for run in rows:
            found.append(copy.deepcopy(run))
            if run.slot < first:
                break
        return found

    def list_finished(self, *, status: "frozenset[str] | None" = None, start: datetime | None = None,
                      end: datetime | None = None, limit: int = 50, continuation: str | None = None) -> Page:
        after = decode_token(continuation).get("after", "") if continuation else ""
        low, high = finished_range(start, end)
        with self._lock:
            keys = sorted(k for k, run in self._finished.items()
                          if low <= k < high and k > after and (status is None or run.status in status))
            page = [copy.deepcopy(self._finished[k]) for k in keys[:limit]]
        return Page(page, encode_token({"after": keys[limit - 1]}) if len(keys) > limit else None)

    def prune_finished(self, cutoff: datetime, *, limit: int = 100) -> int:
        # Keys of runs that finished before the cutoff sort at or after the end of [cutoff, ...).
        first_older, end = finished_range(cutoff, None)[1], finished_range(None, None)[1]
        with self._lock:
            old = sorted(k for k in self._finished if first_older <= k < end)[:limit]
            for key in old:
                del self._finished[key]
        return len(old)

    def _put(self, key: tuple[str, str], run: RunRecord) -> RunRecord:
        stored = _normalise_times(copy.deepcopy(run))
        stored.etag = _new_etag()
        stored.stored_status = stored.status
        self._rows[key] = stored
        if stored.status in TERMINAL_STATUSES:
            self._finished[finished_index_key(stored)] = copy.deepcopy(stored)
        return copy.deepcopy(stored)


class MemoryIncidentStore:
    """Incident rows beside the schedules of a MemoryScheduleStore (deleted with them)."""

    def __init__(self, schedules: MemoryScheduleStore) -> None:
        self._lock = schedules._lock
        self._rows = schedules.incident_rows

    def get(self, schedule_id: str) -> IncidentRecord | None:
        with self._lock:
            row = self._rows.get(schedule_id)
            return copy.deepcopy(row) if row is not None else None

    def create(self, record: IncidentRecord) -> IncidentRecord:
        with self._lock:
            if record.schedule_id in self._rows:
                raise AlreadyExists(record.schedule_id)
            return self._put(record)

    def replace(self, record: IncidentRecord) -> IncidentRecord:
        with self._lock:
            current = self._rows.get(record.schedule_id)
            if current is None:
                raise NotFound(record.schedule_id)
            if record.etag is not None and record.etag != current.etag:
                raise PreconditionFailed(record.schedule_id)
            return self._put(record)

    def _put(self, record: IncidentRecord) -> IncidentRecord:
        stored = _normalise_times(copy.deepcopy(record))
        stored.etag = _new_etag()
        self._rows[record.schedule_id] = stored
        return copy.deepcopy(stored)
