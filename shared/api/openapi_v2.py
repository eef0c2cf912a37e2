"""The OpenAPI component schemas of the AML v2 proxy: jobs and batch endpoints.

Merged into the document's schemas by `shared.api.openapi`. Request schemas state the
rules of a schedule's `job` and `batchEndpoint` targets (`shared.targets`), which these
routes reuse, and nothing stricter: where the app leaves a field to AML (a job's inputs,
the command of a Command job), so does the schema, and the operation's
`x-semantic-rules` say that AML checks it.
"""

from __future__ import annotations

from shared.aml.jobs import JOB_STATUSES
from shared.api.batch import UUID
from shared.api.jobs import RESERVED_TAG_PREFIX
from shared.api.openapi_schemas import (
    _AML_ERROR,
    _RAW,
    AML_NAME,
    ANY_OBJECT,
    BATCH_NAME,
    IO_NAME,
    closed,
    nullable,
    ref,
    string,
)
from shared.targets import JOB_TYPES, MAX_IO


def _any_case(word: str) -> str:
    """A regex for `word` in any letter case, without flags (the document has none)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


_COMPUTE_NAME = r"[A-Za-z][A-Za-z0-9-]{0,22}[A-Za-z0-9]"
# What `shared.targets.compute_reference_name` accepts: a compute name, azureml:<name>, or
# the compute's ARM id (matched without regard to case, as ARM does).
COMPUTE_REFERENCE = (
    rf"^(?:(?:azureml:)?{_COMPUTE_NAME}"
    rf"|/{_any_case('subscriptions')}/[^/]+/{_any_case('resourceGroups')}/[^/]+"
    rf"/{_any_case('providers')}/{_any_case('Microsoft')}\.{_any_case('MachineLearningServices')}"
    rf"/{_any_case('workspaces')}/[^/]+/{_any_case('computes')}/{_COMPUTE_NAME})$"
)
_COMPUTE_REF = nullable(string("a compute name, azureml:<name>, or the compute's ARM id; names are sent to ARM as "
                               "ARM ids", pattern=COMPUTE_REFERENCE))
_INPUTS = {"type": "object", "maxProperties": MAX_IO, "propertyNames": {"pattern": IO_NAME},
           "additionalProperties": ref("BatchInput")}
_OUTPUTS = {"type": "object", "maxProperties": MAX_IO, "propertyNames": {"pattern": IO_NAME},
            "additionalProperties": ref("BatchOutput")}
_STRING_OR_NULL = nullable(string())

JOB_EXAMPLE = {
    "jobType": "Command", "experimentName": "proxy_examples", "displayName": "ad-hoc scoring",
    "command": "python score.py --day ${{inputs.day}}", "environmentId": "azureml:scoring-env:1",
    "computeId": "cpu-cluster", "inputs": {"day": {"jobInputType": "literal", "value": "2026-11-22"}},
    "tags": {"ticket": "OPS-42"},
}
INVOKE_EXAMPLE = {
    "inputs": {"input_data": {"type": "uri_folder", "uri": "azureml://datastores/workspaceblobstore/paths/in/"}},
    "outputs": {"score": {"type": "uri_folder", "uri": "azureml://datastores/workspaceblobstore/paths/out/"}},
    "experimentName": "proxy_examples",
}

V2_SCHEMAS: dict[str, dict] = {
    "JobRequest": {
        "type": "object",
        "description": "an AML v2 job's properties as ARM takes them (JobBase.properties), by the rules of a "
                       "schedule's job target; other ARM properties (command, environmentId, resources, ...) are "
                       "passed on as given and checked by AML. No string may hold a schedule placeholder.",
        "required": ["jobType"],
        "properties": {
            "jobType": string(enum=list(JOB_TYPES)),
            "experimentName": nullable(string("AML files the job under Default when none is given",
                                              pattern=AML_NAME)),
            "displayName": string(maxLength=1024),
            "description": string(maxLength=1024),
            "computeId": _COMPUTE_REF,
            "tags": {"type": "object", "additionalProperties": string(),
                     "propertyNames": {"not": {"pattern": f"^{RESERVED_TAG_PREFIX}"}},
                     "description": f"tags starting with {RESERVED_TAG_PREFIX} are the scheduler's own"},
            "settings": {"type": "object", "properties": {"default_compute": _COMPUTE_REF}},
            "jobs": {"type": "object", "description": "a pipeline's steps; a step's computeId as computeId above",
                     "additionalProperties": {"properties": {"computeId": _COMPUTE_REF}}},
            "inputs": {"description": "AML's JobInput map (jobInputType literal, uri_folder, ...), checked by AML"},
            "outputs": {"description": "AML's JobOutput map, checked by AML"},
        },
        "not": {"anyOf": [{"required": [key]} for key in ("status", "services", "isArchived")]},
        "example": JOB_EXAMPLE,
    },
    "Job": closed({
        "name": _STRING_OR_NULL, "jobType": _STRING_OR_NULL, "displayName": _STRING_OR_NULL,
        "experimentName": _STRING_OR_NULL, "status": nullable(string("AML's job status: " + ", ".join(JOB_STATUSES))),
        "computeId": nullable(string("the compute's ARM id")), "tags": ANY_OBJECT,
        "createdAt": _STRING_OR_NULL, "portalUrl": nullable(string("the job in AML studio")),
        "error": {**_AML_ERROR, "description": "GET jobs/{name} only: a Failed job's error from run history"},
        **_RAW,
    }, ("name", "jobType", "displayName", "experimentName", "status", "computeId", "tags", "createdAt",
        "portalUrl")),
    "JobPage": closed({"value": {"type": "array", "items": ref("Job")}, "continuationToken": _STRING_OR_NULL},
                      ("value", "continuationToken"),
                      description="one ARM page; with ?status= the app drops other jobs from it, so a page may be "
                                  "short, even empty, and still have a continuationToken"),
    "JobCancelAccepted": closed({"name": string(), "status": string(enum=["CancelRequested"])}, ("name", "status")),
    "BatchEndpoint": closed({
        "name": _STRING_OR_NULL, "description": _STRING_OR_NULL, "scoringUri": _STRING_OR_NULL,
        "defaultDeployment": _STRING_OR_NULL, "authMode": _STRING_OR_NULL, "provisioningState": _STRING_OR_NULL,
        **_RAW,
    }, ("name", "description", "scoringUri", "defaultDeployment", "authMode", "provisioningState")),
    "BatchEndpointList": closed({"value": {"type": "array", "items": ref("BatchEndpoint")}}, ("value",)),
    "BatchDeployment": closed({
        "name": _STRING_OR_NULL, "description": _STRING_OR_NULL,
        "model": nullable(string("the model's asset id (null for a pipeline component deployment)")),
        "compute": nullable(string("the compute's ARM id")),
        "instanceCount": nullable({"type": "integer"}), "miniBatchSize": nullable({"type": "integer"}),
        "provisioningState": _STRING_OR_NULL, "isDefault": {"type": "boolean"},
        **_RAW,
    }, ("name", "description", "model", "compute", "instanceCount", "miniBatchSize", "provisioningState",
        "isDefault")),
    "BatchDeploymentList": closed({"endpointName": string(), "defaultDeployment": _STRING_OR_NULL,
                                   "value": {"type": "array", "items": ref("BatchDeployment")}},
                                  ("endpointName", "defaultDeployment", "value")),
    "InvokeRequest": closed({
        "deployment": nullable(string("the endpoint's default deployment when absent", pattern=BATCH_NAME)),
        "experimentName": nullable(string("the endpoint's name when absent", pattern=AML_NAME)),
        "inputs": _INPUTS, "outputs": _OUTPUTS,
    }, description="what a schedule's batchEndpoint target takes besides the endpoint's name; no placeholders",
        example=INVOKE_EXAMPLE),
    "Invocation": closed({
        "jobName": string("the job the invocation started: GET jobs/{name}"), "status": string(),
        "portalUrl": nullable(string()),
        "repeatabilityRequestId": string("the caller's Repeatability-Request-ID, or the one the app made",
                                         pattern=UUID),
        **_RAW,
    }, ("jobName", "status", "portalUrl", "repeatabilityRequestId")),
}
