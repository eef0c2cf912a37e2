"""Run history, execution and pipeline-listing calls for the HTTP proxy.

Calls the scheduler itself also makes (get a run, cancel a run, submit a pipeline) live
in `shared.aml.client.AmlClient`; this client adds only what the proxy needs beyond them.

Routes follow the published specs: run history (`history/v1.0`: experiments, runs,
`runs:query`, `runs/{id}/details`) and execution (`execution/v1.0`: `startrun`,
`runId/{id}/cancel`). Listing published pipelines (`pipelines/v1.0/.../pipelines`) is
not in a published spec; it is the route Microsoft's own samples call.
"""

from __future__ import annotations

from typing import Any, Mapping

from shared.aml import names
from shared.aml.client import data_plane_url, json_object
from shared.aml.errors import AmlPermanentError
from shared.aml.transport import AmlTransport
from shared.config import Settings

RUN_STATUSES = ("NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing",
                "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding", "Paused", "Unknown")


class RunsClient:
    def __init__(self, transport: AmlTransport, settings: Settings):
        self._t = transport
        self._s = settings

    def _url(self, service: str, *segments: str) -> str:
        return data_plane_url(self._s, service, *segments)

    def _request(self, method: str, url: str, **kwargs):
        return self._t.request(method, url, scope=self._s.aml_token_scope, **kwargs)

    # -- experiments -----------------------------------------------------------------
    def get_experiment(self, name: str) -> dict:
        url = self._url("history/v1.0", "experiments", names.segment("experiment name", name))
        return json_object(self._request("GET", url))

    def create_experiment(self, name: str) -> dict:
        url = self._url("history/v1.0", "experiments", names.segment("experiment name", name))
        # Creating an experiment that exists returns it, so a repeat is harmless.
        return json_object(self._request("POST", url, idempotent=True))

    # -- runs ------------------------------------------------------------------------
    def start_run(self, experiment: str, definition: bytes, project_zip: bytes, *, run_id: str | None = None) -> dict:
        url = self._url("execution/v1.0", "experiments", names.segment("experiment name", experiment), "startrun")
        params = {"runId": names.check("run id", run_id)} if run_id else None
        files = {
            "runDefinitionFile": ("definition.json", definition, "application/json"),
            "projectZipFile": ("project.zip", project_zip, "application/zip"),
        }
        # A start may have happened even if the answer was lost: not repeated unless AML
        # proves it did not act (the transport's rule for non-idempotent calls).
        return json_object(self._request("POST", url, params=params, files=files, idempotent=False))

    def get_run_details(self, experiment: str, run_id: str) -> dict:
        url = self._url("history/v1.0", "experiments", names.segment("experiment name", experiment),
                        "runs", names.segment("run id", run_id), "details")
        return json_object(self._request("GET", url))

    def query_runs(self, experiment: str, *, status: str | None = None,
                   continuation_token: str | None = None) -> dict:
        url = self._url("history/v1.0", "experiments", names.segment("experiment name", experiment), "runs:query")
        body: dict[str, Any] = {"orderBy": ["CreatedUtc desc"]}
        if status is not None:
            if status not in RUN_STATUSES:
                raise ValueError(f"unknown run status {status!r}")
            body["filter"] = f'(Status eq "{status}")'
        if continuation_token:
            body["continuationToken"] = continuation_token
        # A query changes nothing, so it may be repeated after any failure.
        return json_object(self._request("POST", url, json=body, idempotent=True))

    # -- pipelines -------------------------------------------------------------------
    def list_published_pipelines(self) -> list[dict]:
        url = self._url("pipelines/v1.0", "pipelines")
        response = self._request("GET", url)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("value"), list):
            body = body["value"]
        if not isinstance(body, list):
            raise AmlPermanentError("AML answered the pipeline list with something other than a list",
                                    status=response.status_code)
        return [item for item in body if isinstance(item, dict)]
