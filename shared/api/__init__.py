"""HTTP surface: each function in function_app.py delegates to `call` here.

Handlers are built on first use from the process runtime, so importing this package
does not touch Azure SDKs.
"""

from __future__ import annotations

import threading

import azure.functions as func

from shared.api.http import handle

_lock = threading.Lock()
_handlers: dict = {}


def _schedule_handlers():
    with _lock:
        if "schedules" not in _handlers:
            from shared.api.schedules import ScheduleHandlers
            from shared.runtime import get_runtime

            runtime = get_runtime()
            _handlers["schedules"] = ScheduleHandlers(runtime.schedules, runtime.runs, runtime.clock,
                                                      runtime.engine)
        return _handlers["schedules"]


def _proxy_handlers(group: str):
    with _lock:
        if group not in _handlers:
            from shared.runtime import get_runtime

            runtime = get_runtime()
            if group == "compute":
                from shared.api.compute import ComputeHandlers

                _handlers[group] = ComputeHandlers(runtime.compute, runtime.settings)
            elif group == "runs":
                from shared.api.runs import RunHandlers

                _handlers[group] = RunHandlers(runtime.aml_runs, runtime.aml, runtime.settings)
            else:
                from shared.api.pipelines import PipelineHandlers

                _handlers[group] = PipelineHandlers(runtime.aml, runtime.aml_runs)
        return _handlers[group]


def _docs_handlers():
    # The API description needs no settings, so it is served even by a misconfigured app.
    from shared.api import openapi

    return openapi


_GROUPS = {
    "schedules": _schedule_handlers,
    "compute": lambda: _proxy_handlers("compute"),
    "runs": lambda: _proxy_handlers("runs"),
    "pipelines": lambda: _proxy_handlers("pipelines"),
    "docs": _docs_handlers,
}


def call(group: str, operation: str, req: func.HttpRequest) -> func.HttpResponse:
    return handle(lambda: getattr(_GROUPS[group](), operation)(req))


# Imported here, before `health` below is defined: importing a submodule binds it as an
# attribute of this package, and a lazy import inside `health` replaced the function with the
# module after the first call, so every later GET /api/health failed with a 500.
from shared.api import health as _health_checks  # noqa: E402 - light: azure.functions and http only


def health(req: func.HttpRequest) -> func.HttpResponse:
    return handle(lambda: _health_checks.health(req))
