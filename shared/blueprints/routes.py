"""Routes that say who may call them: a Blueprint whose `route` requires the app role.

Every HTTP function is declared with `ApiBlueprint.route(..., role=...)`, beside the code
that serves it. The declaration decides three things at once:

* the auth level the host publishes it with: anonymous for `PUBLIC` (health) and in
  entra mode, where Easy Auth authenticates in front of the host, else FUNCTION;
* the check each request passes (`shared.access.guard.serve`), which also sets the
  caller that audit entries name;
* its line in the route table (`DECLARED`) that the OpenAPI document and the access
  tests read, so a new route cannot miss either;
* for a write (any method but GET), one audit log line per request that passed the
  check, with the caller and the answer's status (`shared.api.audit.event`).

`route` without `role` is a TypeError at import, and `SchedulerApp` refuses to index an
HTTP function that was declared any other way (a plain `func.Blueprint` route, say).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import azure.functions as func

from shared.access import mode as modes
from shared.access.guard import serve
from shared.access.principal import printable
from shared.access.roles import PUBLIC, ROLES
from shared.api import audit

# Methods that change nothing; every other request to a route is a write and is logged.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RouteAccess:
    function: str
    route: str
    methods: tuple[str, ...]
    role: str


# Function name -> declaration, for every route of every ApiBlueprint imported.
DECLARED: dict[str, RouteAccess] = {}


def auth_level(role: str, mode: str | None = modes.MODE) -> func.AuthLevel:
    if role == PUBLIC or mode == modes.ENTRA:
        return func.AuthLevel.ANONYMOUS
    return func.AuthLevel.FUNCTION


class ApiBlueprint(func.Blueprint):
    """A `func.Blueprint` whose HTTP routes each name the app role they need."""

    def route(self, route: str, *, methods: list[str], role: str):  # type: ignore[override]
        if role != PUBLIC and role not in ROLES:
            raise ValueError(f"route {route!r}: unknown role {role!r}; use one of {', '.join(ROLES)} or PUBLIC")
        register = super().route(route=route, methods=methods, auth_level=auth_level(role))

        def decorate(function):
            access = RouteAccess(function.__name__, route, tuple(m.upper() for m in methods), role)
            if DECLARED.get(access.function, access) != access:
                raise ValueError(f"function {access.function} is declared twice")
            DECLARED[access.function] = access
            return register(_guarded(function, access))
        return decorate


def _guarded(function, access: RouteAccess):
    # The same name, module and signature (`req`), so the worker binds it like the original.
    writes = not set(access.methods) <= READ_METHODS

    @functools.wraps(function)
    def guarded(req: func.HttpRequest) -> func.HttpResponse:
        def call() -> func.HttpResponse:
            answer = function(req)
            if writes:
                # The path only: a query string can hold a function key.
                audit.event(access.function, printable(urlsplit(req.url).path, 512), method=req.method,
                            status=answer.status_code)
            return answer

        return serve(req, access.role, call)

    guarded.route_access = access  # type: ignore[attr-defined]
    return guarded


class SchedulerApp(func.FunctionApp):
    """The app's FunctionApp: indexing fails on an HTTP function whose role was never declared."""

    def get_functions(self):
        functions = super().get_functions()
        undeclared = sorted(f.get_function_name() for f in functions
                            if getattr(f.get_trigger(), "type", None) == "httpTrigger"
                            and not isinstance(getattr(f.get_user_function(), "route_access", None), RouteAccess))
        if undeclared:
            raise ValueError(f"HTTP functions without an app role: {', '.join(undeclared)}; declare each with "
                             "shared.blueprints.routes.ApiBlueprint.route(..., role=...)")
        return functions
