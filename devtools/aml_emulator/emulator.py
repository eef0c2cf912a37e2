"""``AmlEmulator``: the areas composed into one server, and the route table.

Each area is a mixin with a module-level ``ROUTES`` list. To add an area: write its
module with a mixin and ``ROUTES``, add the mixin to ``AmlEmulator``'s bases and its
routes to ``_ROUTE_AREAS``, and clear its state in ``reset``.
"""

from __future__ import annotations

import threading
from collections import deque

from devtools.aml_emulator import (
    admin,
    admin_v2,
    batch_endpoints,
    batch_invocations,
    computes,
    jobs,
    operations,
    pipelines,
    runs,
    schedules,
    script_runs,
)
from devtools.aml_emulator.admin import AdminMixin
from devtools.aml_emulator.admin_v2 import AdminV2Mixin
from devtools.aml_emulator.batch_invocations import BatchInvocationsMixin
from devtools.aml_emulator.computes import ComputesMixin
from devtools.aml_emulator.jobs import DUPLICATE_JOB_PUT_MODES
from devtools.aml_emulator.pipelines import PipelinesMixin
from devtools.aml_emulator.routing import Route
from devtools.aml_emulator.schedules import SchedulesMixin
from devtools.aml_emulator.script_runs import ScriptRunsMixin
from devtools.aml_emulator.server import HttpServer, ServingMixin

_REQUEST_LOG_LIMIT = 10_000

# Route lists per area. Routes are tried in this order, but no two areas serve the
# same path, so the order does not change which route answers.
_ROUTE_AREAS: tuple[list[Route], ...] = (
    pipelines.ROUTES,
    runs.ROUTES,
    script_runs.ROUTES,
    computes.ROUTES,
    operations.ROUTES,
    jobs.ROUTES,
    batch_endpoints.ROUTES,
    batch_invocations.ROUTES,
    schedules.ROUTES,
    admin.ROUTES,
    admin_v2.ROUTES,
)


class AmlEmulator(ServingMixin, PipelinesMixin, ScriptRunsMixin, ComputesMixin, BatchInvocationsMixin,
                  SchedulesMixin, AdminMixin, AdminV2Mixin):
    """In-process AML data-plane and ARM emulator. Start it, point the app at ``base_url``."""

    _routes = tuple(route for area in _ROUTE_AREAS for route in area)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        subscription_id: str = "00000000-0000-0000-0000-000000000000",
        resource_group: str = "rg-local",
        workspace: str = "ws-local",
        run_seconds: float = 6.0,
        accepted_data_plane_audiences: tuple[str, ...] = (
            "https://management.azure.com",
            "https://ml.azure.com",
        ),
        arm_audience: str = "https://management.azure.com",
        *,
        cancel_seconds: float = 1.0,
        query_page_size: int = 100,
        location: str = "westeurope",
        operation_seconds: float = 1.0,
        compute_page_size: int = 50,
        retry_after_seconds: float = 1,
        inference_base_url: str | None = None,
        inference_audience: str = "https://ml.azure.com",
        duplicate_job_put: str = "update",
        arm_page_size: int = 50,
        repeatability_window_seconds: float = 24 * 3600,
    ) -> None:
        if duplicate_job_put not in DUPLICATE_JOB_PUT_MODES:
            raise ValueError(f"duplicate_job_put must be one of {DUPLICATE_JOB_PUT_MODES}")
        self._host = host
        self._requested_port = port
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        self.run_seconds = float(run_seconds)
        self.accepted_data_plane_audiences = tuple(accepted_data_plane_audiences)
        self.arm_audience = arm_audience
        self.cancel_seconds = float(cancel_seconds)
        self.query_page_size = int(query_page_size)
        self.location = location
        self.operation_seconds = float(operation_seconds)
        self.compute_page_size = int(compute_page_size)
        # Sent as whole seconds, rounded up, because that is all clients can parse;
        # 0 makes pollers ask again at once, which keeps tests fast.
        self.retry_after_seconds = float(retry_after_seconds)
        # Scoring URIs point here; None means the emulator's own base_url.
        self._inference_base_url = inference_base_url
        self.inference_audience = inference_audience
        self.duplicate_job_put = duplicate_job_put
        self.arm_page_size = int(arm_page_size)
        self.repeatability_window_seconds = float(repeatability_window_seconds)

        self._lock = threading.Lock()
        self._pipelines = {}
        self._experiments = {}
        self._runs = {}
        self._run_counter = 0
        self._faults = []
        self._requests = deque(maxlen=_REQUEST_LOG_LIMIT)
        self._computes = {}
        self._operations = {}
        self._job_outcomes = {}
        self._job_cancellations = {}
        self._batch_endpoints = {}
        self._invocations = {}
        self._schedules = {}

        self._in_flight_lock = threading.Lock()
        self._in_flight_count = 0
        self._stopping = threading.Event()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        """Forget runs and jobs, experiments, computes, operations, faults and the request log.

        What was registered or seeded as configuration stays: pipelines, batch
        endpoints, schedules and job outcomes.
        """
        with self._lock:
            self._computes.clear()
            self._operations.clear()
            self._job_cancellations.clear()
            self._invocations.clear()
            self._runs.clear()
            self._experiments.clear()
            self._faults.clear()
            self._requests.clear()
            self._run_counter = 0
