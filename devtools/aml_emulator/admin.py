"""The admin API under ``/_emulator/``: the Python admin methods over HTTP, no auth.

    GET    /_emulator/healthz
    GET    /_emulator/pipelines                 PUT|DELETE /_emulator/pipelines/{id}
           body of PUT: {"kind", "outcome", "durationSeconds", "versions"}
    GET    /_emulator/faults                    POST adds one, DELETE clears them all
           body of POST: {"method", "pathContains", "status", "times", "retryAfter",
                          "delaySeconds", "hang", "hangSeconds", "reset", "code", "message"}
    GET    /_emulator/requests                  the request log
    GET    /_emulator/runs                      every run, with the pipeline version that ran
    POST   /_emulator/reset
    GET    /_emulator/computes                  PUT|DELETE /_emulator/computes/{name}
           body of PUT: {"computeType", "vmSize", "minNodeCount", "maxNodeCount",
                         "nodeIdleTimeBeforeScaleDown", "nodeCount", "state", "provisioningState",
                         "operationOutcome", "location", "description"}
    GET    /_emulator/operations
    GET    /_emulator/settings                  PATCH changes some of them:
           {"runSeconds", "cancelSeconds", "queryPageSize", "computePageSize",
            "operationSeconds", "retryAfterSeconds", "armPageSize",
            "repeatabilityWindowSeconds", "duplicateJobPut": "update|conflict|return-existing"}

AML v2 (jobs, batch endpoints, schedules): see ``admin_v2``.

Each handler calls the ``AmlEmulator`` method of the same purpose (``register_pipeline``,
``add_fault``, ``seed_compute``, ...), which the other areas provide.
"""

from __future__ import annotations

from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.jobs import DUPLICATE_JOB_PUT_MODES
from devtools.aml_emulator.errors import bad_request, not_found
from devtools.aml_emulator.routing import SEGMENT, Reply, Request, Route

_FAULT_FIELDS = {"method", "pathContains", "status", "times", "retryAfter", "delaySeconds",
                 "hang", "hangSeconds", "reset", "code", "message"}
_COMPUTE_FIELDS = {"computeType": "compute_type", "vmSize": "vm_size", "minNodeCount": "min_nodes",
                   "maxNodeCount": "max_nodes", "nodeIdleTimeBeforeScaleDown": "idle", "nodeCount": "node_count",
                   "state": "state", "provisioningState": "provisioning_state",
                   "operationOutcome": "operation_outcome", "location": "location", "description": "description"}
# Admin name -> (attribute, type). Fractions are allowed for retryAfterSeconds, but
# the Retry-After header always carries whole seconds.
SETTINGS = {"runSeconds": ("run_seconds", float), "cancelSeconds": ("cancel_seconds", float),
            "queryPageSize": ("query_page_size", int), "computePageSize": ("compute_page_size", int),
            "operationSeconds": ("operation_seconds", float), "retryAfterSeconds": ("retry_after_seconds", float),
            "armPageSize": ("arm_page_size", int),
            "repeatabilityWindowSeconds": ("repeatability_window_seconds", float),
            "duplicateJobPut": ("duplicate_job_put", str)}
# The values a str setting may take.
SETTING_CHOICES = {"duplicateJobPut": DUPLICATE_JOB_PUT_MODES}


class AdminMixin(EmulatorBase):
    """Handlers only; the methods they call come from the other areas' mixins."""

    def _a_healthz(self, request: Request) -> Reply:
        return Reply(200, {"status": "ok"})

    def _a_pipelines_list(self, request: Request) -> Reply:
        return Reply(200, self.pipelines())

    def _a_pipeline_put(self, request: Request) -> Reply:
        body = request.json(required=False) or {}
        if not isinstance(body, dict):
            raise bad_request("Body must be a JSON object.")
        try:
            entry = self.register_pipeline(
                request.params["id"],
                kind=body.get("kind", "pipeline"),
                outcome=body.get("outcome", "Completed"),
                duration_seconds=body.get("durationSeconds"),
                versions=body.get("versions"),
            )
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, entry)

    def _a_pipeline_delete(self, request: Request) -> Reply:
        if not self.unregister_pipeline(request.params["id"]):
            raise not_found(f"Pipeline {request.params['id']} is not registered.")
        return Reply(200, {"deleted": request.params["id"]})

    def _a_faults_list(self, request: Request) -> Reply:
        return Reply(200, self.faults())

    def _a_fault_add(self, request: Request) -> Reply:
        body = request.json(required=True)
        if not isinstance(body, dict):
            raise bad_request("Body must be a JSON object.")
        unknown = set(body) - _FAULT_FIELDS
        if unknown:
            raise bad_request(f"Unknown fault fields: {sorted(unknown)}.")
        options = dict(body)
        # null means "the default" for these, as if the field were left out.
        for key in ("delaySeconds", "hangSeconds", "times"):
            if options.get(key) is None:
                options.pop(key, None)
        try:
            fault = self.add_fault(**options)
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, fault)

    def _a_faults_clear(self, request: Request) -> Reply:
        self.clear_faults()
        return Reply(200, [])

    def _a_requests(self, request: Request) -> Reply:
        return Reply(200, self.requests_log())

    def _a_runs(self, request: Request) -> Reply:
        return Reply(200, self.runs())

    def _a_reset(self, request: Request) -> Reply:
        self.reset()
        return Reply(200, {"status": "reset"})

    def _a_computes_list(self, request: Request) -> Reply:
        return Reply(200, self.computes())

    def _a_compute_put(self, request: Request) -> Reply:
        body = request.json(required=False) or {}
        if not isinstance(body, dict):
            raise bad_request("Body must be a JSON object.")
        unknown = set(body) - set(_COMPUTE_FIELDS)
        if unknown:
            raise bad_request(f"Unknown compute fields: {sorted(unknown)}.")
        try:
            compute = self.seed_compute(request.params["name"], **{_COMPUTE_FIELDS[k]: v for k, v in body.items()})
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        return Reply(200, compute)

    def _a_compute_delete(self, request: Request) -> Reply:
        if not self.remove_compute(request.params["name"]):
            raise not_found(f"Compute {request.params['name']} does not exist.")
        return Reply(200, {"deleted": request.params["name"]})

    def _a_operations(self, request: Request) -> Reply:
        return Reply(200, self.operations())

    def _a_settings_get(self, request: Request) -> Reply:
        return Reply(200, {key: getattr(self, attr) for key, (attr, _kind) in SETTINGS.items()})

    def _a_settings_patch(self, request: Request) -> Reply:
        body = request.json(required=True)
        if not isinstance(body, dict) or set(body) - set(SETTINGS):
            raise bad_request(f"Body must be an object with some of {sorted(SETTINGS)}.")
        # Check every value before changing any, so a bad body changes nothing.
        for key, value in body.items():
            attr, kind = SETTINGS[key]
            if kind is str:
                if value not in SETTING_CHOICES[key]:
                    raise bad_request(f"{key} must be one of {list(SETTING_CHOICES[key])}.")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < (1 if kind is int else 0):
                raise bad_request(f"{key} must be a {'positive integer' if kind is int else 'non-negative number'}.")
            if kind is int and value != int(value):
                raise bad_request(f"{key} must be a whole number.")
        for key, value in body.items():
            attr, kind = SETTINGS[key]
            setattr(self, attr, kind(value))
        return self._a_settings_get(request)


_ADMIN = "/_emulator"

ROUTES = [
    Route("GET", rf"{_ADMIN}/healthz", "admin", AdminMixin._a_healthz),
    Route("GET", rf"{_ADMIN}/pipelines", "admin", AdminMixin._a_pipelines_list),
    Route("PUT", rf"{_ADMIN}/pipelines/(?P<id>{SEGMENT})", "admin", AdminMixin._a_pipeline_put),
    Route("DELETE", rf"{_ADMIN}/pipelines/(?P<id>{SEGMENT})", "admin", AdminMixin._a_pipeline_delete),
    Route("GET", rf"{_ADMIN}/faults", "admin", AdminMixin._a_faults_list),
    Route("POST", rf"{_ADMIN}/faults", "admin", AdminMixin._a_fault_add),
    Route("DELETE", rf"{_ADMIN}/faults", "admin", AdminMixin._a_faults_clear),
    Route("GET", rf"{_ADMIN}/requests", "admin", AdminMixin._a_requests),
    Route("GET", rf"{_ADMIN}/runs", "admin", AdminMixin._a_runs),
    Route("POST", rf"{_ADMIN}/reset", "admin", AdminMixin._a_reset),
    Route("GET", rf"{_ADMIN}/computes", "admin", AdminMixin._a_computes_list),
    Route("PUT", rf"{_ADMIN}/computes/(?P<name>{SEGMENT})", "admin", AdminMixin._a_compute_put),
    Route("DELETE", rf"{_ADMIN}/computes/(?P<name>{SEGMENT})", "admin", AdminMixin._a_compute_delete),
    Route("GET", rf"{_ADMIN}/operations", "admin", AdminMixin._a_operations),
    Route("GET", rf"{_ADMIN}/settings", "admin", AdminMixin._a_settings_get),
    Route("PATCH", rf"{_ADMIN}/settings", "admin", AdminMixin._a_settings_patch),
]
