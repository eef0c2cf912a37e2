"""`POST schedules/import`: AML's own v2 schedules, recreated here, disabled.

Reads the workspace's schedules (all of them, or the ones named in `{"names": [...]}`),
converts each with `shared.importing.convert` and creates what converts, disabled, so
AML's schedule and ours never both fire: the operator switches over by disabling AML's
and enabling ours. The answer sorts every schedule into exactly one list:

    {"imported": [{"name", "scheduleId"}],   created now
     "existing": [{"name", "scheduleId"}],   created by an earlier import of the same AML schedule
     "skipped":  [{"name", "reason"}]}        not converted, not found, or the id is taken

Importing twice creates nothing twice: a schedule whose id exists and whose description
carries the import marker of the same AML schedule is `existing`; an id held by any other
schedule is `skipped` with that reason and left alone. Nothing is ever overwritten.

Imported schedules are not checked against AML's targets (`?validate`): they point at what
AML's own schedule already runs. AML failures answer in the usual envelope (502, 504, ...)
before anything is written; a storage failure mid-way (503) may leave some schedules
imported, and repeating the call finishes the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Protocol

import azure.functions as func

from shared.access.guard import current_actor
from shared.aml import names
from shared.aml.errors import AmlNotFoundError
from shared.api import audit
from shared.api.http import bad_request, json_response, read_json
from shared.importing import Imported, Skipped, convert, imported_from, same_aml_name
from shared.store import AlreadyExists, NotFound, ScheduleRecord, ScheduleStore

log = logging.getLogger("shared.api.audit")

MAX_NAMES = 100


class AmlSchedules(Protocol):
    def list(self) -> list[dict]: ...
    def get(self, name: str) -> dict: ...


class ScheduleImport:
    def __init__(self, schedules: ScheduleStore, aml_schedules: Callable[[], AmlSchedules],
                 clock: Callable[[], datetime], workspace_path: str):
        self._schedules = schedules
        self._aml = aml_schedules
        self._clock = clock
        self._workspace_path = workspace_path

    def run(self, req: func.HttpRequest) -> func.HttpResponse:
        wanted = _names(req)
        resources, skipped = self._read(wanted)
        imported: list[dict] = []
        existing: list[dict] = []
        for resource in resources:
            outcome = convert(resource, workspace_path=self._workspace_path)
            if isinstance(outcome, Skipped):
                skipped.append({"name": outcome.name, "reason": outcome.reason})
                continue
            verdict = self._store(outcome)
            if verdict is None:
                imported.append({"name": outcome.name, "scheduleId": outcome.schedule_id})
            elif verdict == "existing":
                existing.append({"name": outcome.name, "scheduleId": outcome.schedule_id})
            else:
                skipped.append({"name": outcome.name, "reason": verdict})
        if imported:
            log.warning("AML schedules %s imported (disabled) as requested by %s",
                        ", ".join(i["name"] for i in imported), current_actor()["name"])
        return json_response({"imported": imported, "existing": existing, "skipped": skipped})

    # -- AML ---------------------------------------------------------------------------
    def _read(self, wanted: list[str] | None) -> tuple[list[dict], list[dict]]:
        """The AML schedules to convert, in a stable order, and those already skipped."""
        aml = self._aml()
        if wanted is None:
            listed = [r for r in aml.list() if isinstance(r, dict)]
            return sorted(listed, key=lambda r: str(r.get("name", "")).casefold()), []
        found, skipped = [], []
        for name in wanted:
            try:
                found.append(aml.get(name))
            except AmlNotFoundError:
                skipped.append({"name": name, "reason": "the workspace has no AML schedule of this name"})
        return found, skipped

    # -- the store -----------------------------------------------------------------------
    def _store(self, outcome: Imported) -> str | None:
        """Create the schedule: None when created, "existing", or the reason it was not."""
        now = self._clock()
        definition = outcome.definition
        actor = current_actor()
        record = ScheduleRecord(definition, definition.trigger.build().next_after(now), None, now, now,
                                created_by=actor, updated_by=actor)
        entry = audit.entry(definition.id, "import", now, after=definition.to_dict(),
                            details={"amlSchedule": outcome.name})
        try:
            self._schedules.create(record, audit=entry)
            return None
        except AlreadyExists:
            pass
        try:
            current = self._schedules.get(outcome.schedule_id)
        except NotFound:  # deleted between our create and this read: leave it to the next import
            return (f"schedule {outcome.schedule_id!r} existed a moment ago and is gone now; import again "
                    "to create it")
        source = imported_from(current.definition.description)
        if source is not None and same_aml_name(source, outcome.name):
            return "existing"
        return (f"schedule id {outcome.schedule_id!r} is taken by a schedule that was not imported from this AML "
                "schedule; it was left as it is")


def _names(req: func.HttpRequest) -> list[str] | None:
    """The names asked for, or None for every schedule (no body, or a body without names)."""
    if not (req.get_body() or b"").strip():
        return None
    body: Any = read_json(req)
    if not isinstance(body, dict):
        raise bad_request("body", 'must be a JSON object: {"names": [...]} or {}')
    unknown = sorted(set(body) - {"names"})
    if unknown:
        raise bad_request(unknown[0], "unknown field; allowed: names")
    if "names" not in body:
        return None
    wanted = body["names"]
    if not isinstance(wanted, list) or not 1 <= len(wanted) <= MAX_NAMES:
        raise bad_request("names", f"must be a list of 1-{MAX_NAMES} AML schedule names (leave it out to import "
                                   "every schedule)")
    seen: set[str] = set()
    for index, name in enumerate(wanted):
        if not names.is_valid("schedule name", name):
            raise bad_request(f"names[{index}]", "must be an AML schedule name: 1-255 letters, digits, '_' or '-', "
                                                 "starting with a letter or digit")
        if name.casefold() in seen:
            raise bad_request("names", f"names {name!r} twice (AML's names ignore letter case)")
        seen.add(name.casefold())
    return list(wanted)
