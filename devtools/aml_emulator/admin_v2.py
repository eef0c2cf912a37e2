"""The admin API for AML v2, under ``/_emulator/``, no auth: the Python methods over HTTP.

    GET    /_emulator/jobs                          every v2 job as the ARM GET answers it
    GET    /_emulator/job-outcomes                  PUT|DELETE /_emulator/job-outcomes/{experimentName}
           body of PUT: {"status": "Failed"|"Completed", "error": {"code", "message"},
                         "durationSeconds"}                      -> set_job_outcome
    GET    /_emulator/batch-endpoints               PUT|DELETE /_emulator/batch-endpoints/{name}
           body of PUT: {"deployments": [...], "defaultDeployment", "outcome", "error",
                         "durationSeconds", "compute", "description"}   -> seed_batch_endpoint
    GET    /_emulator/schedules                     PUT|DELETE /_emulator/schedules/{name}
           body of PUT: {"properties": {...}} as an ARM PUT carries it  -> seed_schedule

Invocations show in ``GET /_emulator/runs`` on the job they created (``invocation``).
"""

from __future__ import annotations

from typing import Any

from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import bad_request, not_found
from devtools.aml_emulator.routing import SEGMENT, Reply, Request, Route

_OUTCOME_FIELDS = {"status": "status", "error": "error", "durationSeconds": "duration_seconds"}
_ENDPOINT_FIELDS = {"deployments": "deployments", "defaultDeployment": "default", "outcome": "outcome",
                    "error": "error", "durationSeconds": "duration_seconds", "compute": "compute",
                    "description": "description"}


def _object_body(request: Request, fields: dict[str, str] | None) -> dict[str, Any]:
    """The JSON object body; with ``fields`` (admin name -> keyword), as keywords."""
    body = request.json(required=False) or {}
    if not isinstance(body, dict):
        raise bad_request("Body must be a JSON object.")
    if fields is None:
        return body
    unknown = set(body) - set(fields)
    if unknown:
        raise bad_request(f"Unknown fields: {sorted(unknown)}; expected some of {sorted(fields)}.")
    return {fields[key]: value for key, value in body.items()}


class AdminV2Mixin(EmulatorBase):
    """Handlers only; the methods they call come from the jobs, batch endpoint and schedule areas."""

    def _a_jobs(self, request: Request) -> Reply:
        return Reply(200, self.jobs())

    def _a_job_outcomes(self, request: Request) -> Reply:
        return Reply(200, self.job_outcomes())

    def _a_job_outcome_put(self, request: Request) -> Reply:
        try:
            rule = self.set_job_outcome(request.params["exp"], **_object_body(request, _OUTCOME_FIELDS))
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, rule)

    def _a_job_outcome_delete(self, request: Request) -> Reply:
        if not self.clear_job_outcome(request.params["exp"]):
            raise not_found(f"No job outcome is set for experiment {request.params['exp']}.")
        return Reply(200, {"deleted": request.params["exp"]})

    def _a_batch_endpoints(self, request: Request) -> Reply:
        return Reply(200, self.batch_endpoints())

    def _a_batch_endpoint_put(self, request: Request) -> Reply:
        try:
            endpoint = self.seed_batch_endpoint(request.params["name"], **_object_body(request, _ENDPOINT_FIELDS))
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, endpoint)

    def _a_batch_endpoint_delete(self, request: Request) -> Reply:
        if not self.remove_batch_endpoint(request.params["name"]):
            raise not_found(f"Batch endpoint {request.params['name']} does not exist.")
        return Reply(200, {"deleted": request.params["name"]})

    def _a_schedules(self, request: Request) -> Reply:
        return Reply(200, self.schedules())

    def _a_schedule_put(self, request: Request) -> Reply:
        body = _object_body(request, None)
        if set(body) != {"properties"}:
            raise bad_request('Body must be {"properties": {...}}, as an ARM PUT of a schedule carries it.')
        try:
            schedule = self.seed_schedule(request.params["name"], body["properties"])
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, schedule)

    def _a_schedule_delete(self, request: Request) -> Reply:
        if not self.remove_schedule(request.params["name"]):
            raise not_found(f"Schedule {request.params['name']} does not exist.")
        return Reply(200, {"deleted": request.params["name"]})


_ADMIN = "/_emulator"

ROUTES = [
    Route("GET", rf"{_ADMIN}/jobs", "admin", AdminV2Mixin._a_jobs),
    Route("GET", rf"{_ADMIN}/job-outcomes", "admin", AdminV2Mixin._a_job_outcomes),
    Route("PUT", rf"{_ADMIN}/job-outcomes/(?P<exp>{SEGMENT})", "admin", AdminV2Mixin._a_job_outcome_put),
    Route("DELETE", rf"{_ADMIN}/job-outcomes/(?P<exp>{SEGMENT})", "admin", AdminV2Mixin._a_job_outcome_delete),
    Route("GET", rf"{_ADMIN}/batch-endpoints", "admin", AdminV2Mixin._a_batch_endpoints),
    Route("PUT", rf"{_ADMIN}/batch-endpoints/(?P<name>{SEGMENT})", "admin", AdminV2Mixin._a_batch_endpoint_put),
    Route("DELETE", rf"{_ADMIN}/batch-endpoints/(?P<name>{SEGMENT})", "admin",
          AdminV2Mixin._a_batch_endpoint_delete),
    Route("GET", rf"{_ADMIN}/schedules", "admin", AdminV2Mixin._a_schedules),
    Route("PUT", rf"{_ADMIN}/schedules/(?P<name>{SEGMENT})", "admin", AdminV2Mixin._a_schedule_put),
    Route("DELETE", rf"{_ADMIN}/schedules/(?P<name>{SEGMENT})", "admin", AdminV2Mixin._a_schedule_delete),
]
