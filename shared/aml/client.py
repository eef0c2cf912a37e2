"""AML operations the scheduler needs: pipeline submits, run status, cancel.

Every id that reaches a URL goes through `names.segment`; bodies use the field names of
the pipelines service (PascalCase) and run history (camelCase) as the service does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote

from shared.aml import names
from shared.aml.errors import AmlNotFoundError, AmlPermanentError
from shared.aml.transport import AmlTransport
from shared.config import Settings

if TYPE_CHECKING:
    from shared.aml.batch import BatchClient
    from shared.aml.jobs import JobsClient
    from shared.aml.schedules_v2 import SchedulesClient

# Run statuses after which AML never changes the run again.
TERMINAL_RUN_STATUSES = frozenset({"Completed", "Failed", "Canceled"})


@dataclass(frozen=True)
class SubmittedRun:
    run_id: str
    status: str | None
    raw: dict


@dataclass(frozen=True)
class RunState:
    run_id: str
    status: str
    start_time: str | None
    end_time: str | None
    error_code: str | None
    error_message: str | None
    tags: dict
    raw: dict

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class AmlClient:
    def __init__(self, transport: AmlTransport, settings: Settings):
        self._t = transport
        self._s = settings

    # -- URLs ------------------------------------------------------------------------
    def _data_plane(self, service: str, *segments: str) -> str:
        return data_plane_url(self._s, service, *segments)

    def portal_url(self, run_id: str) -> str:
        s = self._s
        wsid = f"/subscriptions/{s.subscription_id}/resourcegroups/{s.resource_group}/workspaces/{s.workspace_name}"
        return f"{s.studio_url}/runs/{names.segment('run id', run_id)}?wsid={quote(wsid, safe='/')}"

    def compute_id(self, name: str) -> str:
        """The ARM id of a workspace compute: what a job's computeId must be on the wire."""
        return f"/{self._s.workspace_path}/computes/{names.segment('compute name', name)}"

    # -- pipelines -------------------------------------------------------------------
    def submit_pipeline(self, pipeline_id: str, *, experiment_name: str,
                        parameter_assignments: Mapping[str, Any] | None = None,
                        data_path_assignments: Mapping[str, Any] | None = None,
                        description: str | None = None,
                        tags: Mapping[str, str] | None = None) -> SubmittedRun:
        url = self._data_plane("pipelines/v1.0", "PipelineRuns", "PipelineSubmit",
                               names.segment("pipeline id", pipeline_id))
        body = _submit_body(experiment_name, parameter_assignments, data_path_assignments, description, tags)
        return _submitted(self._t.request("POST", url, scope=self._s.aml_token_scope, json=body, idempotent=False))

    def submit_pipeline_endpoint(self, endpoint_id: str, *, experiment_name: str,
                                 pipeline_version: str | None = None,
                                 parameter_assignments: Mapping[str, Any] | None = None,
                                 data_path_assignments: Mapping[str, Any] | None = None,
                                 description: str | None = None,
                                 tags: Mapping[str, str] | None = None) -> SubmittedRun:
        segments = ["PipelineRuns", "PipelineEndpointSubmit", "Id", names.segment("pipeline endpoint id", endpoint_id)]
        params = None
        if pipeline_version:
            # Microsoft's own client (azureml-pipeline-core) names the version in the path
            # and in the query; sending exactly that form is what makes a pinned version run.
            segments.append(names.segment("pipeline version", pipeline_version))
            params = {"pipelineVersion": pipeline_version}
        url = self._data_plane("pipelines/v1.0", *segments)
        body = _submit_body(experiment_name, parameter_assignments, data_path_assignments, description, tags)
        response = self._t.request("POST", url, scope=self._s.aml_token_scope, params=params, json=body,
                                   idempotent=False)
        return _submitted(response)

    def get_published_pipeline(self, pipeline_id: str) -> dict:
        url = self._data_plane("pipelines/v1.0", "pipelines", names.segment("pipeline id", pipeline_id))
        return json_object(self._t.request("GET", url, scope=self._s.aml_token_scope))

    def get_pipeline_endpoint(self, endpoint_id: str) -> dict:
        url = self._data_plane("pipelines/v1.0", "PipelineEndpoints", names.segment("pipeline endpoint id", endpoint_id))
        return json_object(self._t.request("GET", url, scope=self._s.aml_token_scope))

    # -- runs ------------------------------------------------------------------------
    def get_run(self, experiment_name: str, run_id: str) -> RunState:
        url = self._data_plane("history/v1.0", "experiments", names.segment("experiment name", experiment_name),
                               "runs", names.segment("run id", run_id))
        return run_state(json_object(self._t.request("GET", url, scope=self._s.aml_token_scope)))

    def find_runs_by_tags(self, experiment_name: str, tags: Mapping[str, str], *, top: int = 10) -> list[RunState]:
        """Runs of an experiment carrying every given tag value (run history's OData filter)."""
        url = self._data_plane("history/v1.0", "experiments", names.segment("experiment name", experiment_name),
                               "runs:query")
        clauses = []
        for key, value in tags.items():
            names.check("tag name", key)
            # The filter is a string expression: allow only characters that cannot close the
            # quoted literal or start another clause.
            names.check("tag value", value)
            clauses.append(f'(Tags/{key} eq "{value}")')
        body = {"filter": " and ".join(clauses), "top": top}
        try:
            # A query changes nothing, so it may be repeated after any failure.
            response = self._t.request("POST", url, scope=self._s.aml_token_scope, json=body, idempotent=True)
        except AmlNotFoundError:
            # Run history answers 404 for an experiment it has never seen; an experiment
            # that does not exist holds no runs, which is an answer, not a failure (the
            # first submit of a new experiment creates it).
            return []
        return [run_state(item) for item in (response.json().get("value") or [])]

    # -- v2 ---------------------------------------------------------------------------
    @property
    def jobs(self) -> "JobsClient":
        from shared.aml.jobs import JobsClient
        return JobsClient(self._t, self._s)

    @property
    def batch(self) -> "BatchClient":
        from shared.aml.batch import BatchClient
        return BatchClient(self._t, self._s)

    @property
    def schedules(self) -> "SchedulesClient":
        """AML's own v2 schedules, read for import."""
        from shared.aml.schedules_v2 import SchedulesClient
        return SchedulesClient(self._t, self._s)

    def submit_job(self, name: str, properties: dict, *, tag: str, value: str) -> RunState:
        """Create the job `name`, or adopt it if an earlier attempt did (tag `tag` = `value`)."""
        return self.jobs.create_named(name, properties, tag=tag, value=value)

    def find_job(self, name: str) -> RunState | None:
        return self.jobs.find(name)

    def get_job(self, name: str) -> RunState:
        """A job's state; a failed job's error comes from its run in run history."""
        from shared.aml.jobs import job_state
        jobs = self.jobs
        state = job_state(jobs.get(name))
        if state.status == "Failed":
            code, message = jobs.error(name)
            state = replace(state, error_code=code, error_message=message)
        return state

    def cancel_job(self, name: str) -> None:
        self.jobs.cancel(name)

    def invoke_batch(self, endpoint: str, inputs: dict, outputs: dict, *, deployment: str | None,
                     experiment_name: str | None, tags: dict, repeatability_id: str) -> RunState:
        from shared.aml.batch import invocation_body, invoked_job
        body = invocation_body(inputs, outputs, experiment_name=experiment_name, tags=tags)
        return invoked_job(self.batch.invoke(endpoint, body, deployment=deployment,
                                             repeatability_id=repeatability_id))

    def cancel_run(self, experiment_name: str, run_id: str) -> dict:
        """Ask the execution service to cancel a run; returns its answer (`{"runId"}`)."""
        url = self._data_plane("execution/v1.0", "experiments", names.segment("experiment name", experiment_name),
                               "runId", names.segment("run id", run_id), "cancel")
        # Cancelling twice is harmless, so the transport may repeat it on any failure.
        response = self._t.request("POST", url, scope=self._s.aml_token_scope, idempotent=True)
        return json_object(response) if response.content else {"runId": run_id}


def data_plane_url(settings: Settings, service: str, *segments: str) -> str:
    """URL of a workspace-scoped AML data-plane route; segments must already be encoded."""
    return "/".join((settings.aml_api_base_url, service, settings.workspace_path, *segments))


def json_object(response) -> dict:
    """The response's JSON object, or an AmlPermanentError naming what came instead."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AmlPermanentError("AML answered with a body that is not a JSON object", status=response.status_code)
    return body


def _submit_body(experiment_name, parameter_assignments, data_path_assignments, description, tags) -> dict:
    body: dict[str, Any] = {
        "ExperimentName": names.check("experiment name", experiment_name),
        "ParameterAssignments": dict(parameter_assignments or {}),
        "RunSource": "API",
    }
    if data_path_assignments:
        body["DataPathAssignments"] = dict(data_path_assignments)
    if description:
        body["Description"] = description
    if tags:
        body["Tags"] = dict(tags)
    return body


def _submitted(response) -> SubmittedRun:
    try:
        raw = response.json()
    except ValueError:
        raw = None
    run_id = raw.get("Id") if isinstance(raw, dict) else None
    if not isinstance(run_id, str) or not run_id:
        # A 2xx without a run id means we cannot track what was started: treat it as a
        # service fault, flagged uncertain so the slot is reconciled by its run-key tag.
        raise AmlPermanentError("AML accepted the submit but returned no run id", status=response.status_code,
                                uncertain=True)
    # The pipelines service reports Status.StatusCode as an undocumented integer enum;
    # run history is the source of truth for status, so a fresh submit is NotStarted.
    return SubmittedRun(run_id=run_id, status="NotStarted", raw=raw)


def run_state(raw: dict) -> RunState:
    error = raw.get("error") or {}
    inner = error.get("error", error) if isinstance(error, dict) else {}
    return RunState(
        run_id=raw.get("runId", ""),
        status=raw.get("status") or "Unknown",
        start_time=raw.get("startTimeUtc"),
        end_time=raw.get("endTimeUtc"),
        error_code=inner.get("code") if isinstance(inner, dict) else None,
        error_message=inner.get("message") if isinstance(inner, dict) else None,
        tags=raw.get("tags") or {},
        raw=raw,
    )
