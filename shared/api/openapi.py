"""The OpenAPI 3 description of the whole HTTP API, served at GET openapi.json.

Each operation's `operationId` is the name of its function in function_app.py; a test
compares this document with the routes the app registers, so the two cannot drift.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import azure.functions as func

from shared.api.http import json_response

OPENAPI_VERSION = "3.0.3"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(description: str = "", **extra: Any) -> dict:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _object(properties: dict, required: tuple[str, ...] = (), *, additional: bool | dict = False,
            description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def _page(item: str) -> dict:
    return _object({"value": {"type": "array", "items": _ref(item)},
                    "continuationToken": _nullable(_string("pass back as continuationToken for the next page"))},
                   ("value",))


_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_RAW = {"raw": {**_ANY_OBJECT, "description": "AML's own answer, present with ?raw=true"}}
_STATUS_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_SCHEMAS: dict[str, dict] = {
    "Error": _object({"error": _object({
        "code": _string("stable error code, e.g. ValidationFailed, NotFound, AmlError, AmlTimeout"),
        "message": _string(),
        "details": {"type": "array", "items": _object({
            "field": _string("request field, or 'aml' for AML's own answer"),
            "message": _string(),
            "amlStatus": _nullable({"type": "integer", "description": "AML's HTTP status"}),
            "amlCode": _nullable(_string("AML's error code")),
            "mayHaveExecuted": {"type": "boolean",
                                "description": "a write whose answer was lost may have happened"},
        }, ("field", "message"))},
    }, ("code", "message", "details"))}, ("error",)),
    "Trigger": _object({
        "cron": _string("5 fields (classic cron: a day matching either day field fires), or 6 with seconds "
                        "first (NCRONTAB: a day must match both); month and weekday names in any case, "
                        "returned as 3-letter upper-case names"),
        "timeZone": _string("IANA name, default UTC"),
        "startTime": _nullable(_string(format="date-time")),
        "endTime": _nullable(_string(format="date-time")),
    }, ("cron",)),
    "Target": _object({
        "kind": _string(enum=["pipeline", "pipelineEndpoint"]),
        "pipelineId": _string(format="uuid"),
        "pipelineEndpointId": _string(format="uuid"),
        "pipelineVersion": _string(),
        "experimentName": _string(),
        "parameterAssignments": {"type": "object", "additionalProperties": True},
        "dataPathAssignments": {"type": "object", "additionalProperties": _ref("DataPath")},
    }, ("kind", "experimentName")),
    "DataPath": _object({"DataStoreName": _string(), "RelativePath": _string()},
                        ("DataStoreName", "RelativePath")),
    "Policy": _object({
        "concurrency": _string(enum=["Allow", "Forbid", "Replace"]),
        "misfire": _string(enum=["latest", "all", "skip"]),
        "misfireGraceSeconds": {"type": "integer"},
        "maxCatchup": {"type": "integer"},
        "retry": _object({"maxAttempts": {"type": "integer"}, "backoffSeconds": {"type": "integer"},
                          "retryOnRunFailure": {"type": "boolean"}}),
        "runTimeoutMinutes": _nullable({"type": "integer"}),
    }),
    "ScheduleInput": _object({
        "id": _string("1-63 of a-z 0-9 -", pattern="^[a-z0-9][a-z0-9-]{0,62}$"),
        "description": _string(),
        "enabled": {"type": "boolean"},
        "trigger": _ref("Trigger"),
        "target": _ref("Target"),
        "policy": _ref("Policy"),
    }, ("trigger", "target")),
    "Schedule": {"allOf": [_ref("ScheduleInput"), _object({
        "nextFireTime": _nullable(_string(format="date-time")),
        "lastSlot": _nullable(_string(format="date-time")),
        "createdAt": _string(format="date-time"),
        "updatedAt": _string(format="date-time"),
        "etag": _string(),
    }, additional=True)]},
    "SchedulePage": _page("Schedule"),
    "RunRecord": _object({
        "scheduleId": _string(), "slot": _string(format="date-time"), "slotKey": _string(),
        "runKey": _string(), "status": _string(), "trigger": _string(enum=["schedule", "manual", "backfill", "retry"]),
        "attempts": {"type": "integer"}, "amlRunId": _nullable(_string()), "portalUrl": _nullable(_string()),
        "error": _nullable(_object({"code": _nullable(_string()), "message": _nullable(_string())})),
        "parameters": _nullable(_ANY_OBJECT),
    }, additional=True, description="one schedule slot's outcome"),
    "RunRecordPage": _page("RunRecord"),
    "Preview": _object({
        "scheduleId": _string(), "timeZone": _string(), "from": _string(format="date-time"),
        "value": {"type": "array", "items": _object({"utc": _string(format="date-time"),
                                                    "local": _string(format="date-time")})},
    }),
    "TriggerRequest": _object({"parameterAssignments": {"type": "object", "additionalProperties": True}}),
    "BackfillRequest": _object({"from": _string(format="date-time"), "to": _string(format="date-time")},
                               ("from", "to")),
    "BackfillResult": _object({
        "scheduleId": _string(), "from": _string(format="date-time"), "to": _string(format="date-time"),
        "queued": {"type": "array", "items": _string("slot key")},
        "existing": {"type": "array", "items": _string("slot key")},
        "count": {"type": "integer"},
    }, ("queued", "existing", "count"), additional=True),
    "Health": _object({"status": _string(enum=["healthy", "unhealthy"]), "checks": _ANY_OBJECT}),
    "ScaleSettings": _object({
        "minNodeCount": {"type": "integer", "minimum": 0},
        "maxNodeCount": {"type": "integer", "minimum": 1},
        "nodeIdleTimeBeforeScaleDown": _string("ISO-8601 duration, e.g. PT5M"),
    }, ("maxNodeCount",)),
    "ComputeInput": _object({
        "computeType": _string(enum=["AmlCompute", "ComputeInstance"]),
        "location": _string("the workspace's region, e.g. westeurope"),
        "description": _string(),
        "vmSize": _string("e.g. STANDARD_DS3_V2"),
        "vmPriority": _string("AmlCompute only", enum=["Dedicated", "LowPriority"]),
        "scaleSettings": _ref("ScaleSettings"),
        "subnetId": _string("subnet resource id"),
        "enableNodePublicIp": {"type": "boolean"},
        "remoteLoginPortPublicAccess": _string("AmlCompute only", enum=["Enabled", "Disabled", "NotSpecified"]),
        "adminUserName": _string("AmlCompute only"),
        "adminUserSshPublicKey": _string("AmlCompute only; passwords are refused"),
        "sshPublicAccess": _string("ComputeInstance only", enum=["Enabled", "Disabled"]),
        "sshPublicKey": _string("ComputeInstance only"),
        "applicationSharingPolicy": _string("ComputeInstance only", enum=["Personal", "Shared"]),
        "assignedUserObjectId": _string("ComputeInstance only", format="uuid"),
        "assignedUserTenantId": _string("ComputeInstance only", format="uuid"),
        "tags": _STATUS_MAP,
    }, ("computeType", "location", "vmSize")),
    "Compute": _object({
        "name": _string(), "id": _string(), "location": _nullable(_string()),
        "computeType": _nullable(_string()), "provisioningState": _nullable(_string()),
        "description": _nullable(_string()), "createdOn": _nullable(_string()), "modifiedOn": _nullable(_string()),
        "isAttached": _nullable({"type": "boolean"}), "vmSize": _nullable(_string()),
        "vmPriority": _nullable(_string()), "subnetId": _nullable(_string()),
        "enableNodePublicIp": _nullable({"type": "boolean"}),
        "scaleSettings": _nullable(_ref("ScaleSettings")),
        "remoteLoginPortPublicAccess": _nullable(_string()), "allocationState": _nullable(_string()),
        "currentNodeCount": _nullable({"type": "integer"}), "targetNodeCount": _nullable({"type": "integer"}),
        "nodeStateCounts": _nullable({"type": "object", "additionalProperties": {"type": "integer"}}),
        "state": _nullable(_string("ComputeInstance state, e.g. Running, Stopped")),
        "sshPublicAccess": _nullable(_string()), "sshAdminUserName": _nullable(_string()),
        "sshPort": _nullable({"type": "integer"}),
        "lastOperation": _nullable(_ANY_OBJECT),
        "errors": {"type": "array", "items": _ANY_OBJECT},
        "tags": _STATUS_MAP,
        **_RAW,
    }),
    "ComputeList": _object({"value": {"type": "array", "items": _ref("Compute")}}, ("value",)),
    "Accepted": _object({
        "status": _string(enum=["Accepted"]),
        "operation": _nullable(_object({"id": _string(), "status": _string(), "href": _string()})),
        "compute": _nullable(_ref("Compute")),
        **_RAW,
    }, ("status", "operation")),
    "Operation": _object({
        "id": _string(), "status": _string(enum=["InProgress", "Succeeded", "Failed", "Canceled"]),
        "error": _nullable(_object({"code": _nullable(_string()), "message": _nullable(_string())})),
        **_RAW,
    }, ("id", "status")),
    "NodeList": _object({"computeName": _string(), "value": {"type": "array", "items": _object({
        "nodeId": _string(), "privateIpAddress": _nullable(_string()), "publicIpAddress": _nullable(_string()),
        "port": _nullable({"type": "number"}), "nodeState": _nullable(_string()), "runId": _nullable(_string()),
        **_RAW})}}),
    "Experiment": _object({
        "experimentId": _string(), "name": _string(), "description": _nullable(_string()),
        "createdAt": _nullable(_string()), "archived": {"type": "boolean"}, "tags": _STATUS_MAP, **_RAW,
    }),
    "Run": _object({
        "runId": _string(), "experimentName": _string(), "experimentId": _nullable(_string()),
        "runNumber": _nullable({"type": "integer"}), "status": _string(), "runType": _nullable(_string()),
        "displayName": _nullable(_string()), "description": _nullable(_string()), "target": _nullable(_string()),
        "parentRunId": _nullable(_string()), "createdAt": _nullable(_string()), "startedAt": _nullable(_string()),
        "endedAt": _nullable(_string()), "duration": _nullable(_string()),
        "error": _nullable(_object({"code": _nullable(_string()), "message": _nullable(_string())})),
        "tags": _STATUS_MAP, "properties": _ANY_OBJECT, "portalUrl": _nullable(_string()),
        "details": _object({
            "target": _nullable(_string()), "status": _nullable(_string()), "computeDuration": _nullable(_string()),
            "effectiveStartedAt": _nullable(_string()), "logFiles": {"type": "array", "items": _string()},
            "warnings": {"type": "array", "items": _string()}, "error": _nullable(_ANY_OBJECT),
        }, description="present with ?details=true"),
        **_RAW,
    }),
    "RunPage": _page("Run"),
    "RunStarted": _object({
        "runId": _string(), "experimentName": _string(), "status": _string(), "portalUrl": _string(),
        "pipelineId": _string(), "pipelineEndpointId": _string(), "pipelineVersion": _nullable(_string()), **_RAW,
    }, ("runId", "experimentName", "portalUrl")),
    "CancelAccepted": _object({"runId": _string(), "experimentName": _string(),
                               "cancelRequested": {"type": "boolean"}, **_RAW}),
    "SubmitRequest": _object({
        "experimentName": _string(),
        "parameterAssignments": {"type": "object", "additionalProperties": True},
        "dataPathAssignments": {"type": "object", "additionalProperties": _ref("DataPath")},
        "description": _string(),
        "tags": _STATUS_MAP,
    }, ("experimentName",)),
    "EndpointSubmitRequest": {"allOf": [_ref("SubmitRequest"), _object({"pipelineVersion": _string()},
                                                                       additional=True)]},
    "PublishedPipeline": _object({
        "id": _nullable(_string()), "name": _nullable(_string()), "description": _nullable(_string()),
        "version": _nullable(_string()), "status": {"nullable": True}, "endpoint": _nullable(_string()),
        "createdAt": _nullable(_string()), **_RAW,
    }),
    "PublishedPipelineList": _object({"value": {"type": "array", "items": _ref("PublishedPipeline")}}, ("value",)),
}


def _param(name: str, where: str, description: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


_P = {
    "scheduleId": _param("id", "path", "schedule id", schema={"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}),
    "computeName": _param("name", "path", "compute name: 2-24 letters, digits or '-', a letter first",
                          schema={"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{0,22}[A-Za-z0-9]$"}),
    "experimentName": _param("name", "path", "experiment name",
                             schema={"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"}),
    "runId": _param("runId", "path", "run id", schema={"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"}),
    "pipelineId": _param("pipelineId", "path", "published pipeline id", schema={"type": "string", "format": "uuid"}),
    "endpointId": _param("id", "path", "pipeline endpoint id", schema={"type": "string", "format": "uuid"}),
    "operationId": _param("id", "path", "operation id returned by this API"),
    "raw": _param("raw", "query", "include AML's own answer as `raw`", schema={"type": "boolean"}),
    "wait": _param("wait", "query", "wait for the operation, up to AML_PROXY_MAX_WAIT_SECONDS",
                   schema={"type": "boolean"}),
    "ifMatch": _param("If-Match", "header", "ETag from a previous read; 412 if it changed"),
    "limit": _param("limit", "query", "page size", schema={"type": "integer", "minimum": 1, "maximum": 500}),
    "continuationToken": _param("continuationToken", "query", "from the previous page"),
}


def _json_body(schema: str, *, required: bool = True, content_type: str = "application/json") -> dict:
    return {"required": required, "content": {content_type: {"schema": _ref(schema)}}}


def _ok(schema: str | None, description: str = "OK") -> dict:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _errors(*codes: int) -> dict:
    texts = {400: "invalid input (nothing was sent to AML or stored)", 403: "destructive operations are disabled",
             404: "not found (AML's 404 is passed through)", 409: "conflict", 412: "ETag mismatch",
             413: "body too large", 415: "unsupported Content-Type", 502: "AML refused (AML's status and code kept)",
             503: "storage or settings unavailable", 504: "AML did not answer in time"}
    return {str(code): {"description": texts[code], "content": {"application/json": {"schema": _ref("Error")}}}
            for code in codes}


_AML_ERRORS = (400, 404, 502, 503, 504)


def _op(function: str, summary: str, responses: dict, *, params: tuple[str, ...] = (), body: dict | None = None,
        tag: str, errors: tuple[int, ...] = (400, 404, 503), extra_params: tuple[dict, ...] = ()) -> dict:
    op: dict[str, Any] = {"operationId": function, "summary": summary, "tags": [tag],
                          "parameters": [_P[p] for p in params] + list(extra_params),
                          "responses": {**responses, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = body
    return op


def _paths() -> dict:
    s, c, r, p = "schedules", "compute", "runs", "pipelines"
    sched_errors = (400, 404, 412, 413, 415, 503)
    return {
        "/health": {"get": {
            "operationId": "health", "summary": "settings, token acquisition and table access",
            "tags": ["health"], "security": [],
            "responses": {"200": _ok("Health"), "503": _ok("Health", "something is wrong")},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "this document", "tags": ["docs"],
            "responses": {"200": {"description": "OpenAPI 3 document",
                                  "content": {"application/json": {"schema": _ANY_OBJECT}}}},
        }},
        "/schedules": {
            "get": _op("schedules_list", "list schedules", {"200": _ok("SchedulePage")},
                       params=("limit", "continuationToken"), tag=s),
            "post": _op("schedules_create", "create a schedule (409 if the id exists)",
                        {"201": _ok("Schedule", "created")}, body=_json_body("ScheduleInput"), tag=s,
                        errors=(400, 409, 413, 415, 503)),
        },
        "/schedules/{id}": {
            "get": _op("schedules_get", "read a schedule", {"200": _ok("Schedule")}, params=("scheduleId",), tag=s),
            "put": _op("schedules_put", "replace (or create) a schedule",
                       {"200": _ok("Schedule"), "201": _ok("Schedule", "created")},
                       params=("scheduleId", "ifMatch"), body=_json_body("ScheduleInput"), tag=s, errors=sched_errors),
            "patch": _op("schedules_patch", "JSON merge patch of a schedule", {"200": _ok("Schedule")},
                         params=("scheduleId", "ifMatch"),
                         body={"required": True, "content": {"application/merge-patch+json": {"schema": _ANY_OBJECT},
                                                             "application/json": {"schema": _ANY_OBJECT}}},
                         tag=s, errors=sched_errors),
            "delete": _op("schedules_delete", "delete a schedule", {"204": _ok(None, "deleted")},
                          params=("scheduleId", "ifMatch"), tag=s, errors=(400, 404, 412, 503)),
        },
        "/schedules/{id}/runs": {"get": _op(
            "schedules_runs", "run records, newest first", {"200": _ok("RunRecordPage")},
            params=("scheduleId", "limit", "continuationToken"), tag=s)},
        "/schedules/{id}/preview": {"get": _op(
            "schedules_preview", "next fire times", {"200": _ok("Preview")}, params=("scheduleId",), tag=s)},
        "/schedules/{id}/enable": {"post": _op(
            "schedules_enable", "enable a schedule", {"200": _ok("Schedule")}, params=("scheduleId", "ifMatch"),
            tag=s, errors=(400, 404, 412, 503))},
        "/schedules/{id}/disable": {"post": _op(
            "schedules_disable", "disable a schedule", {"200": _ok("Schedule")}, params=("scheduleId", "ifMatch"),
            tag=s, errors=(400, 404, 412, 503))},
        "/schedules/{id}/trigger": {"post": _op(
            "schedules_trigger", "run now: a manual slot, recorded like any other",
            {"201": _ok("RunRecord", "the manual run's record")}, params=("scheduleId",),
            body=_json_body("TriggerRequest", required=False), tag=s, errors=(400, 404, 409, 413, 415, 503))},
        "/schedules/{id}/backfill": {"post": _op(
            "schedules_backfill", "queue every slot in [from, to], bounded and idempotent",
            {"202": _ok("BackfillResult", "queued")}, params=("scheduleId",), body=_json_body("BackfillRequest"),
            tag=s, errors=(400, 404, 413, 415, 503))},
        "/computes": {"get": _op("computes_list", "list the workspace's computes (all pages)",
                                 {"200": _ok("ComputeList")}, params=("raw",), tag=c, errors=_AML_ERRORS)},
        "/computes/{name}": {
            "get": _op("computes_get", "read a compute", {"200": _ok("Compute")}, params=("computeName", "raw"),
                       tag=c, errors=_AML_ERRORS),
            "put": _op("computes_put", "create or update a cluster (AmlCompute) or compute instance",
                       {"200": _ok("Compute", "done"), "201": _ok("Compute", "created (with wait=true)"),
                        "202": _ok("Accepted", "ARM is working on it; poll the operation")},
                       params=("computeName", "wait", "raw"), body=_json_body("ComputeInput"), tag=c,
                       errors=(400, 404, 413, 415, 502, 503, 504)),
            "patch": _op("computes_patch", "change a cluster's scale settings",
                         {"200": _ok("Compute", "done"), "202": _ok("Accepted", "poll the operation")},
                         params=("computeName", "wait", "raw"),
                         body={"required": True, "content": {"application/json": {"schema": _object(
                             {"scaleSettings": _ref("ScaleSettings")}, ("scaleSettings",))}}},
                         tag=c, errors=(400, 404, 413, 415, 502, 503, 504)),
            "delete": _op("computes_delete", "delete or detach a compute (destructive)",
                          {"202": _ok("Accepted", "poll the operation"), "204": _ok(None, "gone")},
                          params=("computeName", "wait", "raw"), tag=c, errors=(400, 403, 404, 502, 503, 504)),
        },
        "/computes/{name}/start": {"post": _op(
            "computes_start", "start a compute instance",
            {"200": _ok("Compute", "done (wait=true)"), "202": _ok("Accepted", "poll the operation")},
            params=("computeName", "wait", "raw"), tag=c, errors=_AML_ERRORS)},
        "/computes/{name}/stop": {"post": _op(
            "computes_stop", "stop a compute instance",
            {"200": _ok("Compute", "done (wait=true)"), "202": _ok("Accepted", "poll the operation")},
            params=("computeName", "wait", "raw"), tag=c, errors=_AML_ERRORS)},
        "/computes/{name}/restart": {"post": _op(
            "computes_restart", "restart a compute instance",
            {"200": _ok("Compute", "done (wait=true)"), "202": _ok("Accepted", "poll the operation")},
            params=("computeName", "wait", "raw"), tag=c, errors=_AML_ERRORS)},
        "/computes/{name}/nodes": {"get": _op(
            "computes_nodes", "a cluster's nodes (ARM listNodes)", {"200": _ok("NodeList")},
            params=("computeName", "raw"), tag=c, errors=_AML_ERRORS)},
        "/operations/{id}": {"get": _op(
            "operations_get", "status of a long-running compute operation", {"200": _ok("Operation")},
            params=("operationId", "raw"), tag=c, errors=_AML_ERRORS)},
        "/experiments/{name}": {
            "get": _op("experiments_get", "read an experiment", {"200": _ok("Experiment")},
                       params=("experimentName", "raw"), tag=r, errors=_AML_ERRORS),
            "post": _op("experiments_create", "get or create an experiment", {"200": _ok("Experiment")},
                        params=("experimentName", "raw"), tag=r, errors=_AML_ERRORS),
        },
        "/experiments/{name}/runs": {
            "get": _op("experiment_runs_list", "runs of an experiment, newest first", {"200": _ok("RunPage")},
                       params=("experimentName", "continuationToken", "raw"), tag=r, errors=_AML_ERRORS,
                       extra_params=(_param("status", "query", "only runs with this status"),)),
            "post": _op("experiment_runs_submit", "submit a run: AML's startrun multipart upload",
                        {"201": _ok("RunStarted", "started")}, params=("experimentName", "raw"),
                        body={"required": True, "content": {"multipart/form-data": {"schema": _object({
                            "runDefinitionFile": {"type": "string", "format": "binary",
                                                  "description": "definition.json (a RunDefinition)"},
                            "projectZipFile": {"type": "string", "format": "binary",
                                               "description": "project.zip (no absolute or '..' entries)"},
                        }, ("runDefinitionFile", "projectZipFile"))}}},
                        tag=r, errors=(400, 404, 413, 415, 502, 503, 504),
                        extra_params=(_param("runId", "query", "run id to use (AML makes one otherwise)"),)),
        },
        "/experiments/{name}/runs/{runId}": {"get": _op(
            "experiment_runs_get", "a run's status", {"200": _ok("Run")}, params=("experimentName", "runId", "raw"),
            tag=r, errors=_AML_ERRORS,
            extra_params=(_param("details", "query", "also read run history's details", schema={"type": "boolean"}),))},
        "/experiments/{name}/runs/{runId}/cancel": {"post": _op(
            "experiment_runs_cancel", "cancel a run (destructive)", {"202": _ok("CancelAccepted", "cancel requested")},
            params=("experimentName", "runId", "raw"), tag=r, errors=(400, 403, 404, 502, 503, 504))},
        "/pipelines": {"get": _op(
            "pipelines_list", "published pipelines of the workspace", {"200": _ok("PublishedPipelineList")},
            params=("raw",), tag=p, errors=_AML_ERRORS)},
        "/pipelines/{pipelineId}/submit": {"post": _op(
            "pipelines_submit", "submit a published pipeline now", {"201": _ok("RunStarted", "submitted")},
            params=("pipelineId", "raw"), body=_json_body("SubmitRequest"), tag=p,
            errors=(400, 404, 413, 415, 502, 503, 504))},
        "/pipeline-endpoints/{id}/submit": {"post": _op(
            "pipeline_endpoints_submit", "submit to a pipeline endpoint now (optional pipelineVersion)",
            {"201": _ok("RunStarted", "submitted")}, params=("endpointId", "raw"),
            body=_json_body("EndpointSubmitRequest"), tag=p, errors=(400, 404, 413, 415, 502, 503, 504))},
    }


@functools.lru_cache(maxsize=1)
def _document() -> dict:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "AML batch-scoring scheduler",
            "version": "1.0",
            "description": "Schedules of Azure ML pipeline runs, and an audited proxy for AML compute, runs and "
                           "pipelines that calls AML with the app's managed identity.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": _paths(),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }


def document() -> dict:
    """A copy of the document, safe for the caller to change."""
    return copy.deepcopy(_document())


def serve(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(_document())
