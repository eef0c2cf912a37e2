"""AML v2 batch endpoints: read them on ARM, invoke them at their scoring URI.

    GET  {arm}/{workspace}/batchEndpoints[/{name}]             properties.scoringUri
    GET  {arm}/{workspace}/batchEndpoints/{name}/deployments[/{deployment}]
    POST {scoringUri}    token for https://ml.azure.com, `azureml-model-deployment` when a
                         deployment is named, `repeatability_request-id`

The scoring URI is the one address ARM hands us that we post to. It is followed only
when it leads to the inference host of the configured workspace's region (or the
configured inference base): `Settings.scoring_uri_ok`, checked again by the transport's
host rule, so a token never goes to a host a response or a caller supplied.

The repeatability id is what makes an invocation safe to repeat: the service answers a
repeated id with the first invocation's job instead of starting another (the reason
azure-ai-ml sends it: azure-sdk-for-python#31166). The scheduler derives it from the
slot's run key, so every attempt of a slot sends the same id.
"""

from __future__ import annotations

from typing import Any

from shared.aml import names
from shared.aml.arm import ArmResources
from shared.aml.client import RunState, json_object
from shared.aml.errors import AmlPermanentError
from shared.aml.transport import AmlTransport
from shared.config import Settings

DEPLOYMENT_HEADER = "azureml-model-deployment"
REPEATABILITY_HEADER = "repeatability_request-id"
# Our input and output types -> the invocation's spelling (as azure-ai-ml sends it).
_IO_TYPES = {"uri_folder": "UriFolder", "uri_file": "UriFile", "literal": "Literal"}


class BatchClient:
    def __init__(self, transport: AmlTransport, settings: Settings):
        self._t = transport
        self._s = settings
        self._arm = ArmResources(transport, settings, "batchEndpoints", settings.v2_api_version)

    def _endpoint_path(self, name: str, *more: str) -> str:
        return self._arm.path(names.segment("batch endpoint name", name), *more)

    # -- ARM reads -------------------------------------------------------------------
    def list_endpoints(self) -> list[dict]:
        return self._arm.all(self._arm.path())

    def get_endpoint(self, name: str) -> dict:
        return self._arm.get(self._endpoint_path(name))

    def list_deployments(self, endpoint: str) -> list[dict]:
        return self._arm.all(self._endpoint_path(endpoint, "deployments"))

    def get_deployment(self, endpoint: str, deployment: str) -> dict:
        return self._arm.get(self._endpoint_path(endpoint, "deployments",
                                                 names.segment("deployment name", deployment)))

    def scoring_uri(self, endpoint: str, *, endpoint_body: dict | None = None) -> str:
        """The endpoint's scoring URI, if it leads where this app may post; else a refusal.

        `endpoint_body` is the endpoint as just read from ARM, to spare a second read."""
        body = endpoint_body if endpoint_body is not None else self.get_endpoint(endpoint)
        props = body.get("properties") or {}
        uri = props.get("scoringUri") if isinstance(props, dict) else None
        if not isinstance(uri, str) or not uri:
            raise AmlPermanentError(f"batch endpoint {endpoint} has no scoring URI yet", code="NoScoringUri")
        if not self._s.scoring_uri_ok(endpoint, uri):
            raise AmlPermanentError(f"batch endpoint {endpoint} gave a scoring URI outside this workspace's "
                                    "inference host; it is not followed", code="ScoringUriNotAllowed")
        return uri

    # -- invocation ------------------------------------------------------------------
    def invoke(self, endpoint: str, body: dict, *, deployment: str | None, repeatability_id: str,
               endpoint_body: dict | None = None) -> dict:
        """Start a batch job; the answer's `name` is the job to poll with the jobs GET."""
        uri = self.scoring_uri(endpoint, endpoint_body=endpoint_body)
        headers = {REPEATABILITY_HEADER: repeatability_id, "Content-Type": "application/json"}
        if deployment:
            headers[DEPLOYMENT_HEADER] = names.check("deployment name", deployment)
        # With a repeatability id a repeat is answered with the first job, so the transport
        # may send it again after any failure.
        response = self._t.request("POST", uri, scope=self._s.batch_token_scope, json=body, headers=headers,
                                   idempotent=True)
        return json_object(response)


def invocation_body(inputs: dict, outputs: dict, *, experiment_name: str | None, tags: dict[str, str]) -> dict:
    """The invocation body, in the camelCase azure-ai-ml sends (the service takes either case)."""
    props: dict[str, Any] = {
        "inputData": {name: _binding(entry, "jobInputType") for name, entry in inputs.items()},
        "outputData": {name: _binding(entry, "jobOutputType") for name, entry in outputs.items()},
        "tags": dict(tags),
    }
    if experiment_name:
        props["properties"] = {"experimentName": experiment_name}
    return {"properties": props}


def _binding(entry: dict, discriminator: str) -> dict:
    kind = entry["type"]
    binding: dict[str, Any] = {discriminator: _IO_TYPES[kind]}
    if kind == "literal":
        binding["value"] = str(entry["value"])
    else:
        binding["uri"] = entry["uri"]
    if entry.get("mode"):
        binding["mode"] = entry["mode"]
    return binding


def invoked_job(raw: dict) -> RunState:
    """The invocation's answer as the RunState of the job it started."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        # Something was started that we cannot track: reconcile rather than repeat.
        raise AmlPermanentError("AML accepted the invocation but named no job", uncertain=True)
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    status = props.get("status") if isinstance(props.get("status"), str) else None
    tags = props.get("tags") if isinstance(props.get("tags"), dict) else {}
    return RunState(run_id=name, status=status or "NotStarted", start_time=None, end_time=None, error_code=None,
                    error_message=None, tags=tags, raw=raw)
