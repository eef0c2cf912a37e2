"""The access part of the OpenAPI document: who may call each operation, and the audit history's schemas.

Each operation carries `x-required-role`, taken from the route declarations
(`shared.blueprints.DECLARED`), so the document cannot drift from what the app checks;
operations that need a role also list the 401 and 403 answers of entra mode. The
document's `security` describes the mode the app runs in (`API_AUTH_MODE`).
"""

from __future__ import annotations

from typing import Any

from shared.access import mode as modes
from shared.access.roles import PUBLIC
from shared.api.openapi_schemas import INSTANT, closed, nullable, ref, string
from shared.store.audit import ACTIONS

_ACTOR = closed({"id": nullable(string("the caller's Entra object id; null for a function key")),
                 "name": string("the caller's name, or \"function key\"")}, ("id", "name"),
                description="who made a change or asked for a run")

ACCESS_SCHEMAS: dict[str, dict] = {
    "Actor": _ACTOR,
    "AuditChange": closed({
        "field": string("a top-level field of the schedule, or trigger.<field> / policy.<field>"),
        "before": {"description": "the old value, for small scalar fields only"},
        "after": {"description": "the new value, for small scalar fields only"},
    }, ("field",)),
    "AuditEntry": closed({
        "scheduleId": string(), "at": INSTANT, "action": string(enum=list(ACTIONS)), "actor": ref("Actor"),
        "changes": {"type": "array", "items": ref("AuditChange")},
        "details": nullable({"type": "object", "description": "run now: the slot; backfill: the range and counts; "
                                                             "import: the AML schedule"}),
    }, ("scheduleId", "at", "action", "actor", "changes", "details"), description="one write through the API"),
    "AuditPage": closed({"value": {"type": "array", "items": ref("AuditEntry")},
                         "continuationToken": nullable(string())}, ("value", "continuationToken")),
}

SECURITY_SCHEMES = {
    "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
    "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
    "entra": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
              "description": "a Microsoft Entra access token for the app registration (API_AUTH_MODE=entra); App "
                             "Service Authentication validates it, the app checks the operation's "
                             "x-required-role"},
}

_REFUSALS = {
    "401": "entra mode: no signed-in caller, or a malformed principal",
    "403": "entra mode: the caller lacks the operation's x-required-role (the error's details name it)",
}


def security(mode: str | None) -> list[dict]:
    if mode == modes.ENTRA:
        return [{"entra": []}]
    return [{"functionKey": []}, {"functionKeyQuery": []}]


def with_roles(paths: dict, declared: dict[str, Any]) -> dict:
    """Each operation with its required role, and 401/403 where a role is needed."""
    for item in paths.values():
        for operation in item.values():
            access = declared.get(operation["operationId"])
            if access is None or access.role == PUBLIC:
                continue
            operation["x-required-role"] = access.role
            for code, text in _REFUSALS.items():
                described = operation["responses"].get(code, {}).get("description")
                # 403 already answers "destructive operations are disabled" on some routes.
                text = f"{described}; or {text}" if described else text
                operation["responses"][code] = {"description": text, "content": {
                    "application/json": {"schema": ref("Error")}}}
    return paths
