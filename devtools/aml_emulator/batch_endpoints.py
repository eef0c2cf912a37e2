"""AML v2 batch endpoints and their deployments on the ARM plane (read-only), and their seeds.

ARM plane (``?api-version=`` required; only the ARM audience is accepted):

    GET /W/batchEndpoints[?$skip=]                          paged with nextLink (arm_page_size)
    GET /W/batchEndpoints/{ep}
    GET /W/batchEndpoints/{ep}/deployments[?$skip=]
    GET /W/batchEndpoints/{ep}/deployments/{deployment}

Shapes follow ``BatchEndpoint`` and ``BatchDeployment`` in the 2025-12-01 spec
(examples/Workspace/BatchEndpoint/get.json, Workspace/BatchDeployment/get.json):
``properties.scoringUri``, ``properties.defaults.deploymentName``, ``authMode``
(batch endpoints take Microsoft Entra tokens only: "AADToken") and ``provisioningState``.

The real scoring URI is ``https://{ep}.{region}.inference.ml.azure.com/jobs``; here it
is ``{inference_base}/batch/{ep}/jobs``, on the emulator itself unless the
``inference_base_url`` option names another base. Endpoints are seeded with
``seed_batch_endpoint`` (or the admin API, or ``--batch-endpoint``), not created over ARM.
azure-ai-ml 1.35 reads them with api-version 2023-10-01.
"""

from __future__ import annotations

import time
from typing import Any

from devtools.aml_emulator.arm import api_version, page, system_data, workspace_resource_id
from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.runs import OUTCOMES
from devtools.aml_emulator.wire_formats import json_copy

ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/batchEndpoints"


class BatchEndpointsMixin(EmulatorBase):
    def seed_batch_endpoint(
        self,
        name: str,
        deployments: list[str] | tuple[str, ...] = ("blue",),
        default: str | None = None,
        *,
        outcome: str = "Completed",
        error: dict[str, str] | None = None,
        duration_seconds: float | None = None,
        compute: str = "cpu-cluster",
        description: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a batch endpoint with ``deployments``; returns its ARM body.

        ``default`` is the deployment used when an invocation names none (the first
        deployment if not given; None is allowed only with no deployments). Jobs its
        invocations create end with ``outcome`` (and ``error`` when Failed) after
        ``duration_seconds`` (default: ``run_seconds``), unless a job outcome set for
        their experiment says otherwise. ``compute`` is the compute the deployments
        name; it need not exist.
        """
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError("endpoint name must be a non-empty string without '/'")
        deployments = list(deployments)
        if any(not isinstance(d, str) or not d or "/" in d for d in deployments) or \
                len(set(deployments)) != len(deployments):
            raise ValueError("deployments must be distinct non-empty names without '/'")
        if default is None and deployments:
            default = deployments[0]
        if default is not None and default not in deployments:
            raise ValueError(f"default deployment {default!r} is not one of the deployments")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        if error is not None and (not isinstance(error, dict) or set(error) - {"code", "message"}):
            raise ValueError("error must be an object with code and message")
        if duration_seconds is not None and (isinstance(duration_seconds, bool)
                                             or not isinstance(duration_seconds, (int, float)) or duration_seconds < 0):
            raise ValueError("durationSeconds must be a non-negative number")
        if not isinstance(compute, str) or not compute:
            raise ValueError("compute must be a compute name")
        endpoint = {
            "name": name, "deployments": deployments, "default": default, "outcome": outcome,
            "error": dict(error) if error else None,
            "durationSeconds": None if duration_seconds is None else float(duration_seconds),
            "compute": compute, "description": description, "createdAt": time.time(),
        }
        with self._lock:
            self._batch_endpoints[name] = endpoint
            return self._batch_endpoint_body(endpoint)

    def remove_batch_endpoint(self, name: str) -> bool:
        with self._lock:
            return self._batch_endpoints.pop(name, None) is not None

    def batch_endpoints(self) -> list[dict[str, Any]]:
        """Every batch endpoint as ARM would answer a GET, with its seed settings under ``emulator``."""
        with self._lock:
            return [
                self._batch_endpoint_body(e) | {"emulator": {
                    "deployments": list(e["deployments"]), "defaultDeployment": e["default"], "outcome": e["outcome"],
                    "error": json_copy(e["error"]), "durationSeconds": e["durationSeconds"], "compute": e["compute"]}}
                for e in sorted(self._batch_endpoints.values(), key=lambda e: e["name"])
            ]

    def scoring_uri(self, endpoint_name: str) -> str:
        return f"{self.inference_base}/batch/{endpoint_name}/jobs"

    # -- shapes ----------------------------------------------------------------------

    def _batch_endpoint_body(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": workspace_resource_id(self.workspace_path, "batchEndpoints", endpoint["name"]),
            "name": endpoint["name"],
            "type": ENDPOINT_TYPE,
            "location": self.location,
            "tags": {},
            "kind": None,
            "identity": {"type": "SystemAssigned", "principalId": None, "tenantId": None},
            "properties": {
                "description": endpoint["description"],
                "properties": {},
                "authMode": "AADToken",
                "scoringUri": self.scoring_uri(endpoint["name"]),
                "swaggerUri": None,
                "defaults": {"deploymentName": endpoint["default"]},
                "provisioningState": "Succeeded",
            },
            "systemData": system_data(endpoint["createdAt"], None),
        }

    def _batch_deployment_body(self, endpoint: dict[str, Any], deployment: str) -> dict[str, Any]:
        return {
            "id": workspace_resource_id(self.workspace_path, "batchEndpoints", endpoint["name"],
                                        "deployments", deployment),
            "name": deployment,
            "type": f"{ENDPOINT_TYPE}/deployments",
            "location": self.location,
            "tags": {},
            "kind": None,
            "properties": {
                "description": None,
                "properties": {},
                "compute": self._compute_id(endpoint["compute"]),
                "errorThreshold": -1,
                "retrySettings": {"maxRetries": 3, "timeout": "PT30S"},
                "miniBatchSize": 10,
                "loggingLevel": "Info",
                "maxConcurrencyPerInstance": 1,
                "outputAction": "AppendRow",
                "outputFileName": "predictions.csv",
                "resources": {"instanceCount": 1},
                "provisioningState": "Succeeded",
            },
            "systemData": system_data(endpoint["createdAt"], None),
        }

    def _compute_id(self, compute: str) -> str:
        return workspace_resource_id(self.workspace_path, "computes", compute)

    def _batch_endpoint_or_404(self, name: str) -> dict[str, Any]:
        endpoint = self._batch_endpoints.get(name)
        if endpoint is None:
            raise ApiError(404, "UserError", f"Batch endpoint {name} was not found in workspace {self.workspace}.",
                           inner_code="NotFound")
        return endpoint

    # -- routes ----------------------------------------------------------------------

    def _h_batch_endpoints_list(self, request: Request) -> Reply:
        with self._lock:
            bodies = [self._batch_endpoint_body(e)
                      for e in sorted(self._batch_endpoints.values(), key=lambda e: e["name"])]
        return Reply(200, page(self.base_url, request, bodies, self.arm_page_size))

    def _h_batch_endpoint_get(self, request: Request) -> Reply:
        api_version(request)
        with self._lock:
            return Reply(200, self._batch_endpoint_body(self._batch_endpoint_or_404(request.params["ep"])))

    def _h_batch_deployments_list(self, request: Request) -> Reply:
        api_version(request)
        with self._lock:
            endpoint = self._batch_endpoint_or_404(request.params["ep"])
            bodies = [self._batch_deployment_body(endpoint, d) for d in endpoint["deployments"]]
        return Reply(200, page(self.base_url, request, bodies, self.arm_page_size))

    def _h_batch_deployment_get(self, request: Request) -> Reply:
        api_version(request)
        name = request.params["deployment"]
        with self._lock:
            endpoint = self._batch_endpoint_or_404(request.params["ep"])
            if name not in endpoint["deployments"]:
                raise ApiError(404, "UserError", f"Deployment {name} was not found in batch endpoint "
                                                 f"{endpoint['name']}.", inner_code="NotFound")
            return Reply(200, self._batch_deployment_body(endpoint, name))


_ENDPOINTS = rf"/{WORKSPACE}/batchEndpoints"
_ENDPOINT = rf"{_ENDPOINTS}/(?P<ep>{SEGMENT})"

ROUTES = [
    Route("GET", _ENDPOINTS, "arm", BatchEndpointsMixin._h_batch_endpoints_list),
    Route("GET", _ENDPOINT, "arm", BatchEndpointsMixin._h_batch_endpoint_get),
    Route("GET", rf"{_ENDPOINT}/deployments", "arm", BatchEndpointsMixin._h_batch_deployments_list),
    Route("GET", rf"{_ENDPOINT}/deployments/(?P<deployment>{SEGMENT})", "arm",
          BatchEndpointsMixin._h_batch_deployment_get),
]
