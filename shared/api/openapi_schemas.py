"""The component schemas of the OpenAPI document: every body the API accepts and answers.

Request schemas say exactly what the handlers accept: the same patterns (imported from
the code that validates, where one exists), ranges, enums, and `oneOf` where a field
decides which others apply (cron or recurrence, pipeline or pipeline endpoint, cluster or
instance). What JSON Schema cannot say is named in two places: the custom formats `cron`
and `time-zone`, and each operation's `x-semantic-rules` (see `shared.api.openapi`).
Response schemas are closed (`additionalProperties: false`), so a field added to an
answer without being documented fails the contract test.
"""

from __future__ import annotations

from typing import Any

from shared.alerts.webhook import ALERT_KINDS, MAX_WEBHOOK_LENGTH
from shared.api import pipelines as submit_rules
from shared.api.schedule_import import MAX_NAMES as MAX_IMPORT_NAMES
from shared.aml.runs import RUN_STATUSES as AML_RUN_STATUSES
from shared.schedules import CONCURRENCY, MAX_SLA_MINUTES, MISFIRE, READ_ONLY_FIELDS, SCHEDULE_ID
from shared.scheduling.jitter import MAX_JITTER_SECONDS
from shared.scheduling.recurrence import FREQUENCIES, MAX_INTERVAL, WEEK_DAYS
from shared.store import ACTIVE_STATUSES, TERMINAL_STATUSES
from shared.summaries import HEALTH, WINDOW
from shared.targets import INPUT_MODES, JOB_TYPES, MAX_IO

GUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
AML_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
BATCH_NAME = r"^[A-Za-z][A-Za-z0-9-]{2,31}$"
IO_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
PIPELINE_VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SCHEDULE_RUN_STATUSES = sorted(ACTIVE_STATUSES | TERMINAL_STATUSES | {"Claimed"})


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str = "", **extra: Any) -> dict:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def integer(low: int | None = None, high: int | None = None, description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "integer"}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    if description:
        schema["description"] = description
    return schema


def nullable(schema: dict) -> dict:
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def closed(properties: dict, required: tuple[str, ...] = (), *, description: str = "", **extra: Any) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


ANY_OBJECT = {"type": "object"}
NULL_ONLY = {"type": "null"}
DATE_TIME = string("ISO-8601 / RFC 3339 date-time; without an offset it is read in the schedule's time zone",
                   format="date-time", maxLength=40)
INSTANT = string(format="date-time")
_RAW = {"raw": {"description": "AML's own answer as it came (null when AML sent no body), with ?raw=true"}}
_AML_ERROR = nullable(closed({"code": nullable(string()), "message": nullable(string())}))


def _placeholder_value(description: str) -> dict:
    return {"anyOf": [string(description, maxLength=4096), {"type": "number"}, {"type": "boolean"}]}


# -- schedules --------------------------------------------------------------------------

_SCHEDULE_PARAMETERS = {
    "type": "object",
    "description": "parameter values: strings (with placeholders such as {{slot}}), numbers or booleans",
    "propertyNames": {"minLength": 1, "maxLength": 256},
    "additionalProperties": _placeholder_value("may hold placeholders, filled per slot"),
}


def _pattern_list(low: int, high: int) -> dict:
    number = integer(low, high)
    return nullable({"oneOf": [number, {"type": "array", "items": number, "minItems": 1, "uniqueItems": True}]})


_WEEK_DAY = string(enum=list(WEEK_DAYS))
_PATTERN_FIELDS = {
    "hours": _pattern_list(0, 23),
    "minutes": _pattern_list(0, 59),
    "weekDays": nullable({"oneOf": [_WEEK_DAY, {"type": "array", "items": _WEEK_DAY, "minItems": 1,
                                                "uniqueItems": True}]}),
    "monthDays": _pattern_list(1, 31),
}


def _recurrence(frequencies: tuple[str, ...], *pattern: str) -> dict:
    properties = {"frequency": string(enum=list(frequencies)), "interval": integer(1, MAX_INTERVAL)}
    # A pattern list that does not apply to the frequency may only be left out or null.
    properties.update({key: _PATTERN_FIELDS[key] if key in pattern else NULL_ONLY for key in _PATTERN_FIELDS})
    return closed(properties, ("frequency", "interval"))


_HEALTH_FIELDS = {
    "health": string("first that holds: paused (paused itself), disabled, failing (the last finished run is "
                     "Failed, SubmitFailed or TimedOut), late (a run past its deadline unfinished, the last run "
                     "completed after its deadline, or the next slot overdue by 5 minutes: the scheduler is "
                     "behind), ok", enum=list(HEALTH)),
    "lastRun": nullable(closed({"runKey": string(), "slot": INSTANT, "status": string(enum=SCHEDULE_RUN_STATUSES),
                                "finishedAt": nullable(INSTANT), "amlRunId": nullable(string())},
                               ("runKey", "slot", "status", "finishedAt", "amlRunId"),
                               description="the finished run of the newest slot (Skipped does not count)")),
    "successRate": nullable({"type": "number", "minimum": 0, "maximum": 1,
                             "description": "Completed among the last recentRuns finished runs; null when none"}),
    "recentRuns": integer(0, WINDOW, "how many finished runs successRate covers"),
    "failedInARow": integer(0, description="finished runs in a row, newest first, that Failed, SubmitFailed or "
                                           "TimedOut"),
}


def _schedule_input(*, create: bool) -> dict:
    """POST needs the id in the body; PUT takes it from the URL (a body id, if any, must match it)."""
    schedule_id = string("1-63 of a-z 0-9 -, starting with a letter or digit", pattern=SCHEDULE_ID.pattern)
    return closed({
        "id": schedule_id if create else nullable(schedule_id),
        "description": string(maxLength=1024),
        "enabled": {"type": "boolean"},
        "trigger": ref("Trigger"),
        "target": ref("Target"),
        "policy": ref("Policy"),
        "alerts": nullable(ref("Alerts")),
        # Read-only fields of an answer may be sent back as they came; they are ignored.
        **{name: {"description": "read-only: ignored when sent"}
           for name in sorted(READ_ONLY_FIELDS)},
    }, ("id", "trigger", "target") if create else ("trigger", "target"))


SCHEDULE_SCHEMAS: dict[str, dict] = {
    "Trigger": closed({
        "cron": nullable(string("5 fields (classic cron: a day matching either day field fires), or 6 with "
                                "seconds first (NCRONTAB: a day must match both); month and weekday names in any "
                                "case, returned as 3-letter upper-case names", format="cron", maxLength=200)),
        "recurrence": nullable(ref("Recurrence")),
        "timeZone": nullable(string("IANA or Windows name; null or absent means UTC", format="time-zone",
                                    minLength=1, maxLength=64)),
        "startTime": nullable(DATE_TIME),
        "endTime": nullable(DATE_TIME),
        "jitterSeconds": integer(0, MAX_JITTER_SECONDS, "fixed per-schedule delay of each submission"),
    }, description="exactly one of cron and recurrence (null counts as absent)",
        oneOf=[{"required": ["cron"], "properties": {"cron": {"type": "string"}}},
               {"required": ["recurrence"], "properties": {"recurrence": {"type": "object"}}}]),
    "Recurrence": {"description": "AML-style recurrence; hours and minutes apply to Day, Week and Month, "
                                  "weekDays to Week, monthDays to Month; a single value or a list",
                   "oneOf": [_recurrence(("Minute", "Hour")), _recurrence(("Day",), "hours", "minutes"),
                             _recurrence(("Week",), "hours", "minutes", "weekDays"),
                             _recurrence(("Month",), "hours", "minutes", "monthDays")]},
    "Target": {"oneOf": [
        closed({"kind": string(enum=["pipeline"]), "pipelineId": string(pattern=GUID),
                "pipelineVersion": NULL_ONLY, "experimentName": string(pattern=AML_NAME),
                "parameterAssignments": _SCHEDULE_PARAMETERS,
                "dataPathAssignments": {"type": "object", "additionalProperties": ref("ScheduleDataPath")}},
               ("kind", "pipelineId", "experimentName")),
        closed({"kind": string(enum=["pipelineEndpoint"]), "pipelineEndpointId": string(pattern=GUID),
                "pipelineVersion": nullable(string(pattern=PIPELINE_VERSION)),
                "experimentName": string(pattern=AML_NAME), "parameterAssignments": _SCHEDULE_PARAMETERS,
                "dataPathAssignments": {"type": "object", "additionalProperties": ref("ScheduleDataPath")}},
               ("kind", "pipelineEndpointId", "experimentName")),
        closed({"kind": string(enum=["job"]), "job": ref("JobDefinition")}, ("kind", "job")),
        closed({"kind": string(enum=["batchEndpoint"]),
                "endpointName": string(pattern=BATCH_NAME), "deployment": string(pattern=BATCH_NAME),
                "experimentName": string(pattern=AML_NAME),
                "inputs": {"type": "object", "maxProperties": MAX_IO, "propertyNames": {"pattern": IO_NAME},
                           "additionalProperties": ref("BatchInput")},
                "outputs": {"type": "object", "maxProperties": MAX_IO, "propertyNames": {"pattern": IO_NAME},
                            "additionalProperties": ref("BatchOutput")}},
               ("kind", "endpointName")),
    ]},
    "JobDefinition": {
        "type": "object",
        "description": "an AML v2 job's properties as ARM takes them (AML v2 schedules' jobDefinition); "
                       "every string may hold placeholders",
        "required": ["jobType"],
        "properties": {
            "jobType": string(enum=list(JOB_TYPES)), "experimentName": string(pattern=AML_NAME),
            "displayName": string(maxLength=1024), "description": string(maxLength=1024),
            "computeId": string("compute name, azureml:<name> or ARM id"),
            "tags": {"type": "object", "additionalProperties": string()},
            "inputs": ANY_OBJECT, "outputs": ANY_OBJECT, "settings": ANY_OBJECT, "jobs": ANY_OBJECT,
        },
        "not": {"anyOf": [{"required": [key]} for key in ("status", "services", "isArchived")]},
    },
    "BatchInput": {"oneOf": [
        closed({"type": string(enum=["uri_folder", "uri_file"]), "uri": string(minLength=1, maxLength=2048),
                "mode": string(enum=list(INPUT_MODES))}, ("type", "uri")),
        closed({"type": string(enum=["literal"]), "value": {"type": ["string", "number"]},
                "mode": string(enum=list(INPUT_MODES))}, ("type", "value")),
    ]},
    "BatchOutput": closed({"type": string(enum=["uri_folder", "uri_file"]), "uri": string(minLength=1, maxLength=2048),
                           "mode": string(enum=list(INPUT_MODES))}, ("type", "uri")),
    "ScheduleDataPath": closed({"DataStoreName": string(minLength=1),
                                "RelativePath": string("may hold placeholders", minLength=1)},
                               ("DataStoreName", "RelativePath")),
    "Policy": closed({
        "concurrency": string(enum=list(CONCURRENCY)),
        "misfire": string(enum=list(MISFIRE)),
        "misfireGraceSeconds": integer(0, 31 * 86400),
        "maxCatchup": integer(1, 1000),
        "retry": closed({"maxAttempts": integer(1, 10), "backoffSeconds": integer(1, 3600),
                         "retryOnRunFailure": {"type": "boolean"}}),
        "runTimeoutMinutes": nullable(integer(1, 7 * 24 * 60)),
        "pauseAfterFailures": integer(0, 1000, "disable the schedule after this many slots in a row that AML "
                                               "refused; 0 never pauses"),
        "sla": nullable(closed({"completeWithinMinutes": integer(1, MAX_SLA_MINUTES, "a slot's run should have "
                                                                 "completed this long after its slot")},
                               ("completeWithinMinutes",), description="a deadline per run: past it unfinished, the "
                               "run is marked late (lateAt) and the schedule shows health late")),
    }),
    "Alerts": closed({
        "on": {"type": "array", "items": string(enum=list(ALERT_KINDS)), "uniqueItems": True,
               "description": "which incident events are sent (default: all four); an incident opens on a failed "
                              "run (Failed, SubmitFailed, TimedOut), a late run or a pause, and a completed run "
                              "ends it (recovered)"},
        "webhook": string("https URL of an incoming webhook (Teams, Slack, ...) whose host is on "
                          "ALERT_WEBHOOK_HOSTS; answered masked (path and query as ***); sending the mask back "
                          "keeps the stored URL", minLength=1, maxLength=MAX_WEBHOOK_LENGTH,
                          pattern="^[Hh][Tt][Tt][Pp][Ss]?://"),
    }, ("webhook",), description="one message per incident to a webhook; null or absent: none"),
    "ScheduleCreate": _schedule_input(create=True),
    "ScheduleInput": _schedule_input(create=False),
    "Schedule": closed({
        "id": string(pattern=SCHEDULE_ID.pattern), "description": string(), "enabled": {"type": "boolean"},
        "trigger": ref("Trigger"), "target": ref("Target"), "policy": ref("Policy"),
        "alerts": nullable(ref("Alerts")),
        "nextFireTime": nullable(INSTANT), "lastSlot": nullable(INSTANT), "createdAt": INSTANT,
        "updatedAt": INSTANT, "etag": string(),
        "consecutiveFailures": integer(0, description="slots in a row that AML refused"),
        "pausedReason": nullable(string("why the schedule paused itself (policy.pauseAfterFailures)")),
        "pausedAt": nullable(INSTANT),
        "createdBy": nullable(ref("Actor")), "updatedBy": nullable(ref("Actor")),
        **_HEALTH_FIELDS,
    }, ("id", "description", "enabled", "trigger", "target", "policy", "alerts", "nextFireTime", "lastSlot", "createdAt",
        "updatedAt", "etag", "consecutiveFailures", "pausedReason", "pausedAt", "createdBy", "updatedBy",
        *_HEALTH_FIELDS)),
    "SchedulePage": closed({"value": {"type": "array", "items": ref("Schedule")},
                            "continuationToken": nullable(string())}, ("value", "continuationToken")),
    "RunRecord": closed({
        "scheduleId": string(), "slot": INSTANT, "slotKey": string(), "runKey": string(),
        "status": string(enum=SCHEDULE_RUN_STATUSES), "reason": nullable(string()),
        "trigger": string(enum=["schedule", "manual", "backfill", "retry"]), "attempts": integer(0),
        "experimentName": nullable(string()), "amlRunId": nullable(string()), "amlStatus": nullable(string()),
        "portalUrl": nullable(string()), "claimedAt": nullable(INSTANT), "submittedAt": nullable(INSTANT),
        "finishedAt": nullable(INSTANT), "error": _AML_ERROR, "parameters": nullable(ANY_OBJECT),
        "nextAttemptAt": nullable(INSTANT), "previousAmlRunIds": {"type": "array", "items": string()},
        "skippedCount": integer(2), "lastSkippedSlot": nullable(INSTANT), "dequeuedAt": nullable(INSTANT),
        "targetKind": string(enum=["job", "batchEndpoint"]),
        "amlJobName": nullable(string("the AML v2 job (job and batchEndpoint targets)")),
        "requestedBy": ref("Actor"),
        "completeBy": nullable({**INSTANT, "description": "its deadline (policy.sla)"}),
        "lateAt": nullable({**INSTANT, "description": "when the poll found it past its deadline unfinished"}),
    }, ("scheduleId", "slot", "slotKey", "runKey", "status", "trigger", "attempts"),
        description="one schedule slot's outcome"),
    "RunRecordPage": closed({"value": {"type": "array", "items": ref("RunRecord")},
                             "continuationToken": nullable(string())}, ("value", "continuationToken")),
    "Preview": closed({
        "scheduleId": string(), "timeZone": string(), "from": INSTANT,
        "value": {"type": "array", "items": closed({"utc": INSTANT, "local": INSTANT}, ("utc", "local"))},
    }, ("scheduleId", "timeZone", "from", "value")),
    "ScheduleImportRequest": closed({
        "names": {"type": "array", "items": string("an AML schedule name", pattern=AML_NAME), "minItems": 1,
                  "maxItems": MAX_IMPORT_NAMES, "uniqueItems": True,
                  "description": "import only these; leave out to import every schedule of the workspace"},
    }, description="optional: no body (or {}) imports every AML schedule of the workspace"),
    "ScheduleImportResult": closed({
        "imported": {"type": "array", "description": "created now, disabled",
                     "items": closed({"name": string("the AML schedule"), "scheduleId": string(
                         pattern=SCHEDULE_ID.pattern)}, ("name", "scheduleId"))},
        "existing": {"type": "array", "description": "created by an earlier import of the same AML schedule",
                     "items": closed({"name": string("the AML schedule"), "scheduleId": string(
                         pattern=SCHEDULE_ID.pattern)}, ("name", "scheduleId"))},
        "skipped": {"type": "array", "description": "not imported, with the reason",
                    "items": closed({"name": string("the AML schedule"), "reason": string()}, ("name", "reason"))},
    }, ("imported", "existing", "skipped")),
    "TriggerRequest": closed({"parameterAssignments": _SCHEDULE_PARAMETERS}),
    "BackfillRequest": closed({"from": DATE_TIME, "to": DATE_TIME}, ("from", "to")),
    "BackfillResult": closed({
        "scheduleId": string(), "from": INSTANT, "to": INSTANT,
        "queued": {"type": "array", "items": string("slot key")},
        "existing": {"type": "array", "items": string("slot key")},
        "count": integer(0),
    }, ("scheduleId", "from", "to", "queued", "existing", "count")),
}

# -- experiments, runs, pipelines -----------------------------------------------------------

_SUBMIT_PARAMETERS = {"type": "object", "maxProperties": submit_rules.MAX_PARAMETERS,
                      "propertyNames": {"pattern": submit_rules.PARAM_NAME},
                      "additionalProperties": _placeholder_value("sent as given")}
_SUBMIT_DATA_PATHS = {"type": "object", "maxProperties": submit_rules.MAX_PARAMETERS,
                      "propertyNames": {"pattern": submit_rules.PARAM_NAME},
                      "additionalProperties": ref("SubmitDataPath")}
_SUBMIT_TAGS = {"type": "object", "maxProperties": 50, "propertyNames": {"minLength": 1, "maxLength": 100},
                "additionalProperties": string(maxLength=1000)}
_SUBMIT_FIELDS = {
    "experimentName": string(pattern=AML_NAME), "parameterAssignments": _SUBMIT_PARAMETERS,
    "dataPathAssignments": _SUBMIT_DATA_PATHS, "description": string(maxLength=5000), "tags": _SUBMIT_TAGS,
}


def _submit_request(with_version: bool) -> dict:
    properties = dict(_SUBMIT_FIELDS)
    # AML's own PascalCase spelling of each field is accepted too; RunSource is AML's, ignored.
    properties.update({pascal: _SUBMIT_FIELDS[camel] for pascal, camel in submit_rules.PASCAL_CASE.items()})
    properties["RunSource"] = string("ignored")
    if with_version:
        properties["pipelineVersion"] = nullable(string(pattern=PIPELINE_VERSION))
    return closed(properties, description="camelCase, or AML's PascalCase; each field in one spelling only",
                  anyOf=[{"required": ["experimentName"]}, {"required": ["ExperimentName"]}],
                  allOf=[{"not": {"required": [camel, pascal]}}
                         for pascal, camel in submit_rules.PASCAL_CASE.items()])


RUN_SCHEMAS: dict[str, dict] = {
    "Experiment": closed({
        "experimentId": nullable(string()), "name": nullable(string()), "description": nullable(string()),
        "createdAt": nullable(string()), "archived": {"type": "boolean"}, "tags": ANY_OBJECT, **_RAW,
    }),
    "Run": closed({
        "runId": nullable(string()), "experimentName": string(), "experimentId": nullable(string()),
        "runNumber": nullable(integer()), "status": nullable(string()), "runType": nullable(string()),
        "displayName": nullable(string()), "description": nullable(string()), "target": nullable(string()),
        "parentRunId": nullable(string()), "createdAt": nullable(string()), "startedAt": nullable(string()),
        "endedAt": nullable(string()), "duration": nullable(string()), "error": _AML_ERROR,
        "tags": ANY_OBJECT, "properties": ANY_OBJECT, "portalUrl": nullable(string()),
        "details": closed({
            "target": nullable(string()), "status": nullable(string()), "computeDuration": nullable(string()),
            "effectiveStartedAt": nullable(string()), "logFiles": {"type": "array", "items": string()},
            "warnings": {"type": "array", "items": nullable(string())}, "error": _AML_ERROR,
        }, description="present with ?details=true"),
        **_RAW,
    }),
    "RunPage": closed({"value": {"type": "array", "items": ref("Run")}, "continuationToken": nullable(string())},
                      ("value", "continuationToken")),
    "RunStarted": closed({
        "runId": string(), "experimentName": string(), "status": nullable(string()), "portalUrl": string(),
        "pipelineId": string(), "pipelineEndpointId": string(), "pipelineVersion": nullable(string()), **_RAW,
    }, ("runId", "experimentName", "portalUrl")),
    "CancelAccepted": closed({"runId": string(), "experimentName": string(),
                              "cancelRequested": {"type": "boolean"}, **_RAW}),
    "SubmitDataPath": closed({"DataStoreName": string(pattern=submit_rules.DATASTORE_NAME),
                              "RelativePath": string(pattern=submit_rules.RELATIVE_PATH)},
                             ("DataStoreName", "RelativePath")),
    "SubmitRequest": _submit_request(with_version=False),
    "EndpointSubmitRequest": _submit_request(with_version=True),
    "PublishedPipeline": closed({
        "id": nullable(string()), "name": nullable(string()), "description": nullable(string()),
        "version": nullable(string()), "status": {}, "endpoint": nullable(string()),
        "createdAt": nullable(string()), **_RAW,
    }),
    "PublishedPipelineList": closed({"value": {"type": "array", "items": ref("PublishedPipeline")}}, ("value",)),
}

SCHEMAS: dict[str, dict] = {
    "Error": closed({"error": closed({
        "code": string("stable error code, e.g. ValidationFailed, NotFound, AmlError, AmlTimeout"),
        "message": string(),
        "details": {"type": "array", "description": "absent only in the Functions host's own answers",
                    "items": closed({
                        "field": string("request field, or 'aml' for AML's own answer"),
                        "message": string(),
                        "amlStatus": nullable(integer(description="AML's HTTP status")),
                        "amlCode": nullable(string("AML's error code")),
                        "mayHaveExecuted": {"type": "boolean",
                                            "description": "a write whose answer was lost may have happened"},
                        "status": string("a run's or job's final status (RunAlreadyFinished, JobAlreadyFinished)"),
                    }, ("field", "message"))},
    }, ("code", "message"))}, ("error",)),
    "Health": closed({"status": string(enum=["healthy", "unhealthy"]), "checks": ANY_OBJECT,
                      "lastTick": nullable(ref("TimerState")), "lastPoll": nullable(ref("TimerState"))}),
    "TimerState": closed({
        "at": nullable({**INSTANT, "description": "when it last completed"}), "ageSeconds": nullable({"type": "number"}),
        "periodSeconds": nullable(integer(description="between its next two fire times")),
        "state": string("stale (missed three fire times: unhealthy), notYet (never completed) or starting (this "
                        "process is too young to judge)", enum=["ok", "stale", "notYet", "starting"]),
    }, ("at", "ageSeconds", "periodSeconds", "state")),
    **SCHEDULE_SCHEMAS,
    **RUN_SCHEMAS,
}

__all__ = ["AML_NAME", "AML_RUN_STATUSES", "FREQUENCIES", "GUID", "SCHEDULE_RUN_STATUSES", "SCHEMAS", "nullable",
           "ref", "string", "integer", "closed", "ANY_OBJECT", "DATE_TIME"]
# The compute schemas are in shared.api.openapi_compute, the AML v2 ones in openapi_v2 and
# the access ones in openapi_access; shared.api.openapi puts them all in one document.
