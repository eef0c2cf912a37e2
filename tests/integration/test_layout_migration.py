"""Tables written in the single-partition layout keep working after the upgrade to shards."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from azure.data.tables import TableServiceClient

from shared.config import load_settings
from shared.runtime import build_runtime
from shared.store.migrate import LAYOUT, SHARDED, move_history

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"


def old_layout(service, schedules_table, runs_table):
    """What the previous version wrote: one schedule partition, a runs partition per schedule."""
    schedules = service.create_table_if_not_exists(schedules_table)
    runs = service.create_table_if_not_exists(runs_table)
    schedules.create_entity({
        "PartitionKey": "schedule", "RowKey": "nightly", "Description": "", "Enabled": True,
        "Trigger": json.dumps({"cron": "0 2 * * *", "timeZone": "UTC"}),
        "Target": json.dumps({"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "old",
                              "parameterAssignments": {}, "dataPathAssignments": {}}),
        "Policy": json.dumps({}), "NextFireTime": T0, "CreatedAt": T0 - timedelta(days=30),
        "UpdatedAt": T0 - timedelta(days=30)})
    for day, status, extra in ((1, "Running", {"Active": True, "AmlRunId": "run-old-1", "ExperimentName": "old"}),
                               (2, "Completed", {}), (3, "Failed", {})):
        slot = T0 - timedelta(days=day)
        runs.create_entity({"PartitionKey": "nightly", "RowKey": f"{10**11 - int(slot.timestamp()):011d}_x",
                            "Slot": slot, "RunKey": f"nightly_{slot:%Y%m%dT%H%M%SZ}", "Status": status,
                            "Trigger": "schedule", "Attempts": 1, "SubmittedAt": slot, **extra})


def test_an_upgrade_keeps_schedules_runs_in_flight_and_history(app_env, aml_emulator, azurite):
    service = TableServiceClient.from_connection_string(azurite)
    old_layout(service, app_env["SCHEDULES_TABLE"], app_env["RUNS_TABLE"])

    runtime = build_runtime(load_settings(app_env))  # the first start after the upgrade
    assert runtime.schedules.get("nightly").next_fire_time == T0
    assert [r.id for r in runtime.schedules.due(T0 + timedelta(seconds=1))] == ["nightly"]
    assert [(r.schedule_id, r.aml_run_id) for r in runtime.runs.all_in_flight()] == [("nightly", "run-old-1")]
    # The finished history moves in bounded steps, then the layout is complete.
    assert move_history(runtime.schedules, runtime.runs, limit=1) == 1
    while move_history(runtime.schedules, runtime.runs):
        pass
    assert runtime.schedules.get_meta(LAYOUT) == SHARDED
    statuses = [r.status for r in runtime.runs.list_runs("nightly").items]
    assert statuses == ["Running", "Completed", "Failed"]
    assert not list(service.get_table_client(app_env["RUNS_TABLE"]).query_entities("PartitionKey eq 'nightly'"))
    # A second start (or a second process) finds nothing more to do.
    again = build_runtime(load_settings(app_env))
    assert len(again.runs.list_runs("nightly").items) == 3
