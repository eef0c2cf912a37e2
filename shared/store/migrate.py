"""From the single-partition layout to shards: automatic, idempotent, and resumable.

Before shards, schedules lived in one partition (`schedule`, keyed by id) and a
schedule's runs in a partition named by its id. The new layout (keys.py) is taken up
like this:

* on the first start of a process after the upgrade (`ensure_layout`, from the runtime):
  every schedule is rewritten in its shard with its due and history rows, and every run
  in flight is copied with its live row, so nothing due or running is missed;
* then the poll moves the rest of the history, a bounded number of records per cycle
  (`move_history`), until the old partitions are empty; until then a schedule's older
  records may be missing from `GET schedules/{id}/runs`;
* `python -m shared.store.migrate` does all of it at once, for those who prefer that.

Every step is an upsert followed by a delete of the old row, so running it twice, or
in two processes at once, or after a crash half-way, is harmless.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from shared.store import RunRecord
from shared.store.keys import LEGACY_SCHEDULE_PARTITION, SHARDS
from shared.store.table_common import delete_op, read_time

log = logging.getLogger(__name__)
LAYOUT = "layout"
SHARDED = "sharded"
HISTORY_PENDING = "sharded, history moving"
HISTORY_PER_POLL = 1000
# Partitions of the new layout and of the bookkeeping: everything else in the runs table is old.
_NEW_PARTITIONS = "(PartitionKey lt 'shard_' or PartitionKey ge 'shard`')"


def ensure_layout(schedules, runs) -> None:
    """Move schedules and runs in flight to the new layout, once (a cheap read afterwards)."""
    state = schedules.get_meta(LAYOUT)
    if state in (SHARDED, HISTORY_PENDING):
        return
    moved = _move_schedules(schedules)
    in_flight = _move_runs(runs, "Active eq true or Pending eq true", limit=None)
    schedules.set_meta(LAYOUT, HISTORY_PENDING if moved or in_flight or _has_old_runs(runs) else SHARDED)
    if moved or in_flight:
        log.warning("storage layout: moved %d schedule(s) and %d run(s) in flight to shard partitions", moved,
                    in_flight)


def move_history(schedules, runs, limit: int = HISTORY_PER_POLL) -> int:
    """Move up to `limit` old run records; the layout is complete when none are left."""
    if schedules.get_meta(LAYOUT) != HISTORY_PENDING:
        return 0
    moved = _move_runs(runs, None, limit=limit)
    if moved < limit and not _has_old_runs(runs):
        schedules.set_meta(LAYOUT, SHARDED)
        log.warning("storage layout: history moved; the old partitions are empty")
    return moved


def _move_schedules(schedules) -> int:
    from shared.store import AlreadyExists
    from shared.store.table_schedules import record_from_entity

    table = schedules._table
    moved = 0
    for entity in table.query("PartitionKey eq @pk", pk=LEGACY_SCHEDULE_PARTITION):
        try:
            schedules.create(record_from_entity(entity))
        except AlreadyExists:
            pass  # moved by an earlier or a parallel run
        table.transact([delete_op(LEGACY_SCHEDULE_PARTITION, entity["RowKey"])], entity["RowKey"])
        moved += 1
    return moved


def _move_runs(runs, condition: str | None, *, limit: int | None) -> int:
    from shared.store import AlreadyExists

    table = runs._table
    query = _NEW_PARTITIONS + (f" and ({condition})" if condition else "")
    moved = 0
    for entity in table.query(query):
        if limit is not None and moved >= limit:
            break
        result = runs.claim_many([_legacy_run(entity)])[0]
        if result is not None and not isinstance(result, (RunRecord, AlreadyExists)):
            raise result
        table.transact([delete_op(entity["PartitionKey"], entity["RowKey"])], entity["RowKey"])
        moved += 1
    return moved


def _has_old_runs(runs) -> bool:
    with_one = runs._table.client.query_entities(_NEW_PARTITIONS, select=["PartitionKey"], results_per_page=1)
    return next(iter(with_one), None) is not None


def _legacy_run(entity: Any) -> RunRecord:
    from shared.store.table_runs import _TEXT_FIELDS, _TIME_FIELDS
    import json

    kwargs = {attr: entity.get(column) for column, attr in _TEXT_FIELDS.items()}
    kwargs.update({attr: read_time(entity.get(column)) for column, attr in _TIME_FIELDS.items()})
    parameters, previous = entity.get("Parameters"), entity.get("PreviousAmlRunIds")
    try:
        parsed = json.loads(parameters) if parameters else None
    except ValueError:
        parsed = {"_truncated": parameters}
    return RunRecord(schedule_id=entity["PartitionKey"], slot=read_time(entity["Slot"]),
                     attempts=int(entity.get("Attempts", 0)), skipped_count=int(entity.get("SkippedCount", 1)),
                     parameters=parsed, previous_aml_run_ids=json.loads(previous) if previous else None, **kwargs)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from shared.runtime import build_runtime

    runtime = build_runtime()  # runs ensure_layout
    total = 0
    while True:
        moved = move_history(runtime.schedules, runtime.runs, limit=5000)
        total += moved
        if not moved:
            break
    print(f"layout: {runtime.schedules.get_meta(LAYOUT)}; {total} history record(s) moved now "
          f"(shard partitions: {SHARDS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
