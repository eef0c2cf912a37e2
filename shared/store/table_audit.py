"""Audit entries on Table storage: rows beside the schedule in its shard partition (see `shared.store.audit`).

`TableScheduleStore` writes an entry in the same transaction as the schedule change it
records (`audit_op`); the methods here read, append and prune them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.store import Page, to_ms
from shared.store.audit import AuditEntry, audit_cutoff_key, audit_prefix
from shared.store.keys import prefix_range, shard_of
from shared.store.table_common import MAX_TEXT, MAX_TRANSACTION, Table, delete_op, page_of, read_time


def audit_op(entry: AuditEntry) -> tuple:
    """The insert of an entry, as one operation of the schedule's transaction."""
    return ("create", _entity(entry))


class TableAuditRows:
    """A schedule store's audit entries; expects the schedules `Table` as `self._table`."""

    _table: Table

    def append_audit(self, entry: AuditEntry) -> None:
        self._table.transact([audit_op(entry)], entry.schedule_id)

    def audit_page(self, schedule_id: str, *, limit: int = 50, continuation: str | None = None) -> Page:
        low, high = prefix_range(audit_prefix(schedule_id))
        return page_of(self._table.client, "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                       {"pk": shard_of(schedule_id), "low": low, "high": high}, limit, continuation, _entry)

    def prune_audit(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> int:
        """Delete up to `limit` of the schedule's entries from before `cutoff`, oldest first."""
        shard = shard_of(schedule_id)
        _, high = prefix_range(audit_prefix(schedule_id))
        rows = self._table.query("PartitionKey eq @pk and RowKey gt @low and RowKey lt @high",
                                 pk=shard, low=audit_cutoff_key(schedule_id, cutoff), high=high)
        old = sorted((row["RowKey"] for row in rows), reverse=True)[:limit]
        for start in range(0, len(old), MAX_TRANSACTION):
            chunk = old[start:start + MAX_TRANSACTION]
            self._table.transact([delete_op(shard, key) for key in chunk], schedule_id)
        return len(old)


def _entity(entry: AuditEntry) -> dict:
    entity: dict[str, Any] = {
        "PartitionKey": shard_of(entry.schedule_id),
        "RowKey": entry.row_key,
        "ScheduleId": entry.schedule_id,
        "At": to_ms(entry.at),
        "Action": entry.action,
        "Tag": entry.tag,
        "ActorName": str(entry.actor.get("name") or "")[:MAX_TEXT],
        "Changes": json.dumps(list(entry.changes))[:MAX_TEXT],
    }
    if entry.actor.get("id"):
        entity["ActorId"] = str(entry.actor["id"])
    if entry.details is not None:
        entity["Details"] = json.dumps(entry.details)[:MAX_TEXT]
    return entity


def _entry(entity: Any) -> AuditEntry:
    return AuditEntry(
        schedule_id=entity["ScheduleId"],
        at=read_time(entity["At"]),
        action=entity["Action"],
        actor={"id": entity.get("ActorId"), "name": entity.get("ActorName")},
        changes=tuple(_json(entity.get("Changes"), [])),
        details=_json(entity.get("Details"), None),
        tag=entity.get("Tag") or "",
    )


def _json(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:  # cut at MAX_TEXT on write; keep the entry readable
        return default
