"""AML v2 schedules on the ARM plane (read-only, for import), and their seeds.

ARM plane (``?api-version=`` required; only the ARM audience is accepted):

    GET /W/schedules[?listViewType=EnabledOnly|DisabledOnly|All&$skip=]   paged with nextLink
    GET /W/schedules/{name}

Shapes follow ``Schedule`` in the 2025-12-01 spec (examples/Schedule/get.json,
Schedule/list.json) and azure-ai-ml's generated models: ``CronTrigger``
(``expression``), ``RecurrenceTrigger`` (``frequency``, ``interval``, ``schedule``:
``hours``, ``minutes``, ``weekDays``, ``monthDays``), both with ``timeZone`` (a Windows
zone id), ``startTime`` and ``endTime`` (ISO 8601 without an offset); actions
``CreateJob`` (``jobDefinition``: job properties) and ``InvokeBatchEndpoint``
(``endpointInvocationDefinition``: an object the spec leaves open; azure-ai-ml passes
it through as a dict) and ``CreateMonitor`` (``monitorDefinition``, kept as given: the app
imports no monitors, but a workspace may hold them). As in the spec, ``listViewType``
defaults to EnabledOnly.

Schedules are seeded with ``seed_schedule(name, properties)`` (or the admin API, or
``--schedule-file``) where ``properties`` is what an ARM PUT would carry; nothing fires.
"""

from __future__ import annotations

import time
from typing import Any

from devtools.aml_emulator.arm import api_version, page, system_data, workspace_resource_id
from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.wire_formats import json_copy

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SCHEDULE_VIEWS = ("EnabledOnly", "DisabledOnly", "All")


class SchedulesMixin(EmulatorBase):
    def seed_schedule(self, name: str, properties: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace) a schedule with ARM ``properties``; returns its ARM body."""
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError("schedule name must be a non-empty string without '/'")
        props = _checked_properties(properties)
        with self._lock:
            self._schedules[name] = {"name": name, "properties": props, "createdAt": time.time()}
            return self._schedule_body(self._schedules[name])

    def remove_schedule(self, name: str) -> bool:
        with self._lock:
            return self._schedules.pop(name, None) is not None

    def schedules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._schedule_body(s) for s in sorted(self._schedules.values(), key=lambda s: s["name"])]

    def _schedule_body(self, schedule: dict[str, Any]) -> dict[str, Any]:
        properties = json_copy(schedule["properties"])
        properties["provisioningState"] = "Succeeded"
        return {
            "id": workspace_resource_id(self.workspace_path, "schedules", schedule["name"]),
            "name": schedule["name"],
            "type": "Microsoft.MachineLearningServices/workspaces/schedules",
            "properties": properties,
            "systemData": system_data(schedule["createdAt"], None),
        }

    # -- routes ----------------------------------------------------------------------

    def _h_schedules_list(self, request: Request) -> Reply:
        view = request.arg("listViewType") or "EnabledOnly"
        if view not in SCHEDULE_VIEWS:
            raise ApiError(400, "UserError", f"listViewType must be one of {', '.join(SCHEDULE_VIEWS)}.",
                           inner_code="BadArgument")
        shown = {"EnabledOnly": (True,), "DisabledOnly": (False,), "All": (True, False)}[view]
        bodies = [s for s in self.schedules() if s["properties"]["isEnabled"] in shown]
        return Reply(200, page(self.base_url, request, bodies, self.arm_page_size))

    def _h_schedule_get(self, request: Request) -> Reply:
        api_version(request)
        name = request.params["schedule"]
        with self._lock:
            schedule = self._schedules.get(name)
            if schedule is None:
                raise ApiError(404, "UserError", f"Schedule {name} was not found in workspace {self.workspace}.",
                               inner_code="NotFound")
            return Reply(200, self._schedule_body(schedule))


def _checked_properties(properties: Any) -> dict[str, Any]:
    """A copy of schedule ``properties`` with defaults filled in, or ValueError naming what is wrong."""
    if not isinstance(properties, dict):
        raise ValueError("properties must be an object")
    props = json_copy(properties)
    props.setdefault("displayName", None)
    props.setdefault("description", None)
    props.setdefault("isEnabled", True)
    props.setdefault("tags", {})
    props.setdefault("properties", {})
    if not isinstance(props["isEnabled"], bool):
        raise ValueError("isEnabled must be a boolean")
    _check_trigger(props.get("trigger"))
    _check_action(props.get("action"))
    return props


def _check_trigger(trigger: Any) -> None:
    if not isinstance(trigger, dict):
        raise ValueError("trigger is required")
    for key in ("timeZone", "startTime", "endTime"):
        if trigger.get(key) is not None and not isinstance(trigger[key], str):
            raise ValueError(f"trigger.{key} must be a string")
    kind = trigger.get("triggerType")
    if kind == "Cron":
        if not isinstance(trigger.get("expression"), str) or not trigger["expression"].strip():
            raise ValueError("a Cron trigger needs an expression")
    elif kind == "Recurrence":
        if trigger.get("frequency") not in FREQUENCIES:
            raise ValueError(f"trigger.frequency must be one of {FREQUENCIES}")
        interval = trigger.get("interval")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError("trigger.interval must be a positive integer")
        _check_recurrence_schedule(trigger.get("schedule"))
    else:
        raise ValueError("trigger.triggerType must be Cron or Recurrence")


def _check_recurrence_schedule(schedule: Any) -> None:
    if schedule is None:
        return
    if not isinstance(schedule, dict):
        raise ValueError("trigger.schedule must be an object")
    limits = {"hours": range(24), "minutes": range(60), "monthDays": range(1, 32)}
    for key, allowed in limits.items():
        values = schedule.get(key)
        if values is None and key == "monthDays":
            continue
        if not isinstance(values, list) or any(isinstance(v, bool) or v not in allowed for v in values):
            raise ValueError(f"trigger.schedule.{key} must be a list of numbers in {allowed.start}-{allowed.stop - 1}")
    days = schedule.get("weekDays")
    if days is not None and (not isinstance(days, list) or any(d not in WEEK_DAYS for d in days)):
        raise ValueError(f"trigger.schedule.weekDays must be a list of {WEEK_DAYS}")


def _check_action(action: Any) -> None:
    if not isinstance(action, dict):
        raise ValueError("action is required")
    kind = action.get("actionType")
    if kind == "CreateJob":
        if not isinstance(action.get("jobDefinition"), dict) or "jobType" not in action["jobDefinition"]:
            raise ValueError("a CreateJob action needs a jobDefinition with a jobType")
    elif kind == "InvokeBatchEndpoint":
        if not isinstance(action.get("endpointInvocationDefinition"), dict):
            raise ValueError("an InvokeBatchEndpoint action needs an endpointInvocationDefinition object")
    elif kind == "CreateMonitor":
        if not isinstance(action.get("monitorDefinition"), dict):
            raise ValueError("a CreateMonitor action needs a monitorDefinition object")
    else:
        raise ValueError("action.actionType must be CreateJob, InvokeBatchEndpoint or CreateMonitor")


_SCHEDULES = rf"/{WORKSPACE}/schedules"

ROUTES = [
    Route("GET", _SCHEDULES, "arm", SchedulesMixin._h_schedules_list),
    Route("GET", rf"{_SCHEDULES}/(?P<schedule>{SEGMENT})", "arm", SchedulesMixin._h_schedule_get),
]
