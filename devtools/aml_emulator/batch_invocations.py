"""Batch endpoint invocation: ``POST {scoringUri}`` creates a pipeline job.

    POST {inference_base}/batch/{ep}/jobs
         Authorization: Bearer <token for https://ml.azure.com>   (no other audience)
         azureml-model-deployment: <deployment>                    (optional; else the default)
         repeatability_request-id: <id>                            (optional)
         {"properties": {"InputData": {...}, "OutputData": {...}, "properties": {"experimentName"}, "tags": {}}}

The body is taken in the PascalCase of Microsoft's REST docs and the camelCase that
azure-ai-ml sends (``inputData``, ``jobInputType``, ``uri``, ``value``), key by key, as
the service binds JSON case-insensitively. The answer (200) is a ``BatchJobResource``
(azure-ai-ml's 2020-09-01-dataplanepreview model, which it still parses: ``id``,
``name``, ``type``, ``properties.status``); ``name`` is the name of the job created,
which the ARM jobs GET polls. The job is a Pipeline job in experiment
``properties.experimentName``, by default the endpoint's name, on the deployment's
compute; it ends as the endpoint's seed or its experiment's job outcome says.

A wrong-audience token gets the inference gateway's 401 (plain text, see server).
An unknown endpoint or deployment is a 404 in AML's error shape (azure-ai-ml checks
the deployment itself before it posts, so its users never see that answer).

``repeatability_request-id``: azure-ai-ml sends a fresh id per ``invoke()`` and the
same id on its own connection retries, because an invoke that errored once had started
dozens of jobs (azure-sdk-for-python#31166). The service's answer to a repeat is not
documented; here a repeat of an id seen within ``repeatability_window_seconds``
(default 24 h) on the same endpoint creates nothing and answers the first answer again,
status and body, as the OASIS Repeatable Requests specification describes. Every
invocation is recorded on its job in the admin run view (``invocation``: endpoint,
deployment, repeatabilityRequestId, inputData, outputData, repeats).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from devtools.aml_emulator.arm import system_data, workspace_resource_id
from devtools.aml_emulator.batch_endpoints import BatchEndpointsMixin
from devtools.aml_emulator.errors import ApiError, bad_request
from devtools.aml_emulator.jobs import JobsMixin
from devtools.aml_emulator.routing import SEGMENT, Reply, Request, Route
from devtools.aml_emulator.runs import EXPERIMENT_NAME
from devtools.aml_emulator.wire_formats import json_copy

DEPLOYMENT_HEADER = "azureml-model-deployment"
REPEATABILITY_HEADER = "repeatability_request-id"
# Batch input and output types as the invocation spells them -> the JobInput/JobOutput
# discriminator of the pipeline job they become.
_INPUT_TYPES = {"urifile": "uri_file", "urifolder": "uri_folder", "literal": "literal", "mltable": "mltable",
                "custommodel": "custom_model", "mlflowmodel": "mlflow_model", "tritonmodel": "triton_model"}
_OUTPUT_TYPES = {k: v for k, v in _INPUT_TYPES.items() if k != "literal"}


class BatchInvocationsMixin(JobsMixin, BatchEndpointsMixin):
    def _h_invoke(self, request: Request) -> Reply:
        endpoint_name = request.params["ep"]
        request_id = request.headers.get(REPEATABILITY_HEADER) or None
        invocation = _parse_invocation(request.json(required=True))
        now = time.time()
        with self._lock:
            endpoint = self._batch_endpoint_or_404(endpoint_name)
            deployment = request.headers.get(DEPLOYMENT_HEADER) or endpoint["default"]
            if deployment is None or deployment not in endpoint["deployments"]:
                raise ApiError(404, "UserError", f"Deployment {deployment or '(default)'} was not found in batch "
                                                 f"endpoint {endpoint_name}.", inner_code="NotFound")
            if request_id is not None:
                seen = self._invocations.get((endpoint_name, request_id))
                if seen is not None and now - seen["at"] < self.repeatability_window_seconds:
                    seen["run"]["invocation"]["repeats"] += 1
                    return Reply(seen["status"], json_copy(seen["body"]))
            name = invocation["name"] or f"batchjob-{uuid.uuid4()}"
            if name in self._runs:
                raise ApiError(409, "UserError", f"A job with this name ({name}) already exists.",
                               inner_code="Conflict")
            experiment = invocation["experimentName"] or endpoint_name
            props = {
                "jobType": "Pipeline", "experimentName": experiment, "displayName": name,
                "description": None, "tags": invocation["tags"], "properties": {},
                "computeId": self._compute_id(endpoint["compute"]),
                "inputs": invocation["jobInputs"], "outputs": invocation["jobOutputs"],
                "settings": {}, "jobs": {},
            }
            record = {"endpoint": endpoint_name, "deployment": deployment, "repeatabilityRequestId": request_id,
                      "inputData": invocation["inputData"], "outputData": invocation["outputData"], "repeats": 0}
            run = self._create_job(name, props, request.claims, now, outcome=endpoint["outcome"],
                                   error=endpoint["error"], duration_seconds=endpoint["durationSeconds"],
                                   invocation=record)
            body = self._batch_job_body(run, endpoint_name, now)
            if request_id is not None:
                self._invocations[(endpoint_name, request_id)] = {"at": now, "status": 200, "body": body, "run": run}
        return Reply(200, json_copy(body))

    def _batch_job_body(self, run: dict[str, Any], endpoint_name: str, now: float) -> dict[str, Any]:
        """The ``BatchJobResource`` an invocation answers with."""
        status, _start, _end = self._state(run, now)
        invocation = run["invocation"]
        return {
            "id": workspace_resource_id(self.workspace_path, "batchEndpoints", endpoint_name, "jobs", run["runId"]),
            "name": run["runId"],
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
            "properties": {
                "description": None,
                "tags": json_copy(run["tags"]),
                "properties": {},
                "inputData": json_copy(invocation["inputData"]),
                "outputData": json_copy(invocation["outputData"]),
                "status": status,
                "provisioningState": "Succeeded",
                "interactionEndpoints": {"Studio": {"endpoint": self._studio_url(
                    run["runId"], run["createdBy"].get("userTenantId"))}},
            },
            "systemData": system_data(run["submittedAt"], run["createdBy"].get("userObjectId")),
        }


def _field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` matched case-insensitively, as the service binds JSON."""
    wanted = name.lower()
    return next((value for key, value in obj.items() if isinstance(key, str) and key.lower() == wanted), None)


def _parse_invocation(body: Any) -> dict[str, Any]:
    """Inputs, outputs, job name and experiment of an invocation body, or a 400."""
    props = _field(body, "properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise bad_request("The request body must be {\"properties\": {\"InputData\": {...}, ...}}.")
    inputs, job_inputs = _bindings(_field(props, "inputData"), "InputData", "jobInputType", _INPUT_TYPES)
    outputs, job_outputs = _bindings(_field(props, "outputData"), "OutputData", "jobOutputType", _OUTPUT_TYPES)
    inner = _field(props, "properties") or {}
    if not isinstance(inner, dict):
        raise bad_request("properties.properties must be an object.")
    experiment = _field(inner, "experimentName")
    if experiment is not None and (not isinstance(experiment, str) or not EXPERIMENT_NAME.match(experiment)):
        raise bad_request(f"experimentName {experiment!r} is invalid.")
    tags = _field(props, "tags") or {}
    if not isinstance(tags, dict) or any(not isinstance(v, str) for v in tags.values()):
        raise bad_request("tags must map names to strings.")
    name = _field(props, "name")
    if name is not None and (not isinstance(name, str) or not name):
        raise bad_request("name must be a job name.")
    return {"inputData": inputs, "jobInputs": job_inputs, "outputData": outputs, "jobOutputs": job_outputs,
            "experimentName": experiment, "name": name, "tags": dict(tags)}


def _bindings(raw: Any, label: str, discriminator: str,
              types: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the bindings in camelCase as the answer echoes them, the same as pipeline job inputs/outputs)."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise bad_request(f"{label} must map names to {discriminator} objects.")
    echoed: dict[str, Any] = {}
    converted: dict[str, Any] = {}
    for key, binding in raw.items():
        if not isinstance(binding, dict):
            raise bad_request(f"{label}.{key} must be an object.")
        kind = _field(binding, discriminator)
        if not isinstance(kind, str) or kind.replace("_", "").lower() not in types:
            raise bad_request(f"{label}.{key}.{discriminator} must be one of "
                              f"{sorted({k for k in types})} (any case).")
        job_type = types[kind.replace("_", "").lower()]
        uri, value, mode = _field(binding, "uri"), _field(binding, "value"), _field(binding, "mode")
        if job_type == "literal" and value is None:
            raise bad_request(f"{label}.{key} is a Literal without a Value.")
        if label == "InputData" and job_type != "literal" and not uri:
            raise bad_request(f"{label}.{key} needs a Uri.")
        echoed[key] = {k: v for k, v in {discriminator: kind, "uri": uri, "value": value, "mode": mode}.items()
                       if v is not None}
        converted[key] = {k: v for k, v in {discriminator: job_type, "uri": uri, "value": value, "mode": mode}.items()
                          if v is not None}
    return echoed, converted


ROUTES = [
    Route("POST", rf"/batch/(?P<ep>{SEGMENT})/jobs", "inference", BatchInvocationsMixin._h_invoke),
]
