"""The HTTP request pipeline: request steps, routing, invoking the function, the answer.

It knows nothing about sockets. The server turns bytes into an ``IncomingRequest``,
hands it to ``HttpPipeline.handle`` and writes the ``HttpAnswer`` back, so everything
the host decides about a request happens here, in this order:

1. request steps, in order: each may rewrite the request (its headers, say) or answer
   it outright. An "Easy Auth" emulation belongs here: a step that drops client-sent
   ``X-MS-CLIENT-PRINCIPAL*`` headers and adds the principal the dev host vouches for.
2. routing: the route prefix, then the routes by precedence; a path that matches but
   not for this method is a 405 with ``Allow``, no match at all a 404.
3. the function call, and its result turned into an answer.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from devtools.devhost.functions import AppFunction
from devtools.devhost.routing import RouteTemplate, decode_segment, split_path

log = logging.getLogger("devhost")

# The server sets these itself from the body it actually sends.
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
# RFC 9110 token: what a method or a header name may be made of.
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Tab is the one control character a header value may hold.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RequestBodyTooLarge(Exception):
    """The body is over the size the host accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class RequestBodyUnreadable(Exception):
    """The body's framing is broken (bad chunk size, negative length) or the client left."""


@dataclass
class IncomingRequest:
    """One request as the pipeline sees it; request steps may change its headers."""

    method: str  # upper-cased: the host compares methods case-insensitively
    target: str  # path and query as sent, still percent-encoded
    headers: list[tuple[str, str]]  # in arrival order, repeated names kept
    host: str  # the Host header, else the address the dev host listens on
    read_body: Callable[[], bytes]  # raises RequestBodyTooLarge or RequestBodyUnreadable
    path: str = field(init=False)
    query: str = field(init=False)

    def __post_init__(self) -> None:
        split = urlsplit(self.target)
        self.path, self.query = split.path, split.query

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def remove_header(self, name: str) -> None:
        wanted = name.lower()
        self.headers = [(key, value) for key, value in self.headers if key.lower() != wanted]

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value))


@dataclass
class HttpAnswer:
    """What goes back to the client; the server adds framing headers."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    close_connection: bool = False


RequestStep = Callable[[IncomingRequest], "HttpAnswer | None"]


def json_error(status: int, code: str, message: str) -> HttpAnswer:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpAnswer(status, [("Content-Type", "application/json; charset=utf-8")], body)


def method_names(methods: Iterable[Any] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    return frozenset(str(getattr(m, "value", m)).upper() for m in methods)


@dataclass
class HttpRoute:
    function: AppFunction
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


class HttpPipeline:
    """Answers requests for the app's HTTP functions under one route prefix."""

    def __init__(
        self, route_prefix: str, routes: Sequence[HttpRoute], steps: Sequence[RequestStep] = ()
    ) -> None:
        self.route_prefix = route_prefix
        self._prefix = [p.casefold() for p in route_prefix.split("/")] if route_prefix else []
        self.routes = list(routes)
        self.steps = list(steps)

    def handle(self, request: IncomingRequest) -> HttpAnswer:
        for step in self.steps:
            answer = step(request)
            if answer is not None:
                return _after_discarding_body(request, answer)

        segments = split_path(request.path)
        head = [decode_segment(s).casefold() for s in segments[: len(self._prefix)]]
        if head != self._prefix:
            return _after_discarding_body(request, _not_found())
        segments = segments[len(self._prefix) :]

        allowed: set[str] = set()
        for route in self.routes:
            values = route.template.match(segments)
            if values is None:
                continue
            if not route.allows(request.method):
                allowed.update(route.methods or ())
                continue
            return self._invoke(request, route, values)
        if allowed:
            answer = json_error(
                405, "MethodNotAllowed", f"{request.method} is not allowed on this route."
            )
            answer.headers.append(("Allow", ", ".join(sorted(allowed))))
            return _after_discarding_body(request, answer)
        return _after_discarding_body(request, _not_found())

    def _invoke(
        self, request: IncomingRequest, route: HttpRoute, values: dict[str, str]
    ) -> HttpAnswer:
        try:
            body = request.read_body()
        except RequestBodyTooLarge as exc:
            answer = json_error(
                413, "PayloadTooLarge", f"Request bodies are limited to {exc.limit} bytes."
            )
            answer.close_connection = True
            return answer
        except RequestBodyUnreadable:
            answer = json_error(400, "BadRequest", "Unreadable request body.")
            answer.close_connection = True
            return answer

        headers: dict[str, str] = {}
        for key, value in request.headers:
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        params: dict[str, str] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            params.setdefault(key, value)
        http_request = func.HttpRequest(
            request.method,
            f"http://{request.host}{request.target}",
            headers=headers,
            params=params,
            route_params=values,
            body=body,
        )
        function = route.function
        invocation_id = str(uuid.uuid4())
        try:
            return _to_answer(function.invoke(http_request, invocation_id))
        except Exception:  # noqa: BLE001 - the client sees a 500, the log sees why
            log.exception("Executed 'Functions.%s' (Failed, Id=%s)", function.name, invocation_id)
            return json_error(
                500, "InternalServerError", "The function failed; see the dev host log."
            )


def _not_found() -> HttpAnswer:
    return json_error(404, "NotFound", "No function matches this path.")


def _after_discarding_body(request: IncomingRequest, answer: HttpAnswer) -> HttpAnswer:
    # An unread body would be parsed as the next request on a kept-alive connection.
    try:
        request.read_body()
    except (RequestBodyTooLarge, RequestBodyUnreadable):
        answer.close_connection = True
    return answer


def _to_answer(result: Any) -> HttpAnswer:
    if isinstance(result, str):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        kind = type(result).__name__
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {kind}")
    headers = [(k, v) for k, v in result.headers.items() if k.lower() not in _HOP_BY_HOP]
    for name, value in headers:
        _check_header(name, value)
    if not any(k.lower() == "content-type" for k, _ in headers):
        mimetype = result.mimetype
        # The Python worker adds the charset to text types only.
        content_type = mimetype
        if mimetype.startswith("text/"):
            content_type = f"{mimetype}; charset={result.charset}"
        headers.append(("Content-Type", content_type))
    return HttpAnswer(int(result.status_code), headers, result.get_body() or b"")


def _check_header(name: str, value: str) -> None:
    # Written as is, a control character or a bad name would corrupt the response head
    # (or forge headers); the Functions host answers such a response with a 500 too.
    if HTTP_TOKEN.fullmatch(name) is None or _CONTROL_CHARACTER.search(value) is not None:
        raise ValueError(f"response header {name!r} holds characters HTTP does not allow")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"response header {name!r} cannot be sent as ISO-8859-1") from exc
