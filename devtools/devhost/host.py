"""``DevHost``: wires settings, the indexed app, the HTTP server and the trigger kinds together."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devtools.devhost.easy_auth import EASY_AUTH_SETTING, easy_auth_for
from devtools.devhost.errors import DevHostError
from devtools.devhost.functions import AppFunction, AsyncLoop, index_app
from devtools.devhost.pipeline import HttpPipeline, HttpRoute, RequestStep, method_names
from devtools.devhost.queues import QueueTriggers
from devtools.devhost.routing import RouteTemplate
from devtools.devhost.server import DEFAULT_LISTEN_BACKLOG, DevHostHTTPServer
from devtools.devhost.settings import (
    DEFAULT_ROUTE_PREFIX,
    SAMPLE_SETTINGS_FILE,
    SETTINGS_FILE,
    Settings,
    apply_settings,
    load_settings,
    read_route_prefix,
)
from devtools.devhost.timers import TimerTriggers
from devtools.devhost.triggers import TriggerKind

log = logging.getLogger("devhost")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
STOP_TIMEOUT_SECONDS = 10.0
# The poll interval bounds how long stop() waits for the server loop.
_SERVER_POLL_SECONDS = 0.1


class DevHost:
    """Serve a Functions app's HTTP functions, fire its timers and poll its queues, in this process.

    ``start()`` reads settings into ``os.environ`` (keeping what is set), imports the
    app, binds the port and starts the timers and queue pollers; ``stop()`` stops
    fetching queue messages, waits for running timer and queue invocations and requests
    (up to 10 s), closes the server and its connections and takes back the
    process-wide changes ``start()`` made (added environment variables,
    the ``sys.path`` entry, the ``function_app`` module), so tests can run several hosts
    one after another.

    ``timers=False`` / ``queues=False`` leave those triggers listed but not running (a
    queue function's connection setting is then not needed either).

    Set before ``start()``: ``listen_backlog`` (the listen queue length) and
    ``request_steps`` (run in order on every request before routing; see pipeline.py).
    """

    listen_backlog: int = DEFAULT_LISTEN_BACKLOG

    def __init__(
        self,
        app_dir: str | os.PathLike[str] = ".",
        host: str = DEFAULT_HOST,
        port: int | None = None,
        timers: bool = True,
        queues: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.host = host
        self.requested_port = port
        self.timers_enabled = timers
        self.queues_enabled = queues
        self.settings: Settings | None = None
        self.route_prefix = DEFAULT_ROUTE_PREFIX
        self.routes: list[HttpRoute] = []
        self.request_steps: list[RequestStep] = []
        timer_triggers = TimerTriggers(enabled=timers)
        queue_triggers = QueueTriggers(str(self.app_dir), enabled=queues)
        # Every non-HTTP trigger type the dev host runs; a new kind is one more entry.
        self.trigger_kinds: dict[str, TriggerKind] = {
            kind.trigger_type: kind for kind in (timer_triggers, queue_triggers)
        }
        self.timers: dict[str, str] = timer_triggers.schedules  # function name -> schedule
        self.queues: dict[str, str] = queue_triggers.queues  # function name -> queue name
        self.other_functions: dict[str, str] = {}  # function name -> trigger type
        self._functions: list[AppFunction] = []
        self._stop_event = threading.Event()
        self._server: DevHostHTTPServer | None = None
        self._server_thread: threading.Thread | None = None
        self._async_loop = AsyncLoop()
        self._added_env: list[str] = []
        self._added_sys_path: str | None = None
        self._saved_module: Any = None
        self._module_swapped = False
        self._started = False
        self._used = False
        self._lock = threading.Lock()

    # -- public surface

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the dev host is not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/api`` (the route prefix from host.json)."""
        return f"{self.root_url}/{self.route_prefix}" if self.route_prefix else self.root_url

    def start(self) -> DevHost:
        with self._lock:
            if self._started:
                return self
            if self._used:
                raise RuntimeError("a DevHost runs once; create a new one to start again")
            self._used = True
            try:
                self._prepare()
                self._bind()
            except BaseException:
                self._undo_process_changes()
                raise
            self._started = True
        assert self._server is not None
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SERVER_POLL_SECONDS},
            name="devhost-http",
            daemon=True,
        )
        self._server_thread.start()
        for kind in self.trigger_kinds.values():
            if kind.enabled:
                kind.start(self._stop_event)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        self._stop_event.set()
        deadline = time.monotonic() + timeout
        for kind in self.trigger_kinds.values():
            if kind.enabled:
                kind.stop(deadline)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            # Requests already being served get to finish within the same budget; then
            # kept-alive connections are closed so no handler thread outlives the host.
            self._server.wait_until_idle(max(0.0, deadline - time.monotonic()))
            self._server.close_connections()
        self._async_loop.close()
        self._undo_process_changes()

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def listing(self) -> list[str]:
        """The start-up function list, in the spirit of ``func start``."""
        lines = []
        for route in sorted(self.routes, key=lambda r: r.function.name):
            methods = ",".join(sorted(route.methods)) if route.methods is not None else "ALL"
            path = "/".join(p for p in (self.route_prefix, route.template.template.strip("/")) if p)
            lines.append(f"{route.function.name}: [{methods}] {self.root_url}/{path}")
        for kind in self.trigger_kinds.values():
            lines.extend(kind.listing())
        for name, kind_name in sorted(self.other_functions.items()):
            lines.append(f"{name}: {kind_name} (not run by the dev host)")
        return lines

    # -- start-up

    def _prepare(self) -> None:
        self.settings = load_settings(self.app_dir)
        if self.settings.path is not None:
            log.info("Using app settings from %s", self.settings.path.name)
        else:
            log.info("No %s or %s; using the environment only", SETTINGS_FILE, SAMPLE_SETTINGS_FILE)
        self._added_env = apply_settings(self.settings.values)
        self.route_prefix = read_route_prefix(self.app_dir)
        self._play_easy_auth()

        app_path = str(self.app_dir)
        if app_path not in sys.path:
            sys.path.insert(0, app_path)
            self._added_sys_path = app_path
        self._saved_module = sys.modules.get("function_app")
        self._module_swapped = True
        self._functions = index_app(self.app_dir, self._async_loop)

        for function in self._functions:
            kind = function.trigger_type
            if function.unsupported_inputs:
                log.warning(
                    "Functions.%s: input bindings %s are not supplied by the dev host",
                    function.name,
                    ", ".join(function.unsupported_inputs),
                )
            if kind == "httpTrigger":
                self.routes.append(
                    HttpRoute(
                        function=function,
                        template=RouteTemplate(function.trigger.route or function.name),
                        methods=method_names(function.trigger.methods),
                    )
                )
            elif kind in self.trigger_kinds:
                self.trigger_kinds[kind].add(function)
            else:
                self.other_functions[function.name] = kind
        # Stable sort: among equally specific templates the first defined wins.
        self.routes.sort(key=lambda r: r.template.precedence)

    def _play_easy_auth(self) -> None:
        """In front of an app in entra mode, do what App Service Authentication does (easy_auth.py)."""
        step = easy_auth_for(os.environ)
        if step is None:
            return
        if EASY_AUTH_SETTING not in os.environ:
            # App Service's own signal that authentication is on; the app refuses to serve without it.
            os.environ[EASY_AUTH_SETTING] = "True"
            self._added_env.append(EASY_AUTH_SETTING)
        self.request_steps.insert(0, step)
        who = f"as {step.default.name} ({', '.join(step.default.roles) or 'no roles'})" if step.default else \
            "nobody unless a request names X-Dev-Principal"
        log.info("Playing App Service Authentication: client principal headers are dropped; signing in %s", who)

    def _bind(self) -> None:
        port = self.requested_port
        if port is None:
            port = (self.settings.local_http_port if self.settings else None) or DEFAULT_PORT
        pipeline = HttpPipeline(self.route_prefix, self.routes, self.request_steps)
        try:
            server = DevHostHTTPServer((self.host, port), pipeline, backlog=self.listen_backlog)
        except OSError as exc:
            reason = exc.strerror or exc
            raise DevHostError(f"cannot listen on {self.host}:{port}: {reason}") from exc
        self._server = server

    def _undo_process_changes(self) -> None:
        for key in self._added_env:
            os.environ.pop(key, None)
        self._added_env = []
        if self._added_sys_path is not None:
            try:
                sys.path.remove(self._added_sys_path)
            except ValueError:
                pass
            self._added_sys_path = None
        if self._module_swapped:
            if self._saved_module is None:
                sys.modules.pop("function_app", None)
            else:
                sys.modules["function_app"] = self._saved_module
            self._module_swapped = False
            self._saved_module = None
