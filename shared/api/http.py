"""Request parsing and JSON responses shared by every HTTP function.

All errors leave through `error_response` in one envelope:
{"error": {"code", "message", "details": [{"field", "message"}]}}.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable

import azure.functions as func

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Deeper JSON is refused before it is parsed: Python's parser and every recursive walk after
# it (merge patch, validation, copies) would hit the recursion limit near 1000 levels, and
# no document of this API nests beyond a dozen.
MAX_JSON_DEPTH = 64
# The characters that decide nesting: brackets outside strings, and what opens, closes or
# escapes a string.
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")
_JSON_STRUCTURE = re.compile(r'[\\"\[\]{}]')


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 details: list[dict] | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else ([{"field": field, "message": message}] if field else [])
        self.headers = headers or {}


def renamed_fields(error: ApiError, rename: Callable[[str], str]) -> ApiError:
    """The same error with each detail's field renamed: a request accepted in another
    spelling (ARM's, AML's) gets errors naming fields as its caller wrote them."""
    details = [{**d, "field": rename(d["field"])} if isinstance(d.get("field"), str) else d for d in error.details]
    message = error.message
    if error.details and details[0].get("field") != error.details[0].get("field"):
        message = message.replace(str(error.details[0]["field"]), str(details[0]["field"]), 1)
    return ApiError(error.status, error.code, message, details=details, headers=error.headers)


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, "ValidationFailed", f"{field}: {message}" if field else message, field=field)


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        mimetype="application/json",
        charset="utf-8",
    )


def no_content(headers: dict | None = None) -> func.HttpResponse:
    return func.HttpResponse(status_code=204, headers=headers or {})


def error_response(error: ApiError) -> func.HttpResponse:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return json_response(body, error.status, error.headers)


def read_json(req: func.HttpRequest, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES,
              allowed_types: tuple[str, ...] = ("application/json",)) -> Any:
    body = req.get_body() or b""
    if len(body) > max_bytes:
        raise ApiError(413, "PayloadTooLarge", f"request body exceeds {max_bytes} bytes")
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    # A body without a Content-Type is refused too: a browser sends such a cross-site request
    # without asking the app first (no CORS preflight), so accepting it as JSON would let
    # another site write with a signed-in user's cookies.
    if (content_type or body.strip()) and content_type not in allowed_types:
        raise ApiError(415, "UnsupportedMediaType", f"Content-Type must be {' or '.join(allowed_types)}",
                       field="Content-Type")
    if not body.strip():
        raise bad_request("body", "a JSON body is required")
    return parse_json(body, "body")


def parse_json(data: bytes, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Every JSON document a caller sends is parsed here: UTF-8, at most `max_depth` levels deep."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(field, "malformed JSON (not UTF-8)") from None
    if nesting_exceeds(text, max_depth):
        raise bad_request(field, f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise bad_request(field, f"malformed JSON ({type(exc).__name__})") from None


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit`, brackets in strings not counted.

    A linear scan that never parses, so it is safe on any input; malformed JSON is left to
    the parser.
    """
    depth, in_string, escaped_at = 0, False, -1
    for match in _JSON_STRUCTURE.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def query_int(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise bad_request(name, "must be a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise bad_request(name, f"must be between {low} and {high}")
    return value


def handle(handler: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run a handler, turning ApiError into its response and anything else into a 500.

    Store and AML failures are mapped by the handlers' callers in `shared.api.errors`.
    """
    from shared.api.errors import to_api_error

    try:
        return handler()
    except ApiError as exc:
        return error_response(exc)
    except Exception as exc:  # the boundary: nothing unmapped may leak a stack trace to callers
        mapped = to_api_error(exc)
        if mapped is None:
            log.exception("unhandled error")
            mapped = ApiError(500, "InternalError", "an unexpected error occurred; see the app's logs")
        return error_response(mapped)
