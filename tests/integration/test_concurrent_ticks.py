"""Several ticks at once, each with its own clients as separate instances would have,
over the same due slots, then their workers on the shared queue: exactly one run record
and one AML submission per slot."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

from shared.config import load_settings
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from tests.integration.support import drain

UTC = timezone.utc
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"


def test_concurrent_ticks_claim_each_slot_once(app_env, aml_emulator):
    settings = load_settings(app_env)
    instances = [build_runtime(settings) for _ in range(6)]
    # Five seconds past a multiple of ten, so the owed */10 slots are exactly now-55s ... now-5s.
    wall = datetime.now(UTC).replace(microsecond=0)
    now = wall - timedelta(seconds=wall.second % 10) + timedelta(seconds=5)
    cursor = now - timedelta(seconds=55)
    schedule_ids = ["alpha", "beta", "gamma"]
    for schedule_id in schedule_ids:
        definition = parse_schedule({
            "id": schedule_id, "trigger": {"cron": "*/10 * * * * *"},
            "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "concurrency",
                       "parameterAssignments": {"slot": "{{slot}}"}},
            "policy": {"misfire": "all"},
        })
        instances[0].schedules.create(ScheduleRecord(definition, cursor, None, now, now))
    # Slow submissions widen the window in which racing ticks overlap.
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=None, delay_seconds=0.05, times=100)

    barrier = threading.Barrier(len(instances))
    errors = []

    def tick_then_work(runtime):
        barrier.wait()
        try:
            runtime.engine.tick(now)
            # Then each instance works slot messages off the shared queue, as scaled-out
            # queue workers would, all at once.
            drain(runtime, now)
        except Exception as exc:  # surfaced below; a tick must never raise
            errors.append(exc)

    threads = [threading.Thread(target=tick_then_work, args=(rt,)) for rt in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []

    owed_per_schedule = 6
    submitted_keys = Counter(run["tags"]["scheduler_run_key"] for run in aml_emulator.runs())
    assert len(submitted_keys) == owed_per_schedule * len(schedule_ids)
    assert set(submitted_keys.values()) == {1}
    for schedule_id in schedule_ids:
        records = instances[0].runs.list_runs(schedule_id, limit=100).items
        assert len(records) == owed_per_schedule
        assert {r.status for r in records} == {"Submitted"}
        assert {r.run_key for r in records} <= set(submitted_keys)
        assert instances[0].schedules.get(schedule_id).next_fire_time > now
