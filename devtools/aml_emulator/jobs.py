"""AML v2 jobs on the ARM plane: create, read, list, cancel; outcomes by experiment.

ARM plane (``?api-version=`` required; only the ARM audience is accepted):

    PUT  /W/jobs/{name}            201 + JobBase (new); a second PUT: see duplicate_job_put
    GET  /W/jobs/{name}            JobBase with properties.status now
    GET  /W/jobs[?jobType=&tag=&listViewType=&$skip=]   paged with nextLink (arm_page_size)
    POST /W/jobs/{name}/cancel     202 + Location + Retry-After; 400 UserError if finished
    GET  /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/
         mfeOperationResults/{id}  202 while the cancel is pending, then 204

Shapes follow ``JobBase`` in the 2025-12-01 spec (examples/Job/PipelineJob/
createOrUpdate.json, Job/CommandJob/get.json, Job/cancel.json) and azure-ai-ml's
generated models; validation is in ``job_specs``. azure-ai-ml 1.35 sends several
api-versions here (seen: 2025-01-01-preview for command PUTs, 2024-01-01-preview for
GETs, lists and pipeline PUTs, 2023-04-01-preview for cancel and its polling); any
well-formed one is taken.

A v2 job is a run-history run named by the job, as in the real service, so the
run-history routes read it too and the admin run view lists it. Its status advances
like a v1 run's over the job's duration (NotStarted, Queued, Running, then the outcome);
a cancel shows CancelRequested for ``cancel_seconds``, then Canceled. The JobBase of a
failed job has status Failed and nothing more: the spec has no error field there; the
error is on the run (``GET /history/v1.0/W/runs/{name}`` and ``.../details`` ->
``error.error.{code, message}``), which is where azure-ai-ml reads it.

``duplicate_job_put`` chooses what a PUT of an existing name does:

    "update" (default)   the service's behaviour: the mutable fields change (200), any
                         other difference is 400 UserError Immutable/JobPropertyImmutable
    "conflict"           409 UserError, whatever the body
    "return-existing"    200 with the job as it is, whatever the body

The cancel's Location names an ``mfeOperationResults`` operation (a resource type the
provider registers); that a finished job's cancel is refused is seen in
Azure/azureml-assets#2496, its exact answer is not public.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

from devtools.aml_emulator.arm import api_version, page, system_data, workspace_resource_id
from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.job_specs import (
    compute_name,
    compute_references,
    parse_job_properties,
    updated_properties,
)
from devtools.aml_emulator.operations import LOCATION_PATH
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.runs import OUTCOMES, TERMINAL_STATUSES, RunsMixin
from devtools.aml_emulator.wire_formats import json_copy, retry_after_header

DUPLICATE_JOB_PUT_MODES = ("update", "conflict", "return-existing")
LIST_VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
DEFAULT_JOB_ERROR = {"code": "UserError", "message": "Emulated job failure."}


class JobsMixin(RunsMixin):
    def set_job_outcome(
        self,
        experiment_name: str,
        status: str = "Failed",
        error: dict[str, str] | None = None,
        duration_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Make jobs created from now on in ``experiment_name`` end with ``status``.

        A failed job's run carries ``error`` (``{"code", "message"}``); ``duration_seconds``
        replaces the job's usual duration. Jobs already created keep their outcome.
        """
        if not isinstance(experiment_name, str) or not experiment_name:
            raise ValueError("experiment name must be a non-empty string")
        if status not in OUTCOMES:
            raise ValueError(f"status must be one of {sorted(OUTCOMES)}")
        if error is not None and (not isinstance(error, dict) or set(error) - {"code", "message"}
                                  or any(not isinstance(v, str) for v in error.values())):
            raise ValueError("error must be an object with string code and message")
        if duration_seconds is not None and (isinstance(duration_seconds, bool)
                                             or not isinstance(duration_seconds, (int, float)) or duration_seconds < 0):
            raise ValueError("durationSeconds must be a non-negative number")
        rule = {"experimentName": experiment_name, "status": status,
                "error": {**DEFAULT_JOB_ERROR, **(error or {})} if status == "Failed" else None,
                "durationSeconds": None if duration_seconds is None else float(duration_seconds)}
        with self._lock:
            self._job_outcomes[experiment_name] = rule
        return dict(rule)

    def clear_job_outcome(self, experiment_name: str) -> bool:
        with self._lock:
            return self._job_outcomes.pop(experiment_name, None) is not None

    def job_outcomes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json_copy(rule) for rule in self._job_outcomes.values()]

    def jobs(self) -> list[dict[str, Any]]:
        """Every v2 job as the ARM GET would answer now."""
        now = time.time()
        with self._lock:
            return [self._job_body(run, now) for run in self._v2_jobs()]

    # -- state and shapes ------------------------------------------------------------

    def _v2_jobs(self) -> list[dict[str, Any]]:
        return [run for run in self._runs.values() if run.get("jobType")]

    def _create_job(self, name: str, props: dict[str, Any], claims: dict[str, Any], now: float, *,
                    outcome: str = "Completed", error: dict[str, str] | None = None,
                    duration_seconds: float | None = None,
                    invocation: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store a new v2 job (caller holds the lock). The experiment's job outcome, if
        set, beats the ``outcome`` the caller passes (a batch endpoint's, say)."""
        rule = self._job_outcomes.get(props["experimentName"])
        if rule is not None:
            outcome, error = rule["status"], rule["error"]
            duration_seconds = rule["durationSeconds"] if rule["durationSeconds"] is not None else duration_seconds
        targets = [compute_name(ref, self._workspace_parts()) for _where, ref in compute_references(props)]
        return self._new_run(
            name, props["experimentName"], claims, now,
            graphId=None, pipelineId=None, pipelineEndpointId=None, pipelineVersion=None,
            durationSeconds=self.run_seconds if duration_seconds is None else float(duration_seconds),
            outcome=outcome,
            failureError={**DEFAULT_JOB_ERROR, **(error or {})} if outcome == "Failed" else None,
            properties=dict(props["properties"]),
            parameterAssignments={}, dataPathAssignments={},
            description=props.get("description"), tags=dict(props["tags"]), runSource=None,
            runType="azureml.PipelineRun" if props["jobType"] == "Pipeline" else "azureml.scriptrun",
            target=next((t for t in targets if t), None),
            displayName=props.get("displayName") or name,
            jobType=props["jobType"], job=props, modifiedAt=now, invocation=invocation,
        )

    def _workspace_parts(self) -> tuple[str, str, str]:
        return self.subscription_id, self.resource_group, self.workspace

    def _check_computes(self, props: dict[str, Any]) -> None:
        """A 400 naming the first compute reference that is not a compute of this workspace."""
        for where, reference in compute_references(props):
            name = compute_name(reference, self._workspace_parts())
            if name is None or name not in self._computes:
                raise ApiError(400, "UserError",
                               f"{where} {reference!r} does not name a compute of workspace {self.workspace}.",
                               inner_code=("NotFound", "ComputeNotFound"))

    def _job_body(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """The ARM ``JobBase`` of ``run`` at ``now``."""
        status, _start, _end = self._state(run, now)
        props = json_copy(run["job"])
        props.update(
            status=status,
            displayName=run["displayName"],
            isArchived=bool(props.get("isArchived", False)),
            services={"Studio": {"jobServiceType": "Studio", "port": None,
                                 "endpoint": self._studio_url(run["runId"], run["createdBy"].get("userTenantId")),
                                 "status": None, "errorMessage": None, "properties": None, "nodes": None}},
        )
        return {
            "id": workspace_resource_id(self.workspace_path, "jobs", run["runId"]),
            "name": run["runId"],
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": props,
            "systemData": system_data(run["submittedAt"], run["createdBy"].get("userObjectId"), run["modifiedAt"]),
        }

    def _job_or_404(self, name: str) -> dict[str, Any]:
        run = self._runs.get(name)
        if run is None or not run.get("jobType"):
            raise ApiError(404, "UserError", f"Job {name} was not found in workspace {self.workspace}.",
                           inner_code="NotFound")
        return run

    # -- routes ----------------------------------------------------------------------

    def _h_job_put(self, request: Request) -> Reply:
        api_version(request)
        name = request.params["job"]
        props = parse_job_properties(name, request.json(required=True))
        now = time.time()
        with self._lock:
            self._check_computes(props)
            existing = self._runs.get(name)
            if existing is None:
                run = self._create_job(name, props, request.claims, now)
                return Reply(201, self._job_body(run, now))
            if not existing.get("jobType") or self.duplicate_job_put == "conflict":
                raise ApiError(409, "UserError", f"A job with this name ({name}) already exists.",
                               inner_code="Conflict")
            if self.duplicate_job_put == "update":
                existing["job"] = updated_properties(name, existing["job"], props)
                existing["tags"] = dict(existing["job"]["tags"])
                existing["description"] = existing["job"].get("description")
                existing["displayName"] = existing["job"].get("displayName") or name
                existing["properties"] = dict(existing["job"]["properties"])
                existing["modifiedAt"] = now
            return Reply(200, self._job_body(existing, now))

    def _h_job_get(self, request: Request) -> Reply:
        api_version(request)
        now = time.time()
        with self._lock:
            return Reply(200, self._job_body(self._job_or_404(request.params["job"]), now))

    def _h_jobs_list(self, request: Request) -> Reply:
        job_type = request.arg("jobType")
        tag = request.arg("tag")
        view = request.arg("listViewType") or "ActiveOnly"
        if view not in LIST_VIEW_TYPES:
            raise ApiError(400, "UserError", f"listViewType must be one of {', '.join(LIST_VIEW_TYPES)}.",
                           inner_code="BadArgument")
        now = time.time()
        with self._lock:
            runs = sorted(self._v2_jobs(), key=lambda r: r["runNumber"], reverse=True)  # newest first
            bodies = [self._job_body(run, now) for run in runs]
        archived = {"ActiveOnly": (False,), "ArchivedOnly": (True,), "All": (False, True)}[view]
        matching = [
            body for body in bodies
            if (job_type is None or body["properties"]["jobType"].lower() == job_type.lower())
            and (tag is None or tag in body["properties"]["tags"])
            and body["properties"]["isArchived"] in archived
        ]
        return Reply(200, page(self.base_url, request, matching, self.arm_page_size))

    def _h_job_cancel(self, request: Request) -> Reply:
        version = api_version(request)
        name = request.params["job"]
        now = time.time()
        with self._lock:
            run = self._job_or_404(name)
            status, _start, _end = self._state(run, now)
            if status in TERMINAL_STATUSES:
                raise ApiError(400, "UserError",
                               f"Job {name} is already in a terminal state ({status}) and cannot be canceled.")
            if run["cancelRequestedAt"] is None:
                run["cancelRequestedAt"] = now
                run["cancelOperationId"] = str(uuid.uuid4())
                self._job_cancellations[run["cancelOperationId"]] = name
            operation = run["cancelOperationId"]
        return Reply(202, None, self._cancel_polling_headers(operation, version))

    def _cancel_polling_headers(self, operation: str, version: str) -> dict[str, str]:
        query = urllib.parse.urlencode({"api-version": version})
        location = (f"{self.base_url}/subscriptions/{self.subscription_id}/providers/"
                    f"Microsoft.MachineLearningServices/locations/{self.location}"
                    f"/mfeOperationResults/{operation}?{query}")
        return {"Location": location, "Retry-After": retry_after_header(self.retry_after_seconds)}

    def _h_cancel_result(self, request: Request) -> Reply:
        version = api_version(request)
        if request.params["opsub"].lower() != self.subscription_id.lower():
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{request.params['opsub']}' could not "
                                                        "be found.")
        operation = request.params["op"]
        now = time.time()
        with self._lock:
            name = self._job_cancellations.get(operation)
            run = self._runs.get(name) if name is not None else None
            if run is None:
                raise ApiError(404, "NotFound", f"Operation {operation} was not found.")
            status, _start, _end = self._state(run, now)
        if status == "CancelRequested":
            return Reply(202, None, self._cancel_polling_headers(operation, version))
        return Reply(204)


_JOBS = rf"/{WORKSPACE}/jobs"
_JOB = rf"{_JOBS}/(?P<job>{SEGMENT})"

ROUTES = [
    Route("GET", _JOBS, "arm", JobsMixin._h_jobs_list),
    Route("PUT", _JOB, "arm", JobsMixin._h_job_put),
    Route("GET", _JOB, "arm", JobsMixin._h_job_get),
    Route("POST", rf"{_JOB}/cancel", "arm", JobsMixin._h_job_cancel),
    Route("GET", rf"{LOCATION_PATH}/mfeOperationResults/(?P<op>{SEGMENT})", "arm", JobsMixin._h_cancel_result),
]
