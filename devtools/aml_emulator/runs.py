"""Runs and experiments: lifecycle, run history and cancellation.

Data plane (``W`` = ``subscriptions/{sub}/resourceGroups/{rg}/providers/
Microsoft.MachineLearningServices/workspaces/{ws}``):

    GET  /history/v1.0/W/experiments/{exp}                      (POST creates, idempotently)
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}
    GET  /history/v1.0/W/runs/{runId}
    POST /history/v1.0/W/experiments/{exp}/runs:query            body QueryParams
    GET  /history/v1.0/W/experiments/{exp}/runs?$filter=...       (see note below)
    POST /history/v1.0/W/experiments/{exp}/runs/{runId}/cancel
    POST /execution/v1.0/W/experiments/{exp}/runId/{runId}/cancel

Shapes follow the official run-history spec (``Run``, ``PaginatedRunList``,
``QueryParams``, ``Experiment``, ``ErrorResponse``); the execution service's cancel
answers ``{"runId"}``. ``GET .../experiments/{exp}/runs`` is not in the current
run-history spec; it is kept for clients that list with ``$filter``.

Runs advance with wall-clock time since submission, so no background threads are
needed: NotStarted for the first 10% of the pipeline's duration, Queued until 30%,
Running until 100%, then the registered outcome. A cancel request shows
CancelRequested for ``cancel_seconds``, then Canceled.
"""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid
from typing import Any

from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import bad_request, not_found
from devtools.aml_emulator.run_queries import ODataFilter, decode_token, encode_token, parse_order_by
from devtools.aml_emulator.routing import SEGMENT, WORKSPACE, Reply, Request, Route
from devtools.aml_emulator.wire_formats import json_copy, rh_time, timespan

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
OUTCOMES = frozenset({"Completed", "Failed"})
FAILURE_ERROR = {"code": "UserError", "message": "Step 'score' failed: emulated failure"}
EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")

HISTORY = r"/history/v1\.0"
EXECUTION = r"/execution/v1\.0"
EXPERIMENT_PATH = rf"/{WORKSPACE}/experiments/(?P<exp>{SEGMENT})"


class RunsMixin(EmulatorBase):
    def runs(self) -> list[dict[str, Any]]:
        """Every run as the admin API shows it, with its status now."""
        now = time.time()
        with self._lock:
            return [self._admin_run_view(r, now) for r in self._runs.values()]

    # -- run state -------------------------------------------------------------------

    def _state(self, run: dict[str, Any], now: float) -> tuple[str, float | None, float | None]:
        """(status, start time, end time) of ``run`` at ``now``, from elapsed time alone."""
        submitted, duration = run["submittedAt"], run["durationSeconds"]
        started_at = submitted + 0.3 * duration
        cancel_at = run["cancelRequestedAt"]
        if cancel_at is not None:
            start = started_at if started_at <= cancel_at else None
            done_at = cancel_at + self.cancel_seconds
            if now >= done_at:
                return "Canceled", start, done_at
            return "CancelRequested", start, None
        elapsed = now - submitted
        if elapsed >= duration:
            return run["outcome"], started_at, submitted + duration
        if elapsed >= 0.3 * duration:
            return "Running", started_at, None
        if elapsed >= 0.1 * duration:
            return "Queued", None, None
        return "NotStarted", None, None

    def _ensure_experiment(self, name: str, now: float) -> dict[str, Any]:
        experiment = self._experiments.get(name)
        if experiment is None:
            experiment = {
                "experimentId": str(uuid.uuid4()),
                "name": name,
                "description": None,
                "createdUtc": rh_time(now),
                "tags": {},
                "archivedTime": None,
                "retainForLifetimeOfWorkspace": False,
                "artifactLocation": None,
            }
            self._experiments[name] = experiment
        return experiment

    def _new_run(
        self, run_id: str, experiment_name: str, claims: dict[str, Any], now: float, **fields: Any
    ) -> dict[str, Any]:
        """Store a new run in ``experiment_name`` (caller holds the lock).

        ``fields`` carry what differs between pipeline runs and script runs: what ran
        (pipelineId, pipelineEndpointId, pipelineVersion, ...), its duration and outcome,
        properties and tags.
        """
        self._ensure_experiment(experiment_name, now)
        self._run_counter += 1
        run = {
            "runId": run_id,
            "runUuid": str(uuid.uuid4()),
            "runNumber": self._run_counter,
            "etag": str(uuid.uuid4()),
            "experimentName": experiment_name,
            "submittedAt": now,
            "cancelRequestedAt": None,
            "cancelationReason": None,
            "audience": claims.get("aud"),
            "createdBy": {
                "userObjectId": claims.get("oid"),
                "userTenantId": claims.get("tid"),
                "userName": claims.get("appid"),
            },
            **fields,
        }
        self._runs[run_id] = run
        return run

    def _studio_url(self, run_id: str, tenant: str | None) -> str:
        url = f"https://ml.azure.com/runs/{run_id}?wsid=/{self.workspace_path}"
        return f"{url}&tid={tenant}" if tenant else url

    def _run_dto(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """The run-history ``Run`` of ``run`` at ``now``."""
        status, start, end = self._state(run, now)
        experiment = self._experiments[run["experimentName"]]
        error = None
        if status == "Failed":
            # A v2 job may carry the error its experiment's job outcome set.
            error = {"error": dict(run.get("failureError") or FAILURE_ERROR, details=[])}
        last_change = max(t for t in (run["submittedAt"], start, end, run["cancelRequestedAt"]) if t is not None)
        return {
            "runNumber": run["runNumber"],
            "rootRunId": run["runId"],
            "createdUtc": rh_time(run["submittedAt"]),
            "createdBy": dict(run["createdBy"]),
            "userId": run["createdBy"]["userObjectId"],
            "error": error,
            "warnings": None,
            "revision": 1,
            "statusRevision": 1,
            "runUuid": run["runUuid"],
            "parentRunUuid": None,
            "rootRunUuid": run["runUuid"],
            "hasVirtualParent": False,
            "lastStartTimeUtc": rh_time(start),
            "lastModifiedUtc": rh_time(min(last_change, now)),
            "duration": timespan(end - start) if (start is not None and end is not None) else None,
            "cancelationReason": run["cancelationReason"],
            "runId": run["runId"],
            "parentRunId": None,
            "experimentId": experiment["experimentId"],
            "status": status,
            "startTimeUtc": rh_time(start),
            "endTimeUtc": rh_time(end),
            "options": {"generateDataContainerIdIfNotSpecified": True},
            "isVirtual": True,
            "displayName": run.get("displayName"),
            "name": None,
            "dataContainerId": f"dcid.{run['runId']}",
            "description": run["description"],
            "hidden": False,
            "runType": run.get("runType", "azureml.PipelineRun"),
            "properties": dict(run["properties"]),
            "parameters": {},
            "actionUris": {},
            "scriptName": run.get("scriptName"),
            "target": run.get("target"),
            "uniqueChildRunComputeTargets": [],
            "tags": dict(run["tags"]),
            "settings": {},
            "services": {},
            "inputDatasets": [],
            "outputDatasets": [],
        }

    def _admin_run_view(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        """What the admin API shows of a run: what was submitted, what ran, and its status."""
        status, start, end = self._state(run, now)
        return {
            "runId": run["runId"],
            "pipelineId": run["pipelineId"],
            "pipelineEndpointId": run["pipelineEndpointId"],
            "pipelineVersion": run["pipelineVersion"],
            "experimentName": run["experimentName"],
            "parameterAssignments": json_copy(run["parameterAssignments"]),
            "dataPathAssignments": json_copy(run["dataPathAssignments"]),
            "tags": dict(run["tags"]),
            "description": run["description"],
            "runSource": run["runSource"],
            "status": status,
            "submittedAt": rh_time(run["submittedAt"]),
            "startTimeUtc": rh_time(start),
            "endTimeUtc": rh_time(end),
            "cancelRequestedAt": rh_time(run["cancelRequestedAt"]),
            "audience": run["audience"],
            # AML v2 only: the job type, and for a batch endpoint invocation what was
            # invoked (endpoint, deployment, repeatability id, inputs, outputs).
            "jobType": run.get("jobType"),
            "invocation": json_copy(run.get("invocation")),
        }

    def _find_run(self, run_id: str, experiment: str | None) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run is None or (experiment is not None and run["experimentName"] != experiment):
            where = f" in experiment {experiment}" if experiment is not None else ""
            raise not_found(f"Run {run_id}{where} was not found.")
        return run

    # -- experiments, run reads, cancel ----------------------------------------------

    def _h_experiment_get(self, request: Request) -> Reply:
        name = request.params["exp"]
        with self._lock:
            experiment = self._experiments.get(name)
            if experiment is None:
                raise not_found(f"Experiment {name} was not found.")
            return Reply(200, dict(experiment))

    def _h_experiment_create(self, request: Request) -> Reply:
        name = request.params["exp"]
        if not EXPERIMENT_NAME.match(name):
            raise bad_request(f"Experiment name {name!r} is invalid.")
        with self._lock:
            return Reply(200, dict(self._ensure_experiment(name, time.time())))

    def _h_run_get(self, request: Request) -> Reply:
        with self._lock:
            run = self._find_run(request.params["runId"], request.params.get("exp"))
            return Reply(200, self._run_dto(run, time.time()))

    def _request_cancel(self, request: Request) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            run = self._find_run(request.params["runId"], request.params["exp"])
            status, _start, _end = self._state(run, now)
            # Cancelling a finished run changes nothing and is not an error here.
            if status not in TERMINAL_STATUSES and run["cancelRequestedAt"] is None:
                run["cancelRequestedAt"] = now
                run["cancelationReason"] = request.arg("CancelationReason")
            return run

    def _h_execution_cancel(self, request: Request) -> Reply:
        run = self._request_cancel(request)
        return Reply(200, {"runId": run["runId"]})

    def _h_history_cancel(self, request: Request) -> Reply:
        run = self._request_cancel(request)
        with self._lock:
            return Reply(200, self._run_dto(run, time.time()))

    # -- queries ---------------------------------------------------------------------

    def _h_runs_query(self, request: Request) -> Reply:
        body = request.json(required=False)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise bad_request("The query body must be a JSON object (QueryParams).")
        fields = {str(k).lower(): v for k, v in body.items()}
        if "filters" in fields:
            raise bad_request(
                "QueryParams has no 'filters'; send 'filter' as an OData string, "
                "e.g. \"(Tags/key eq 'value')\"."
            )
        return self._query_runs(
            request.params["exp"],
            filter_text=fields.get("filter"),
            order_by=fields.get("orderby"),
            top=fields.get("top"),
            token=fields.get("continuationtoken"),
            next_link_base=None,
        )

    def _h_runs_list(self, request: Request) -> Reply:
        top = request.arg("$top")
        if top is not None:
            try:
                top = int(top)
            except ValueError:
                raise bad_request("$top must be an integer.") from None
        order = request.query.get("$orderby")
        return self._query_runs(
            request.params["exp"],
            filter_text=request.arg("$filter"),
            order_by=",".join(order) if order else None,
            top=top,
            token=request.arg("$continuationtoken"),
            next_link_base=(request.path, request.query),
        )

    def _query_runs(
        self,
        experiment: str,
        *,
        filter_text: Any,
        order_by: Any,
        top: Any,
        token: Any,
        next_link_base: tuple[str, dict[str, list[str]]] | None,
    ) -> Reply:
        if filter_text is not None and not isinstance(filter_text, str):
            raise bad_request("filter must be an OData filter string.")
        predicate = ODataFilter(filter_text) if filter_text else None
        sort_keys = parse_order_by(order_by)
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
            raise bad_request("top must be a non-negative integer.")
        offset = decode_token(token)
        now = time.time()
        with self._lock:
            if experiment not in self._experiments:
                raise not_found(f"Experiment {experiment} was not found.")
            dtos = [
                self._run_dto(run, now)
                for run in self._runs.values()
                if run["experimentName"] == experiment
            ]
        if predicate is not None:
            dtos = [d for d in dtos if predicate.matches(d)]
        # Runs with equal sort keys keep submission order in the primary direction.
        dtos.sort(key=lambda d: d["runNumber"], reverse=sort_keys[0][1])
        for field, descending in reversed(sort_keys):
            dtos.sort(key=lambda d, f=field: (d.get(f) is None, d.get(f) or ""), reverse=descending)
        if top is not None:
            return Reply(200, {"value": dtos[offset:offset + top], "continuationToken": None, "nextLink": None})
        page = dtos[offset:offset + self.query_page_size]
        more = offset + self.query_page_size < len(dtos)
        continuation = encode_token(offset + self.query_page_size) if more else None
        next_link = None
        if continuation and next_link_base is not None:
            path, query = next_link_base
            params = {k: v for k, v in query.items() if k != "$continuationtoken"}
            params["$continuationtoken"] = [continuation]
            next_link = f"{self.base_url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        return Reply(200, {"value": page, "continuationToken": continuation, "nextLink": next_link})



ROUTES = [
    Route("GET", rf"{HISTORY}{EXPERIMENT_PATH}", "data", RunsMixin._h_experiment_get),
    Route("POST", rf"{HISTORY}{EXPERIMENT_PATH}", "data", RunsMixin._h_experiment_create),
    Route("POST", rf"{HISTORY}{EXPERIMENT_PATH}/runs:query", "data", RunsMixin._h_runs_query),
    Route("GET", rf"{HISTORY}{EXPERIMENT_PATH}/runs", "data", RunsMixin._h_runs_list),
    Route("GET", rf"{HISTORY}{EXPERIMENT_PATH}/runs/(?P<runId>{SEGMENT})", "data", RunsMixin._h_run_get),
    Route("POST", rf"{HISTORY}{EXPERIMENT_PATH}/runs/(?P<runId>{SEGMENT})/cancel", "data",
          RunsMixin._h_history_cancel),
    Route("GET", rf"{HISTORY}/{WORKSPACE}/runs/(?P<runId>{SEGMENT})", "data", RunsMixin._h_run_get),
    Route("POST", rf"{EXECUTION}{EXPERIMENT_PATH}/runId/(?P<runId>{SEGMENT})/cancel", "data",
          RunsMixin._h_execution_cancel),
]
