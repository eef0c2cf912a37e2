"""AML v2 jobs on the ARM plane: create by name, read, list, cancel; a job's error.

    PUT  {arm}/{workspace}/jobs/{name}          the job's properties, as ARM takes them
    GET  {arm}/{workspace}/jobs/{name}          properties.status
    GET  {arm}/{workspace}/jobs?jobType=&tag=&listViewType=   paged by nextLink
    POST {arm}/{workspace}/jobs/{name}/cancel   200, or 202 while AML cancels

A job's name is the caller's choice, so the scheduler names each slot's job and a second
PUT of that name cannot start a second job: AML answers with the job (or refuses the
duplicate), and `create_named` turns both into "this job, already there" when the job
carries the same run key. ARM's JobBase has no error field; a failed job's error lives
on its run in run history, which is where `error` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.aml import names
from shared.aml.arm import ArmResources
from shared.aml.client import RunState, data_plane_url, json_object, run_state
from shared.aml.errors import AmlConflictError, AmlError, AmlNotFoundError, AmlPermanentError
from shared.aml.runs import RUN_STATUSES
from shared.aml.transport import AmlTransport, parse_retry_after
from shared.config import Settings

LIST_VIEW_TYPES = ("ActiveOnly", "ArchivedOnly", "All")
JOB_TYPES = ("Pipeline", "Command", "Sweep", "AutoML", "Spark", "FineTuning")
# properties.status of a JobBase: run history's statuses, since every job is a run there.
JOB_STATUSES = RUN_STATUSES


@dataclass(frozen=True)
class CancelAccepted:
    """AML took the cancel; the job shows CancelRequested, then Canceled."""

    status: int
    retry_after: float | None


class JobsClient:
    def __init__(self, transport: AmlTransport, settings: Settings):
        self._t = transport
        self._s = settings
        self._arm = ArmResources(transport, settings, "jobs", settings.v2_api_version)

    def _job_path(self, name: str) -> str:
        return self._arm.path(names.segment("job name", name))

    # -- reads -----------------------------------------------------------------------
    def get(self, name: str) -> dict:
        return self._arm.get(self._job_path(name))

    def page(self, *, job_type: str | None = None, tag: str | None = None, list_view_type: str | None = None,
             continuation: str | None = None) -> tuple[list[dict], str | None]:
        """One page of the workspace's jobs, newest first, and the token of the next page."""
        if job_type is not None and job_type not in JOB_TYPES:
            raise ValueError("job type must be one of " + ", ".join(JOB_TYPES))
        if list_view_type is not None and list_view_type not in LIST_VIEW_TYPES:
            raise ValueError("list view type must be one of " + ", ".join(LIST_VIEW_TYPES))
        if tag is not None:
            names.check("tag name", tag)
        return self._arm.page_by_token(self._arm.path(), continuation, jobType=job_type, tag=tag,
                                       listViewType=list_view_type)

    def error(self, name: str) -> tuple[str | None, str | None]:
        """A job's error (code, message) from its run in run history; (None, None) if none."""
        url = data_plane_url(self._s, "history/v1.0", "runs", names.segment("job name", name))
        try:
            state = run_state(json_object(self._t.request("GET", url, scope=self._s.aml_token_scope)))
        except AmlNotFoundError:
            return None, None
        return state.error_code, state.error_message

    # -- writes ----------------------------------------------------------------------
    def create(self, name: str, properties: dict) -> dict:
        """PUT the job; the body is `{"properties": ...}` exactly as given."""
        return self.put(name, properties)[1]

    def put(self, name: str, properties: dict) -> tuple[int, dict]:
        """PUT the job; (ARM's status: 201 created, 200 an existing job of that name, its JobBase)."""
        response = self._arm.request("PUT", self._job_path(name), json={"properties": properties})
        return response.status_code, json_object(response)

    def cancel(self, name: str) -> CancelAccepted:
        # Cancelling twice is harmless, so the transport may repeat it after any failure.
        response = self._arm.request("POST", self._job_path(name) + "/cancel", idempotent=True)
        return CancelAccepted(response.status_code, parse_retry_after(response.headers.get("Retry-After")))

    # -- the scheduler's view --------------------------------------------------------
    def create_named(self, name: str, properties: dict, *, tag: str, value: str) -> RunState:
        """Create the job `name`, or find it already there with tag `tag` = `value`.

        Whether AML answers a repeated PUT with the job or refuses it (409, or 400 for a
        changed immutable field) is not documented; both lead to a GET of the name, and a
        job carrying the same tag value is the one an earlier attempt created.
        """
        try:
            existing = job_state(self.create(name, properties))
            refused = None
        except AmlError as exc:
            if exc.retryable or not (isinstance(exc, AmlConflictError) or exc.status == 400):
                raise
            refused = exc
            try:
                existing = job_state(self.get(name))
            except AmlNotFoundError:
                raise refused from None
        # A service that answers a repeated PUT with the job as it is may hand back someone
        # else's job of that name: only a job with our tag is ours.
        if existing.tags.get(tag) != value:
            raise AmlConflictError(f"a job named {name} exists but was not started for this slot",
                                   status=409, code="JobNameTaken") from refused
        return existing

    def find(self, name: str) -> RunState | None:
        try:
            return job_state(self.get(name))
        except AmlNotFoundError:
            return None


def job_state(raw: dict) -> RunState:
    """A JobBase as the RunState the engine tracks (the name is the run id)."""
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise AmlPermanentError("AML answered with a job that has no name", uncertain=True)
    system = raw.get("systemData") if isinstance(raw.get("systemData"), dict) else {}
    tags = props.get("tags") if isinstance(props.get("tags"), dict) else {}
    return RunState(run_id=name, status=_text(props.get("status")) or "Unknown", start_time=_text(
        system.get("createdAt")), end_time=None, error_code=None, error_message=None, tags=tags, raw=raw)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
