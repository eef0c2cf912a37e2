"""Validation and encoding of every value that becomes part of an AML URL path.

Each kind of path segment has its own rule, taken from AML's naming constraints but
kept strict: no dots (so no `..`), no slashes, no whitespace, ASCII only (so no
look-alike characters). Valid values are still percent-encoded, for defence in depth.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from shared.aml.errors import InvalidAmlName

_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "pipeline id": (re.compile(rf"^{_GUID}$"), "must be a published pipeline id (a GUID)"),
    "pipeline endpoint id": (re.compile(rf"^{_GUID}$"), "must be a pipeline endpoint id (a GUID)"),
    "experiment name": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"),
        "must be 1-255 letters, digits, '-' or '_', starting with a letter or digit",
    ),
    "run id": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"),
        "must be 1-255 letters, digits, '-' or '_', starting with a letter or digit",
    ),
    "pipeline version": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
        "must be 1-64 letters, digits, '.', '-' or '_'",
    ),
}


def check(kind: str, value: object) -> str:
    """Return `value` if it satisfies the rule for `kind`, else raise InvalidAmlName."""
    pattern, rule = _RULES[kind]
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidAmlName(kind, str(value)[:80], rule)
    return value


def segment(kind: str, value: object) -> str:
    """Validate and percent-encode one path segment."""
    return quote(check(kind, value), safe="")


def is_valid(kind: str, value: object) -> bool:
    try:
        check(kind, value)
    except InvalidAmlName:
        return False
    return True
