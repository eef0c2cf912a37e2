"""The OpenAPI 3 description of the whole HTTP API, served at GET openapi.json.

Each operation's `operationId` is the name of its function in function_app.py; a test
compares this document with the routes the app registers, so the two cannot drift.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import azure.functions as func

from shared.access.mode import MODE
from shared.api.http import json_response
from shared.aml.jobs import JOB_STATUSES, JOB_TYPES, LIST_VIEW_TYPES
from shared.api.batch import UUID
from shared.access.roles import ROLES
from shared.api.console import ASSETS
from shared.api.jobs import PAGE_TOKEN
from shared.api.openapi_schemas import (
    ANY_OBJECT,
    AML_NAME,
    AML_RUN_STATUSES,
    BATCH_NAME,
    GUID,
    SCHEDULE_RUN_STATUSES,
    SCHEMAS,
    closed,
    integer,
    ref,
    string,
)
from shared.api.openapi_access import ACCESS_SCHEMAS, SECURITY_SCHEMES, security, with_roles
from shared.api.openapi_compute import COMPUTE_SCHEMAS
from shared.api.openapi_v2 import V2_SCHEMAS
from shared.store import STATUS_GROUPS
from shared.summaries import HEALTH

OPENAPI_VERSION = "3.1.0"

def _param(name: str, where: str, description: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


# Opaque values only the app itself issues: their shape is in the pattern, that they were
# issued is a semantic rule of the operations that take them.
STORE_TOKEN = r"^[A-Za-z0-9_-]{0,2048}$"
RUNS_TOKEN = r"^(?:r[A-Za-z0-9_-]{2,5462})?$"
OPERATION_ID = r"^[al][A-Za-z0-9_-]{1,2046}$"
_HEALTH = "(?:" + "|".join(HEALTH) + ")"
HEALTH_LIST = rf"^ *{_HEALTH} *(?:, *{_HEALTH} *)*$"
COMPUTE_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,22}[A-Za-z0-9]$"
_FLAG = {"type": "string", "enum": ["true", "false"]}

_P = {
    "scheduleId": _param("id", "path", "schedule id", schema=string(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")),
    "computeName": _param("name", "path", "compute name: 2-24 letters, digits or '-', a letter first",
                          schema=string(pattern=COMPUTE_NAME)),
    "experimentName": _param("name", "path", "experiment name", schema=string(pattern=AML_NAME)),
    "runId": _param("runId", "path", "run id", schema=string(pattern=AML_NAME)),
    "pipelineId": _param("pipelineId", "path", "published pipeline id", schema=string(pattern=GUID)),
    "endpointId": _param("id", "path", "pipeline endpoint id", schema=string(pattern=GUID)),
    "operationId": _param("id", "path", "operation id returned by this API", schema=string(pattern=OPERATION_ID)),
    "raw": _param("raw", "query", "include AML's own answer as `raw`", schema=_FLAG),
    "wait": _param("wait", "query", "wait for the operation, up to AML_PROXY_MAX_WAIT_SECONDS", schema=_FLAG),
    "validate": _param("validate", "query", "false: save without asking AML whether the target exists (for "
                       "targets created later); default true", schema=string(enum=["true", "false"])),
    "ifMatch": _param("If-Match", "header", "ETag from a previous read (or *); 412 if the schedule changed since"),
    "limit": _param("limit", "query", "page size", schema=integer(1, 500)),
    "continuationToken": _param("continuationToken", "query", "from the previous page; empty for the first",
                                schema=string(pattern=STORE_TOKEN)),
    "runsToken": _param("continuationToken", "query", "from the previous page; empty for the first",
                        schema=string(pattern=RUNS_TOKEN)),
    "scheduleRunStatus": _param("status", "query", "only records with this status, or in this group (failed: "
                                "Failed, SubmitFailed, TimedOut; active: Submitted, Queued, Running; finished: "
                                "every final status)",
                                schema=string(enum=SCHEDULE_RUN_STATUSES + sorted(STATUS_GROUPS))),
    "amlRunStatus": _param("status", "query", "only runs with this status", schema=string(enum=list(AML_RUN_STATUSES))),
    "count": _param("count", "query", "how many fire times (default 10)", schema=integer(1, 100)),
    "health": _param("health", "query", "only schedules whose health is one of these (a comma list: ok, late, failing, "
                     "paused, disabled); a page may then be short, even empty, while continuationToken says there is "
                     "more", schema=string(pattern=HEALTH_LIST)),
    "finishedFrom": _param("from", "query", "only runs that finished at or after this ISO-8601 date-time",
                           schema=string(format="date-time", maxLength=40)),
    "finishedTo": _param("to", "query", "only runs that finished at or before this ISO-8601 date-time",
                         schema=string(format="date-time", maxLength=40)),
    "from": _param("from", "query", "ISO-8601 date-time to start after (default now)",
                   schema=string(format="date-time", maxLength=40)),
    "details": _param("details", "query", "also read run history's details", schema=_FLAG),
    "newRunId": _param("runId", "query", "run id to use (AML makes one otherwise)", schema=string(pattern=AML_NAME)),
    "action": _param("action", "query", "Delete (remove the compute) or Detach (forget it in the workspace)",
                     schema=string(enum=["Delete", "Detach"])),
    "underlyingResourceAction": _param("underlyingResourceAction", "query", "ARM's name for `action`",
                                       schema=string(enum=["Delete", "Detach"])),
    "jobName": {**_param("name", "path", "job name: 1-255 letters, digits, '_' or '-', a letter or digit first",
                         schema=string(pattern=AML_NAME)), "example": "proxy-example-job"},
    "jobType": _param("jobType", "query", "only jobs of this type (ARM's filter)", schema=string(enum=list(JOB_TYPES))),
    "jobTag": _param("tag", "query", "only jobs that have this tag key (ARM's filter)",
                     schema=string(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")),
    "jobStatus": _param("status", "query", "only jobs with this status: the app's filter, applied to each ARM page "
                        "(pages may be short or empty)", schema=string(enum=list(JOB_STATUSES))),
    "listViewType": _param("listViewType", "query", "ActiveOnly (ARM's default), ArchivedOnly or All",
                           schema=string(enum=list(LIST_VIEW_TYPES))),
    "jobsToken": _param("continuationToken", "query", "from the previous page, which it keeps the filters of; empty "
                        "for the first", schema=string(pattern=PAGE_TOKEN)),
    "batchEndpointName": {**_param("name", "path", "batch endpoint name: 3-32 letters, digits or '-', a letter first",
                                   schema=string(pattern=BATCH_NAME)), "example": "score-batch"},
    "repeatabilityId": {**_param("Repeatability-Request-ID", "header", "a UUID naming this invocation: repeating "
                                 "it answers the first invocation's job; the app makes one when absent",
                                 schema=string(format="uuid", pattern=UUID)),
                        "example": "3f2504e0-4f89-41d3-9a0c-0305e82c3301"},
}

# Rules a request must also meet that JSON Schema cannot state. A 400 naming one of these
# fields may answer a request the schema allows; a field ending in ".*" covers the fields under it.
_TOKEN_RULE = ("continuationToken", "must be a token this API issued on a previous page")
_DATE_RULE = "a date-time of years 1-9999 in UTC (no leap second)"
_IN_AML = "names {} that exists in AML (checked when saved, unless ?validate=false)"
_SEMANTIC = {
    "schedule": (
        ("trigger.startTime", _DATE_RULE), ("trigger.endTime", f"{_DATE_RULE}, after startTime"),
        ("trigger.recurrence.monthDays", "at least one of the days occurs in the months the recurrence selects"),
        ("target.parameterAssignments.*", "placeholders are {{slot}}, {{slot_local}}, {{slot:<strftime>}}, "
                                          "{{slot_local:<strftime>}}, {{interval_start}}, {{interval_end}}, "
                                          "{{schedule_id}}, {{run_key}}"),
        ("target.dataPathAssignments.*", "RelativePath placeholders as in parameterAssignments"),
        ("target.pipelineId", _IN_AML.format("a published pipeline")),
        ("target.pipelineEndpointId", _IN_AML.format("a pipeline endpoint")),
        ("target.pipelineVersion", _IN_AML.format("a version of the pipeline endpoint")),
        ("target.endpointName", _IN_AML.format("a batch endpoint")),
        ("target.deployment", _IN_AML.format("a deployment of the batch endpoint (without one: the endpoint has a "
                                             "default deployment)")),
        ("target.job.*", "every compute the job names exists in AML (unless ?validate=false); strings use the "
                         "placeholders of parameterAssignments"),
        ("target.inputs.*", "strings use the placeholders of parameterAssignments"),
        ("target.outputs.*", "strings use the placeholders of parameterAssignments"),
        ("alerts.webhook", "https to a host on ALERT_WEBHOOK_HOSTS (exact or *.suffix; port 443 unless the entry "
                           "names another), no user:password@, no #fragment, no spaces; http only to 127.0.0.1 or "
                           "[::1] where ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST=true (local development); a masked "
                           "value only as the stored webhook's mask"),
    ),
    "patch": (("*", "the schedule the merge patch produces must be a valid ScheduleInput"),),
    "trigger": (("parameterAssignments.*", "placeholders as in a schedule's parameterAssignments"),),
    "import": (("names", "each name at most once, letter case ignored (AML's names are case-insensitive)"),),
    "backfill": (("from", _DATE_RULE), ("to", f"{_DATE_RULE}, after from, not in the future, at most 500 slots")),
    "preview": (("from", _DATE_RULE),),
    "runList": (("from", f"{_DATE_RULE}; only with finished statuses (runs in flight have no finishedAt)"),
                ("to", f"{_DATE_RULE}, not before from; only with finished statuses")),
    "computePut": (("name", "AmlCompute names are 2-16 characters; ComputeInstance names 3-24, not ending in "
                            "'-<digits>'"),
                   ("scaleSettings.minNodeCount", "at most maxNodeCount"),
                   ("properties.*", "in ARM's body, the fields that apply to its computeType"),
                   ("subnet", "given once: at the top level or in properties.properties"),
                   ("userAccountCredentials", "given once: at the top level or in properties.properties")),
    "computePatch": (("scaleSettings.minNodeCount", "at most maxNodeCount"),),
    "computeDelete": (("action", "one of action and underlyingResourceAction is required; both must agree"),
                      ("underlyingResourceAction", "agrees with action when both are given")),
    "operation": (("id", "an operation id this API returned"),),
    "power": (("name", "names a compute instance: start, stop and restart do not apply to clusters"),),
    "runUpload": (("runDefinitionFile", "a JSON object (at most 1 MiB, 64 levels deep) without passwords"),
                  ("projectZipFile", "a sound zip without absolute paths, '..' entries or symbolic links")),
    "jobList": tuple((name, "with a continuationToken: left out (the token keeps the first page's) or equal to the "
                            "first page's") for name in ("jobType", "tag", "listViewType", "status")),
    "jobPut": (("*", "no string anywhere holds a schedule placeholder such as {{slot}}: placeholders are filled per "
                     "slot by schedules only"),
               ("body", "at most 32 KB of JSON"),
               ("aml", "AML checks the job itself (a Pipeline job's jobs, a Command job's command and "
                       "environmentId, that the computes it names exist, what a job of that name may change): its "
                       "refusal is a 400 AmlRejectedRequest")),
    "invoke": (("deployment", "required when the endpoint has no default deployment"),
               ("inputs.*", "no schedule placeholder such as {{slot}} in a value or uri"),
               ("outputs.*", "no schedule placeholder such as {{slot}} in a uri"),
               ("aml", "AML checks the inputs and outputs (data that exists, ...): its refusal is a 400 "
                       "AmlRejectedRequest")),
}


def _json_body(schema: str, *, required: bool = True, content_type: str = "application/json") -> dict:
    return {"required": required, "content": {content_type: {"schema": ref(schema)}}}


def _ok(schema: str | None, description: str = "OK") -> dict:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def _errors(*codes: int) -> dict:
    texts = {400: "invalid input (nothing was sent to AML or stored)", 403: "destructive operations are disabled",
             404: "not found (AML's 404 is passed through)",
             409: "conflict with the resource's state (AML's 409 included)", 412: "ETag mismatch",
             413: "body too large", 415: "unsupported or missing Content-Type",
             502: "AML failed, or refused the app's own identity (AML's status and code kept)",
             503: "storage or settings unavailable", 504: "AML did not answer in time"}
    return {str(code): {"description": texts[code], "content": {"application/json": {"schema": ref("Error")}}}
            for code in codes}


_AML_ERRORS = (400, 404, 409, 502, 503, 504)
_AML_BODY_ERRORS = (400, 404, 409, 413, 415, 502, 503, 504)


def _op(function: str, summary: str, responses: dict, *, params: tuple[str, ...] = (), body: dict | None = None,
        tag: str, errors: tuple[int, ...] = (400, 404, 503), rules: str | None = None,
        extra_rules: tuple[tuple[str, str], ...] = ()) -> dict:
    op: dict[str, Any] = {"operationId": function, "summary": summary, "tags": [tag],
                          "parameters": [_P[p] for p in params],
                          "responses": {**responses, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = body
    semantic = (_SEMANTIC[rules] if rules else ()) + extra_rules
    if {"continuationToken", "runsToken", "jobsToken"} & set(params):
        semantic += (_TOKEN_RULE,)
    if semantic:
        op["x-semantic-rules"] = [{"field": field, "rule": rule} for field, rule in semantic]
    return op


def _paths() -> dict:
    s, c, r, p, j, b = "schedules", "compute", "runs", "pipelines", "jobs", "batch endpoints"
    edit_errors = (400, 404, 409, 412, 413, 415, 502, 503)
    power = {"200": _ok("Compute", "done (wait=true)"), "202": _ok("Accepted", "poll the operation")}
    return {
        "/health": {"get": {
            "operationId": "health", "summary": "settings, token acquisition, table access, and when the tick and "
                                                "the poll last completed (503 once either missed three fire times)",
            "tags": ["health"], "security": [],
            "responses": {"200": _ok("Health"), "503": _ok("Health", "something is wrong")},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "this document", "tags": ["docs"],
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": ANY_OBJECT}}}},
        }},
        **_console_paths(),
        "/schedules": {
            "get": _op("schedules_list", "list schedules, each with its health", {"200": _ok("SchedulePage")},
                       params=("health", "limit", "continuationToken"), tag=s),
            "post": _op("schedules_create", "create a schedule (409 if the id exists)",
                        {"201": _ok("Schedule", "created")}, body=_json_body("ScheduleCreate"), tag=s,
                        params=("validate",), errors=(400, 409, 413, 415, 502, 503), rules="schedule"),
        },
        "/schedules/import": {"post": _op(
            "schedules_import", "import AML's own v2 schedules (all, or the ones named), each disabled; "
            "idempotent", {"200": _ok("ScheduleImportResult", "what was imported, found imported before, or skipped")},
            body=_json_body("ScheduleImportRequest", required=False), tag=s, errors=_AML_BODY_ERRORS,
            rules="import")},
        "/schedules/{id}": {
            "get": _op("schedules_get", "read a schedule", {"200": _ok("Schedule")}, params=("scheduleId",), tag=s),
            "put": _op("schedules_put", "replace (or create) a schedule",
                       {"200": _ok("Schedule"), "201": _ok("Schedule", "created")},
                       params=("scheduleId", "ifMatch", "validate"), body=_json_body("ScheduleInput"), tag=s,
                       errors=edit_errors, rules="schedule", extra_rules=(("id", "matches the id in the URL"),)),
            "patch": _op("schedules_patch", "JSON merge patch of a schedule", {"200": _ok("Schedule")},
                         params=("scheduleId", "ifMatch", "validate"),
                         body={"required": True, "content": {"application/merge-patch+json": {"schema": ANY_OBJECT},
                                                             "application/json": {"schema": ANY_OBJECT}}},
                         tag=s, errors=edit_errors, rules="patch"),
            "delete": _op("schedules_delete", "delete a schedule", {"204": _ok(None, "deleted")},
                          params=("scheduleId", "ifMatch"), tag=s, errors=(400, 404, 412, 503)),
        },
        "/schedules/{id}/runs": {"get": _op(
            "schedules_runs", "run records, newest first", {"200": _ok("RunRecordPage")},
            params=("scheduleId", "scheduleRunStatus", "limit", "continuationToken"), tag=s)},
        "/schedules/{id}/history": {"get": _op(
            "schedules_history", "who changed the schedule or ran it by hand, and what changed, newest first; kept "
            "after a delete for the runs' retention period", {"200": _ok("AuditPage")},
            params=("scheduleId", "limit", "continuationToken"), tag=s)},
        "/runs": {"get": _op(
            "runs_list", "run records of all schedules: finished ones newest finishedAt first (status, from, to on "
                         "finishedAt), or those in flight (status active or an in-flight status) newest slot first",
            {"200": _ok("RunRecordPage")},
            params=("scheduleRunStatus", "finishedFrom", "finishedTo", "limit", "continuationToken"), tag=s,
            errors=(400, 503), rules="runList")},
        "/schedules/{id}/preview": {"get": _op(
            "schedules_preview", "next fire times", {"200": _ok("Preview")}, params=("scheduleId", "count", "from"),
            tag=s, rules="preview")},
        "/schedules/{id}/enable": {"post": _op(
            "schedules_enable", "enable a schedule", {"200": _ok("Schedule")}, params=("scheduleId", "ifMatch"),
            tag=s, errors=(400, 404, 409, 412, 503))},
        "/schedules/{id}/disable": {"post": _op(
            "schedules_disable", "disable a schedule", {"200": _ok("Schedule")}, params=("scheduleId", "ifMatch"),
            tag=s, errors=(400, 404, 409, 412, 503))},
        "/schedules/{id}/trigger": {"post": _op(
            "schedules_trigger", "run now: a manual slot, recorded like any other",
            {"201": _ok("RunRecord", "the manual run's record")}, params=("scheduleId",),
            body=_json_body("TriggerRequest", required=False), tag=s, errors=(400, 404, 409, 413, 415, 503),
            rules="trigger")},
        "/schedules/{id}/backfill": {"post": _op(
            "schedules_backfill", "queue every slot in [from, to], bounded and idempotent",
            {"202": _ok("BackfillResult", "queued")}, params=("scheduleId",), body=_json_body("BackfillRequest"),
            tag=s, errors=(400, 404, 413, 415, 503), rules="backfill")},
        "/computes": {"get": _op("computes_list", "list the workspace's computes (all pages)",
                                 {"200": _ok("ComputeList")}, params=("raw",), tag=c, errors=_AML_ERRORS)},
        "/computes/{name}": {
            "get": _op("computes_get", "read a compute", {"200": _ok("Compute")}, params=("computeName", "raw"),
                       tag=c, errors=_AML_ERRORS),
            "put": _op("computes_put", "create or update a cluster (AmlCompute) or compute instance",
                       {"200": _ok("Compute", "done"), "201": _ok("Compute", "created (with wait=true)"),
                        "202": _ok("Accepted", "ARM is working on it; poll the operation")},
                       params=("computeName", "wait", "raw"), body=_json_body("ComputeInput"), tag=c,
                       errors=_AML_BODY_ERRORS, rules="computePut"),
            "patch": _op("computes_patch", "change a cluster's scale settings",
                         {"200": _ok("Compute", "done"), "202": _ok("Accepted", "poll the operation")},
                         params=("computeName", "wait", "raw"),
                         body={"required": True, "content": {
                             "application/json": {"schema": ref("ComputePatch")},
                             "application/merge-patch+json": {"schema": ref("ComputePatch")}}},
                         tag=c, errors=_AML_BODY_ERRORS, rules="computePatch"),
            "delete": _op("computes_delete", "delete or detach a compute (destructive)",
                          {"202": _ok("Accepted", "poll the operation"), "204": _ok(None, "gone")},
                          params=("computeName", "action", "underlyingResourceAction", "wait", "raw"), tag=c,
                          errors=(400, 403, 404, 409, 502, 503, 504), rules="computeDelete"),
        },
        "/computes/{name}/start": {"post": _op(
            "computes_start", "start a compute instance", power, params=("computeName", "wait", "raw"), tag=c,
            errors=_AML_ERRORS, rules="power")},
        "/computes/{name}/stop": {"post": _op(
            "computes_stop", "stop a compute instance", power, params=("computeName", "wait", "raw"), tag=c,
            errors=_AML_ERRORS, rules="power")},
        "/computes/{name}/restart": {"post": _op(
            "computes_restart", "restart a compute instance", power, params=("computeName", "wait", "raw"), tag=c,
            errors=_AML_ERRORS, rules="power")},
        "/computes/{name}/nodes": {"get": _op(
            "computes_nodes", "a cluster's nodes (ARM listNodes)", {"200": _ok("NodeList")},
            params=("computeName", "raw"), tag=c, errors=_AML_ERRORS)},
        "/operations/{id}": {"get": _op(
            "operations_get", "status of a long-running compute operation", {"200": _ok("Operation")},
            params=("operationId", "raw"), tag=c, errors=_AML_ERRORS, rules="operation")},
        "/experiments/{name}": {
            "get": _op("experiments_get", "read an experiment", {"200": _ok("Experiment")},
                       params=("experimentName", "raw"), tag=r, errors=_AML_ERRORS),
            "post": _op("experiments_create", "get or create an experiment (no body)", {"200": _ok("Experiment")},
                        params=("experimentName", "raw"), tag=r, errors=_AML_ERRORS),
        },
        "/experiments/{name}/runs": {
            "get": _op("experiment_runs_list", "runs of an experiment, newest first", {"200": _ok("RunPage")},
                       params=("experimentName", "amlRunStatus", "runsToken", "raw"), tag=r, errors=_AML_ERRORS),
            "post": _op("experiment_runs_submit", "submit a run: AML's startrun multipart upload",
                        {"201": _ok("RunStarted", "started")}, params=("experimentName", "newRunId", "raw"),
                        body={"required": True, "content": {"multipart/form-data": {"schema": {
                            "type": "object", "additionalProperties": False,
                            "required": ["runDefinitionFile", "projectZipFile"],
                            "properties": {
                                "runDefinitionFile": {"type": "string", "contentMediaType": "application/json",
                                                      "description": "definition.json (a RunDefinition)"},
                                "projectZipFile": {"type": "string", "contentMediaType": "application/zip",
                                                   "description": "project.zip (no absolute or '..' entries)"},
                            }}}}},
                        tag=r, errors=_AML_BODY_ERRORS, rules="runUpload"),
        },
        "/experiments/{name}/runs/{runId}": {"get": _op(
            "experiment_runs_get", "a run's status", {"200": _ok("Run")},
            params=("experimentName", "runId", "details", "raw"), tag=r, errors=_AML_ERRORS)},
        "/experiments/{name}/runs/{runId}/cancel": {"post": _op(
            "experiment_runs_cancel", "cancel a run (destructive); 409 RunAlreadyFinished once it ended",
            {"202": _ok("CancelAccepted", "cancel requested")}, params=("experimentName", "runId", "raw"), tag=r,
            errors=(400, 403, 404, 409, 502, 503, 504))},
        "/pipelines": {"get": _op(
            "pipelines_list", "published pipelines of the workspace", {"200": _ok("PublishedPipelineList")},
            params=("raw",), tag=p, errors=_AML_ERRORS)},
        "/pipelines/{pipelineId}/submit": {"post": _op(
            "pipelines_submit", "submit a published pipeline now", {"201": _ok("RunStarted", "submitted")},
            params=("pipelineId", "raw"), body=_json_body("SubmitRequest"), tag=p, errors=_AML_BODY_ERRORS)},
        "/pipeline-endpoints/{id}/submit": {"post": _op(
            "pipeline_endpoints_submit", "submit to a pipeline endpoint now (optional pipelineVersion)",
            {"201": _ok("RunStarted", "submitted")}, params=("endpointId", "raw"),
            body=_json_body("EndpointSubmitRequest"), tag=p, errors=_AML_BODY_ERRORS)},
        "/jobs": {"get": _op(
            "jobs_list", "AML v2 jobs of the workspace, newest first, one ARM page per request",
            {"200": _ok("JobPage")}, params=("jobType", "jobTag", "jobStatus", "listViewType", "jobsToken", "raw"),
            tag=j, errors=_AML_ERRORS, rules="jobList")},
        "/jobs/{name}": {
            "get": _op("jobs_get", "read a job; a Failed job's error comes from run history", {"200": _ok("Job")},
                       params=("jobName", "raw"), tag=j, errors=_AML_ERRORS),
            "put": _op("jobs_put", "create a job of this name from a schedule's job properties (no placeholders)",
                       {"201": _ok("Job", "created"), "200": _ok("Job", "AML answered with an existing job of "
                                                                        "this name")},
                       params=("jobName", "raw"), body=_json_body("JobRequest"), tag=j, errors=_AML_BODY_ERRORS,
                       rules="jobPut"),
        },
        "/jobs/{name}/cancel": {"post": _op(
            "jobs_cancel", "cancel a job (destructive); 409 JobAlreadyFinished once it ended",
            {"202": _ok("JobCancelAccepted", "cancel requested; poll GET jobs/{name}")}, params=("jobName",),
            tag=j, errors=(400, 403, 404, 409, 502, 503, 504))},
        "/batch-endpoints": {"get": _op(
            "batch_endpoints_list", "the workspace's batch endpoints (all pages)", {"200": _ok("BatchEndpointList")},
            params=("raw",), tag=b, errors=_AML_ERRORS)},
        "/batch-endpoints/{name}": {"get": _op(
            "batch_endpoints_get", "read a batch endpoint", {"200": _ok("BatchEndpoint")},
            params=("batchEndpointName", "raw"), tag=b, errors=_AML_ERRORS)},
        "/batch-endpoints/{name}/deployments": {"get": _op(
            "batch_endpoints_deployments", "a batch endpoint's deployments (all pages)",
            {"200": _ok("BatchDeploymentList")}, params=("batchEndpointName", "raw"), tag=b, errors=_AML_ERRORS)},
        "/batch-endpoints/{name}/invoke": {"post": _op(
            "batch_endpoints_invoke", "start a batch job now, as a schedule's batchEndpoint target would (no "
                                      "placeholders); repeatable with the same Repeatability-Request-ID",
            {"201": _ok("Invocation", "the job the invocation started")},
            params=("batchEndpointName", "repeatabilityId", "raw"), body=_json_body("InvokeRequest", required=False),
            tag=b, errors=_AML_BODY_ERRORS, rules="invoke")},
    }


def _console_paths() -> dict:
    """The console's page and assets (anonymous: they hold no data), and `me`."""
    text = {"type": "string"}
    cached = {"304": {"description": "unchanged since the ETag in If-None-Match"}}
    return {
        "/console": {"get": {
            "operationId": "console_page", "summary": "the operator console: one HTML page that reads this API",
            "tags": ["console"], "security": [],
            "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": text}}}, **cached,
                          "308": {"description": "the same page, asked for with a trailing slash"}},
        }},
        "/console/assets/{name}": {"get": {
            "operationId": "console_asset", "summary": "a stylesheet or script module of the console",
            "tags": ["console"], "security": [],
            "parameters": [_param("name", "path", "the asset's name", schema=string(enum=sorted(ASSETS)))],
            "responses": {"200": {"description": "the asset", "content": {
                media: {"schema": text} for media in sorted(set(ASSETS.values()))}}, **cached, **_errors(400, 404)},
        }},
        "/me": {"get": _op("me", "who the caller is and which app roles they hold (the console shows actions by "
                                 "them)", {"200": _ok("Me")}, tag="console", errors=())},
    }


_CONSOLE_SCHEMAS = {
    "Me": closed({
        "mode": string("how the caller was identified: functionKey (a function key, which holds every role) or entra"),
        "name": string("the caller, as the console shows it"),
        "roles": {"type": "array", "items": string(enum=list(ROLES))},
    }, ("mode", "name", "roles")),
}


@functools.lru_cache(maxsize=1)
def _document() -> dict:
    # The route table: importing the blueprints registers every declaration.
    from shared.blueprints import DECLARED

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "AML batch-scoring scheduler",
            "version": "1.0",
            "description": "Schedules of Azure ML pipeline runs, and an audited proxy for AML compute, runs, "
                           "pipelines, v2 jobs and batch endpoints that calls AML with the app's managed identity. "
                           "Two custom formats name what JSON Schema cannot check: `cron` (5 fields, or 6 with "
                           "seconds first) and "
                           "`time-zone` (an IANA or Windows zone name). Each operation lists in "
                           "`x-semantic-rules` the other rules a request must meet, by the field its 400 names.",
        },
        "servers": [{"url": "/api"}],
        "security": security(MODE),
        "paths": with_roles(_paths(), DECLARED),
        "components": {
            "schemas": {**SCHEMAS, **COMPUTE_SCHEMAS, **V2_SCHEMAS, **ACCESS_SCHEMAS, **_CONSOLE_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def document() -> dict:
    """A copy of the document, safe for the caller to change."""
    return copy.deepcopy(_document())


def serve(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(_document())
