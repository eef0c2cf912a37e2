"""Published pipelines and pipeline endpoints: registration, submits, listing.

Data plane (``W`` as in the run-history routes):

    POST /pipelines/v1.0/W/PipelineRuns/PipelineSubmit/{pipelineId}
    POST /pipelines/v1.0/W/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[/{version}][?pipelineVersion=V]
    GET  /pipelines/v1.0/W/pipelines                              (published pipelines; no public spec)
    GET  /pipelines/v1.0/W/pipelines/{pipelineId}                 (one published pipeline)
    GET  /pipelines/v1.0/W/PipelineEndpoints/{endpointId}         (one endpoint, with its versions)

An endpoint's version may be given in the path (Microsoft's v1 client sends it there
and in the query), in the query, or in both if they agree; versions that differ are a
400. Without a version the endpoint's default runs, its first registered version. A
version the endpoint does not have is a 404. Each version is its own published
pipeline with a stable id, which the run carries as ``PipelineId`` and in its
``azureml.pipelineid`` property; the admin run view names the version itself.

The pipelines service publishes no spec in the public spec repository; its
``PipelineRun`` entity follows a response captured from the real service (note
``Status.StatusCode`` is an integer there and the tag map is spelled ``tags``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from devtools.aml_emulator.errors import bad_request, not_found
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.runs import EXPERIMENT_NAME, OUTCOMES, RunsMixin
from devtools.aml_emulator.wire_formats import json_copy, pipelines_time, wire_string

log = logging.getLogger(__name__)

PIPELINES = r"/pipelines/v1\.0"

# Run-history status -> pipelines-service status code. The real service sends an
# integer; the order NotStarted, Running, Failed, Finished, Canceled is the order of
# the PipelineRunStatusCode enum in Microsoft's generated clients. Not confirmed on
# the wire: clients should read run status from run history, not from this field.
_PIPELINE_STATUS_CODE = {
    "NotStarted": 0,
    "Queued": 1,
    "Running": 1,
    "CancelRequested": 1,
    "Failed": 2,
    "Completed": 3,
    "Canceled": 4,
}


class PipelinesMixin(RunsMixin):
    def register_pipeline(
        self,
        id: str,  # noqa: A002 - mirrors the admin API
        kind: str = "pipeline",
        outcome: str = "Completed",
        duration_seconds: float | None = None,
        versions: list[str] | tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Publish a pipeline (``kind="pipeline"``) or a pipeline endpoint (``"endpoint"``).

        An endpoint's first version is its default.
        """
        if not isinstance(id, str) or not id or "/" in id:
            raise ValueError("pipeline id must be a non-empty string without '/'")
        if kind not in ("pipeline", "endpoint"):
            raise ValueError("kind must be 'pipeline' or 'endpoint'")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        duration = self.run_seconds if duration_seconds is None else float(duration_seconds)
        if duration < 0:
            raise ValueError("durationSeconds must not be negative")
        if kind == "endpoint":
            versions = [str(v) for v in (versions or ["1"])]
            if not versions or len(set(versions)) != len(versions):
                raise ValueError("versions must be a non-empty list of distinct strings")
        elif versions:
            raise ValueError("versions apply to endpoints only")
        entry = {
            "id": id,
            "kind": kind,
            "outcome": outcome,
            "durationSeconds": duration,
            "versions": list(versions) if kind == "endpoint" else None,
        }
        with self._lock:
            self._pipelines[id] = entry
        return dict(entry)

    def unregister_pipeline(self, id: str) -> bool:  # noqa: A002
        with self._lock:
            return self._pipelines.pop(id, None) is not None

    def pipelines(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for p in self._pipelines.values()]

    # -- submits ---------------------------------------------------------------------

    def _h_pipeline_submit(self, request: Request) -> Reply:
        pipeline_id = request.params["pipelineId"]
        with self._lock:
            pipeline = self._pipelines.get(pipeline_id)
        if pipeline is None or pipeline["kind"] != "pipeline":
            raise not_found(f"Published pipeline {pipeline_id} was not found.")
        return self._submit(request, pipeline, pipeline_id, None, None)

    def _h_endpoint_submit(self, request: Request) -> Reply:
        endpoint_id = request.params["endpointId"]
        requested = _requested_version(request)
        with self._lock:
            endpoint = self._pipelines.get(endpoint_id)
        if endpoint is None or endpoint["kind"] != "endpoint":
            raise not_found(f"Pipeline endpoint {endpoint_id} was not found.")
        if requested is None:
            version = endpoint["versions"][0]
        elif requested in endpoint["versions"]:
            version = requested
        else:
            raise not_found(f"Pipeline endpoint {endpoint_id} has no version {requested!r}.")
        # Each endpoint version is its own published pipeline; give it a stable id.
        pipeline_id = _version_pipeline_id(endpoint_id, version)
        return self._submit(request, endpoint, pipeline_id, endpoint_id, version)

    def _submit(
        self,
        request: Request,
        pipeline: dict[str, Any],
        pipeline_id: str,
        endpoint_id: str | None,
        version: str | None,
    ) -> Reply:
        submission = _parse_submission(request.json(required=True))
        now = time.time()
        properties = {
            "azureml.runsource": "azureml.PipelineRun",
            "runSource": submission["runSource"],
            "runType": "HTTP",
            "azureml.parameters": json.dumps(
                {k: wire_string(v) for k, v in submission["parameterAssignments"].items()}
            ),
            "azureml.pipelineid": pipeline_id,
        }
        if endpoint_id is not None:
            properties["azureml.pipelineEndpointId"] = endpoint_id
        with self._lock:
            run = self._new_run(
                str(uuid.uuid4()), submission.pop("experimentName"), request.claims, now,
                graphId=str(uuid.uuid4()),
                pipelineId=pipeline_id,
                pipelineEndpointId=endpoint_id,
                pipelineVersion=version,
                durationSeconds=pipeline["durationSeconds"],
                outcome=pipeline["outcome"],
                properties=properties,
                **submission,
            )
            entity = self._pipeline_run_entity(run, now)
        log.debug("aml run %s submitted to experiment %s", run["runId"], run["experimentName"])
        return Reply(200, entity)

    def _pipeline_run_entity(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """The pipelines service's ``PipelineRun`` entity of ``run`` at ``now``."""
        status, _start, end = self._state(run, now)
        created_by = run["createdBy"]
        return {
            "Description": run["description"],
            "Status": {
                "StatusCode": _PIPELINE_STATUS_CODE[status],
                "StatusDetail": status,
                "CreationTime": pipelines_time(run["submittedAt"]),
                "EndTime": pipelines_time(end),
            },
            "GraphId": run["graphId"],
            "IsSubmitted": True,
            "HasErrors": False,
            "HasWarnings": False,
            "UploadState": 1,
            "ParameterAssignments": {k: wire_string(v) for k, v in run["parameterAssignments"].items()},
            "DataPathAssignments": json_copy(run["dataPathAssignments"]),
            "DataSetDefinitionValueAssignments": {},
            "RunHistoryExperimentName": run["experimentName"],
            "PipelineId": run["pipelineId"],
            "PipelineEndpointId": run["pipelineEndpointId"],
            "RunSource": run["runSource"],
            "RunType": 0,
            "TotalRunSteps": 1,
            "ScheduleId": None,
            "RunUrl": self._studio_url(run["runId"], created_by.get("userTenantId")),
            "tags": dict(run["tags"]),
            "Properties": {},
            "CreatedBy": {
                "UserObjectId": created_by.get("userObjectId"),
                "UserTenantId": created_by.get("userTenantId"),
                "UserName": created_by.get("userName"),
            },
            "EntityStatus": 0,
            "Id": run["runId"],
            "Etag": f'"{run["etag"]}"',
            "CreatedDate": pipelines_time(run["submittedAt"]),
            "LastModifiedDate": pipelines_time(run["submittedAt"]),
        }

    # -- listing ---------------------------------------------------------------------

    def _h_pipelines_list(self, request: Request) -> Reply:
        with self._lock:
            published = [p for p in self._pipelines.values() if p["kind"] == "pipeline"]
        # Shape of the pipelines service's published-pipeline entity as seen in its answers;
        # no public spec covers this route.
        return Reply(200, [self._published_entity(p) for p in sorted(published, key=lambda x: x["id"])])


    def _h_pipeline_get(self, request: Request) -> Reply:
        with self._lock:
            entry = self._pipelines.get(request.params["pipelineId"])
        if entry is None or entry["kind"] != "pipeline":
            raise not_found(f"Published pipeline {request.params['pipelineId']} was not found.")
        return Reply(200, self._published_entity(entry))

    def _h_endpoint_get(self, request: Request) -> Reply:
        with self._lock:
            entry = self._pipelines.get(request.params["endpointId"])
        if entry is None or entry["kind"] != "endpoint":
            raise not_found(f"Pipeline endpoint {request.params['endpointId']} was not found.")
        # Shape of azureml-pipeline-core's PipelineEndpointEntity: versions as a list.
        return Reply(200, {
            "Id": entry["id"], "Name": f"endpoint-{entry['id'][:8]}", "Description": None, "EntityStatus": 0,
            "DefaultVersion": entry["versions"][0],
            "PipelineVersionList": [{"Version": v, "PipelineId": _version_pipeline_id(entry["id"], v)}
                                    for v in entry["versions"]],
        })

    def _published_entity(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "Name": f"pipeline-{p['id'][:8]}",
            "Description": None,
            "Version": None,
            "GraphId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aml-emulator/graph/{p['id']}")),
            "Url": f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/PipelineSubmit/{p['id']}",
            "EntityStatus": 0,
            "Id": p["id"],
        }


def _version_pipeline_id(endpoint_id: str, version: str) -> str:
    """The stable id of an endpoint version's published pipeline."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aml-emulator/{endpoint_id}/{version}"))


def _requested_version(request: Request) -> str | None:
    """The endpoint version asked for in the path or the query; None for the default."""
    in_path = request.params.get("pathVersion")
    in_query = request.arg("pipelineVersion") or None
    if in_path is not None and in_query is not None and in_path != in_query:
        raise bad_request(
            f"The pipeline version in the path ({in_path!r}) differs from pipelineVersion ({in_query!r})."
        )
    return in_path or in_query


def _parse_submission(body: Any) -> dict[str, Any]:
    """The run fields of a submit body (``PipelineSubmissionRequest``), or a 400."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    # The service binds JSON case-insensitively.
    fields = {str(k).lower(): v for k, v in body.items()}
    experiment = fields.get("experimentname")
    if not isinstance(experiment, str) or not experiment:
        raise bad_request("ExperimentName is required.")
    if not EXPERIMENT_NAME.match(experiment):
        raise bad_request(
            f"ExperimentName {experiment!r} is invalid: use 1-255 letters, digits, '_' or '-', "
            "starting with a letter or digit."
        )
    params = fields.get("parameterassignments") or {}
    if not isinstance(params, dict) or any(isinstance(v, (dict, list)) for v in params.values()):
        raise bad_request("ParameterAssignments must map names to scalar values.")
    data_paths = fields.get("datapathassignments") or {}
    if not isinstance(data_paths, dict) or any(not isinstance(v, dict) for v in data_paths.values()):
        raise bad_request("DataPathAssignments must map names to {DataStoreName, RelativePath} objects.")
    description = fields.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request("Description must be a string.")
    tags = fields.get("tags") or {}
    if not isinstance(tags, dict) or any(isinstance(v, (dict, list)) for v in tags.values()):
        raise bad_request("Tags must map names to string values.")
    run_source = fields.get("runsource")
    if run_source is not None and not isinstance(run_source, str):
        raise bad_request("RunSource must be a string.")
    return {
        "experimentName": experiment,
        "parameterAssignments": params,
        "dataPathAssignments": data_paths,
        "description": description,
        "tags": {str(k): ("" if v is None else wire_string(v)) for k, v in tags.items()},
        "runSource": run_source or "Unavailable",
    }


_RUNS = rf"{PIPELINES}/{WORKSPACE}/PipelineRuns"

ROUTES = [
    Route("POST", rf"{_RUNS}/PipelineSubmit/(?P<pipelineId>{SEGMENT})", "data", PipelinesMixin._h_pipeline_submit),
    Route("POST", rf"{_RUNS}/PipelineEndpointSubmit/Id/(?P<endpointId>{SEGMENT})(?:/(?P<pathVersion>{SEGMENT}))?",
          "data", PipelinesMixin._h_endpoint_submit),
    Route("GET", rf"{PIPELINES}/{WORKSPACE}/pipelines", "data", PipelinesMixin._h_pipelines_list),
    Route("GET", rf"{PIPELINES}/{WORKSPACE}/pipelines/(?P<pipelineId>{SEGMENT})", "data",
          PipelinesMixin._h_pipeline_get),
    Route("GET", rf"{PIPELINES}/{WORKSPACE}/PipelineEndpoints/(?P<endpointId>{SEGMENT})", "data",
          PipelinesMixin._h_endpoint_get),
]
