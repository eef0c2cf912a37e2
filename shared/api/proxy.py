"""Request helpers shared by the AML proxy handlers (compute, runs, pipelines, jobs, batch endpoints).

Every value a caller sends that ends up in an AML URL passes `route_value`; every body
passes `reject_passwords`. Destructive operations go through `guard_destructive`, which
refuses them when they are switched off and otherwise records who asked (every write is also
logged by the route wrapper, `shared.blueprints.routes`). The AML v2
routes take bodies in the shape of a schedule's target, checked by the schedule's own
rules (`target_rules`), minus the placeholders only a schedule can fill
(`reject_placeholders`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

import azure.functions as func

from shared.access.guard import current_actor
from shared.aml import names
from shared.aml.errors import InvalidAmlName
from shared.api.http import ApiError, bad_request
from shared.scheduling import ScheduleError
from shared.scheduling.templating import first_placeholder

log = logging.getLogger("shared.api.audit")

PASSWORD_FIELD = "adminuserpassword"


def route_value(req: func.HttpRequest, param: str, kind: str) -> str:
    """A route parameter checked against the AML naming rule for its kind."""
    value = req.route_params.get(param)
    try:
        return names.check(kind, value)
    except InvalidAmlName as exc:
        raise bad_request(param, exc.rule) from None


def query_flag(req: func.HttpRequest, name: str, default: bool = False) -> bool:
    raw = req.params.get(name)
    if raw is None:
        return default
    # Exactly the two values the OpenAPI document names; "" or "yes" is a mistake, not a default.
    if raw not in ("true", "false"):
        raise bad_request(name, "must be true or false")
    return raw == "true"


def wants_raw(req: func.HttpRequest) -> bool:
    return query_flag(req, "raw")


def with_raw(view: dict, raw: Any, include: bool) -> dict:
    if include:
        view = {**view, "raw": raw}
    return view


def guard_destructive(req: func.HttpRequest, allowed: bool, operation: str, target: str) -> None:
    """Refuse a destructive operation when switched off; either way leave an audit line.

    The caller is the one the route's access check established: Easy Auth's principal in
    entra mode, "function key" otherwise (a name header a client sends is not evidence).
    """
    who = current_actor()["name"]
    if not allowed:
        log.warning("refused %s of %s requested by %s: destructive operations are disabled", operation, target, who)
        raise ApiError(403, "OperationDisabled",
                       f"{operation} is disabled on this app (AML_PROXY_ALLOW_DESTRUCTIVE=false)")
    log.warning("%s of %s requested by %s", operation, target, who)


def reject_passwords(value: Any, path: str = "body") -> None:
    """400 if a password field appears anywhere in a JSON document. The value is never echoed."""
    stack = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            for key, child in current.items():
                child_path = f"{where}.{key}" if isinstance(key, str) else where
                if isinstance(key, str) and key.lower() == PASSWORD_FIELD:
                    raise ApiError(400, "PasswordNotAccepted",
                                   f"{child_path}: passwords are not accepted; use an SSH public key",
                                   field=child_path)
                stack.append((child, child_path))
        elif isinstance(current, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(current))


def reject_unknown(doc: dict, allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    unknown = sorted(k for k in doc if k not in allowed)
    if unknown:
        raise bad_request(f"{prefix}{unknown[0]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")


def object_body(value: Any, field: str = "body") -> dict:
    if not isinstance(value, dict):
        raise bad_request(field, "must be a JSON object")
    return value


def aml_error_view(error: Any) -> dict | None:
    """AML's error, from either {"error": {...}} or the inner object, as {code, message}."""
    if not isinstance(error, dict):
        return None
    inner = error.get("error") if isinstance(error.get("error"), dict) else error
    code, message = inner.get("code"), inner.get("message")
    if not code and not message:
        return None
    return {"code": code, "message": message}


def reject_placeholders(value: Any, where: str = "") -> None:
    """400 if any string in a JSON document holds a schedule placeholder such as {{slot}}.

    Placeholders are filled per slot by a schedule; a proxy request has no slot, and
    sending `{{slot}}` to AML as text is never what the caller meant. AML's own
    `${{inputs.x}}` bindings are not placeholders and pass.
    """
    stack = [(value, where)]
    while stack:
        current, path = stack.pop()
        if isinstance(current, str):
            found = first_placeholder(current)
            if found is not None:
                raise bad_request(path or "body", f"{found} is a schedule placeholder: placeholders are filled per "
                                                  "slot by schedules only; this route sends values as given, so "
                                                  "write the value itself")
        elif isinstance(current, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in current.items())
        elif isinstance(current, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(current))


@contextmanager
def target_rules(prefix: str) -> Iterator[None]:
    """Run a schedule target's validation on a proxy body: its errors name the body's own
    fields (`target.job.computeId` -> `computeId`; the prefix itself -> `body`)."""
    try:
        yield
    except ScheduleError as exc:
        field = exc.field
        if field == prefix:
            field = "body"
        elif field.startswith(prefix + "."):
            field = field[len(prefix) + 1:]
        raise bad_request(field, exc.message) from None


def token_refused(exc: Any, service: str) -> ApiError:
    """A continuation token of the shape this API issues that AML (or ARM) refused: made up,
    or stale. The caller's mistake, so a 400 naming the parameter, with AML's status."""
    return ApiError(400, "ValidationFailed", f"continuationToken: {service} did not accept it ({exc.message})",
                    details=[{"field": "continuationToken", "message": f"{service} did not accept this token",
                              "amlStatus": exc.status, "amlCode": exc.code}])
