"""Per-slot parameter placeholders: plain substitution, nothing evaluated.

`{{slot}}`, `{{slot_local}}`, `{{slot:<strftime>}}`, `{{slot_local:<strftime>}}`,
`{{interval_start}}`, `{{interval_end}}`, `{{schedule_id}}`, `{{run_key}}`. AML's own
`${{...}}` expressions are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping

from shared.scheduling import ScheduleError

UTC = timezone.utc
# `${{...}}` is AML's own expression syntax (job input bindings, `${{name}}`): never ours,
# passed through untouched.
_PLACEHOLDER = re.compile(r"(?<!\$)\{\{\s*([A-Za-z_]+)\s*(?::([^{}]*))?\}\}")
_TIME_NAMES = {"slot", "slot_local", "interval_start", "interval_end"}
_TEXT_NAMES = {"schedule_id", "run_key"}
KNOWN = _TIME_NAMES | _TEXT_NAMES


@dataclass(frozen=True)
class SlotContext:
    slot: datetime
    zone: tzinfo
    interval_start: datetime | None
    schedule_id: str
    run_key: str


def validate_parameters(field: str, assignments: Any) -> dict:
    """Check a parameterAssignments object at create time, so bad templates fail fast."""
    if not isinstance(assignments, dict):
        raise ScheduleError(field, "must be an object of parameter names to values")
    for name, value in assignments.items():
        if not isinstance(name, str) or not name or len(name) > 256:
            raise ScheduleError(field, "parameter names must be non-empty strings")
        if isinstance(value, bool) or isinstance(value, (int, float)):
            continue
        if not isinstance(value, str):
            raise ScheduleError(f"{field}.{name}", "must be a string, number or boolean")
        if len(value) > 4096:
            raise ScheduleError(f"{field}.{name}", "must be at most 4096 characters")
        check_placeholders(f"{field}.{name}", value)
    return dict(assignments)


def check_placeholders(field: str, value: str) -> None:
    """Every placeholder in `value` is one we know, with a format only where one applies."""
    for match in _PLACEHOLDER.finditer(value):
        key, fmt = match.group(1), match.group(2)
        if key not in KNOWN:
            raise ScheduleError(field, f"unknown placeholder {{{{{key}}}}}; known: " + ", ".join(sorted(KNOWN)))
        if fmt is not None and key in _TEXT_NAMES:
            raise ScheduleError(field, f"{{{{{key}}}}} takes no format")
        if fmt is not None and not fmt.strip():
            raise ScheduleError(field, "an empty strftime format after ':'")


def first_placeholder(value: str) -> str | None:
    """The first placeholder-shaped `{{...}}` in `value` (known or not), or None."""
    match = _PLACEHOLDER.search(value)
    return match.group(0) if match else None


def render_parameters(assignments: Mapping[str, Any], ctx: SlotContext) -> dict:
    return {name: render_text(value, ctx) if isinstance(value, str) else value for name, value in assignments.items()}


def render_text(text: str, ctx: SlotContext) -> str:
    def replace(match: re.Match[str]) -> str:
        key, fmt = match.group(1), match.group(2)
        fmt = fmt.rstrip() if fmt is not None else None
        if key == "schedule_id":
            return ctx.schedule_id
        if key == "run_key":
            return ctx.run_key
        if key == "slot":
            when = ctx.slot.astimezone(UTC)
        elif key == "slot_local":
            when = ctx.slot.astimezone(ctx.zone)
        elif key == "interval_end":
            when = ctx.slot.astimezone(UTC)
        else:
            when = (ctx.interval_start or ctx.slot).astimezone(UTC)
        return when.strftime(fmt) if fmt is not None else when.isoformat().replace("+00:00", "Z")
    return _PLACEHOLDER.sub(replace, text)
