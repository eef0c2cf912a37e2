"""Records in Azurite that this version cannot read do not take the others down."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from azure.data.tables import TableServiceClient

from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.keys import due_key, shard_of
from shared.store.table import TableScheduleStore

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_a_stored_schedule_that_no_longer_validates_is_left_out_of_due_with_a_warning(azurite, table_names, caplog):
    service = TableServiceClient.from_connection_string(azurite)
    store = TableScheduleStore(service, table_names[0])
    definition = parse_schedule({"id": "fine", "trigger": {"cron": "0 * * * *"},
                                 "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                                            "experimentName": "exp"}})
    stored = store.create(ScheduleRecord(definition, T0, None, T0, T0))
    # A due row written by an older version under rules this one refuses (a 6-field cron
    # whose day fields can never agree).
    table = service.get_table_client(table_names[0])
    fine_row = table.get_entity(shard_of("fine"), due_key(T0, "fine"))
    broken = {**fine_row, "PartitionKey": shard_of("legacy"), "RowKey": due_key(T0, "legacy"), "ScheduleId": "legacy",
              "Trigger": json.dumps({"cron": "0 0 0 31 2 MON", "timeZone": "UTC"})}
    table.create_entity(broken)
    due = store.due(T0 + timedelta(minutes=1))
    assert [r.id for r in due] == ["fine"] and stored.etag
    assert "legacy" in caplog.text and "cannot read" in caplog.text
