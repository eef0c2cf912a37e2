"""Loopback emulator of the Azure ML REST surfaces the scheduler uses.

One server stands in for both the ARM host and the workspace data-plane host
(``{region}.api.azureml.ms``); the app is pointed at ``base_url`` for both.

Data plane (``W`` = ``subscriptions/{sub}/resourceGroups/{rg}/providers/
Microsoft.MachineLearningServices/workspaces/{ws}``):

    POST /pipelines/v1.0/W/PipelineRuns/PipelineSubmit/{pipelineId}
    POST /pipelines/v1.0/W/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[?pipelineVersion=V]
    GET  /history/v1.0/W/experiments/{exp}                      (POST creates, idempotently)
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}
    GET  /history/v1.0/W/runs/{runId}
    POST /history/v1.0/W/experiments/{exp}/runs:query            body QueryParams
    GET  /history/v1.0/W/experiments/{exp}/runs?$filter=...       (see note below)
    POST /history/v1.0/W/experiments/{exp}/runs/{runId}/cancel
    POST /execution/v1.0/W/experiments/{exp}/runId/{runId}/cancel
    POST /execution/v1.0/W/experiments/{exp}/startrun[?runId=]   multipart runDefinitionFile + projectZipFile
    GET  /history/v1.0/W/experiments/{exp}/runs/{runId}/details
    GET  /pipelines/v1.0/W/pipelines                              (published pipelines; no public spec)

ARM plane (``?api-version=`` required; only the ARM audience is accepted):

    GET    /W/computes[?$skip=N]                                  paged with nextLink
    GET    /W/computes/{name}
    PUT    /W/computes/{name}          201 + Azure-AsyncOperation (new) / 200 + Azure-AsyncOperation (update)
    PATCH  /W/computes/{name}          scale settings; 200 + Azure-AsyncOperation
    DELETE /W/computes/{name}?underlyingResourceAction=Delete|Detach   202 + both headers; 204 if absent
    POST   /W/computes/{name}/start|stop   202 + Azure-AsyncOperation; restart: 202 + Location
    POST   /W/computes/{name}/listNodes[?$skip=N]
    GET    /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/
           computeOperationsStatus/{id}   {"status": "InProgress|Succeeded|Failed", "error"?}
           computeOperationsResult/{id}   202 while running, then 200 (compute) / 204, or the error

Computes follow the 2025-12-01 ``ComputeResource`` shapes (AmlCompute, ComputeInstance).
An operation takes ``operation_seconds``; while it runs the compute shows Creating,
Updating or Deleting (instances: Starting, Stopping, Restarting) and any other write
on it answers 409. The status URL has the shape seen from the real service
(``.../locations/{region}/computeOperationsStatus/{id}?api-version=...&service=new``);
the result URL's shape is the emulator's own (the specs only say "pathToOperationResult").

Shapes follow the official specs where they exist (run history ``Run``,
``PaginatedRunList``, ``QueryParams``, ``Experiment``, ``ErrorResponse``; execution
cancel answering ``{"runId"}``). The pipelines service publishes no spec in the
public spec repository; its ``PipelineRun`` entity follows a response captured from
the real service (note ``Status.StatusCode`` is an integer there and the tag map is
spelled ``tags``). ``GET .../experiments/{exp}/runs`` is not in the current run-history
spec; it is kept for clients that list with ``$filter``.

Runs advance with wall-clock time since submission, so no background threads are
needed: NotStarted for the first 10% of the pipeline's duration, Queued until 30%,
Running until 100%, then the registered outcome.

Admin API (no auth) under ``/_emulator/``: pipelines, faults, request log, runs,
reset, healthz; computes (``GET``, ``PUT /_emulator/computes/{name}`` with camelCase
``computeType, vmSize, minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown,
nodeCount, state, provisioningState, operationOutcome, location, description``,
``DELETE``), operations (``GET``) and settings (``GET``/``PATCH /_emulator/settings``:
``runSeconds, cancelSeconds, queryPageSize, computePageSize, operationSeconds,
retryAfterSeconds``). Faults apply to ARM routes as to data-plane ones. See
``AmlEmulator`` for the Python equivalents (``seed_compute``, ``computes``, ...).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import email.parser
import email.policy
import io
import json
import logging
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from devtools.identity_emulator import decode_token

__all__ = ["AmlEmulator", "TERMINAL_STATUSES"]

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
OUTCOMES = frozenset({"Completed", "Failed"})
FAILURE_ERROR = {"code": "UserError", "message": "Step 'score' failed: emulated failure"}

# Run-history status -> pipelines-service status code. The real service sends an
# integer; the order NotStarted, Running, Failed, Finished, Canceled is the order of
# the PipelineRunStatusCode enum in Microsoft's generated clients. Not confirmed on
# the wire: clients should read run status from run history, not from this field.
_PIPELINE_STATUS_CODE = {
    "NotStarted": 0,
    "Queued": 1,
    "Running": 1,
    "CancelRequested": 1,
    "Failed": 2,
    "Completed": 3,
    "Canceled": 4,
}

_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_MAX_BODY = 4 * 1024 * 1024
_HANG_SECONDS = 30.0
_REQUEST_LOG_LIMIT = 10_000

_SEG = r"[^/]+"
_W = (
    rf"subscriptions/(?P<sub>{_SEG})/resourceGroups/(?P<rg>{_SEG})"
    rf"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>{_SEG})"
)

_FAULT_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class ApiError(Exception):
    """An answer in the AML error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.headers = headers or {}


def _user_error(status: int, message: str, inner_code: str) -> ApiError:
    # Run history and the pipelines service report client mistakes as code
    # "UserError" with the specific reason in innerError.
    return ApiError(status, "UserError", message, inner_code=inner_code)


def _not_found(message: str) -> ApiError:
    return _user_error(404, message, "NotFoundError")


def _bad_request(message: str) -> ApiError:
    return _user_error(400, message, "BadArgument")


def _rh_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pipelines_time(ts: float | None) -> str | None:
    # The pipelines service writes .NET round-trip times: seven fractional digits
    # and an explicit offset. Clients that only parse six digits break on them.
    if ts is None:
        return None
    moment = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0+00:00"


def _timespan(seconds: float) -> str:
    seconds = max(0.0, seconds)
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = int(round((seconds - whole) * 10_000_000))
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{min(fraction, 9_999_999):07d}"


def _wire_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Request:
    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: Any,
        body: bytes,
        params: dict[str, str],
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.params = params
        self.claims: dict[str, Any] = {}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self, *, required: bool) -> Any:
        if not self.body.strip():
            if required:
                raise _bad_request("A JSON request body is required.")
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise _bad_request(f"The request body is not valid JSON: {exc}") from None


class _Reply:
    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class _Route:
    """One row of the route table.

    ``plane`` chooses authentication: "data" accepts the data-plane audiences,
    "arm" only the ARM audience, "admin" none. ARM routes (computes, jobs) are rows
    with the "arm" plane and a pattern starting ``/{_W}``; the workspace check and
    faults apply to them unchanged.
    """

    def __init__(self, method: str, pattern: str, plane: str, handler: Callable[..., _Reply]) -> None:
        self.method = method
        self.regex = re.compile(f"^{pattern}$")
        self.plane = plane
        self.handler = handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: AmlEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up on a hung request, and injected resets, end in socket
        # errors here; they are expected, so keep them out of stderr.
        log.debug("aml connection from %s ended abnormally", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without this, Nagle plus delayed ACK
    # stalls every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # Method, path and status only: headers carry bearer tokens.
        path = urllib.parse.urlsplit(self.path).path
        log.debug("aml %s %s -> %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("aml: " + format, *args)

    def _handle(self) -> None:
        self.server.emulator._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    def send_reply(self, reply: _Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reset_connection(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST, the way a dropped
        # connection looks to the client.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class AmlEmulator:
    """In-process AML data-plane emulator. Start it, point the app at ``base_url``."""

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
    ) -> None:
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
        # Whole seconds as HTTP says; tests may set fractions to poll faster.
        self.retry_after_seconds = float(retry_after_seconds)

        self._lock = threading.Lock()
        self._pipelines: dict[str, dict[str, Any]] = {}
        self._experiments: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, dict[str, Any]] = {}
        self._run_counter = 0
        self._faults: list[dict[str, Any]] = []
        self._requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_LIMIT)
        self._computes: dict[str, dict[str, Any]] = {}
        self._operations: dict[str, dict[str, Any]] = {}

        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> AmlEmulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, self._requested_port), self)
        # A short poll interval keeps stop() fast; shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="aml-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # releases requests parked in a hang or delay fault
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AmlEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def workspace_path(self) -> str:
        return (
            f"subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    # -- Python admin API ------------------------------------------------------------

    def register_pipeline(
        self,
        id: str,  # noqa: A002 - mirrors the admin API
        kind: str = "pipeline",
        outcome: str = "Completed",
        duration_seconds: float | None = None,
        versions: list[str] | tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Publish a pipeline (``kind="pipeline"``) or a pipeline endpoint (``"endpoint"``)."""
        if not isinstance(id, str) or not id or "/" in id:
            raise ValueError("pipeline id must be a non-empty string without '/'")
        if kind not in ("pipeline", "endpoint"):
            raise ValueError("kind must be 'pipeline' or 'endpoint'")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        duration = self.run_seconds if duration_seconds is None else float(duration_seconds)
        if duration < 0:
            raise ValueError("durationSeconds must not be negative")
        if kind == "endpoint":
            versions = [str(v) for v in (versions or ["1"])]
            if not versions or len(set(versions)) != len(versions):
                raise ValueError("versions must be a non-empty list of distinct strings")
        elif versions:
            raise ValueError("versions apply to endpoints only")
        entry = {
            "id": id,
            "kind": kind,
            "outcome": outcome,
            "durationSeconds": duration,
            "versions": list(versions) if kind == "endpoint" else None,
        }
        with self._lock:
            self._pipelines[id] = entry
        return dict(entry)

    def unregister_pipeline(self, id: str) -> bool:  # noqa: A002
        with self._lock:
            return self._pipelines.pop(id, None) is not None

    def pipelines(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for p in self._pipelines.values()]

    def add_fault(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
        delay_seconds: float = 0.0,
        hang: bool = False,
        *,
        reset: bool = False,
        code: str | None = None,
        message: str | None = None,
        hang_seconds: float = _HANG_SECONDS,
        **camel_case: Any,
    ) -> dict[str, Any]:
        """Queue a fault for the next ``times`` matching data-plane requests.

        Keywords may also be given in the admin API's camelCase (``pathContains``,
        ``retryAfter``, ``delaySeconds``, ``hangSeconds``).
        """
        aliases = {
            "pathContains": "path_contains",
            "retryAfter": "retry_after",
            "delaySeconds": "delay_seconds",
            "hangSeconds": "hang_seconds",
        }
        values = {
            "method": method,
            "path_contains": path_contains,
            "status": status,
            "times": times,
            "retry_after": retry_after,
            "delay_seconds": delay_seconds,
            "hang": hang,
            "reset": reset,
            "code": code,
            "message": message,
            "hang_seconds": hang_seconds,
        }
        for key, value in camel_case.items():
            if key not in aliases:
                raise TypeError(f"unknown fault option {key!r}")
            values[aliases[key]] = value
        fault = self._validate_fault(values)
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def requests_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._requests]

    def runs(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            return [self._admin_run_view(r, now) for r in self._runs.values()]

    def reset(self) -> None:
        """Forget runs, experiments, computes, operations, faults and the request log; keep pipelines."""
        with self._lock:
            self._computes.clear()
            self._operations.clear()
            self._runs.clear()
            self._experiments.clear()
            self._faults.clear()
            self._requests.clear()
            self._run_counter = 0

    # -- routing ---------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        p, h, x = "/pipelines/v1.0", "/history/v1.0", "/execution/v1.0"
        return [
            _Route("POST", rf"{p}/{_W}/PipelineRuns/PipelineSubmit/(?P<pipelineId>{_SEG})", "data",
                   AmlEmulator._h_pipeline_submit),
            _Route("POST", rf"{p}/{_W}/PipelineRuns/PipelineEndpointSubmit/Id/(?P<endpointId>{_SEG})", "data",
                   AmlEmulator._h_endpoint_submit),
            _Route("GET", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})", "data", AmlEmulator._h_experiment_get),
            _Route("POST", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})", "data", AmlEmulator._h_experiment_create),
            _Route("POST", rf"{h}/{_W}/experiments/(?P<exp>[^/]+?)/runs:query", "data", AmlEmulator._h_runs_query),
            _Route("GET", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})/runs", "data", AmlEmulator._h_runs_list),
            _Route("GET", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})/runs/(?P<runId>{_SEG})", "data",
                   AmlEmulator._h_run_get),
            _Route("POST", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})/runs/(?P<runId>{_SEG})/cancel", "data",
                   AmlEmulator._h_history_cancel),
            _Route("GET", rf"{h}/{_W}/runs/(?P<runId>{_SEG})", "data", AmlEmulator._h_run_get),
            _Route("POST", rf"{x}/{_W}/experiments/(?P<exp>{_SEG})/runId/(?P<runId>{_SEG})/cancel", "data",
                   AmlEmulator._h_execution_cancel),
            _Route("POST", rf"{x}/{_W}/experiments/(?P<exp>{_SEG})/startrun", "data", AmlEmulator._h_start_run),
            _Route("GET", rf"{h}/{_W}/experiments/(?P<exp>{_SEG})/runs/(?P<runId>{_SEG})/details", "data",
                   AmlEmulator._h_run_details),
            _Route("GET", rf"{p}/{_W}/pipelines", "data", AmlEmulator._h_pipelines_list),
            *self._compute_routes(),
            _Route("GET", r"/_emulator/healthz", "admin", AmlEmulator._a_healthz),
            _Route("GET", r"/_emulator/pipelines", "admin", AmlEmulator._a_pipelines_list),
            _Route("PUT", rf"/_emulator/pipelines/(?P<id>{_SEG})", "admin", AmlEmulator._a_pipeline_put),
            _Route("DELETE", rf"/_emulator/pipelines/(?P<id>{_SEG})", "admin", AmlEmulator._a_pipeline_delete),
            _Route("GET", r"/_emulator/faults", "admin", AmlEmulator._a_faults_list),
            _Route("POST", r"/_emulator/faults", "admin", AmlEmulator._a_fault_add),
            _Route("DELETE", r"/_emulator/faults", "admin", AmlEmulator._a_faults_clear),
            _Route("GET", r"/_emulator/requests", "admin", AmlEmulator._a_requests),
            _Route("GET", r"/_emulator/runs", "admin", AmlEmulator._a_runs),
            _Route("POST", r"/_emulator/reset", "admin", AmlEmulator._a_reset),
            _Route("GET", r"/_emulator/computes", "admin", AmlEmulator._a_computes_list),
            _Route("PUT", rf"/_emulator/computes/(?P<name>{_SEG})", "admin", AmlEmulator._a_compute_put),
            _Route("DELETE", rf"/_emulator/computes/(?P<name>{_SEG})", "admin", AmlEmulator._a_compute_delete),
            _Route("GET", r"/_emulator/operations", "admin", AmlEmulator._a_operations),
            _Route("GET", r"/_emulator/settings", "admin", AmlEmulator._a_settings_get),
            _Route("PATCH", r"/_emulator/settings", "admin", AmlEmulator._a_settings_patch),
        ]

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self._routes:
            m = route.regex.match(path)
            if m is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            # Segments are matched while still encoded, then decoded one by one, so an
            # encoded "/" inside a name can never shift the path structure.
            params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
            return route, params
        if allowed:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}",
                           headers={"Allow": ", ".join(sorted(set(allowed)))})
        raise _not_found(f"No route matches {method} {path}.")

    # -- request pipeline ------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        path, query = split.path, split.query
        started = time.time()
        audience: str | None = None
        plane = "admin" if path.startswith("/_emulator/") else "data"
        try:
            try:
                length = int(handler.headers.get("Content-Length") or 0)
            except ValueError:
                handler.close_connection = True
                raise _bad_request("Content-Length is not a number.") from None
            if length > _MAX_BODY:
                handler.close_connection = True
                raise ApiError(413, "RequestEntityTooLarge", f"Bodies are limited to {_MAX_BODY} bytes.")
            body = handler.rfile.read(length) if length > 0 else b""
            route, params = self._match(handler.command, path)
            plane = route.plane
            request = _Request(handler.command, path, query, handler.headers, body, params)
            if plane != "admin":
                fault_reply = self._apply_fault(handler, request)
                if fault_reply == "dropped":
                    self._record(handler.command, path, query, None, None, started)
                    return
                if isinstance(fault_reply, _Reply):
                    self._record(handler.command, path, query, fault_reply.status, None, started)
                    handler.send_reply(fault_reply)
                    return
                audience = self._authenticate(request, plane)
                self._check_workspace(params)
            reply = route.handler(self, request)
        except ApiError as err:
            reply = self._error_reply(err)
        except Exception:  # noqa: BLE001 - an emulator bug must still answer
            log.exception("AML emulator handler failed")
            reply = self._error_reply(ApiError(500, "ServiceError", "The emulator failed to handle the request."))
        if plane != "admin":
            self._record(handler.command, path, query, reply.status, audience, started)
        handler.send_reply(reply)

    def _record(
        self, method: str, path: str, query: str, status: int | None, audience: str | None, at: float
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "audience": audience,
            "time": _rh_time(at),
        }
        with self._lock:
            self._requests.append(entry)

    @staticmethod
    def _error_reply(err: ApiError) -> _Reply:
        error: dict[str, Any] = {"code": err.code, "message": err.message, "details": []}
        if err.inner_code:
            error["innerError"] = {"code": err.inner_code}
        body = {"error": error, "correlation": {"RequestId": str(uuid.uuid4())}}
        return _Reply(err.status, body, dict(err.headers))

    def _authenticate(self, request: _Request, plane: str) -> str:
        expected = self.accepted_data_plane_audiences if plane == "data" else (self.arm_audience,)
        wanted = ", ".join(expected)

        def reject(code: str, message: str) -> ApiError:
            challenge = (
                'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                f'error="invalid_token", error_description="{message}"'
            )
            return ApiError(401, code, f"{message} Expected audience: {wanted}.",
                            headers={"WWW-Authenticate": challenge})

        header = request.headers.get("Authorization")
        if not header:
            raise reject("AuthenticationFailed", "The request has no Authorization header.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise reject("AuthenticationFailed", "The Authorization header is not a bearer token.")
        try:
            claims = decode_token(token.strip())
        except ValueError:
            raise reject("InvalidAuthenticationToken", "The bearer token could not be decoded.") from None
        audience = claims.get("aud")
        if not isinstance(audience, str) or not audience:
            raise reject("InvalidAuthenticationToken", "The bearer token has no audience.")
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise reject("ExpiredAuthenticationToken", "The bearer token has expired.")
        if audience.rstrip("/") not in {a.rstrip("/") for a in expected}:
            raise reject("InvalidAuthenticationTokenAudience", f"The token audience {audience!r} is not accepted.")
        request.claims = claims
        return audience

    def _check_workspace(self, params: dict[str, str]) -> None:
        if "sub" not in params:
            return
        # Azure resource names compare case-insensitively.
        same = (
            params["sub"].lower() == self.subscription_id.lower()
            and params["rg"].lower() == self.resource_group.lower()
            and params["ws"].lower() == self.workspace.lower()
        )
        if not same:
            raise _not_found(
                f"Workspace subscriptions/{params['sub']}/resourceGroups/{params['rg']}/"
                f"workspaces/{params['ws']} was not found."
            )

    # -- faults ----------------------------------------------------------------------

    @staticmethod
    def _validate_fault(values: dict[str, Any]) -> dict[str, Any]:
        def number(name: str, value: Any, *, allow_none: bool) -> float | None:
            if value is None and allow_none:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            return float(value)

        method = values.get("method")
        if method is not None and (not isinstance(method, str) or not method):
            raise ValueError("method must be an HTTP method or null")
        path_contains = values.get("path_contains")
        if path_contains is not None and not isinstance(path_contains, str):
            raise ValueError("pathContains must be a string or null")
        status = values.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
            raise ValueError("status must be an HTTP status code or null")
        times = values.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        for flag in ("hang", "reset"):
            if not isinstance(values.get(flag, False), bool):
                raise ValueError(f"{flag} must be a boolean")
        for text in ("code", "message"):
            if values.get(text) is not None and not isinstance(values[text], str):
                raise ValueError(f"{text} must be a string or null")
        return {
            "id": str(uuid.uuid4()),
            "method": method.upper() if method else None,
            "pathContains": path_contains,
            "status": status,
            "times": times,
            "retryAfter": number("retryAfter", values.get("retry_after"), allow_none=True),
            "delaySeconds": number("delaySeconds", values.get("delay_seconds") or 0.0, allow_none=False),
            "hang": values.get("hang", False),
            "hangSeconds": number("hangSeconds", values.get("hang_seconds", _HANG_SECONDS), allow_none=False),
            "reset": values.get("reset", False),
            "code": values.get("code"),
            "message": values.get("message"),
        }

    def _take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        decoded = urllib.parse.unquote(path)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault["method"] and fault["method"] != method:
                    continue
                if fault["pathContains"] and fault["pathContains"] not in decoded and fault["pathContains"] not in path:
                    continue
                fault["times"] -= 1
                if fault["times"] <= 0:
                    del self._faults[index]
                return dict(fault)
        return None

    def _apply_fault(self, handler: _Handler, request: _Request) -> _Reply | str | None:
        fault = self._take_fault(request.method, request.path)
        if fault is None:
            return None
        if fault["delaySeconds"]:
            self._stopping.wait(fault["delaySeconds"])
        if fault["hang"]:
            self._stopping.wait(fault["hangSeconds"])
            if self._stopping.is_set():
                handler.close_connection = True
                return "dropped"
        if self._stopping.is_set():
            handler.close_connection = True
            return "dropped"
        if fault["reset"]:
            handler.reset_connection()
            return "dropped"
        if fault["status"] is None:
            return None
        status = fault["status"]
        headers: dict[str, str] = {}
        if fault["retryAfter"] is not None:
            retry = fault["retryAfter"]
            headers["Retry-After"] = str(int(retry)) if float(retry).is_integer() else str(retry)
        err = ApiError(
            status,
            fault["code"] or _FAULT_CODES.get(status, f"HttpStatus{status}"),
            fault["message"] or f"Injected fault: HTTP {status}.",
            headers=headers,
        )
        return self._error_reply(err)

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
                "createdUtc": _rh_time(now),
                "tags": {},
                "archivedTime": None,
                "retainForLifetimeOfWorkspace": False,
                "artifactLocation": None,
            }
            self._experiments[name] = experiment
        return experiment

    def _studio_url(self, run_id: str, tenant: str | None) -> str:
        url = f"https://ml.azure.com/runs/{run_id}?wsid=/{self.workspace_path}"
        return f"{url}&tid={tenant}" if tenant else url

    def _run_dto(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        status, start, end = self._state(run, now)
        experiment = self._experiments[run["experimentName"]]
        error = None
        if status == "Failed":
            error = {"error": dict(FAILURE_ERROR, details=[])}
        last_change = max(t for t in (run["submittedAt"], start, end, run["cancelRequestedAt"]) if t is not None)
        dto = {
            "runNumber": run["runNumber"],
            "rootRunId": run["runId"],
            "createdUtc": _rh_time(run["submittedAt"]),
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
            "lastStartTimeUtc": _rh_time(start),
            "lastModifiedUtc": _rh_time(min(last_change, now)),
            "duration": _timespan(end - start) if (start is not None and end is not None) else None,
            "cancelationReason": run["cancelationReason"],
            "runId": run["runId"],
            "parentRunId": None,
            "experimentId": experiment["experimentId"],
            "status": status,
            "startTimeUtc": _rh_time(start),
            "endTimeUtc": _rh_time(end),
            "options": {"generateDataContainerIdIfNotSpecified": True},
            "isVirtual": True,
            "displayName": None,
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
        return dto

    def _pipeline_run_entity(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        status, _start, end = self._state(run, now)
        created_by = run["createdBy"]
        return {
            "Description": run["description"],
            "Status": {
                "StatusCode": _PIPELINE_STATUS_CODE[status],
                "StatusDetail": status,
                "CreationTime": _pipelines_time(run["submittedAt"]),
                "EndTime": _pipelines_time(end),
            },
            "GraphId": run["graphId"],
            "IsSubmitted": True,
            "HasErrors": False,
            "HasWarnings": False,
            "UploadState": 1,
            "ParameterAssignments": {k: _wire_string(v) for k, v in run["parameterAssignments"].items()},
            "DataPathAssignments": json.loads(json.dumps(run["dataPathAssignments"])),
            "DataSetDefinitionValueAssignments": {},
            "RunHistoryExperimentName": run["experimentName"],
            "PipelineId": run["pipelineId"],
            "PipelineEndpointId": run["pipelineEndpointId"],
            "RunSource": run["runSource"],
            "RunType": 0,
            "TotalRunSteps": 1,
            "ScheduleId": None,
            "RunUrl": self._studio_url(run["runId"], created_by.get("userTenantId")),
            "tags": dict(run["tags"]),
            "Properties": {},
            "CreatedBy": {
                "UserObjectId": created_by.get("userObjectId"),
                "UserTenantId": created_by.get("userTenantId"),
                "UserName": created_by.get("userName"),
            },
            "EntityStatus": 0,
            "Id": run["runId"],
            "Etag": f'"{run["etag"]}"',
            "CreatedDate": _pipelines_time(run["submittedAt"]),
            "LastModifiedDate": _pipelines_time(run["submittedAt"]),
        }

    def _admin_run_view(self, run: dict[str, Any], now: float) -> dict[str, Any]:
        status, start, end = self._state(run, now)
        return {
            "runId": run["runId"],
            "pipelineId": run["pipelineId"],
            "pipelineEndpointId": run["pipelineEndpointId"],
            "pipelineVersion": run["pipelineVersion"],
            "experimentName": run["experimentName"],
            "parameterAssignments": json.loads(json.dumps(run["parameterAssignments"])),
            "dataPathAssignments": json.loads(json.dumps(run["dataPathAssignments"])),
            "tags": dict(run["tags"]),
            "description": run["description"],
            "runSource": run["runSource"],
            "status": status,
            "submittedAt": _rh_time(run["submittedAt"]),
            "startTimeUtc": _rh_time(start),
            "endTimeUtc": _rh_time(end),
            "cancelRequestedAt": _rh_time(run["cancelRequestedAt"]),
            "audience": run["audience"],
        }

    # -- data-plane handlers ---------------------------------------------------------

    @staticmethod
    def _parse_submission(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad_request("The request body must be a JSON object.")
        # The service binds JSON case-insensitively.
        fields = {str(k).lower(): v for k, v in body.items()}
        experiment = fields.get("experimentname")
        if not isinstance(experiment, str) or not experiment:
            raise _bad_request("ExperimentName is required.")
        if not _EXPERIMENT_NAME.match(experiment):
            raise _bad_request(
                f"ExperimentName {experiment!r} is invalid: use 1-255 letters, digits, '_' or '-', "
                "starting with a letter or digit."
            )
        params = fields.get("parameterassignments") or {}
        if not isinstance(params, dict) or any(
            isinstance(v, (dict, list)) for v in params.values()
        ):
            raise _bad_request("ParameterAssignments must map names to scalar values.")
        data_paths = fields.get("datapathassignments") or {}
        if not isinstance(data_paths, dict) or any(not isinstance(v, dict) for v in data_paths.values()):
            raise _bad_request("DataPathAssignments must map names to {DataStoreName, RelativePath} objects.")
        description = fields.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad_request("Description must be a string.")
        tags = fields.get("tags") or {}
        if not isinstance(tags, dict) or any(isinstance(v, (dict, list)) for v in tags.values()):
            raise _bad_request("Tags must map names to string values.")
        run_source = fields.get("runsource")
        if run_source is not None and not isinstance(run_source, str):
            raise _bad_request("RunSource must be a string.")
        return {
            "experimentName": experiment,
            "parameterAssignments": params,
            "dataPathAssignments": data_paths,
            "description": description,
            "tags": {str(k): ("" if v is None else _wire_string(v)) for k, v in tags.items()},
            "runSource": run_source or "Unavailable",
        }

    def _submit(
        self,
        request: _Request,
        pipeline: dict[str, Any],
        pipeline_id: str,
        endpoint_id: str | None,
        version: str | None,
    ) -> _Reply:
        submission = self._parse_submission(request.json(required=True))
        claims = request.claims
        now = time.time()
        with self._lock:
            experiment = self._ensure_experiment(submission["experimentName"], now)
            self._run_counter += 1
            run_id = str(uuid.uuid4())
            run = {
                "runId": run_id,
                "runUuid": str(uuid.uuid4()),
                "runNumber": self._run_counter,
                "graphId": str(uuid.uuid4()),
                "etag": str(uuid.uuid4()),
                "pipelineId": pipeline_id,
                "pipelineEndpointId": endpoint_id,
                "pipelineVersion": version,
                "submittedAt": now,
                "durationSeconds": pipeline["durationSeconds"],
                "outcome": pipeline["outcome"],
                "cancelRequestedAt": None,
                "cancelationReason": None,
                "audience": claims.get("aud"),
                "createdBy": {
                    "userObjectId": claims.get("oid"),
                    "userTenantId": claims.get("tid"),
                    "userName": claims.get("appid"),
                },
                "properties": {
                    "azureml.runsource": "azureml.PipelineRun",
                    "runSource": submission["runSource"],
                    "runType": "HTTP",
                    "azureml.parameters": json.dumps(
                        {k: _wire_string(v) for k, v in submission["parameterAssignments"].items()}
                    ),
                    "azureml.pipelineid": pipeline_id,
                },
                **submission,
            }
            if endpoint_id is not None:
                run["properties"]["azureml.pipelineEndpointId"] = endpoint_id
            self._runs[run_id] = run
            entity = self._pipeline_run_entity(run, now)
        log.debug("aml run %s submitted to experiment %s", run_id, experiment["name"])
        return _Reply(200, entity)

    def _h_pipeline_submit(self, request: _Request) -> _Reply:
        pipeline_id = request.params["pipelineId"]
        with self._lock:
            pipeline = self._pipelines.get(pipeline_id)
        if pipeline is None or pipeline["kind"] != "pipeline":
            raise _not_found(f"Published pipeline {pipeline_id} was not found.")
        return self._submit(request, pipeline, pipeline_id, None, None)

    def _h_endpoint_submit(self, request: _Request) -> _Reply:
        endpoint_id = request.params["endpointId"]
        with self._lock:
            endpoint = self._pipelines.get(endpoint_id)
        if endpoint is None or endpoint["kind"] != "endpoint":
            raise _not_found(f"Pipeline endpoint {endpoint_id} was not found.")
        version = request.arg("pipelineVersion")
        if version is None or version == "":
            version = endpoint["versions"][0]
        elif version not in endpoint["versions"]:
            raise _not_found(f"Pipeline endpoint {endpoint_id} has no version {version!r}.")
        # Each endpoint version is its own published pipeline; give it a stable id.
        pipeline_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aml-emulator/{endpoint_id}/{version}"))
        return self._submit(request, endpoint, pipeline_id, endpoint_id, version)

    def _h_experiment_get(self, request: _Request) -> _Reply:
        name = request.params["exp"]
        with self._lock:
            experiment = self._experiments.get(name)
            if experiment is None:
                raise _not_found(f"Experiment {name} was not found.")
            return _Reply(200, dict(experiment))

    def _h_experiment_create(self, request: _Request) -> _Reply:
        name = request.params["exp"]
        if not _EXPERIMENT_NAME.match(name):
            raise _bad_request(f"Experiment name {name!r} is invalid.")
        with self._lock:
            return _Reply(200, dict(self._ensure_experiment(name, time.time())))

    def _find_run(self, run_id: str, experiment: str | None) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run is None or (experiment is not None and run["experimentName"] != experiment):
            where = f" in experiment {experiment}" if experiment is not None else ""
            raise _not_found(f"Run {run_id}{where} was not found.")
        return run

    def _h_run_get(self, request: _Request) -> _Reply:
        with self._lock:
            run = self._find_run(request.params["runId"], request.params.get("exp"))
            return _Reply(200, self._run_dto(run, time.time()))

    def _request_cancel(self, request: _Request) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            run = self._find_run(request.params["runId"], request.params["exp"])
            status, _start, _end = self._state(run, now)
            # Cancelling a finished run changes nothing and is not an error here.
            if status not in TERMINAL_STATUSES and run["cancelRequestedAt"] is None:
                run["cancelRequestedAt"] = now
                run["cancelationReason"] = request.arg("CancelationReason")
            return run

    def _h_execution_cancel(self, request: _Request) -> _Reply:
        run = self._request_cancel(request)
        return _Reply(200, {"runId": run["runId"]})

    def _h_history_cancel(self, request: _Request) -> _Reply:
        run = self._request_cancel(request)
        with self._lock:
            return _Reply(200, self._run_dto(run, time.time()))

    def _h_runs_query(self, request: _Request) -> _Reply:
        body = request.json(required=False)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _bad_request("The query body must be a JSON object (QueryParams).")
        fields = {str(k).lower(): v for k, v in body.items()}
        if "filters" in fields:
            raise _bad_request(
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

    def _h_runs_list(self, request: _Request) -> _Reply:
        top = request.arg("$top")
        if top is not None:
            try:
                top = int(top)
            except ValueError:
                raise _bad_request("$top must be an integer.") from None
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
    ) -> _Reply:
        if filter_text is not None and not isinstance(filter_text, str):
            raise _bad_request("filter must be an OData filter string.")
        predicate = _ODataFilter(filter_text) if filter_text else None
        sort_keys = _parse_order_by(order_by)
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
            raise _bad_request("top must be a non-negative integer.")
        offset = _decode_token(token)
        now = time.time()
        with self._lock:
            if experiment not in self._experiments:
                raise _not_found(f"Experiment {experiment} was not found.")
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
            return _Reply(200, {"value": dtos[offset:offset + top], "continuationToken": None, "nextLink": None})
        page = dtos[offset:offset + self.query_page_size]
        more = offset + self.query_page_size < len(dtos)
        continuation = _encode_token(offset + self.query_page_size) if more else None
        next_link = None
        if continuation and next_link_base is not None:
            path, query = next_link_base
            params = {k: v for k, v in query.items() if k != "$continuationtoken"}
            params["$continuationtoken"] = [continuation]
            next_link = f"{self.base_url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        return _Reply(200, {"value": page, "continuationToken": continuation, "nextLink": next_link})

    # -- script runs, run details, published pipelines ---------------------------------

    def _h_start_run(self, request: _Request) -> _Reply:
        experiment_name = request.params["exp"]
        if not _EXPERIMENT_NAME.match(experiment_name):
            raise _bad_request(f"Experiment name {experiment_name!r} is invalid.")
        parts = _multipart_parts(request)
        missing = [name for name in ("runDefinitionFile", "projectZipFile") if name not in parts]
        if missing:
            raise _bad_request(f"The multipart body has no {', '.join(missing)} part.")
        try:
            definition = json.loads(parts["runDefinitionFile"])
        except ValueError:
            raise _bad_request("runDefinitionFile is not valid JSON.") from None
        if not isinstance(definition, dict):
            raise _bad_request("runDefinitionFile must hold a RunDefinition object.")
        try:
            with zipfile.ZipFile(io.BytesIO(parts["projectZipFile"])) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, ValueError):
            raise _bad_request("projectZipFile is not a zip archive.") from None
        run_id = request.arg("runId") or f"{experiment_name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        if not _EXPERIMENT_NAME.match(run_id):
            raise _bad_request(f"Run id {run_id!r} is invalid.")
        configuration = definition.get("configuration") if isinstance(definition.get("configuration"), dict) else {}
        claims = request.claims
        now = time.time()
        with self._lock:
            if run_id in self._runs:
                raise ApiError(409, "UserError", f"Run {run_id} already exists.", inner_code="RunAlreadyExists")
            self._ensure_experiment(experiment_name, now)
            self._run_counter += 1
            self._runs[run_id] = {
                "runId": run_id,
                "runUuid": str(uuid.uuid4()),
                "runNumber": self._run_counter,
                "graphId": None,
                "etag": str(uuid.uuid4()),
                "pipelineId": None,
                "pipelineEndpointId": None,
                "pipelineVersion": None,
                "submittedAt": now,
                "durationSeconds": self.run_seconds,
                "outcome": "Completed",
                "cancelRequestedAt": None,
                "cancelationReason": None,
                "audience": claims.get("aud"),
                "createdBy": {"userObjectId": claims.get("oid"), "userTenantId": claims.get("tid"),
                              "userName": claims.get("appid")},
                "properties": {"azureml.runsource": "experiment", "ContentSnapshotId": str(uuid.uuid4())},
                "experimentName": experiment_name,
                "parameterAssignments": {},
                "dataPathAssignments": {},
                "description": None,
                "tags": {},
                "runSource": "experiment",
                "runType": "azureml.scriptrun",
                "target": configuration.get("target") if isinstance(configuration.get("target"), str) else None,
                "scriptName": configuration.get("script") if isinstance(configuration.get("script"), str) else None,
                "definition": definition,
            }
        log.debug("aml script run %s started in experiment %s", run_id, experiment_name)
        return _Reply(200, {"runId": run_id})

    def _h_run_details(self, request: _Request) -> _Reply:
        now = time.time()
        with self._lock:
            run = self._find_run(request.params["runId"], request.params["exp"])
            dto = self._run_dto(run, now)
        keys = ("runId", "runUuid", "parentRunUuid", "rootRunUuid", "target", "status", "parentRunId",
                "startTimeUtc", "endTimeUtc", "error", "warnings", "tags", "properties", "inputDatasets",
                "outputDatasets", "runNumber", "rootRunId", "experimentId", "userId", "statusRevision",
                "hasVirtualParent", "createdBy", "lastStartTimeUtc", "lastModifiedUtc", "duration", "services")
        details = {key: dto.get(key) for key in keys}
        started, ended = _parse_rh(dto["startTimeUtc"]), _parse_rh(dto["endTimeUtc"])
        details.update({
            "runDefinition": run.get("definition") or {},
            "logFiles": {"azureml-logs/70_driver_log.txt": f"{self.base_url}/_emulator/logs/{run['runId']}"}
            if started else {},
            "jobCost": None,
            "revision": 1,
            "runTypeV2": {"orchestrator": None, "traits": [], "attribution": None},
            "settings": {},
            "computeRequest": None,
            "compute": {"target": run.get("target"), "targetType": None},
            "computeDuration": _timespan(((ended or now) - started)) if started else None,
            "effectiveStartTimeUtc": dto["startTimeUtc"],
            "currentComputeTime": None,
            "lastModifiedBy": dict(run["createdBy"]),
        })
        return _Reply(200, details)

    def _h_pipelines_list(self, request: _Request) -> _Reply:
        with self._lock:
            published = [p for p in self._pipelines.values() if p["kind"] == "pipeline"]
        # Shape of the pipelines service's published-pipeline entity as seen in its answers;
        # no public spec covers this route.
        return _Reply(200, [
            {
                "Name": f"pipeline-{p['id'][:8]}",
                "Description": None,
                "Version": None,
                "GraphId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aml-emulator/graph/{p['id']}")),
                "Url": f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/PipelineSubmit/{p['id']}",
                "EntityStatus": 0,
                "Id": p["id"],
            }
            for p in sorted(published, key=lambda x: x["id"])
        ])

    # -- computes (ARM) --------------------------------------------------------------

    def _compute_routes(self) -> list[_Route]:
        c = rf"/{_W}/computes"
        ops = (rf"/subscriptions/(?P<opsub>{_SEG})/providers/Microsoft\.MachineLearningServices"
               rf"/locations/(?P<loc>{_SEG})")
        return [
            _Route("GET", c, "arm", AmlEmulator._h_computes_list),
            _Route("GET", rf"{c}/(?P<compute>{_SEG})", "arm", AmlEmulator._h_compute_get),
            _Route("PUT", rf"{c}/(?P<compute>{_SEG})", "arm", AmlEmulator._h_compute_put),
            _Route("PATCH", rf"{c}/(?P<compute>{_SEG})", "arm", AmlEmulator._h_compute_patch),
            _Route("DELETE", rf"{c}/(?P<compute>{_SEG})", "arm", AmlEmulator._h_compute_delete),
            _Route("POST", rf"{c}/(?P<compute>{_SEG})/(?P<action>start|stop|restart)", "arm",
                   AmlEmulator._h_compute_power),
            _Route("POST", rf"{c}/(?P<compute>{_SEG})/listNodes", "arm", AmlEmulator._h_compute_nodes),
            _Route("GET", rf"{ops}/computeOperationsStatus/(?P<op>{_SEG})", "arm", AmlEmulator._h_operation_status),
            _Route("GET", rf"{ops}/computeOperationsResult/(?P<op>{_SEG})", "arm", AmlEmulator._h_operation_result),
        ]

    def seed_compute(
        self,
        name: str,
        compute_type: str = "AmlCompute",
        *,
        vm_size: str = "STANDARD_DS3_V2",
        min_nodes: int = 0,
        max_nodes: int = 4,
        idle: str = "PT120S",
        node_count: int | None = None,
        state: str = "Running",
        provisioning_state: str = "Succeeded",
        operation_outcome: str = "Succeeded",
        location: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a settled compute; returns its ARM body.

        ``node_count`` fixes the cluster's current nodes (default: ``min_nodes``);
        ``operation_outcome="Failed"`` makes every later operation on it fail.
        """
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError("compute name must be a non-empty string without '/'")
        if compute_type not in ("AmlCompute", "ComputeInstance"):
            raise ValueError("computeType must be AmlCompute or ComputeInstance")
        if operation_outcome not in ("Succeeded", "Failed"):
            raise ValueError("operationOutcome must be Succeeded or Failed")
        if provisioning_state not in ("Succeeded", "Failed"):
            raise ValueError("provisioningState must be Succeeded or Failed")
        if compute_type == "ComputeInstance" and state not in ("Running", "Stopped"):
            raise ValueError("state must be Running or Stopped")
        for label, value in (("minNodeCount", min_nodes), ("maxNodeCount", max_nodes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label} must be a non-negative integer")
        if node_count is not None and (isinstance(node_count, bool) or not isinstance(node_count, int)
                                       or node_count < 0):
            raise ValueError("nodeCount must be a non-negative integer")
        props: dict[str, Any] = {"vmSize": vm_size}
        if compute_type == "AmlCompute":
            props.update(vmPriority="Dedicated", osType="Linux", remoteLoginPortPublicAccess="Disabled",
                         enableNodePublicIp=True,
                         scaleSettings={"minNodeCount": min_nodes, "maxNodeCount": max_nodes,
                                        "nodeIdleTimeBeforeScaleDown": idle})
        else:
            props.update(applicationSharingPolicy="Shared", enableNodePublicIp=True,
                         sshSettings={"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 50000})
        now = time.time()
        compute = {
            "name": name, "computeType": compute_type, "location": location or self.location,
            "description": description, "tags": {}, "props": props, "createdOn": now, "modifiedOn": now,
            "provisioningState": provisioning_state, "state": state, "nodeCount": node_count,
            "operationOutcome": operation_outcome, "pending": None, "lastOperation": None,
        }
        with self._lock:
            self._computes[name] = compute
            return self._compute_body(compute, now)

    def remove_compute(self, name: str) -> bool:
        with self._lock:
            return self._computes.pop(name, None) is not None

    def computes(self) -> list[dict[str, Any]]:
        """Every compute as ARM would answer a GET now."""
        now = time.time()
        with self._lock:
            self._settle(now)
            return [self._compute_body(c, now) for c in sorted(self._computes.values(), key=lambda c: c["name"])]

    def operations(self) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            self._settle(now)
            return [self._operation_body(op, now) | {"computeName": op["compute"], "kind": op["kind"]}
                    for op in self._operations.values()]

    def _settle(self, now: float) -> None:
        """Apply the effects of operations that have finished by ``now`` (caller holds the lock)."""
        for op in sorted(self._operations.values(), key=lambda o: o["doneAt"]):
            if op["applied"] or op["doneAt"] > now:
                continue
            op["applied"] = True
            compute = self._computes.get(op["compute"])
            if compute is None or compute["pending"] != op["id"]:
                continue
            compute["pending"] = None
            compute["modifiedOn"] = op["doneAt"]
            ok = op["outcome"] == "Succeeded"
            kind = op["kind"]
            if kind in ("start", "stop", "restart"):
                if ok:
                    compute["state"] = "Stopped" if kind == "stop" else "Running"
                compute["lastOperation"] = {
                    "operationName": kind.capitalize(), "operationTime": _rh_time(op["doneAt"]),
                    "operationStatus": "Succeeded" if ok else f"{kind.capitalize()}Failed",
                    "operationTrigger": "User"}
            elif kind == "delete":
                if ok:
                    del self._computes[op["compute"]]
                else:
                    compute["provisioningState"] = "Failed"
            else:
                if ok and op.get("changes"):
                    _deep_update(compute["props"], op["changes"])
                compute["provisioningState"] = "Succeeded" if ok else "Failed"

    def _compute_body(self, compute: dict[str, Any], now: float) -> dict[str, Any]:
        pending = self._operations.get(compute["pending"]) if compute["pending"] else None
        provisioning = compute["provisioningState"]
        state = compute["state"]
        if pending is not None:
            provisioning = {"create": "Creating", "update": "Updating", "delete": "Deleting"}.get(
                pending["kind"], provisioning)
            state = {"start": "Starting", "stop": "Stopping", "restart": "Restarting"}.get(pending["kind"], state)
        props = json.loads(json.dumps(compute["props"]))
        if compute["computeType"] == "AmlCompute":
            scale = props.get("scaleSettings") or {}
            nodes = compute["nodeCount"] if compute["nodeCount"] is not None else int(scale.get("minNodeCount", 0))
            resizing = pending is not None and pending["kind"] in ("create", "update")
            props.update({
                "allocationState": "Resizing" if resizing else "Steady",
                "allocationStateTransitionTime": _rh_time(compute["modifiedOn"]),
                "errors": None,
                "currentNodeCount": nodes,
                "targetNodeCount": nodes,
                "nodeStateCounts": {"preparingNodeCount": 0, "runningNodeCount": 0, "idleNodeCount": nodes,
                                    "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
            })
            props.pop("userAccountCredentials", None)  # ARM never returns credentials
        else:
            props.update({"state": state, "errors": [], "lastOperation": compute["lastOperation"],
                          "connectivityEndpoints": {"publicIpAddress": None, "privateIpAddress": "10.0.0.4"},
                          "applications": []})
        properties = {
            "computeType": compute["computeType"],
            "computeLocation": compute["location"],
            "provisioningState": provisioning,
            "description": compute["description"],
            "createdOn": _rh_time(compute["createdOn"]),
            "modifiedOn": _rh_time(compute["modifiedOn"]),
            "resourceId": None,
            "provisioningErrors": None if provisioning != "Failed" else [
                {"error": {"code": "ComputeOperationFailed", "message": "Emulated provisioning failure."}}],
            "isAttachedCompute": False,
            "disableLocalAuth": True,
            "properties": props,
        }
        return {
            "id": f"/{self.workspace_path}/computes/{compute['name']}",
            "name": compute["name"],
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": compute["location"],
            "tags": dict(compute["tags"]),
            "properties": properties,
        }

    def _start_operation(self, compute: dict[str, Any], kind: str, now: float,
                         changes: dict[str, Any] | None = None) -> dict[str, Any]:
        op = {
            "id": str(uuid.uuid4()), "compute": compute["name"], "kind": kind, "startedAt": now,
            "doneAt": now + self.operation_seconds, "outcome": compute["operationOutcome"],
            "applied": False, "changes": changes,
        }
        self._operations[op["id"]] = op
        compute["pending"] = op["id"]
        return op

    def _operation_urls(self, op: dict[str, Any], api_version: str) -> dict[str, str]:
        base = (f"{self.base_url}/subscriptions/{self.subscription_id}/providers/Microsoft.MachineLearningServices"
                f"/locations/{self.location}")
        query = urllib.parse.urlencode({"api-version": api_version})
        return {
            "Azure-AsyncOperation": f"{base}/computeOperationsStatus/{op['id']}?{query}&service=new",
            "Location": f"{base}/computeOperationsResult/{op['id']}?{query}",
        }

    def _operation_body(self, op: dict[str, Any], now: float) -> dict[str, Any]:
        done = now >= op["doneAt"]
        status = op["outcome"] if done else "InProgress"
        body: dict[str, Any] = {"id": op["id"], "name": op["id"], "status": status,
                                "startTime": _rh_time(op["startedAt"]), "endTime": _rh_time(op["doneAt"]) if done else None}
        if status == "Failed":
            body["error"] = {"code": "ComputeOperationFailed",
                             "message": f"Emulated failure of the {op['kind']} operation on {op['compute']}."}
        return body

    @staticmethod
    def _api_version(request: _Request) -> str:
        version = request.arg("api-version")
        if not version:
            raise ApiError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", version):
            raise ApiError(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
        return version

    def _compute_or_404(self, name: str) -> dict[str, Any]:
        compute = self._computes.get(name)
        if compute is None:
            raise ApiError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.MachineLearningServices/workspaces/{self.workspace}/computes/"
                           f"{name}' under resource group '{self.resource_group}' was not found.")
        return compute

    def _not_busy(self, compute: dict[str, Any]) -> None:
        if compute["pending"] is not None:
            op = self._operations[compute["pending"]]
            raise ApiError(409, "Conflict",
                           f"Compute {compute['name']} has an operation in progress ({op['kind']}); try again later.")

    def _lro_reply(self, status: int, compute: dict[str, Any] | None, op: dict[str, Any], api_version: str,
                   now: float, *, header: str) -> _Reply:
        urls = self._operation_urls(op, api_version)
        headers = {"Retry-After": _retry_after_text(self.retry_after_seconds)}
        if header in ("Azure-AsyncOperation", "both"):
            headers["Azure-AsyncOperation"] = urls["Azure-AsyncOperation"]
        if header in ("Location", "both"):
            headers["Location"] = urls["Location"]
        body = self._compute_body(compute, now) if compute is not None else None
        return _Reply(status, body, headers)

    def _h_computes_list(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        try:
            offset = int(request.arg("$skip") or 0)
        except ValueError:
            raise ApiError(400, "InvalidSkipToken", "The $skip value is not valid.") from None
        now = time.time()
        with self._lock:
            self._settle(now)
            items = [self._compute_body(c, now) for c in sorted(self._computes.values(), key=lambda c: c["name"])]
        page = items[offset:offset + self.compute_page_size]
        body: dict[str, Any] = {"value": page}
        if offset + self.compute_page_size < len(items):
            query = urllib.parse.urlencode({"api-version": version, "$skip": offset + self.compute_page_size})
            body["nextLink"] = f"{self.base_url}{request.path}?{query}"
        return _Reply(200, body)

    def _h_compute_get(self, request: _Request) -> _Reply:
        self._api_version(request)
        now = time.time()
        with self._lock:
            self._settle(now)
            return _Reply(200, self._compute_body(self._compute_or_404(request.params["compute"]), now))

    def _h_compute_put(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        name = request.params["compute"]
        body = request.json(required=True)
        if not isinstance(body, dict):
            raise _bad_request("The request body must be a ComputeResource object.")
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise _bad_request("properties is required.")
        compute_type = properties.get("computeType")
        if compute_type not in ("AmlCompute", "ComputeInstance"):
            raise _bad_request(f"computeType {compute_type!r} is not supported here.")
        inner = properties.get("properties") or {}
        if not isinstance(inner, dict):
            raise _bad_request("properties.properties must be an object.")
        if compute_type == "AmlCompute":
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]", name):
                raise _bad_request("Compute name is invalid. It can include letters, digits and dashes. It must "
                                   "start with a letter, end with a letter or digit, and be between 2 and 16 "
                                   "characters in length.")
            scale = inner.get("scaleSettings")
            if not isinstance(scale, dict) or not isinstance(scale.get("maxNodeCount"), int):
                raise _bad_request("scaleSettings.maxNodeCount is required for AmlCompute.")
        elif not re.fullmatch(r"(?!.*-[0-9]+$)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]", name):
            raise _bad_request("A name for an Azure ML Compute Instance must be between 3 and 24 characters in "
                               "length and must use only numbers, letters and minus symbol (-).")
        now = time.time()
        with self._lock:
            self._settle(now)
            existing = self._computes.get(name)
            if existing is None:
                compute = {
                    "name": name, "computeType": compute_type, "location": location,
                    "description": properties.get("description"),
                    "tags": dict(body["tags"]) if isinstance(body.get("tags"), dict) else {},
                    "props": json.loads(json.dumps(inner)), "createdOn": now, "modifiedOn": now,
                    "provisioningState": "Creating", "state": "Running", "nodeCount": None,
                    "operationOutcome": "Succeeded", "pending": None, "lastOperation": None,
                }
                self._computes[name] = compute
                op = self._start_operation(compute, "create", now)
                return self._lro_reply(201, compute, op, version, now, header="Azure-AsyncOperation")
            self._not_busy(existing)
            if existing["computeType"] != compute_type:
                raise _bad_request(f"The compute type of {name} cannot change from {existing['computeType']}.")
            if compute_type == "ComputeInstance":
                raise _bad_request("A compute instance cannot be updated with PUT; delete and recreate it.")
            op = self._start_operation(existing, "update", now, changes=json.loads(json.dumps(inner)))
            return self._lro_reply(200, existing, op, version, now, header="Azure-AsyncOperation")

    def _h_compute_patch(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        scale = request.json(required=True)
        for key in ("properties", "properties", "scaleSettings"):
            scale = scale.get(key) if isinstance(scale, dict) else None
        if not isinstance(scale, dict) or not isinstance(scale.get("maxNodeCount"), int):
            raise _bad_request("properties.properties.scaleSettings with maxNodeCount is required.")
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "AmlCompute":
                raise _bad_request("Only AmlCompute scale settings can be updated.")
            self._not_busy(compute)
            op = self._start_operation(compute, "update", now, changes={"scaleSettings": dict(scale)})
            return self._lro_reply(200, compute, op, version, now, header="Azure-AsyncOperation")

    def _h_compute_delete(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        action = request.arg("underlyingResourceAction")
        if action not in ("Delete", "Detach"):
            raise _bad_request("underlyingResourceAction must be Delete or Detach.")
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._computes.get(request.params["compute"])
            if compute is None:
                return _Reply(204)
            self._not_busy(compute)
            op = self._start_operation(compute, "delete", now)
            return self._lro_reply(202, None, op, version, now, header="both")

    def _h_compute_power(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        action = request.params["action"]
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "ComputeInstance":
                raise _bad_request(f"{action} is supported on compute instances only.")
            self._not_busy(compute)
            if (action, compute["state"]) in (("start", "Running"), ("stop", "Stopped")):
                raise ApiError(409, "Conflict", f"Compute instance {compute['name']} is already {compute['state']}.")
            op = self._start_operation(compute, action, now)
            # The specs show start and stop answering with Azure-AsyncOperation, restart with Location.
            return self._lro_reply(202, None, op, version, now,
                                   header="Location" if action == "restart" else "Azure-AsyncOperation")

    def _h_compute_nodes(self, request: _Request) -> _Reply:
        version = self._api_version(request)
        try:
            offset = int(request.arg("$skip") or 0)
        except ValueError:
            raise ApiError(400, "InvalidSkipToken", "The $skip value is not valid.") from None
        now = time.time()
        with self._lock:
            self._settle(now)
            compute = self._compute_or_404(request.params["compute"])
            if compute["computeType"] != "AmlCompute":
                raise _bad_request("listNodes is supported on AmlCompute only.")
            current = self._compute_body(compute, now)["properties"]["properties"]["currentNodeCount"]
        nodes = [{"nodeId": f"tvm-{abs(hash(compute['name'])) % 10**10}_{i}-20260101t000000z",
                  "privateIpAddress": f"10.0.0.{4 + i}", "publicIpAddress": None, "port": 50000 + i,
                  "nodeState": "idle", "runId": None} for i in range(current)]
        page = nodes[offset:offset + self.compute_page_size]
        body: dict[str, Any] = {"nodes": page, "nextLink": None}
        if offset + self.compute_page_size < len(nodes):
            query = urllib.parse.urlencode({"api-version": version, "$skip": offset + self.compute_page_size})
            body["nextLink"] = f"{self.base_url}{request.path}?{query}"
        return _Reply(200, body)

    def _operation_for(self, request: _Request) -> dict[str, Any]:
        self._api_version(request)
        if request.params["opsub"].lower() != self.subscription_id.lower():
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{request.params['opsub']}' could not "
                                                        "be found.")
        op = self._operations.get(request.params["op"])
        if op is None:
            raise ApiError(404, "NotFound", f"Operation {request.params['op']} was not found.")
        return op

    def _h_operation_status(self, request: _Request) -> _Reply:
        now = time.time()
        with self._lock:
            self._settle(now)
            op = self._operation_for(request)
            body = self._operation_body(op, now)
        headers = {"Retry-After": _retry_after_text(self.retry_after_seconds)} if body["status"] == "InProgress" else {}
        return _Reply(200, body, headers)

    def _h_operation_result(self, request: _Request) -> _Reply:
        now = time.time()
        with self._lock:
            self._settle(now)
            op = self._operation_for(request)
            body = self._operation_body(op, now)
            compute = self._computes.get(op["compute"])
            result = self._compute_body(compute, now) if compute is not None else None
        if body["status"] == "InProgress":
            return _Reply(202, None, {"Retry-After": _retry_after_text(self.retry_after_seconds),
                                      "Location": f"{self.base_url}{request.path}?{request.query_string}"})
        if body["status"] == "Failed":
            raise ApiError(400, body["error"]["code"], body["error"]["message"])
        return _Reply(200, result) if result is not None and op["kind"] != "delete" else _Reply(204)

    # -- admin handlers --------------------------------------------------------------

    def _a_healthz(self, request: _Request) -> _Reply:
        return _Reply(200, {"status": "ok"})

    def _a_pipelines_list(self, request: _Request) -> _Reply:
        return _Reply(200, self.pipelines())

    def _a_pipeline_put(self, request: _Request) -> _Reply:
        body = request.json(required=False) or {}
        if not isinstance(body, dict):
            raise _bad_request("Body must be a JSON object.")
        try:
            entry = self.register_pipeline(
                request.params["id"],
                kind=body.get("kind", "pipeline"),
                outcome=body.get("outcome", "Completed"),
                duration_seconds=body.get("durationSeconds"),
                versions=body.get("versions"),
            )
        except (TypeError, ValueError) as exc:
            raise _bad_request(str(exc)) from None
        return _Reply(200, entry)

    def _a_pipeline_delete(self, request: _Request) -> _Reply:
        if not self.unregister_pipeline(request.params["id"]):
            raise _not_found(f"Pipeline {request.params['id']} is not registered.")
        return _Reply(200, {"deleted": request.params["id"]})

    def _a_faults_list(self, request: _Request) -> _Reply:
        return _Reply(200, self.faults())

    def _a_fault_add(self, request: _Request) -> _Reply:
        body = request.json(required=True)
        if not isinstance(body, dict):
            raise _bad_request("Body must be a JSON object.")
        allowed = {"method", "pathContains", "status", "times", "retryAfter", "delaySeconds",
                   "hang", "hangSeconds", "reset", "code", "message"}
        unknown = set(body) - allowed
        if unknown:
            raise _bad_request(f"Unknown fault fields: {sorted(unknown)}.")
        options = dict(body)
        for key in ("delaySeconds", "hangSeconds"):
            if options.get(key) is None:
                options.pop(key, None)
        if options.get("times") is None:
            options.pop("times", None)
        try:
            fault = self.add_fault(**options)
        except (TypeError, ValueError) as exc:
            raise _bad_request(str(exc)) from None
        return _Reply(200, fault)

    def _a_faults_clear(self, request: _Request) -> _Reply:
        self.clear_faults()
        return _Reply(200, [])

    def _a_requests(self, request: _Request) -> _Reply:
        return _Reply(200, self.requests_log())

    def _a_runs(self, request: _Request) -> _Reply:
        return _Reply(200, self.runs())

    def _a_reset(self, request: _Request) -> _Reply:
        self.reset()
        return _Reply(200, {"status": "reset"})

    def _a_computes_list(self, request: _Request) -> _Reply:
        return _Reply(200, self.computes())

    def _a_compute_put(self, request: _Request) -> _Reply:
        body = request.json(required=False) or {}
        if not isinstance(body, dict):
            raise _bad_request("Body must be a JSON object.")
        allowed = {"computeType": "compute_type", "vmSize": "vm_size", "minNodeCount": "min_nodes",
                   "maxNodeCount": "max_nodes", "nodeIdleTimeBeforeScaleDown": "idle", "nodeCount": "node_count",
                   "state": "state", "provisioningState": "provisioning_state",
                   "operationOutcome": "operation_outcome", "location": "location", "description": "description"}
        unknown = set(body) - set(allowed)
        if unknown:
            raise _bad_request(f"Unknown compute fields: {sorted(unknown)}.")
        try:
            compute = self.seed_compute(request.params["name"], **{allowed[k]: v for k, v in body.items()})
        except (TypeError, ValueError) as exc:
            raise _bad_request(str(exc)) from None
        return _Reply(200, compute)

    def _a_compute_delete(self, request: _Request) -> _Reply:
        if not self.remove_compute(request.params["name"]):
            raise _not_found(f"Compute {request.params['name']} does not exist.")
        return _Reply(200, {"deleted": request.params["name"]})

    def _a_operations(self, request: _Request) -> _Reply:
        return _Reply(200, self.operations())

    _SETTINGS = {"runSeconds": ("run_seconds", float), "cancelSeconds": ("cancel_seconds", float),
                 "queryPageSize": ("query_page_size", int), "computePageSize": ("compute_page_size", int),
                 "operationSeconds": ("operation_seconds", float), "retryAfterSeconds": ("retry_after_seconds", float)}

    def _a_settings_get(self, request: _Request) -> _Reply:
        return _Reply(200, {key: getattr(self, attr) for key, (attr, _kind) in self._SETTINGS.items()})

    def _a_settings_patch(self, request: _Request) -> _Reply:
        body = request.json(required=True)
        if not isinstance(body, dict) or set(body) - set(self._SETTINGS):
            raise _bad_request(f"Body must be an object with some of {sorted(self._SETTINGS)}.")
        for key, value in body.items():
            attr, kind = self._SETTINGS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < (1 if kind is int else 0):
                raise _bad_request(f"{key} must be a {'positive integer' if kind is int else 'non-negative number'}.")
            if kind is int and value != int(value):
                raise _bad_request(f"{key} must be a whole number.")
        for key, value in body.items():
            attr, kind = self._SETTINGS[key]
            setattr(self, attr, kind(value))
        return self._a_settings_get(request)


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _deep_update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _parse_rh(text: str | None) -> float | None:
    if not text:
        return None
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc).timestamp()


def _multipart_parts(request: _Request) -> dict[str, bytes]:
    """Named parts of a multipart/form-data body (one value per name; the last wins)."""
    content_type = request.headers.get("Content-Type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(415, "UnsupportedMediaType", "Content-Type must be multipart/form-data.")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body)
    if not message.is_multipart():
        raise _bad_request("The multipart body could not be parsed.")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part.get_payload(decode=True) or b""
    return parts


# -- queries ----------------------------------------------------------------------------

def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_token(token: Any) -> int:
    if token in (None, ""):
        return 0
    if not isinstance(token, str):
        raise _bad_request("continuationToken must be a string.")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError):
        raise _bad_request("continuationToken is not valid.") from None
    if offset < 0:
        raise _bad_request("continuationToken is not valid.")
    return offset


_ORDER_FIELDS = {
    "createdutc": "createdUtc",
    "starttimeutc": "startTimeUtc",
    "endtimeutc": "endTimeUtc",
    "runid": "runId",
    "status": "status",
    "runnumber": "runNumber",
}


def _parse_order_by(order_by: Any) -> list[tuple[str, bool]]:
    if order_by in (None, "", []):
        return [("createdUtc", True)]  # newest first
    items = order_by if isinstance(order_by, list) else str(order_by).split(",")
    keys = []
    for item in items:
        words = str(item).split()
        if not words or len(words) > 2 or words[0].lower() not in _ORDER_FIELDS:
            raise _bad_request(f"Cannot order by {item!r}.")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise _bad_request(f"Cannot order by {item!r}.")
        keys.append((_ORDER_FIELDS[words[0].lower()], direction == "desc"))
    return keys


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        '(?P<squote>(?:[^']|'')*)' |
        "(?P<dquote>(?:[^"\\]|\\.)*)" |
        (?P<number>-?\d+(?:\.\d+)?(?![\w./:-])) |
        (?P<word>[A-Za-z_][\w./:-]*)
    )""",
    re.VERBOSE,
)
_SCALAR_FIELDS = {
    "status": "status",
    "runtype": "runType",
    "runid": "runId",
    "parentrunid": "parentRunId",
    "target": "target",
    "name": "name",
    "experimentid": "experimentId",
    "createdutc": "createdUtc",
    "starttimeutc": "startTimeUtc",
    "endtimeutc": "endTimeUtc",
}
_TIME_FIELDS = {"createdUtc", "startTimeUtc", "endTimeUtc"}
_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le"}


class _ODataFilter:
    """The subset of run-history OData filters that selects runs by tag, property,
    status or time: comparisons joined with and/or/not and parentheses. String
    literals may use single or double quotes (Microsoft's SDK sends double quotes).
    Anything else is a 400, so a filter the emulator cannot read never silently
    matches every run."""

    def __init__(self, text: str) -> None:
        self._tokens = self._lex(text)
        self._pos = 0
        self._predicate = self._parse_or()
        if self._pos != len(self._tokens):
            raise _bad_request(f"Unexpected {self._tokens[self._pos][1]!r} in filter.")

    def matches(self, dto: dict[str, Any]) -> bool:
        return self._predicate(dto)

    @staticmethod
    def _lex(text: str) -> list[tuple[str, Any]]:
        tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                raise _bad_request(f"Cannot parse filter near {text[pos:pos + 20]!r}.")
            pos = m.end()
            kind = m.lastgroup
            if kind == "squote":
                tokens.append(("string", m.group("squote").replace("''", "'")))
            elif kind == "dquote":
                tokens.append(("string", re.sub(r"\\(.)", r"\1", m.group("dquote"))))
            elif kind == "number":
                tokens.append(("number", float(m.group("number"))))
            elif kind == "word":
                tokens.append(("word", m.group("word")))
            else:
                tokens.append((kind, kind))
        return tokens

    def _peek_word(self) -> str | None:
        if self._pos < len(self._tokens) and self._tokens[self._pos][0] == "word":
            return self._tokens[self._pos][1].lower()
        return None

    def _next(self, what: str) -> tuple[str, Any]:
        if self._pos >= len(self._tokens):
            raise _bad_request(f"Filter ended where {what} was expected.")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _parse_or(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self._parse_and()]
        while self._peek_word() == "or":
            self._pos += 1
            terms.append(self._parse_and())
        return terms[0] if len(terms) == 1 else (lambda d: any(t(d) for t in terms))

    def _parse_and(self) -> Callable[[dict[str, Any]], bool]:
        factors = [self._parse_not()]
        while self._peek_word() == "and":
            self._pos += 1
            factors.append(self._parse_not())
        return factors[0] if len(factors) == 1 else (lambda d: all(f(d) for f in factors))

    def _parse_not(self) -> Callable[[dict[str, Any]], bool]:
        if self._peek_word() == "not":
            self._pos += 1
            inner = self._parse_not()
            return lambda d: not inner(d)
        if self._pos < len(self._tokens) and self._tokens[self._pos][0] == "lparen":
            self._pos += 1
            inner = self._parse_or()
            if self._next("')'")[0] != "rparen":
                raise _bad_request("Unbalanced parentheses in filter.")
            return inner
        return self._parse_comparison()

    def _parse_comparison(self) -> Callable[[dict[str, Any]], bool]:
        kind, field = self._next("a field")
        if kind != "word":
            raise _bad_request(f"Expected a field in filter, found {field!r}.")
        getter = self._field_getter(field)
        kind, op = self._next("an operator")
        if kind != "word" or op.lower() not in _OPERATORS:
            raise _bad_request(f"Expected eq, ne, gt, ge, lt or le in filter, found {op!r}.")
        op = op.lower()
        kind, literal = self._next("a value")
        if kind == "word" and literal.lower() == "null":
            value: Any = None
        elif kind == "word" and literal.lower() in ("true", "false"):
            value = literal.lower()
        elif kind in ("string", "number"):
            value = literal
        else:
            raise _bad_request(f"Expected a quoted value or null in filter, found {literal!r}.")
        is_time = getattr(getter, "is_time", False)
        if is_time and isinstance(value, str):
            value = _parse_time(value)

        def compare(dto: dict[str, Any]) -> bool:
            actual = getter(dto)
            if is_time and isinstance(actual, str):
                actual = _parse_time(actual)
            if isinstance(value, float) and isinstance(actual, str):
                try:
                    actual_cmp: Any = float(actual)
                except ValueError:
                    return op == "ne"
            else:
                actual_cmp = actual
            if op == "eq":
                return actual_cmp == value
            if op == "ne":
                return actual_cmp != value
            if actual_cmp is None or value is None:
                return False
            try:
                return {"gt": actual_cmp > value, "ge": actual_cmp >= value,
                        "lt": actual_cmp < value, "le": actual_cmp <= value}[op]
            except TypeError:
                return False

        return compare

    @staticmethod
    def _field_getter(field: str) -> Callable[[dict[str, Any]], Any]:
        head, _, key = field.partition("/")
        head = head.lower()
        if head in ("tags", "properties") and key:
            container = head

            def from_map(dto: dict[str, Any]) -> Any:
                return (dto.get(container) or {}).get(key)

            return from_map
        if not key and head in _SCALAR_FIELDS:
            name = _SCALAR_FIELDS[head]

            def scalar(dto: dict[str, Any]) -> Any:
                return dto.get(name)

            scalar.is_time = name in _TIME_FIELDS  # type: ignore[attr-defined]
            return scalar
        raise _bad_request(f"Cannot filter on {field!r}.")


def _parse_time(text: str) -> _dt.datetime:
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad_request(f"{text!r} is not an ISO-8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


# -- command line -----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.aml_emulator",
        description="Azure ML data-plane emulator (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--subscription-id", default="00000000-0000-0000-0000-000000000000")
    parser.add_argument("--resource-group", default="rg-local")
    parser.add_argument("--workspace", default="ws-local")
    parser.add_argument("--run-seconds", type=float, default=6.0)
    parser.add_argument("--location", default="westeurope", help="the workspace's region")
    parser.add_argument("--operation-seconds", type=float, default=1.0,
                        help="how long an ARM compute operation runs")
    parser.add_argument("--pipeline", action="append", default=[], metavar="ID[:Completed|Failed]",
                        help="register a published pipeline (repeatable)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="ID[:V1,V2]",
                        help="register a pipeline endpoint (repeatable); first version is the default")
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    emulator = AmlEmulator(
        host=args.host,
        port=args.port,
        subscription_id=args.subscription_id,
        resource_group=args.resource_group,
        workspace=args.workspace,
        run_seconds=args.run_seconds,
        location=args.location,
        operation_seconds=args.operation_seconds,
    )
    try:
        for spec in args.pipeline:
            pipeline_id, _, outcome = spec.partition(":")
            emulator.register_pipeline(pipeline_id, outcome=outcome or "Completed")
        for spec in args.endpoint:
            endpoint_id, _, versions = spec.partition(":")
            emulator.register_pipeline(
                endpoint_id, kind="endpoint", versions=[v for v in versions.split(",") if v] or None
            )
    except ValueError as exc:
        parser.error(str(exc))

    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emulator.start()
    print(f"AML emulator listening on {emulator.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
