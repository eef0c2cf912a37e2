"""AML's own v2 schedules as schedules of this app: a pure conversion, or why there is none.

`convert(resource, workspace_path=...)` takes one schedule as ARM answers it
(`{"name", "properties": {"trigger", "action", ...}, "systemData"}`) and returns either
`Imported` (our schedule id and a validated `ScheduleDefinition`, always disabled) or
`Skipped` with a reason a person can act on. Nothing here does I/O or reads the clock.

The rule: a schedule is imported only when this app would fire it at the same times and
run the same thing; anything that cannot be expressed exactly is skipped with the reason,
never approximated.

Triggers
* Cron: AML takes 5 fields and points to NCrontab's format. AML's documentation says the
  day-of-month and month fields are not supported and are treated as `*`; an expression
  that restricts either is skipped, since what AML runs and what it says differ. With
  both `*`, only the day-of-week field picks days, where NCrontab and classic cron (our
  5-field form) agree, except for a step from one weekday (`1/2`: NCrontab stops at
  Saturday, classic cron wraps to Sunday as 7), which is skipped. The expression is kept
  as it is (our 5-field form).
* Recurrence: `frequency`, `interval` and `schedule` (`hours`, `minutes`, `weekDays`,
  `monthDays`) map one to one onto ours. AML counts intervals from `startTime`, or from
  the schedule's creation time when there is none (documented); ours count from
  `startTime`, so an import without a start writes AML's creation time
  (`systemData.createdAt`) as the start. Skipped: a pattern on Minute or Hour, week days
  on Day or Month, month days on Day or Week (AML documents no meaning for these), a
  pattern without hours or minutes (AML requires both), and a Week recurrence with an
  interval above 1 that involves a Sunday (its anchor or one of its days): which weeks
  count then depends on whether weeks start on Sunday or Monday, which AML does not
  document (ours start on Monday).
* `timeZone` is kept (Windows names are accepted); absent means UTC, as in AML.
  `startTime`/`endTime` are kept as given: without an offset they are read in the zone,
  with one the offset counts, as AML documents.

Actions
* `CreateJob` -> target kind `job`: the job definition without the fields AML sets
  (`status`, `services`, `isArchived`) and without top-level nulls (ARM reads a null as
  absent; our target check does not).
* `InvokeBatchEndpoint` -> target kind `batchEndpoint`, from `endpointInvocationDefinition`.
  The public spec leaves that object open ("TBD") and azure-ai-ml has no model for it, so
  the one shape accepted is the one the AML emulator serves: `{"endpointId": <the
  endpoint>, "properties": <the invocation's properties, as POSTed to the scoring URI>}`,
  keys in either letter case. The endpoint may be its ARM id (of this workspace; a
  deployment's ARM id pins that deployment), `azureml:<ARM id>`, `azureml:<name>` or a
  name. The properties may hold `inputData`/`outputData` (bindings with
  `jobInputType`/`jobOutputType` UriFolder, UriFile or Literal, `uri`/`value`, `mode`),
  `properties.experimentName`, and empty `tags`; anything else (per-invocation compute,
  retry settings, mini-batch size, other input types, fields we do not know) is skipped,
  naming the field.
* `CreateMonitor` and any other action: skipped.
* A definition using `${{creation_context.trigger_time}}` is skipped: AML fills it in only
  for jobs its own schedules start.

Identity: our schedule id is the AML name in lower case, each character outside
`[a-z0-9-]` replaced by `-`, cut to 63. The description starts with
`Imported from AML schedule '<name>'` (the marker `imported_from` reads back, which is
how a second import recognises its own schedules), then AML's display name and
description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cronsim import CronSim, CronSimError

from shared.aml import names
from shared.schedules import SCHEDULE_ID, ScheduleDefinition, parse_instant, parse_schedule
from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from shared.scheduling.recurrence import FREQUENCIES, WEEK_DAYS
from shared.scheduling.zones import resolve_zone
from shared.targets import JOB_READ_ONLY

MARKER_PREFIX = "Imported from AML schedule '"
MAX_DESCRIPTION = 1024
_MARKER = re.compile(r"Imported from AML schedule '(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,254})'")
_NOT_ID = re.compile(r"[^a-z0-9-]")
_TRIGGER_TIME = re.compile(r"\$\{\{\s*creation_context\.", re.IGNORECASE)
_ARM_ENDPOINT = re.compile(
    r"(?P<workspace>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/[^/]+)/batchEndpoints/(?P<endpoint>[^/]+)(?:/deployments/(?P<deployment>[^/]+))?",
    re.IGNORECASE)
# Binding types AML's invocation takes that our batchEndpoint target expresses, by their
# spelling with case and '_' ignored.
_INPUT_TYPES = {"urifolder": "uri_folder", "urifile": "uri_file", "literal": "literal"}
_OUTPUT_TYPES = {"urifolder": "uri_folder", "urifile": "uri_file"}
# AML's delivery modes (InputDeliveryMode, OutputDeliveryMode) and ours.
_MODES = {"readonlymount": "ro_mount", "romount": "ro_mount", "readwritemount": "rw_mount", "rwmount": "rw_mount",
          "download": "download", "upload": "upload", "direct": "direct", "evalmount": "eval_mount",
          "evaldownload": "eval_download"}
_PROBE = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Imported:
    name: str
    schedule_id: str
    definition: ScheduleDefinition


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


class _Skip(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- identity ---------------------------------------------------------------------------------

def schedule_id_for(name: str) -> str | None:
    """Our schedule id for an AML schedule name, or None if none can be made."""
    candidate = _NOT_ID.sub("-", name.lower())[:63]
    return candidate if SCHEDULE_ID.fullmatch(candidate) else None


def marker(name: str) -> str:
    return f"{MARKER_PREFIX}{name}'"


def imported_from(description: str) -> str | None:
    """The AML schedule name a description's import marker names, or None."""
    match = _MARKER.match(description or "")
    return match.group("name") if match else None


def same_aml_name(a: str, b: str) -> bool:
    """AML's names are case-insensitive, as ARM's are."""
    return a.casefold() == b.casefold()


def description_for(name: str, display_name: Any, description: Any) -> str:
    text = marker(name)
    if isinstance(display_name, str) and display_name.strip() and display_name != name:
        text += f" ({display_name.strip()})"
    if isinstance(description, str) and description.strip():
        text += f": {description.strip()}"
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 1] + "…"


# -- the conversion ---------------------------------------------------------------------------

def convert(resource: Any, *, workspace_path: str) -> Imported | Skipped:
    """One AML schedule (as ARM answers it) as our schedule document, validated, or the reason not.

    `workspace_path` is the app's workspace (`subscriptions/.../workspaces/<name>`): a batch
    endpoint named by an ARM id elsewhere is not one this app can invoke.
    """
    raw_name = resource.get("name") if isinstance(resource, dict) else None
    name = raw_name if isinstance(raw_name, str) else ""
    try:
        if not names.is_valid("schedule name", name):
            raise _Skip("AML answered with a schedule whose name is not a valid AML schedule name")
        schedule_id = schedule_id_for(name)
        if schedule_id is None:  # unreachable for a valid name; kept as the rule's guard
            raise _Skip(f"no schedule id can be made from the name {name!r}")
        props = resource.get("properties")
        if not isinstance(props, dict):
            raise _Skip("AML answered without the schedule's properties")
        system = resource.get("systemData") if isinstance(resource.get("systemData"), dict) else {}
        trigger = _trigger(props.get("trigger"), system.get("createdAt"))
        target = _target(props.get("action"), workspace_path)
        doc = {"id": schedule_id, "description": description_for(name, props.get("displayName"),
                                                                 props.get("description")),
               "enabled": False, "trigger": trigger, "target": target}
        try:
            definition = parse_schedule(doc)
        except ScheduleError as exc:
            raise _Skip(f"not expressible as a schedule here: {exc.field}: {exc.message}") from None
    except _Skip as skip:
        return Skipped(name, skip.reason)
    return Imported(name, schedule_id, definition)


# -- triggers ---------------------------------------------------------------------------------

def _trigger(trigger: Any, created_at: Any) -> dict:
    if not isinstance(trigger, dict):
        raise _Skip("the schedule has no trigger")
    zone = trigger.get("timeZone")
    doc: dict[str, Any] = {"timeZone": "UTC" if zone is None else zone}
    for key in ("startTime", "endTime"):
        value = trigger.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise _Skip(f"trigger.{key} is not a date-time string")
            doc[key] = value
    kind = trigger.get("triggerType")
    if kind == "Cron":
        doc["cron"] = _cron(trigger.get("expression"))
    elif kind == "Recurrence":
        doc["recurrence"] = _recurrence(trigger, doc, created_at)
    else:
        raise _Skip(f"trigger type {kind!r} is not Cron or Recurrence")
    return doc


def _cron(expression: Any) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise _Skip("the cron trigger has no expression")
    fields = expression.split()
    if len(fields) != 5:
        raise _Skip(f"cron expression {expression!r} has {len(fields)} fields; AML's have 5 "
                    "(minute hour day-of-month month day-of-week)")
    if fields[2] != "*" or fields[3] != "*":
        raise _Skip(f"cron expression {expression!r} restricts the day of month or the month; AML's documentation "
                    "says it ignores both fields (treats them as *), so the days AML runs on may not be the days "
                    "the expression names. Decide which you mean and create the schedule by hand")
    problem = _weekday_problem(expression)
    if problem:
        raise _Skip(f"cron expression {expression!r} {problem}")
    return expression


def _weekday_problem(expression: str) -> str | None:
    """Why NCrontab (our 6-field form) and classic cron (our 5-field form) may pick different
    weekdays for this expression, or None when they pick the same."""
    try:
        classic = CronSim(CronExpression(expression).text, _PROBE).weekdays
        ncrontab = CronSim(CronExpression("0 " + expression).text, _PROBE).weekdays
    except (ScheduleError, CronSimError):
        return None  # not valid at all: parse_schedule names the problem
    day_of_week = expression.split()[4]
    if not all(isinstance(day, int) for day in classic | ncrontab):
        return (f"uses a day-of-week extension ({day_of_week!r}: last or nth weekday) that NCrontab, AML's "
                "format, does not have, so what AML runs is unknown")
    if {day % 7 for day in classic} != {day % 7 for day in ncrontab}:
        return (f"has a day-of-week step from one day ({day_of_week!r}), which NCrontab (AML's format) stops at "
                "Saturday and classic cron carries on to Sunday; write it as a range (e.g. 1-5/2) and create the "
                "schedule by hand")
    return None


def _recurrence(trigger: dict, doc: dict, created_at: Any) -> dict:
    frequency = trigger.get("frequency")
    frequency = next((f for f in FREQUENCIES if isinstance(frequency, str) and frequency.lower() == f.lower()), None)
    if frequency is None:
        raise _Skip(f"recurrence frequency {trigger.get('frequency')!r} is not one of " + ", ".join(FREQUENCIES))
    interval = trigger.get("interval")
    recurrence: dict[str, Any] = {"frequency": frequency, "interval": interval}
    pattern = _pattern(trigger.get("schedule"), frequency)
    recurrence.update(pattern)
    if doc.get("startTime") is None:
        if not isinstance(created_at, str) or not created_at:
            raise _Skip("the recurrence has no startTime and AML gave no creation time to count its intervals "
                        "from; add a startTime in AML, or create the schedule by hand")
        # AML counts a recurrence without a start from the schedule's creation time.
        doc["startTime"] = created_at
    if frequency == "Week" and isinstance(interval, int) and not isinstance(interval, bool) and interval > 1:
        _week_start_must_not_matter(doc, pattern.get("weekDays", []), interval)
    return recurrence


def _pattern(schedule: Any, frequency: str) -> dict:
    if schedule is None:
        return {}
    if not isinstance(schedule, dict):
        raise _Skip("trigger.schedule is not an object")
    unknown = sorted(k for k, v in schedule.items() if k not in ("hours", "minutes", "weekDays", "monthDays")
                     and v is not None)
    if unknown:
        raise _Skip(f"trigger.schedule.{unknown[0]} is not a field of AML's recurrence pattern")
    lists = {key: _listed(schedule.get(key)) for key in ("hours", "minutes", "weekDays", "monthDays")}
    if frequency in ("Minute", "Hour"):
        given = [key for key, values in lists.items() if values]
        if given:
            raise _Skip(f"trigger.schedule.{given[0]} with frequency {frequency}: AML documents a pattern for Day, "
                        "Week and Month only, so what it runs is unknown")
        return {}
    for key, applies in (("weekDays", "Week"), ("monthDays", "Month")):
        if lists[key] and frequency != applies:
            raise _Skip(f"trigger.schedule.{key} with frequency {frequency}: AML does not document how it combines "
                        "with the rest of the pattern, so what it runs is unknown")
    for key in ("hours", "minutes"):
        if not lists[key]:
            raise _Skip(f"trigger.schedule.{key} is empty; AML requires hours and minutes in a pattern, and what it "
                        "runs without them is undocumented")
    return {key: values for key, values in lists.items() if values}


def _listed(value: Any) -> Any:
    """A pattern list as given (a single value counts as a list of one); null or [] as empty."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _week_start_must_not_matter(doc: dict, week_days: list, interval: int) -> None:
    """Which weeks an every-N-weeks recurrence counts depends on the first day of a week, unless no
    Sunday is involved: a week starting on Sunday and one starting on Monday hold the same Monday
    to Saturday."""
    try:
        zone = resolve_zone(doc["timeZone"])
        anchor = parse_instant("trigger.startTime", doc["startTime"], zone).astimezone(zone)
    except ScheduleError:
        return  # parse_schedule names the problem
    days = {d.lower() for d in week_days if isinstance(d, str)}
    if "sunday" in days or anchor.weekday() == WEEK_DAYS.index("Sunday"):
        raise _Skip(f"a Week recurrence every {interval} weeks involving a Sunday (its start, {doc['startTime']}, or "
                    "one of its days): which weeks count depends on whether a week starts on Sunday or Monday, and "
                    "AML does not document its choice (this app's weeks start on Monday)")


# -- actions ----------------------------------------------------------------------------------

def _target(action: Any, workspace_path: str) -> dict:
    if not isinstance(action, dict):
        raise _Skip("the schedule has no action")
    kind = action.get("actionType")
    if kind == "CreateMonitor":
        raise _Skip("action CreateMonitor (a model monitor) is not something this app runs")
    if kind not in ("CreateJob", "InvokeBatchEndpoint"):
        raise _Skip(f"action type {kind!r} is not something this app runs (it runs CreateJob and "
                    "InvokeBatchEndpoint)")
    if _uses_trigger_time(action):
        raise _Skip("the action uses ${{creation_context.trigger_time}}, which AML fills in only for jobs its own "
                    "schedules start; replace it with a {{slot}} placeholder (e.g. {{slot:%Y-%m-%dT%H:%M:%S}}) "
                    "and create the schedule by hand")
    if kind == "CreateJob":
        return _job(action.get("jobDefinition"))
    return _batch(action.get("endpointInvocationDefinition"), workspace_path)


def _uses_trigger_time(value: Any) -> bool:
    if isinstance(value, str):
        return _TRIGGER_TIME.search(value) is not None
    if isinstance(value, dict):
        return any(_uses_trigger_time(v) for v in value.values())
    if isinstance(value, list):
        return any(_uses_trigger_time(v) for v in value)
    return False


def _job(job: Any) -> dict:
    if not isinstance(job, dict):
        raise _Skip("the CreateJob action has no jobDefinition")
    kept = {key: value for key, value in job.items() if key not in JOB_READ_ONLY and value is not None}
    return {"kind": "job", "job": kept}


def _fields(doc: dict, where: str) -> dict[str, Any]:
    """An object's fields by lower-case name, nulls left out; a name given in two spellings is a skip."""
    folded: dict[str, Any] = {}
    for key, value in doc.items():
        if not isinstance(key, str):
            raise _Skip(f"{where} has a key that is not a string")
        lower = key.lower()
        if lower in folded:
            raise _Skip(f"{where} spells {key!r} twice, in different letter case")
        folded[lower] = value
    return {key: value for key, value in folded.items() if value is not None}


def _only(fields: dict, allowed: tuple[str, ...], where: str, why: str) -> None:
    extra = sorted(set(fields) - set(allowed))
    if extra:
        raise _Skip(f"{where}.{extra[0]}: {why}")


def _batch(definition: Any, workspace_path: str) -> dict:
    where = "endpointInvocationDefinition"
    if not isinstance(definition, dict):
        raise _Skip(f"the InvokeBatchEndpoint action has no {where}")
    fields = _fields(definition, where)
    _only(fields, ("endpointid", "properties"), where,
          "not a field this app knows in a batch endpoint schedule (it knows endpointId and properties), so what "
          "AML does with it is unknown")
    endpoint, deployment = _endpoint(fields.get("endpointid"), workspace_path)
    body = fields.get("properties", {})
    if not isinstance(body, dict):
        raise _Skip(f"{where}.properties is not an object")
    body = _fields(body, f"{where}.properties")
    _only(body, ("inputdata", "outputdata", "properties", "tags"), f"{where}.properties",
          "a setting of the invocation this app's batchEndpoint target cannot carry (it invokes with the "
          "deployment's own settings)")
    if body.get("tags"):
        raise _Skip(f"{where}.properties.tags: this app tags each invocation itself and cannot carry other tags")
    target: dict[str, Any] = {"kind": "batchEndpoint", "endpointName": endpoint}
    if deployment:
        target["deployment"] = deployment
    job_properties = body.get("properties", {})
    if not isinstance(job_properties, dict):
        raise _Skip(f"{where}.properties.properties is not an object")
    job_properties = _fields(job_properties, f"{where}.properties.properties")
    _only(job_properties, ("experimentname",), f"{where}.properties.properties",
          "this app's batchEndpoint target carries only experimentName here")
    if "experimentname" in job_properties:
        target["experimentName"] = job_properties["experimentname"]
    target["inputs"] = _bindings(body.get("inputdata", {}), f"{where}.properties.inputData", "jobinputtype",
                                 _INPUT_TYPES)
    target["outputs"] = _bindings(body.get("outputdata", {}), f"{where}.properties.outputData", "joboutputtype",
                                  _OUTPUT_TYPES)
    return target


def _endpoint(reference: Any, workspace_path: str) -> tuple[Any, str | None]:
    """The endpoint's name (and pinned deployment) from an ARM id, azureml:<id or name>, or a name."""
    if not isinstance(reference, str) or not reference:
        raise _Skip("endpointInvocationDefinition.endpointId is missing: the schedule does not say which batch "
                    "endpoint it invokes")
    text = reference[len("azureml:"):] if reference.lower().startswith("azureml:") else reference
    if not text.startswith("/"):
        return text, None
    match = _ARM_ENDPOINT.fullmatch(text)
    if match is None:
        raise _Skip(f"endpointInvocationDefinition.endpointId {reference!r} is not the ARM id of a batch endpoint "
                    "or deployment")
    if match.group("workspace").lower() != f"/{workspace_path}".lower():
        raise _Skip(f"endpointInvocationDefinition.endpointId {reference!r} is a batch endpoint of another "
                    "workspace; this app invokes the endpoints of its own workspace only")
    return match.group("endpoint"), match.group("deployment")


def _bindings(doc: Any, where: str, discriminator: str, types: dict[str, str]) -> dict:
    if not isinstance(doc, dict):
        raise _Skip(f"{where} is not an object")
    converted: dict[str, Any] = {}
    for name, binding in doc.items():
        here = f"{where}.{name}"
        if not isinstance(binding, dict):
            raise _Skip(f"{here} is not an object")
        fields = _fields(binding, here)
        raw_type = fields.get(discriminator)
        kind = types.get(raw_type.replace("_", "").lower()) if isinstance(raw_type, str) else None
        if kind is None:
            raise _Skip(f"{here} is of type {raw_type!r}; this app's batchEndpoint target takes "
                        + ", ".join(sorted({t.replace('_', ' ').title().replace(' ', '') for t in types.values()})))
        value_key = "value" if kind == "literal" else "uri"
        _only(fields, (discriminator, value_key, "mode"), here,
              "not a field this app's batchEndpoint target carries for a binding")
        entry: dict[str, Any] = {"type": kind}
        if value_key in fields:
            entry[value_key] = fields[value_key]
        if "mode" in fields:
            mode = fields["mode"]
            mapped = _MODES.get(mode.replace("_", "").lower()) if isinstance(mode, str) else None
            if mapped is None:
                raise _Skip(f"{here}.mode {mode!r} is not a delivery mode this app knows")
            entry["mode"] = mapped
        converted[name] = entry
    return converted
