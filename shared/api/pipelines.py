"""HTTP handlers to submit published pipelines and pipeline endpoints now, and list pipelines.

The request body is camelCase like the rest of this API, or AML's own PascalCase
(`ExperimentName`, `ParameterAssignments`, ...) as pasted from AML's samples; data path
assignments keep the `{"DataStoreName", "RelativePath"}` objects of the schedule resource. Values are sent as
given: placeholders are a schedule feature and are not filled here.
"""

from __future__ import annotations

import math
import re
from typing import Any

import azure.functions as func

from shared.aml import names
from shared.aml.client import AmlClient, SubmittedRun
from shared.aml.runs import RunsClient
from shared.api.http import ApiError, bad_request, json_response, read_json, renamed_fields
from shared.api.proxy import object_body, reject_passwords, reject_unknown, route_value, wants_raw, with_raw

# Published in the OpenAPI document as they are (see shared.api.openapi_schemas).
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
DATASTORE_NAME = r"^[A-Za-z0-9_]{1,255}$"
# No control characters (nor line separators): the path is logged and shown as given.
RELATIVE_PATH = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,1024}$"
_PARAM_NAME = re.compile(PARAM_NAME)
_DATASTORE_NAME = re.compile(DATASTORE_NAME)
_RELATIVE_PATH = re.compile(RELATIVE_PATH)
MAX_PARAMETERS = 100
MAX_VALUE_CHARS = 4096
_SUBMIT_FIELDS = {"experimentName", "parameterAssignments", "dataPathAssignments", "description", "tags"}
# AML's PipelineSubmit body spells these in PascalCase; RunSource is what AML's own
# clients add ("API" from REST, "SDK" from the SDK) and is not ours to choose.
PASCAL_CASE = {"ExperimentName": "experimentName", "ParameterAssignments": "parameterAssignments",
                "DataPathAssignments": "dataPathAssignments", "Description": "description", "Tags": "tags"}
_IGNORED_AML_FIELDS = {"RunSource"}


class PipelineHandlers:
    def __init__(self, aml: AmlClient, runs: RunsClient):
        self._aml = aml
        self._runs = runs

    def submit(self, req: func.HttpRequest) -> func.HttpResponse:
        pipeline_id = route_value(req, "pipelineId", "pipeline id")
        raw = wants_raw(req)
        options = parse_submit(read_json(req), allow_version=False)
        submitted = self._aml.submit_pipeline(pipeline_id, **options)
        return self._submitted(submitted, options["experiment_name"], {"pipelineId": pipeline_id}, raw)

    def submit_endpoint(self, req: func.HttpRequest) -> func.HttpResponse:
        endpoint_id = route_value(req, "id", "pipeline endpoint id")
        raw = wants_raw(req)
        options = parse_submit(read_json(req), allow_version=True)
        submitted = self._aml.submit_pipeline_endpoint(endpoint_id, **options)
        extra = {"pipelineEndpointId": endpoint_id, "pipelineVersion": options.get("pipeline_version")}
        return self._submitted(submitted, options["experiment_name"], extra, raw)

    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        raw = wants_raw(req)
        items = self._runs.list_published_pipelines()
        return json_response({"value": [with_raw(pipeline_view(p), p, raw) for p in items]})

    def _submitted(self, submitted: SubmittedRun, experiment: str, extra: dict, raw: bool) -> func.HttpResponse:
        view = {"runId": submitted.run_id, "experimentName": experiment, "status": submitted.status,
                "portalUrl": self._aml.portal_url(submitted.run_id), **extra}
        return json_response(with_raw(view, submitted.raw, raw), 201,
                             headers={"Location": f"/api/experiments/{experiment}/runs/{submitted.run_id}"})


def parse_submit(body: Any, *, allow_version: bool) -> dict:
    reject_passwords(body)
    body = object_body(body)
    written = _camel_case(body)
    try:
        return _parse_submit(written.body, allow_version=allow_version)
    except ApiError as exc:
        raise written.relabel(exc) from None


class _Spelling:
    """The body in camelCase, remembering which fields the caller spelt in AML's PascalCase."""

    def __init__(self, body: dict, pascal: dict[str, str]):
        self.body = body
        self._pascal = pascal

    def relabel(self, error: ApiError) -> ApiError:
        def as_written(field: str) -> str:
            head, dot, rest = field.partition(".")
            return self._pascal.get(head, head) + dot + rest

        return renamed_fields(error, as_written)


def _camel_case(body: dict) -> _Spelling:
    converted: dict[str, Any] = {}
    pascal: dict[str, str] = {}
    for key, value in body.items():
        if key in _IGNORED_AML_FIELDS:
            if not isinstance(value, str):
                raise bad_request(key, "must be a string")
            continue
        camel = PASCAL_CASE.get(key, key)
        if camel in converted:
            raise bad_request(key, f"given twice, as {camel} and {key}; keep one spelling")
        if camel != key:
            pascal[camel] = key
        converted[camel] = value
    return _Spelling(converted, pascal)


def _parse_submit(body: dict, *, allow_version: bool) -> dict:
    reject_unknown(body, _SUBMIT_FIELDS | ({"pipelineVersion"} if allow_version else set()))
    experiment = body.get("experimentName")
    if not names.is_valid("experiment name", experiment):
        raise bad_request("experimentName", "is required: 1-255 letters, digits, '-' or '_', starting with a "
                                            "letter or digit")
    options: dict[str, Any] = {
        "experiment_name": experiment,
        "parameter_assignments": _parameters(body.get("parameterAssignments", {})),
        "data_path_assignments": _data_paths(body.get("dataPathAssignments", {})),
    }
    if "description" in body:
        if not isinstance(body["description"], str) or len(body["description"]) > 5000:
            raise bad_request("description", "must be a string of at most 5000 characters")
        options["description"] = body["description"]
    if "tags" in body:
        options["tags"] = _string_map("tags", body["tags"], 50, 100, 1000)
    if allow_version and body.get("pipelineVersion") is not None:
        if not names.is_valid("pipeline version", body["pipelineVersion"]):
            raise bad_request("pipelineVersion", "must be 1-64 letters, digits, '.', '-' or '_'")
        options["pipeline_version"] = body["pipelineVersion"]
    return options


def _parameters(value: Any) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_PARAMETERS:
        raise bad_request("parameterAssignments", f"must be an object of at most {MAX_PARAMETERS} values")
    for key, item in value.items():
        field = f"parameterAssignments.{key}"
        if not _PARAM_NAME.fullmatch(key):
            raise bad_request(field, "parameter names are letters, digits, '_', '.' or '-'")
        if isinstance(item, bool) or isinstance(item, (int, float)):
            if isinstance(item, float) and not math.isfinite(item):  # NaN and Infinity are not JSON
                raise bad_request(field, "must be a finite number")
            continue
        if not isinstance(item, str) or len(item) > MAX_VALUE_CHARS:
            raise bad_request(field, f"must be a string (at most {MAX_VALUE_CHARS} characters), number or boolean")
    return dict(value)


def _data_paths(value: Any) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_PARAMETERS:
        raise bad_request("dataPathAssignments", f"must be an object of at most {MAX_PARAMETERS} entries")
    result = {}
    for key, item in value.items():
        field = f"dataPathAssignments.{key}"
        if not _PARAM_NAME.fullmatch(key):
            raise bad_request(field, "names are letters, digits, '_', '.' or '-'")
        if not isinstance(item, dict) or set(item) != {"DataStoreName", "RelativePath"}:
            raise bad_request(field, "must be {\"DataStoreName\": ..., \"RelativePath\": ...}")
        store, path = item["DataStoreName"], item["RelativePath"]
        if not isinstance(store, str) or not _DATASTORE_NAME.fullmatch(store):
            raise bad_request(f"{field}.DataStoreName", "must be a datastore name (letters, digits, '_')")
        if not isinstance(path, str) or not _RELATIVE_PATH.fullmatch(path):
            raise bad_request(f"{field}.RelativePath", "must be a path of 1-1024 characters without control "
                                                       "characters")
        result[key] = {"DataStoreName": store, "RelativePath": path}
    return result


def _string_map(field: str, value: Any, max_items: int, max_key: int, max_value: int) -> dict:
    if not isinstance(value, dict) or len(value) > max_items:
        raise bad_request(field, f"must be an object of at most {max_items} string values")
    for key, item in value.items():
        if not 0 < len(key) <= max_key or not isinstance(item, str) or len(item) > max_value:
            raise bad_request(f"{field}.{key[:40]}", f"keys are 1-{max_key} characters, values strings of at most "
                                                      f"{max_value}")
    return dict(value)


def pipeline_view(raw: dict) -> dict:
    status = raw.get("Status")
    if isinstance(status, dict):
        status = status.get("StatusDetail") or status.get("StatusCode")
    return {
        "id": raw.get("Id"),
        "name": raw.get("Name"),
        "description": raw.get("Description"),
        "version": raw.get("Version"),
        "status": status if status is not None else raw.get("EntityStatus"),
        "endpoint": raw.get("Url"),
        "createdAt": raw.get("CreatedDate"),
    }
