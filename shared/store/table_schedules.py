"""The schedule store on Table storage: schedules in shard partitions, with their due and in-flight indexes.

Every change to a schedule row rewrites its due row in the same transaction (one
partition, all or nothing), so the due row's copy of the schedule is never stale and
its ETag guards the schedule: the tick moves a cursor by deleting the due row it read
with If-Match, which fails if anyone changed the schedule since.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from collections import defaultdict
from datetime import datetime
from typing import Any, Sequence

from azure.data.tables import TableServiceClient

from shared.schedules import parse_schedule
from shared.store import (
    InvalidContinuationToken,
    NotFound,
    Page,
    PreconditionFailed,
    ScheduleRecord,
    ScheduleSummary,
    StoreError,
    SummaryView,
    decode_token,
    encode_token,
    to_ms,
)
from shared.store.audit import AuditEntry
from shared.store.keys import (
    DUE_PREFIX,
    HISTORY_PREFIX,
    INCIDENT_PREFIX,
    META_PARTITION,
    SCHEDULE_PREFIX,
    SUMMARY_PREFIX,
    all_shards,
    due_row_key,
    due_upper_bound,
    prefix_range,
    shard_of,
)
from shared.store.table_audit import TableAuditRows, audit_op
from shared.store.table_common import (
    MAX_TRANSACTION,
    Table,
    delete_op,
    drop_none,
    mapped_errors,
    read_time,
    update_op,
    upsert_op,
)

log = logging.getLogger(__name__)
# Three operations per schedule in a cursor move (schedule row, old and new due row).
_MOVES_PER_TRANSACTION = MAX_TRANSACTION // 3
_UNCONDITIONAL_TRIES = 5


class TableScheduleStore(TableAuditRows):
    def __init__(self, service: TableServiceClient, table_name: str):
        self._table = Table(service, table_name)

    # -- the schedule resource ---------------------------------------------------------
    def create(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord:
        shard = shard_of(record.id)
        due = due_row_key(record)
        operations = [("create", _schedule_entity(record, shard, due)),
                      upsert_op({"PartitionKey": shard, "RowKey": HISTORY_PREFIX + record.id}),
                      # An empty summary, whatever an earlier schedule of this id left behind.
                      upsert_op(_summary_entity(ScheduleSummary(record.id), shard))]
        if due:
            operations.append(("create", _due_entity(record, shard, due)))
        if audit is not None:
            operations.append(audit_op(audit))
        etags = self._table.transact(operations, record.id)
        return _stored(record, etags[0]["etag"], due)

    def get(self, schedule_id: str) -> ScheduleRecord:
        return _readable_or_raise(self._get_entity(schedule_id))

    def replace(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord:
        """Replace the schedule (If-Match on `record.etag` when given) and its due row."""
        for _ in range(_UNCONDITIONAL_TRIES):
            current = self._get_entity(record.id)
            etag = record.etag or current.metadata["etag"]
            shard, old_due, new_due = current["PartitionKey"], current.get("DueKey"), due_row_key(record)
            operations = [update_op(_schedule_entity(record, shard, new_due), etag)]
            # A transaction may name each row once: an unchanged due key is one upsert.
            if old_due and old_due != new_due:
                operations.append(delete_op(shard, old_due))
            if new_due:
                operations.append(upsert_op(_due_entity(record, shard, new_due)))
            if audit is not None:
                operations.append(audit_op(audit))
            try:
                etags = self._table.transact(operations, record.id)
            except (PreconditionFailed, NotFound):
                if record.etag:
                    raise PreconditionFailed(record.id) from None
                continue  # a tick moved the cursor meanwhile: read again
            return _stored(record, etags[0]["etag"], new_due)
        raise PreconditionFailed(record.id)

    def delete(self, schedule_id: str, *, etag: str | None = None, audit: AuditEntry | None = None) -> None:
        for _ in range(_UNCONDITIONAL_TRIES):
            current = self._get_entity(schedule_id)
            shard, due = current["PartitionKey"], current.get("DueKey")
            operations = [delete_op(shard, SCHEDULE_PREFIX + schedule_id, etag or current.metadata["etag"])]
            if due:
                operations.append(delete_op(shard, due))
            if audit is not None:
                operations.append(audit_op(audit))
            try:
                self._table.transact(operations, schedule_id)
            except (PreconditionFailed, NotFound):
                if etag:
                    raise PreconditionFailed(schedule_id) from None
                continue  # a tick moved the cursor (and the due row) meanwhile: read again
            # Apart: schedules from before summaries have none, and a missing row would fail
            # the transaction. A summary outliving its schedule is never shown (lists read the
            # summaries of the schedules they found) and a new schedule of its id resets it.
            try:
                self._table.transact([delete_op(shard, SUMMARY_PREFIX + schedule_id)], schedule_id)
            except NotFound:
                pass
            except StoreError as exc:
                log.warning("schedule %s deleted, its run summary not (%s); a schedule created again under "
                            "this id starts with a fresh one", schedule_id, exc)
            self._forget_incident(shard, schedule_id)
            return
        raise PreconditionFailed(schedule_id)

    def _forget_incident(self, shard: str, schedule_id: str) -> None:
        """The deleted schedule's incident row, if any: a schedule created again under the same id
        must not inherit an open incident (which would silence its first alert)."""
        try:
            with mapped_errors(schedule_id):
                self._table.client.delete_entity(shard, INCIDENT_PREFIX + schedule_id)  # silent when missing
        except StoreError as exc:
            log.warning("schedule %s deleted, its incident row not (%s); a schedule created again under this "
                        "id starts with it", schedule_id, exc)

    def list(self, *, limit: int = 50, continuation: str | None = None, summaries: bool = False) -> Page:
        """A page of schedules, shard by shard in key order: a range read of S_ rows per shard the page
        touches and, with `summaries`, one of the R_ rows of the same ids. The token names the shard
        and the last row read there (the service's own tokens are opaque, so it holds neither)."""
        shards = all_shards()
        shard, after = _list_position(continuation, shards)
        found: list[ScheduleRecord] = []
        while shard is not None and len(found) < limit:
            count = limit - len(found)
            if summaries:
                # Every schedule has a summary row under the same id, so the R_ rows after the same
                # id are, nearly always, the summaries of the S_ rows this read returns: asking for
                # both at once costs one round trip, not two. What the guess missed is read after.
                guess = _list_pool().submit(self._summary_views, shard, after, count)
                rows, more = self._schedule_rows(shard, after, count)
                if rows:
                    self._attach_summaries(shard, rows, guess.result())
            else:
                rows, more = self._schedule_rows(shard, after, count)
            found.extend(rows)
            if rows:
                after = SCHEDULE_PREFIX + rows[-1].id
            if not more:
                following = shards.index(shard) + 1
                shard, after = (shards[following], None) if following < len(shards) else (None, None)
        token = encode_token({"shard": shard, "after": after}) if shard is not None else None
        return Page(found, token)

    def _schedule_rows(self, shard: str, after: str | None, count: int) -> tuple[list[ScheduleRecord], bool]:
        """Up to `count` schedules of a shard after row key `after`, and whether the shard may hold more.
        The service may answer a page short, even empty, with a token: an empty one is followed."""
        low, high = prefix_range(SCHEDULE_PREFIX)
        query = f"PartitionKey eq @pk and RowKey {'gt' if after else 'ge'} @low and RowKey lt @high"
        with mapped_errors(shard):
            pages = self._table.client.query_entities(
                query, parameters={"pk": shard, "low": after or low, "high": high}, results_per_page=count).by_page()
            for page in pages:
                rows = [_readable_or_raise(e) for e in page]
                if rows:
                    return rows, pages.continuation_token is not None
            return [], False

    def _summary_views(self, shard: str, after: str | None, count: int) -> tuple[dict[str, str | None], str | None]:
        """Up to `count` summary views of a shard after the schedule row key `after`: id -> view, and
        the last id the read covered (None when it reached the end of the summaries)."""
        low = SUMMARY_PREFIX + after[len(SCHEDULE_PREFIX):] if after else SUMMARY_PREFIX
        _, high = prefix_range(SUMMARY_PREFIX)
        rows = self._table.query_first(f"PartitionKey eq @pk and RowKey {'gt' if after else 'ge'} @low and "
                                       "RowKey lt @high", count, select=["RowKey", "View"], pk=shard, low=low,
                                       high=high)
        views = {row["RowKey"][len(SUMMARY_PREFIX):]: row.get("View") for row in rows}
        return views, (max(views) if len(rows) == count else None)

    def _attach_summaries(self, shard: str, records: list[ScheduleRecord],
                          guessed: tuple[dict[str, str | None], str | None]) -> None:
        """The summaries of a run of schedules of one shard (ids in key order): from the read made
        beside theirs, and one range read for those beyond what it covered."""
        views, covered_to = guessed
        beyond = [r.id for r in records if covered_to is not None and r.id > covered_to]
        if beyond:
            with mapped_errors(shard):
                rows = self._table.client.query_entities(
                    "PartitionKey eq @pk and RowKey ge @low and RowKey le @high", select=["RowKey", "View"],
                    parameters={"pk": shard, "low": SUMMARY_PREFIX + beyond[0], "high": SUMMARY_PREFIX + beyond[-1]})
                views = {**views, **{row["RowKey"][len(SUMMARY_PREFIX):]: row.get("View") for row in rows}}
        for record in records:
            view = views.get(record.id)
            record.summary = SummaryView.from_doc(json.loads(view)) if view else None

    # -- run summaries -----------------------------------------------------------------
    def get_summary(self, schedule_id: str) -> ScheduleSummary | None:
        try:
            with mapped_errors(schedule_id):
                return _summary(self._table.client.get_entity(shard_of(schedule_id), SUMMARY_PREFIX + schedule_id))
        except NotFound:
            return None

    def put_summary(self, summary: ScheduleSummary) -> ScheduleSummary:
        """Replace the summary with If-Match on its etag, or insert it when it has none (AlreadyExists
        if another writer inserted one first)."""
        entity = _summary_entity(summary, shard_of(summary.schedule_id))
        operation = update_op(entity, summary.etag) if summary.etag else ("create", entity)
        etags = self._table.transact([operation], summary.schedule_id)
        return ScheduleSummary.from_doc(summary.schedule_id, summary.to_doc(), etags[0]["etag"])

    # -- the tick ----------------------------------------------------------------------
    def due_keys(self, horizon: datetime, shard: str, limit: int) -> list[str]:
        """The keys of a shard's due rows up to `horizon`, in order, at most `limit` of them
        (one key-only read for up to 1,000)."""
        rows = self._table.query_first("PartitionKey eq @pk and RowKey gt @low and RowKey le @high", limit,
                                       select=["RowKey"], pk=shard, low=DUE_PREFIX, high=due_upper_bound(horizon))
        return [row["RowKey"] for row in rows]

    def due(self, horizon: datetime, shard: str | None = None, *, after: str | None = None,
            through: str | None = None) -> list[ScheduleRecord]:
        """Enabled schedules due by `horizon` (in one shard, or all): the due rows up to it, and
        nothing else; only those keyed after `after` and up to `through` when given (a page)."""
        found = []
        high = due_upper_bound(horizon) if through is None else min(through, due_upper_bound(horizon))
        for partition in [shard] if shard else all_shards():
            for entity in self._table.query("PartitionKey eq @pk and RowKey gt @low and RowKey le @high",
                                            pk=partition, low=after or DUE_PREFIX, high=high):
                record = _readable(entity)
                if record is not None:
                    record.handle = {"shard": partition, "due": entity["RowKey"],
                                     "due_etag": entity.metadata["etag"]}
                    found.append(record)
        return found

    def advance(self, records: Sequence[ScheduleRecord]) -> dict[str, StoreError | None]:
        """Move the cursors of schedules the tick read from `due`, in a few transactions per shard.

        Each move is guarded by the due row the tick read: a schedule changed since (an
        edit, another tick) fails its move with PreconditionFailed and keeps its state.
        """
        by_shard: dict[str, list[ScheduleRecord]] = defaultdict(list)
        for record in records:
            by_shard[record.handle["shard"]].append(record)
        outcome: dict[str, StoreError | None] = {}
        for shard, group in by_shard.items():
            for start in range(0, len(group), _MOVES_PER_TRANSACTION):
                chunk = group[start:start + _MOVES_PER_TRANSACTION]
                try:
                    self._table.transact([op for r in chunk for op in _move_ops(r, shard)], shard)
                    outcome.update((r.id, None) for r in chunk)
                except StoreError:
                    # One changed schedule fails the whole transaction: move each on its own.
                    for record in chunk:
                        try:
                            self._table.transact(_move_ops(record, shard), record.id)
                            outcome[record.id] = None
                        except (PreconditionFailed, NotFound) as exc:
                            outcome[record.id] = exc
        return outcome

    # -- history index -----------------------------------------------------------------
    def history_page(self, position: str | None, limit: int) -> tuple[list[str], str | None]:
        """Up to `limit` schedule ids with history, from `position`; and where the next page starts
        (None when the round is complete)."""
        shards = all_shards()
        shard, after = (position.split("|", 1) if position else (shards[0], ""))
        if shard not in shards:
            shard, after = shards[0], ""
        _, high = prefix_range(HISTORY_PREFIX)
        rows = self._table.query_first("PartitionKey eq @pk and RowKey gt @low and RowKey lt @high", limit,
                                       pk=shard, low=HISTORY_PREFIX + after, high=high)
        ids = [row["RowKey"][len(HISTORY_PREFIX):] for row in rows]
        if len(rows) == limit:
            return ids, f"{shard}|{ids[-1]}"
        following = shards.index(shard) + 1
        return ids, (f"{shards[following]}|" if following < len(shards) else None)

    def forget_history(self, schedule_id: str) -> None:
        shard = shard_of(schedule_id)
        try:
            self._get_entity(schedule_id)
            return  # the schedule still exists: its history row stays
        except NotFound:
            pass
        try:
            self._table.transact([delete_op(shard, HISTORY_PREFIX + schedule_id)], schedule_id)
        except NotFound:
            pass

    def get_meta(self, name: str) -> str | None:
        try:
            with mapped_errors(name):
                return self._table.client.get_entity(META_PARTITION, name).get("Value")
        except NotFound:
            return None

    def set_meta(self, name: str, value: str) -> None:
        self._table.transact([upsert_op({"PartitionKey": META_PARTITION, "RowKey": name, "Value": value})], name)

    def _get_entity(self, schedule_id: str) -> Any:
        with mapped_errors(schedule_id):
            return self._table.client.get_entity(shard_of(schedule_id), SCHEDULE_PREFIX + schedule_id)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _list_pool() -> ThreadPoolExecutor:
    """Two threads per process for the summary reads made beside a list's schedule reads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="schedule-list")
        return _pool


def _list_position(continuation: str | None, shards: list[str]) -> tuple[str, str | None]:
    if not continuation:
        return shards[0], None
    token = decode_token(continuation)
    shard, after = token.get("shard"), token.get("after")
    if set(token) != {"shard", "after"} or shard not in shards or not (
            after is None or isinstance(after, str) and after.startswith(SCHEDULE_PREFIX)):
        raise InvalidContinuationToken("malformed continuation token")
    return shard, after


def _summary_entity(summary: ScheduleSummary, shard: str) -> dict:
    return {"PartitionKey": shard, "RowKey": SUMMARY_PREFIX + summary.schedule_id, "ScheduleId": summary.schedule_id,
            "Summary": json.dumps(summary.to_doc(), separators=(",", ":")),
            "View": json.dumps(summary.view().to_doc(), separators=(",", ":"))}


def _summary(entity: Any) -> ScheduleSummary:
    return ScheduleSummary.from_doc(entity["ScheduleId"], json.loads(entity.get("Summary") or "{}"),
                                    entity.metadata["etag"])


def _move_ops(record: ScheduleRecord, shard: str) -> list[tuple]:
    """The schedule row, and its due row moved: guarded by the due row's ETag as read."""
    new_due, old_due, old_etag = due_row_key(record), record.handle["due"], record.handle["due_etag"]
    operations = [update_op(_schedule_entity(record, shard, new_due))]
    if new_due == old_due:
        return operations + [update_op(_due_entity(record, shard, new_due), old_etag)]
    operations.append(delete_op(shard, old_due, old_etag))
    if new_due:
        operations.append(upsert_op(_due_entity(record, shard, new_due)))
    return operations


def _fields(record: ScheduleRecord) -> dict:
    d = record.definition
    return {
        "ScheduleId": d.id,
        "Description": d.description,
        "Enabled": d.enabled,
        "Trigger": json.dumps(d.trigger.to_dict()),
        "Target": json.dumps(d.target.to_dict()),
        "Policy": json.dumps(d.policy.to_dict()),
        "Alerts": json.dumps(d.alerts.to_dict()) if d.alerts else None,
        "NextFireTime": to_ms(record.next_fire_time) if record.next_fire_time else None,
        "LastSlot": to_ms(record.last_slot) if record.last_slot else None,
        "CreatedAt": to_ms(record.created_at),
        "UpdatedAt": to_ms(record.updated_at),
        "ResumedAt": to_ms(record.resumed_at) if record.resumed_at else None,
        "FailureStreak": record.failure_streak or None,
        "PausedReason": record.paused_reason,
        "PausedAt": to_ms(record.paused_at) if record.paused_at else None,
        "CreatedBy": json.dumps(record.created_by) if record.created_by else None,
        "UpdatedBy": json.dumps(record.updated_by) if record.updated_by else None,
    }


def _schedule_entity(record: ScheduleRecord, shard: str, due: str | None) -> dict:
    return drop_none({"PartitionKey": shard, "RowKey": SCHEDULE_PREFIX + record.id, **_fields(record),
                      "DueKey": due})


def _due_entity(record: ScheduleRecord, shard: str, due: str) -> dict:
    return drop_none({"PartitionKey": shard, "RowKey": due, **_fields(record)})


def record_from_entity(entity: Any) -> ScheduleRecord:
    schedule_id = entity.get("ScheduleId") or entity["RowKey"]
    definition = parse_schedule({
        "id": schedule_id,
        "description": entity.get("Description", ""),
        "enabled": entity.get("Enabled", True),
        "trigger": json.loads(entity["Trigger"]),
        "target": json.loads(entity["Target"]),
        "policy": json.loads(entity["Policy"]),
        "alerts": json.loads(entity["Alerts"]) if entity.get("Alerts") else None,
    })
    return ScheduleRecord(
        definition=definition,
        next_fire_time=read_time(entity.get("NextFireTime")),
        last_slot=read_time(entity.get("LastSlot")),
        created_at=read_time(entity.get("CreatedAt")),
        updated_at=read_time(entity.get("UpdatedAt")),
        etag=entity.metadata.get("etag"),
        resumed_at=read_time(entity.get("ResumedAt")),
        failure_streak=int(entity.get("FailureStreak") or 0),
        paused_reason=entity.get("PausedReason"),
        paused_at=read_time(entity.get("PausedAt")),
        created_by=_actor(entity.get("CreatedBy")),
        updated_by=_actor(entity.get("UpdatedBy")),
    )


def _readable_or_raise(entity: Any) -> ScheduleRecord:
    return record_from_entity(entity)


def _readable(entity: Any) -> ScheduleRecord | None:
    """A stored schedule, or None (logged) if it no longer passes validation.

    A record written under older rules (a cron the current parser refuses, say) must not
    take every other due schedule down with it: it is left out, with a warning naming it
    on every tick until someone fixes or deletes it.
    """
    try:
        return record_from_entity(entity)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("schedule %s is stored in a form this version cannot read and is not run: %s",
                    entity.get("ScheduleId") or entity.get("RowKey"), exc)
        return None


def _stored(record: ScheduleRecord, etag: str, due: str | None) -> ScheduleRecord:
    return ScheduleRecord(
        definition=record.definition,
        next_fire_time=to_ms(record.next_fire_time) if record.next_fire_time else None,
        last_slot=to_ms(record.last_slot) if record.last_slot else None,
        created_at=to_ms(record.created_at),
        updated_at=to_ms(record.updated_at),
        etag=etag,
        resumed_at=to_ms(record.resumed_at) if record.resumed_at else None,
        failure_streak=record.failure_streak,
        paused_reason=record.paused_reason,
        paused_at=to_ms(record.paused_at) if record.paused_at else None,
        created_by=record.created_by,
        updated_by=record.updated_by,
    )


def _actor(raw: str | None) -> dict | None:
    """{id, name} as stored; None for schedules written before the app recorded callers."""
    if not raw:
        return None
    try:
        actor = json.loads(raw)
    except ValueError:
        return None
    return actor if isinstance(actor, dict) else None
