"""What the API records about each write: an audit entry for schedules, a structured log event for all.

Entries (`shared.store.audit`) say what changed by field: the changed top-level fields of
the schedule, and one level into `trigger` and `policy`. Values are kept only for small
scalar fields of those and of `enabled` and `description`; `target` is named, never
copied, since its parameters and paths are the caller's data, and no value longer than
`MAX_VALUE_CHARS` is kept.

Every write request, to any route, also leaves one log line on the `shared.api.audit`
logger (written by the route wrapper, `shared.blueprints.routes`): `audit <JSON>` with the
function, the path, the answer's status and the caller, the JSON also passed as
`extra={"customDimensions": ...}` for exporters that map it. In Application Insights:
`traces | where message startswith "audit "`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.access.guard import current_actor

if TYPE_CHECKING:  # the route wrapper imports this module on every cold start: no store, no scheduling
    from shared.store.audit import AuditEntry

log = logging.getLogger("shared.api.audit")

MAX_VALUE_CHARS = 200
# Fields whose scalar values an entry keeps (before and after).
_VALUE_FIELDS = frozenset({"enabled", "description"})
# Objects whose own fields an entry lists one by one, with scalar values.
_NESTED_FIELDS = frozenset({"trigger", "policy"})
_MISSING = object()


def changes(before: dict | None, after: dict | None) -> tuple[dict, ...]:
    """The fields that differ between two schedule documents (`to_dict()`), as entries list them."""
    before, after = before or {}, after or {}
    found: list[dict] = []
    for name in sorted((set(before) | set(after)) - {"id"}):
        old, new = before.get(name, _MISSING), after.get(name, _MISSING)
        if old == new:
            continue
        if name in _NESTED_FIELDS and _object_or_missing(old) and _object_or_missing(new):
            inner_old = old if isinstance(old, dict) else {}
            inner_new = new if isinstance(new, dict) else {}
            for key in sorted(set(inner_old) | set(inner_new)):
                a, b = inner_old.get(key, _MISSING), inner_new.get(key, _MISSING)
                if a != b:
                    found.append(_change(f"{name}.{key}", a, b, values=True))
        else:
            found.append(_change(name, old, new, values=name in _VALUE_FIELDS))
    return tuple(found)


def _object_or_missing(value: Any) -> bool:
    return value is _MISSING or isinstance(value, dict)


def _change(name: str, old: Any, new: Any, *, values: bool) -> dict:
    change: dict[str, Any] = {"field": name}
    if values and _small(old) and _small(new):
        if old is not _MISSING:
            change["before"] = old
        if new is not _MISSING:
            change["after"] = new
    return change


def _small(value: Any) -> bool:
    if value is _MISSING or value is None or isinstance(value, (bool, int, float)):
        return True
    return isinstance(value, str) and len(value) <= MAX_VALUE_CHARS


def entry(schedule_id: str, action: str, at: datetime, *, before: dict | None = None, after: dict | None = None,
          details: dict | None = None) -> "AuditEntry":
    """An entry naming the current caller (`shared.access.guard.current_actor`)."""
    from shared.store.audit import AuditEntry

    return AuditEntry(schedule_id, at, action, current_actor(), changes(before, after), details)


def event(action: str, target: str, **fields: Any) -> None:
    """One structured audit line for a write through the API, naming the current caller."""
    actor = current_actor()
    dimensions = {"event": "audit", "action": action, "target": target, "actorId": actor["id"],
                  "actorName": actor["name"], **fields}
    log.info("audit %s", json.dumps(dimensions, default=str, separators=(",", ":")),
             extra={"customDimensions": dimensions})
