"""The check every HTTP request passes before its handler runs, and the caller it leaves behind.

`serve` is what each route's function runs (see `shared.blueprints.routes`): it decides
who the caller is and whether they may call the route, answers 401, 403 or 503 in the
API's error envelope when not, and otherwise runs the handler with the caller set as the
current principal (`current_principal`), which audit records and run records name.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import azure.functions as func

from shared.access import mode as modes
from shared.access.principal import (
    FUNCTION_KEY_CALLER,
    PRINCIPAL_HEADER,
    Principal,
    PrincipalError,
    from_headers,
    printable,
)
from shared.access.roles import PUBLIC
from shared.api.http import ApiError, error_response

log = logging.getLogger("shared.access")

# A misconfiguration refuses every request; its log line is repeated at most this often.
_REPEAT_LOG_SECONDS = 60.0
_last_logged = [float("-inf")]
_log_lock = threading.Lock()
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)
# "The process's mode" as a default: None already means an unknown setting value.
_PROCESS = object()


def current_principal() -> Principal | None:
    """The caller of the request being served on this thread, None outside one."""
    return _current.get()


def current_actor() -> dict:
    """{id, name} of the current caller, as records store it."""
    principal = _current.get()
    return principal.actor() if principal is not None else {"id": None, "name": "unknown caller"}


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


def authorize(headers: Mapping[str, str], role: str, *, mode: object = _PROCESS,
              env: Mapping[str, str] | None = None) -> Principal | None:
    """The caller of a request to a route needing `role`; ApiError (401, 403, 503) if refused.

    `mode` defaults to the process's mode (fixed at import); None is an unknown setting value.
    """
    mode = modes.MODE if mode is _PROCESS else mode
    if role == PUBLIC:
        return None
    if mode == modes.FUNCTION_KEY:
        return FUNCTION_KEY_CALLER
    if mode is None:
        raise _misconfigured(f"{modes.SETTING} {modes.mode_problem('?')}; no request is served until it is fixed")
    if not modes.easy_auth_enabled(env):
        # Without Easy Auth in front nothing strips a principal header the client made up.
        raise _misconfigured(f"{modes.SETTING} is {modes.ENTRA} but App Service Authentication is off "
                             f"({modes.EASY_AUTH_SETTING} is not True), so a caller's {PRINCIPAL_HEADER} could be "
                             "forged; no request is served until authentication is turned on")
    try:
        principal = from_headers(headers)
    except PrincipalError as exc:
        raise ApiError(401, "InvalidPrincipal", f"{exc}; sign in again", headers=_challenge()) from None
    if principal is None:
        raise ApiError(401, "Unauthenticated", "sign in with Microsoft Entra ID: this route needs an authenticated "
                                               "caller", headers=_challenge())
    if not principal.holds(role):
        raise ApiError(403, "Forbidden", f"this route needs the app role {role}, which the caller does not hold",
                       details=[{"field": "role", "message": role}])
    return principal


def serve(req: func.HttpRequest, role: str, call: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run `call` for the request if its caller may call a route needing `role`."""
    try:
        principal = authorize(req.headers, role)
    except ApiError as exc:
        if exc.status == 403:
            # A signed-in caller trying what their roles do not allow is worth an operator's look.
            denied = from_headers(req.headers)
            log.warning("access denied: %s (%s) lacks %s for %s %s", denied.name if denied else "?",
                        denied.id if denied else "?", role, req.method, printable(urlsplit(req.url).path, 512))
        return error_response(exc)
    with acting_as(principal):
        return call()


def _challenge() -> dict:
    return {"WWW-Authenticate": 'Bearer realm="scheduler"'}


def _misconfigured(message: str) -> ApiError:
    now = time.monotonic()
    with _log_lock:
        repeat = now - _last_logged[0] >= _REPEAT_LOG_SECONDS
        if repeat:
            _last_logged[0] = now
    if repeat:
        log.error("refusing requests: %s", message)
    return ApiError(503, "AuthenticationMisconfigured", message)
