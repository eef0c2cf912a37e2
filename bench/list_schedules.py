"""GET schedules, every page, at 10,000 schedules on Azurite: time, table requests, rows read.

Run with `python bench/list_schedules.py` (`--help` for the knobs). It starts an Azurite of
its own, seeds N schedules in the app's own row layout (schedule, due and history rows;
and, where the code has them, a run summary per schedule holding a full window of
outcomes), then pages through `GET schedules` with the app's handler, as a caller
following continuationToken would, at a few page sizes, and with ?health=failing where
the code knows it. It prints the median of --rounds per case and asserts nothing.

The same file runs on a checkout from before run summaries (it only asks the code for
what that code has), which is how the figures before and after compare.
The figures share the machine with whatever else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import azure.functions as func  # noqa: E402 - after the repo root is on sys.path

from devtools.processes import free_port, stop_process_group, wait_for_port  # noqa: E402
from devtools.stack import start_azurite, tables_connection_string  # noqa: E402
from shared.api.schedules import ScheduleHandlers  # noqa: E402
from shared.http_session import process_session, sdk_transport  # noqa: E402
from shared.schedules import parse_schedule  # noqa: E402
from shared.store import ScheduleRecord  # noqa: E402
from shared.store import table_schedules as layout  # noqa: E402
from shared.store.keys import HISTORY_PREFIX, due_row_key, shard_of  # noqa: E402
from shared.store.table import TableRunStore, TableScheduleStore, service_client  # noqa: E402

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PIPELINE_ID = "5ca1e000-0000-4000-8000-000000000001"
HAS_SUMMARIES = hasattr(TableScheduleStore, "get_summary")


class Requests:
    """Counts table requests and the entities they return (a hook on the app's HTTP session)."""

    def __init__(self):
        self.count = self.rows = 0

    def __call__(self, response, *args, **kwargs):
        self.count += 1
        if response.request.method == "GET":
            self.rows += len(json.loads(response.content or b"{}").get("value", []))


def seed(connection: str, table: str, count: int) -> float:
    """N schedules in the app's layout, a shard's rows in transactions of up to 100 (not timed as part of the figures)."""
    from azure.data.tables import TableServiceClient

    client = TableServiceClient.from_connection_string(connection).create_table_if_not_exists(table)
    by_shard: dict[str, list[dict]] = {}
    for i in range(count):
        record = _record(f"sched-{i:05d}", NOW + timedelta(minutes=i % 60))
        shard, due = shard_of(record.id), due_row_key(record)
        rows = [layout._schedule_entity(record, shard, due), layout._due_entity(record, shard, due),
                {"PartitionKey": shard, "RowKey": HISTORY_PREFIX + record.id}]
        if HAS_SUMMARIES:
            rows.append(layout._summary_entity(_summary(record.id, failing=i % 10 == 0), shard))
        by_shard.setdefault(shard, []).extend(rows)
    batches = [rows[i:i + 100] for rows in by_shard.values() for i in range(0, len(rows), 100)]
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda batch: client.submit_transaction([("upsert", row) for row in batch]), batches))
    return time.monotonic() - started


def _record(schedule_id: str, next_fire: datetime) -> ScheduleRecord:
    definition = parse_schedule({"id": schedule_id, "trigger": {"cron": "0 * * * *"}, "policy": {
        "sla": {"completeWithinMinutes": 45}} if HAS_SUMMARIES else {}, "target": {
        "kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "bench",
        "parameterAssignments": {"day": "{{slot:%Y-%m-%d}}"}}})
    return ScheduleRecord(definition, next_fire, next_fire - timedelta(hours=1), NOW, NOW)


def _summary(schedule_id: str, *, failing: bool):
    """A full window of hourly outcomes, as a schedule that has run for a day has."""
    from shared.store import RunOutcome, ScheduleSummary
    from shared.store import run_key as key_of

    recent = []
    for hour in range(1, 21):
        slot = NOW - timedelta(hours=hour)
        status = "Failed" if failing and hour == 1 else "Completed"
        recent.append(RunOutcome(key_of(schedule_id, slot), slot, status, slot + timedelta(minutes=20),
                                 f"bench_{uuid.uuid4().hex}"))
    return ScheduleSummary(schedule_id, recent, 1 if failing else 0)


def page_through(handlers: ScheduleHandlers, params: dict) -> tuple[int, int]:
    """Every page of GET schedules: (schedules returned, pages)."""
    token, total, pages = None, 0, 0
    while True:
        query = {**params, **({"continuationToken": token} if token else {})}
        response = handlers.list(func.HttpRequest("GET", "http://localhost/api/schedules", params=query, body=b""))
        body = json.loads(response.get_body())
        total, pages = total + len(body["value"]), pages + 1
        token = body["continuationToken"]
        if not token:
            return total, pages


def measure(handlers: ScheduleHandlers, params: dict, rounds: int) -> dict:
    requests, seconds = Requests(), []
    session = process_session()
    for _ in range(rounds):
        session.hooks["response"].append(requests)
        started = time.monotonic()
        try:
            total, pages = page_through(handlers, params)
        finally:
            session.hooks["response"].remove(requests)
        seconds.append(time.monotonic() - started)
    return {"schedules": total, "pages": pages, "seconds": statistics.median(seconds),
            "requests": requests.count // rounds, "rows": requests.rows // rounds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="full pagings per case (the median is printed)")
    parser.add_argument("--limits", default="50,500", help="page sizes to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        azurite = start_azurite(port, Path(workdir) / "azurite.log")
        try:
            wait_for_port("127.0.0.1", port, 30, proc=azurite)
            connection, table = tables_connection_string(port), f"bench{uuid.uuid4().hex[:8]}"
            seeded = seed(connection, table, args.schedules)
            service = service_client(connection_string=connection, endpoint=None, transport=sdk_transport())
            handlers = ScheduleHandlers(TableScheduleStore(service, table), TableRunStore(service, f"{table}runs"),
                                        lambda: NOW)
            print(f"GET schedules, all pages, {args.schedules} schedules on Azurite "
                  f"({'with' if HAS_SUMMARIES else 'without'} run summaries); seeded in {seeded:.1f} s; "
                  f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {args.rounds}")
            cases = [{"limit": str(limit)} for limit in map(int, args.limits.split(","))]
            if HAS_SUMMARIES:
                cases += [{"limit": "50", "health": "failing"}, {"limit": "500", "health": "failing"}]
            print(f"{'case':<28}{'schedules':>10}{'pages':>7}{'seconds':>9}{'ms/page':>9}{'requests':>10}{'rows read':>11}")
            for params in cases:
                m = measure(handlers, params, args.rounds)
                case = "&".join(f"{k}={v}" for k, v in params.items())
                print(f"{case:<28}{m['schedules']:>10}{m['pages']:>7}{m['seconds']:>9.2f}"
                      f"{m['seconds'] * 1000 / m['pages']:>9.1f}{m['requests']:>10}{m['rows']:>11}")
        finally:
            stop_process_group(azurite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
