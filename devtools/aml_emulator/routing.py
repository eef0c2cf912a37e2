"""Requests, replies and the route table that connects them to handlers.

Each area of the emulator (pipelines, runs, computes, ...) lists its own ``Route`` rows
in a module-level ``ROUTES``; ``AmlEmulator`` joins those lists into one table.

AML and ARM match paths case-insensitively (Microsoft's v1 client asks for
``.../Pipelines``), so their routes ignore the case of literal segments; captured
values keep the case the client sent. Admin routes under ``/_emulator/`` match exactly.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from typing import Any, Callable, Iterable

from devtools.aml_emulator.errors import ApiError, bad_request, not_found

SEGMENT = r"[^/]+"
# The workspace prefix shared by data-plane and ARM routes; the server checks the
# captured names against the emulated workspace.
WORKSPACE = (
    rf"subscriptions/(?P<sub>{SEGMENT})/resourceGroups/(?P<rg>{SEGMENT})"
    rf"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>{SEGMENT})"
)
PLANES = ("data", "arm", "inference", "admin")


class Request:
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
                raise bad_request("A JSON request body is required.")
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from None


class Reply:
    """An answer; a ``str`` body goes out as text/plain, anything else as JSON."""

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_reply(err: ApiError) -> Reply:
    error: dict[str, Any] = {"code": err.code, "message": err.message, "details": []}
    codes = (err.inner_code,) if isinstance(err.inner_code, str) else (err.inner_code or ())
    parent = error
    for code in codes:
        parent["innerError"] = {"code": code}
        parent = parent["innerError"]
    body = {"error": error, "correlation": {"RequestId": str(uuid.uuid4())}}
    return Reply(err.status, body, dict(err.headers))


class Route:
    """One row of the route table.

    ``plane`` chooses authentication: "data" accepts the data-plane audiences,
    "arm" only the ARM audience, "inference" (batch endpoint scoring URIs) only the
    ML audience, "admin" none. ARM routes (computes, jobs) are rows
    with the "arm" plane and a pattern starting ``/{WORKSPACE}``; the workspace check
    and faults apply to them unchanged. ``handler`` is called as ``handler(emulator,
    request)``.
    """

    def __init__(self, method: str, pattern: str, plane: str, handler: Callable[..., Reply]) -> None:
        if plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES}")
        self.method = method
        # The admin API is the emulator's own and spelled one way; the services are not.
        flags = 0 if plane == "admin" else re.IGNORECASE
        self.regex = re.compile(f"^{pattern}$", flags)
        self.plane = plane
        self.handler = handler


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` and its decoded parameters; 405 or 404 otherwise."""
    allowed: list[str] = []
    for route in routes:
        m = route.regex.match(path)
        if m is None:
            continue
        if route.method != method:
            allowed.append(route.method)
            continue
        # Segments are matched while still encoded, then decoded one by one, so an
        # encoded "/" inside a name can never shift the path structure. Optional
        # segments that were not sent are left out.
        params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items() if v is not None}
        return route, params
    if allowed:
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}",
                       headers={"Allow": ", ".join(sorted(set(allowed)))})
    raise not_found(f"No route matches {method} {path}.")
