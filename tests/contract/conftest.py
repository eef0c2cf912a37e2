"""The two stores every store contract test runs against: memory, and Table storage on Azurite."""

from __future__ import annotations

import pytest

from shared.store.memory import MemoryRunStore, MemoryScheduleStore


@pytest.fixture(params=["memory", "table"])
def stores(request):
    if request.param == "memory":
        return MemoryScheduleStore(), MemoryRunStore()
    from shared.store.table import TableRunStore, TableScheduleStore, service_client

    connection = request.getfixturevalue("azurite")
    schedules_table, runs_table = request.getfixturevalue("table_names")
    service = service_client(connection_string=connection, endpoint=None)
    return TableScheduleStore(service, schedules_table), TableRunStore(service, runs_table)
