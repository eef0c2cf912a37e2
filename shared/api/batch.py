"""HTTP handlers for AML v2 batch endpoints: list, read, their deployments, invoke.

Reads go to ARM. An invocation is posted to the endpoint's scoring URI, and only when
that URI leads to the workspace's inference host (`BatchClient.scoring_uri`, checked
again by the transport): a token never goes to a host ARM's answer or a caller names.

The body takes what a schedule's `batchEndpoint` target takes (checked by the same
rules, without placeholders). Every invocation carries a repeatability id: the caller's
`Repeatability-Request-ID` (a UUID), or one made here; AML answers a repeat of an id
with the first invocation's job, so a caller who lost an answer can send the same
request again without starting a second job.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import azure.functions as func

from shared.aml import names
from shared.aml.batch import invocation_body, invoked_job
from shared.aml.client import AmlClient
from shared.aml.errors import AmlNotFoundError
from shared.api.http import ApiError, bad_request, json_response, read_json
from shared.api.proxy import object_body, reject_placeholders, route_value, target_rules, wants_raw, with_raw
from shared.config import Settings
from shared.targets import parse_target

REPEATABILITY_HEADER = "Repeatability-Request-ID"
UUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID)
INVOKE_FIELDS = ("deployment", "inputs", "outputs", "experimentName")


class BatchHandlers:
    def __init__(self, aml: AmlClient, settings: Settings):
        self._aml = aml
        self._settings = settings

    # -- reads -----------------------------------------------------------------------
    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        raw = wants_raw(req)
        endpoints = self._aml.batch.list_endpoints()
        return json_response({"value": [with_raw(endpoint_view(e), e, raw) for e in endpoints]})

    def get(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "batch endpoint name")
        raw = wants_raw(req)
        endpoint = self._aml.batch.get_endpoint(name)
        return json_response(with_raw(endpoint_view(endpoint), endpoint, raw))

    def deployments(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "batch endpoint name")
        raw = wants_raw(req)
        batch = self._aml.batch
        default = endpoint_view(batch.get_endpoint(name))["defaultDeployment"]
        deployments = batch.list_deployments(name)
        return json_response({"endpointName": name, "defaultDeployment": default,
                              "value": [with_raw(deployment_view(d, default), d, raw) for d in deployments]})

    # -- invocation ------------------------------------------------------------------
    def invoke(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "batch endpoint name")
        raw = wants_raw(req)
        request_id = repeatability_id(req)
        body = object_body(read_json(req)) if (req.get_body() or b"").strip() else {}
        target = parse_invocation(name, body)
        batch = self._aml.batch
        endpoint = batch.get_endpoint(name)
        if target.deployment:
            # Looked up first, as azure-ai-ml does: the answer names what is missing.
            try:
                batch.get_deployment(name, target.deployment)
            except AmlNotFoundError as exc:
                raise ApiError(404, "NotFound", f"batch endpoint {name} has no deployment {target.deployment}",
                               details=[{"field": "deployment", "message": exc.message, "amlStatus": exc.status,
                                         "amlCode": exc.code}]) from None
        elif not endpoint_view(endpoint)["defaultDeployment"]:
            raise bad_request("deployment", f"batch endpoint {name} has no default deployment; name one")
        request = invocation_body(target.inputs, target.outputs, experiment_name=target.experiment_name, tags={})
        answer = batch.invoke(name, request, deployment=target.deployment, repeatability_id=request_id,
                              endpoint_body=endpoint)
        job = invoked_job(answer)
        usable = names.is_valid("job name", job.run_id)
        view = {"jobName": job.run_id, "status": job.status,
                "portalUrl": self._aml.portal_url(job.run_id) if usable else None,
                "repeatabilityRequestId": request_id}
        headers = {"Location": f"/api/jobs/{job.run_id}"} if usable else None
        return json_response(with_raw(view, answer, raw), 201, headers=headers)


def repeatability_id(req: func.HttpRequest) -> str:
    """The caller's Repeatability-Request-ID if it is a UUID; a new one if none was sent."""
    given = req.headers.get(REPEATABILITY_HEADER)
    if given is None:
        return str(uuid.uuid4())
    if not _UUID.fullmatch(given):
        raise bad_request(REPEATABILITY_HEADER, "must be a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301, or "
                                                "left out for the app to make one")
    return given


def parse_invocation(endpoint: str, body: dict):
    """The invocation as a schedule's batchEndpoint target takes it, without placeholders."""
    unknown = sorted(key for key in body if key not in INVOKE_FIELDS)
    if unknown:
        raise bad_request(unknown[0], "unknown field; allowed: " + ", ".join(sorted(INVOKE_FIELDS)))
    reject_placeholders(body)
    with target_rules("target"):
        return parse_target({"kind": "batchEndpoint", "endpointName": endpoint, **body})


# -- response mapping -----------------------------------------------------------------

def endpoint_view(raw: dict) -> dict:
    props = _object(raw.get("properties"))
    return {
        "name": _text(raw.get("name")),
        "description": _text(props.get("description")),
        "scoringUri": _text(props.get("scoringUri")),
        "defaultDeployment": _text(_object(props.get("defaults")).get("deploymentName")) or None,
        "authMode": _text(props.get("authMode")),
        "provisioningState": _text(props.get("provisioningState")),
    }


def deployment_view(raw: dict, default: str | None) -> dict:
    props = _object(raw.get("properties"))
    model = props.get("model")
    name = _text(raw.get("name"))
    return {
        "name": name,
        "description": _text(props.get("description")),
        # A model deployment names its model by asset id; a pipeline component deployment has none.
        "model": _text(_object(model).get("assetId")) if isinstance(model, dict) else _text(model),
        "compute": _text(props.get("compute")),
        "instanceCount": _int(_object(props.get("resources")).get("instanceCount")),
        "miniBatchSize": _int(props.get("miniBatchSize")),
        "provisioningState": _text(props.get("provisioningState")),
        "isDefault": name is not None and name == default,
    }


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
