"""What every area of the emulator shares.

``AmlEmulator`` is composed of one mixin per area (serving, faults, runs, pipelines,
computes, operations, jobs, batch endpoints and invocations, schedules, admin). They
all read the workspace's identity, the timing settings and the state tables declared
here; ``AmlEmulator.__init__`` sets them.
Every state table is guarded by ``_lock``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class EmulatorBase:
    # The emulated workspace; ARM and data-plane paths must name it.
    subscription_id: str
    resource_group: str
    workspace: str
    location: str

    # Settings the admin API may change while the emulator runs.
    run_seconds: float
    cancel_seconds: float
    query_page_size: int
    compute_page_size: int
    operation_seconds: float
    retry_after_seconds: float

    # AML v2: what a second PUT of an existing job name does ("update", "conflict",
    # "return-existing"), the page size of the v2 ARM lists, and how long a batch
    # invocation's repeatability_request-id is remembered.
    duplicate_job_put: str
    arm_page_size: int
    repeatability_window_seconds: float

    accepted_data_plane_audiences: tuple[str, ...]
    arm_audience: str
    # The only audience batch endpoint scoring URIs accept.
    inference_audience: str

    # ``http://host:port`` of the running server (a property of the serving mixin);
    # areas use it for absolute links such as nextLink.
    base_url: str

    _lock: threading.Lock
    _stopping: threading.Event
    _pipelines: dict[str, dict[str, Any]]
    _experiments: dict[str, dict[str, Any]]
    _runs: dict[str, dict[str, Any]]
    _run_counter: int
    _faults: list[dict[str, Any]]
    _requests: deque[dict[str, Any]]
    _computes: dict[str, dict[str, Any]]
    _operations: dict[str, dict[str, Any]]
    # AML v2. Jobs live in ``_runs`` (a v2 job is a run-history run named by the job).
    _job_outcomes: dict[str, dict[str, Any]]
    _job_cancellations: dict[str, str]
    _batch_endpoints: dict[str, dict[str, Any]]
    _invocations: dict[tuple[str, str], dict[str, Any]]
    _schedules: dict[str, dict[str, Any]]
    _inference_base_url: str | None

    @property
    def inference_base(self) -> str:
        """Where scoring URIs point: the ``inference_base_url`` option, else the emulator itself."""
        return (self._inference_base_url or self.base_url).rstrip("/")

    @property
    def workspace_path(self) -> str:
        return (
            f"subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )
