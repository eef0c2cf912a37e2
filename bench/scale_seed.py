"""Seeding for bench/scale.py: schedules and run records written straight into Azurite.

Going through the store's `create` would cost a read and a transaction per schedule;
100,000 of them would take longer than the scenario. So the rows are built with the
table stores' own entity builders (private helpers, imported on purpose: the rows must
be exactly what the app writes and reads) and upserted in entity-group transactions of
up to 100 rows of one partition, several at once.

Both ends cost about the same per row while the table is small: Azurite handles a
transaction's operations one by one on its single JavaScript thread, and the tables SDK
encodes and decodes each batch with the `email` package under the GIL. So the work is
split over processes, each sending from a few threads, which keeps both sides busy.
As the table grows Azurite dominates: every insert looks its key up by scanning its
partition (LokiJS indexes PartitionKey, not the pair), so a row costs Azurite ~0.3 ms
of CPU in a small table and ~2 ms at 100,000 rows (measured); 300,000 rows would take
an estimated 15 minutes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.schedules import ScheduleDefinition, iso, parse_schedule
from shared.store import RunRecord, ScheduleRecord
from shared.store.keys import HISTORY_PREFIX, SCHEDULE_PREFIX, due_row_key, shard_of
from shared.store.table_common import MAX_TRANSACTION
from shared.store.table_runs import _entity, _live, record_key
from shared.store.table_schedules import _due_entity, _schedule_entity

PIPELINE_ID = "5ca1e000-0000-4000-8000-000000000001"
EXPERIMENT = "scale-bench"
SEED_PROCESSES = 2
SEED_THREADS = 4
# Azurite closes a kept-alive connection after 5 idle seconds; a batch sent on it just
# then is reset. Upserts may simply be sent again.
SEND_TRIES = 3
RETRY = {"maxAttempts": 3, "backoffSeconds": 60, "retryOnRunFailure": False}


def table_client(connection_string: str, name: str):
    """A client of its own (not the app's), with a connection per sending thread."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.data.tables import TableServiceClient

    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=SEED_THREADS * 2)
    session.mount("http://", adapter)
    service = TableServiceClient.from_connection_string(connection_string,
                                                        transport=RequestsTransport(session=session))
    return service.create_table_if_not_exists(name)


def submit(client, operations: list[tuple]) -> None:
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    for attempt in range(SEND_TRIES):
        try:
            client.submit_transaction(operations)
            return
        except (ServiceRequestError, ServiceResponseError):
            if attempt == SEND_TRIES - 1 or operations[0][0] != "upsert":
                raise


def write(client, operations: list[tuple]) -> None:
    """Send (kind, entity) operations in transactions of at most 100 per partition, a few at once."""
    by_partition: dict[str, list[tuple]] = defaultdict(list)
    for operation in operations:
        by_partition[operation[1]["PartitionKey"]].append(operation)
    batches = [group[start:start + MAX_TRANSACTION]
               for group in by_partition.values() for start in range(0, len(group), MAX_TRANSACTION)]
    with ThreadPoolExecutor(SEED_THREADS, thread_name_prefix="seed") as pool:
        for _ in pool.map(lambda batch: submit(client, batch), batches):
            pass


def _definition(anchor: datetime) -> ScheduleDefinition:
    """An hourly schedule anchored at `anchor`, with a placeholder rendered at each claim."""
    return parse_schedule({
        "id": "template",
        "trigger": {"recurrence": {"frequency": "Hour", "interval": 1}, "startTime": iso(anchor)},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": EXPERIMENT,
                   "parameterAssignments": {"slot": "{{slot}}", "mode": "batch"}},
    })


@dataclass(frozen=True)
class ScheduleSet:
    """Schedules `<prefix><number>`; number n is next due at first_due + (n % spread_minutes) minutes.

    With `index_only` a schedule is its due-index row alone (which carries the whole
    schedule, as the tick reads it), without its schedule and history rows.
    """

    prefix: str
    numbers: range
    first_due: datetime
    spread_minutes: int = 1
    index_only: bool = False

    def schedule_id(self, number: int) -> str:
        return f"{self.prefix}{number:06d}"

    def due_at(self, number: int) -> datetime:
        return self.first_due + timedelta(minutes=number % self.spread_minutes)


def schedule_rows(schedules: ScheduleSet, created: datetime) -> list[dict]:
    """Schedule, due-index and history-index rows; a definition is parsed once per due time, not per schedule."""
    templates: dict[datetime, ScheduleDefinition] = {}
    rows = []
    for number in schedules.numbers:
        due = schedules.due_at(number)
        template = templates.get(due) or templates.setdefault(due, _definition(due))
        schedule_id = schedules.schedule_id(number)
        record = ScheduleRecord(definition=dataclasses.replace(template, id=schedule_id), next_fire_time=due,
                                last_slot=None, created_at=created, updated_at=created)
        shard, due_row = shard_of(schedule_id), due_row_key(record)
        rows.append(_due_entity(record, shard, due_row))
        if not schedules.index_only:
            rows += [_schedule_entity(record, shard, due_row),
                     {"PartitionKey": shard, "RowKey": HISTORY_PREFIX + schedule_id}]
    return rows


def _seed_schedules_part(connection_string: str, table: str, schedules: ScheduleSet, created: datetime) -> int:
    rows = schedule_rows(schedules, created)
    write(table_client(connection_string, table), [("upsert", row) for row in rows])
    return len(rows)


def _pool() -> ProcessPoolExecutor:
    # Spawned, not forked: the bench process runs threads (HTTP pools) that a fork would copy mid-flight.
    return ProcessPoolExecutor(SEED_PROCESSES, mp_context=multiprocessing.get_context("spawn"))


def seed_schedules(connection_string: str, table: str, schedules: ScheduleSet, created: datetime, *,
                   processes: int = SEED_PROCESSES) -> int:
    """Upsert the set's rows (from this process alone when `processes` is 1); returns how many."""
    if processes == 1:
        return _seed_schedules_part(connection_string, table, schedules, created)
    numbers = schedules.numbers
    parts = [dataclasses.replace(schedules, numbers=numbers[i::processes]) for i in range(processes)]
    with _pool() as pool:
        return sum(pool.map(_seed_schedules_part, [connection_string] * len(parts), [table] * len(parts), parts,
                            [created] * len(parts)))


def remove_schedules(client, prefix: str) -> int:
    """Delete the schedules whose id starts with `prefix`, with their due and history rows."""
    low = SCHEDULE_PREFIX + prefix
    found = client.query_entities("RowKey ge @low and RowKey lt @high", select=["PartitionKey", "RowKey", "DueKey"],
                                  parameters={"low": low, "high": low[:-1] + chr(ord(low[-1]) + 1)})
    operations = []
    for row in found:
        shard, schedule_id = row["PartitionKey"], row["RowKey"][len(SCHEDULE_PREFIX):]
        keys = [row["RowKey"], HISTORY_PREFIX + schedule_id] + ([row["DueKey"]] if row.get("DueKey") else [])
        operations += [("delete", {"PartitionKey": shard, "RowKey": key}) for key in keys]
    write(client, operations)
    return len(operations) // 3


def active_run(schedule_id: str, slot: datetime, aml_run_id: str, submitted: datetime) -> RunRecord:
    """A run AML accepted and has not started (NotStarted, which the record shows as Queued)."""
    return RunRecord(schedule_id=schedule_id, slot=slot, status="Queued", attempts=1, experiment_name=EXPERIMENT,
                     aml_run_id=aml_run_id, aml_status="NotStarted", claimed_at=slot, submitted_at=submitted,
                     updated_at=submitted, dequeued_at=slot, owner=None, retry=RETRY,
                     parameters={"slot": iso(slot), "mode": "batch"})


def run_rows(active: list[RunRecord], history_per_run: int) -> list[dict]:
    """Each active run's record (as claimed) and live row, and hourly finished runs before it."""
    rows = []
    for run in active:
        shard = shard_of(run.schedule_id)
        live = _entity(run, shard, record_key(run.schedule_id, run.slot))
        claim = run.evolve(status="Claimed", aml_run_id=None, aml_status=None, submitted_at=None, owner="queue",
                           attempts=0, next_attempt_at=run.slot + timedelta(minutes=8))
        rows += [_entity(claim, shard, live["RowKey"]), _live(live)]
        for hours in range(1, history_per_run + 1):
            slot = run.slot - timedelta(hours=hours)
            ended = slot + timedelta(minutes=20)
            done = run.evolve(slot=slot, status="Completed", aml_status="Completed", aml_run_id=f"hist-{hours}",
                              claimed_at=slot, submitted_at=slot, finished_at=ended, updated_at=ended,
                              parameters={"slot": iso(slot), "mode": "batch"})
            rows.append(_entity(done, shard, record_key(run.schedule_id, slot)))
    return rows


def _seed_runs_part(connection_string: str, table: str, active: list[RunRecord], history_per_run: int) -> int:
    rows = run_rows(active, history_per_run)
    write(table_client(connection_string, table), [("upsert", row) for row in rows])
    return len(rows)


def seed_runs(connection_string: str, table: str, active: list[RunRecord], history_per_run: int) -> int:
    parts = [active[i::SEED_PROCESSES] for i in range(SEED_PROCESSES)]
    with _pool() as pool:
        return sum(pool.map(_seed_runs_part, [connection_string] * len(parts), [table] * len(parts), parts,
                            [history_per_run] * len(parts)))
