"""AML v2 schedules on the ARM plane, read to import them (`POST schedules/import`).

    GET {arm}/{workspace}/schedules?api-version=&listViewType=All   paged by nextLink
    GET {arm}/{workspace}/schedules/{name}

The app only reads AML's schedules: it never creates, changes, enables or disables
them. `listViewType` defaults to EnabledOnly on the service, so the list asks for All:
a disabled AML schedule can be imported too.
"""

from __future__ import annotations

from shared.aml import names
from shared.aml.arm import ArmResources
from shared.aml.transport import AmlTransport
from shared.config import Settings

LIST_VIEW_TYPES = ("EnabledOnly", "DisabledOnly", "All")


class SchedulesClient:
    def __init__(self, transport: AmlTransport, settings: Settings):
        self._arm = ArmResources(transport, settings, "schedules", settings.v2_api_version)

    def list(self, *, list_view_type: str = "All") -> list[dict]:
        """Every schedule of the workspace (all pages), as ARM answers them."""
        if list_view_type not in LIST_VIEW_TYPES:
            raise ValueError("list view type must be one of " + ", ".join(LIST_VIEW_TYPES))
        return self._arm.all(self._arm.path(), listViewType=list_view_type)

    def get(self, name: str) -> dict:
        """One schedule; AmlNotFoundError when the workspace has none of that name."""
        return self._arm.get(self._arm.path(names.segment("schedule name", name)))
