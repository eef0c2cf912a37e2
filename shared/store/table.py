"""The Table storage stores, for the composition root: see `table_common`, `table_schedules`, `table_runs`,
`table_incidents`."""

from shared.store.table_common import service_client
from shared.store.table_incidents import TableIncidentStore
from shared.store.table_runs import TableRunStore
from shared.store.table_schedules import TableScheduleStore

__all__ = ["TableIncidentStore", "TableRunStore", "TableScheduleStore", "service_client"]
