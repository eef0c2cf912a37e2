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


_GROUPS = {"schedules": _schedule_handlers}


def call(group: str, operation: str, req: func.HttpRequest) -> func.HttpResponse:
    return handle(lambda: getattr(_GROUPS[group](), operation)(req))


def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api.health import health as check

    return handle(lambda: check(req))
