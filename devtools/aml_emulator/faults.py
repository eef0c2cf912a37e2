"""Fault injection: answers, delays, hangs and dropped connections on demand.

A fault matches requests by method and a substring of the path (encoded or decoded)
and is used up after ``times`` matches. It applies to data-plane and ARM routes, never
to the admin API, and is applied before authentication, the way a gateway in front
of the service would fail.
"""

from __future__ import annotations

import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any

from devtools.aml_emulator.base import EmulatorBase
from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.routing import Reply, Request, error_reply
from devtools.aml_emulator.wire_formats import retry_after_header

if TYPE_CHECKING:
    from devtools.aml_emulator.server import RequestHandler

HANG_SECONDS = 30.0
# What the caller should do with the request after a fault: nothing more was sent.
DROPPED = "dropped"

FAULT_CODES = {
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

_CAMEL_CASE_OPTIONS = {
    "pathContains": "path_contains",
    "retryAfter": "retry_after",
    "delaySeconds": "delay_seconds",
    "hangSeconds": "hang_seconds",
}


class FaultsMixin(EmulatorBase):
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
        hang_seconds: float = HANG_SECONDS,
        **camel_case: Any,
    ) -> dict[str, Any]:
        """Queue a fault for the next ``times`` matching data-plane requests.

        Keywords may also be given in the admin API's camelCase (``pathContains``,
        ``retryAfter``, ``delaySeconds``, ``hangSeconds``). ``retry_after`` goes out
        as whole seconds, rounded up.
        """
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
            if key not in _CAMEL_CASE_OPTIONS:
                raise TypeError(f"unknown fault option {key!r}")
            values[_CAMEL_CASE_OPTIONS[key]] = value
        fault = _validated_fault(values)
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._faults]

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

    def _apply_fault(self, handler: RequestHandler, request: Request) -> Reply | str | None:
        """A reply to send instead of the route's, ``DROPPED``, or None to carry on."""
        fault = self._take_fault(request.method, request.path)
        if fault is None:
            return None
        if fault["delaySeconds"]:
            self._stopping.wait(fault["delaySeconds"])
        if fault["hang"]:
            self._stopping.wait(fault["hangSeconds"])
        # Stopping releases parked requests; they end without an answer.
        if self._stopping.is_set():
            handler.close_connection = True
            return DROPPED
        if fault["reset"]:
            handler.reset_connection()
            return DROPPED
        if fault["status"] is None:
            return None
        status = fault["status"]
        headers: dict[str, str] = {}
        if fault["retryAfter"] is not None:
            headers["Retry-After"] = retry_after_header(fault["retryAfter"])
        err = ApiError(
            status,
            fault["code"] or FAULT_CODES.get(status, f"HttpStatus{status}"),
            fault["message"] or f"Injected fault: HTTP {status}.",
            headers=headers,
        )
        return error_reply(err)


def _validated_fault(values: dict[str, Any]) -> dict[str, Any]:
    """The stored (camelCase) form of a fault, or ValueError naming the bad option."""
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
        "hangSeconds": number("hangSeconds", values.get("hang_seconds", HANG_SECONDS), allow_none=False),
        "reset": values.get("reset", False),
        "code": values.get("code"),
        "message": values.get("message"),
    }
