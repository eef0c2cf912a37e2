"""The tick and the poll read through key ranges only: never a whole table, never more than they return.

Every table request the runtime makes goes through the process's HTTP session; a
response hook records each query's filter and how many entities came back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from shared.config import load_settings
from shared.http_session import process_session
from shared.engine.model import PRUNE_SCHEDULES_PER_POLL
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord
from shared.store.keys import SHARDS
from tests.integration.support import Driven

UTC = timezone.utc
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class TableReads:
    def __init__(self, tables: set[str]):
        self.tables, self.queries = tables, []

    def __call__(self, response, *args, **kwargs):
        url = urlsplit(response.request.url)
        table = url.path.rstrip("/").split("/")[-1].split("(")[0]
        if response.request.method == "GET" and table in self.tables and "$filter" in url.query:
            body = json.loads(response.content or b"{}")
            self.queries.append((parse_qs(url.query)["$filter"][0], len(body.get("value", []))))


def test_tick_dispatch_and_poll_read_only_what_they_return(app_env, aml_emulator):
    runtime = build_runtime(load_settings(app_env))
    for i in range(300):
        cron = "0 2 * * *" if i % 30 == 0 else "0 3 * * *"  # 10 due at 02:00, 290 later
        definition = parse_schedule({"id": f"n{i:03d}", "trigger": {"cron": cron},
                                     "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "idx"}})
        runtime.schedules.create(ScheduleRecord(definition, definition.trigger.build().next_after(T0 - timedelta(hours=1)),
                                                None, T0, T0))
    for i in range(400):  # history the poll must not read
        runtime.runs.claim(RunRecord(f"n{i % 300:03d}", T0 - timedelta(days=1, minutes=i), "Completed"))
    reads = TableReads({app_env["SCHEDULES_TABLE"], app_env["RUNS_TABLE"]})
    session = process_session()
    session.hooks["response"].append(reads)
    try:
        engine = Driven(runtime, retention=timedelta(days=90))
        engine.tick(T0 + timedelta(seconds=1))
        engine.poll(T0 + timedelta(seconds=30))
    finally:
        session.hooks["response"].remove(reads)
    assert reads.queries, "nothing was recorded"
    prune_round = [(q, n) for q, n in reads.queries if "'H_" in q]
    others = [(q, n) for q, n in reads.queries if "'H_" not in q]
    for query, returned in reads.queries:
        assert "PartitionKey eq" in query and "RowKey" in query, f"not a key range: {query}"
    # The pruner's round reads a bounded page of schedule ids, and their prunable runs only.
    assert prune_round and all(n <= PRUNE_SCHEDULES_PER_POLL for _, n in prune_round)
    assert all(n <= 10 for _, n in others), others
    due = sum(n for q, n in others if "'D_" in q)
    in_flight = sum(n for q, n in others if "'~'" in q)
    # The due rows' keys (10, read by the tick) and the due rows (10, by the dispatches); the
    # slots in flight (10); and nothing of the 400 history rows.
    assert due == 2 * 10 and in_flight == 10 and due + in_flight == sum(n for _, n in others)
    assert sum(1 for q, _ in others if "'D_" in q) <= 2 * SHARDS  # one key read a shard, one row read a page
