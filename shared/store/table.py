"""The Table storage stores, for the composition root: see `table_common`, `table_schedules`, `table_runs`."""

from shared.store.table_common import service_client
from shared.store.table_runs import TableRunStore
from shared.store.table_schedules import TableScheduleStore

__all__ = ["TableRunStore", "TableScheduleStore", "service_client"]
