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
    "tag name": (re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$"), "must be 1-64 letters, digits or '_'"),
    "tag value": (re.compile(r"^[A-Za-z0-9_.:+-]{1,255}$"), "must be 1-255 letters, digits or _ . : + -"),
    "pipeline version": (
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
        "must be 1-64 letters, digits, '.', '-' or '_'",
    ),
    # AML refuses cluster names outside 2-16 and instance names outside 3-24 characters
    # (letters, digits, '-'; a letter first, no '-' last). A path that names an existing
    # compute may be either kind, so it is checked against the union of both rules.
    "compute name": (
        re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,22}[A-Za-z0-9]$"),
        "must be 2-24 letters, digits or '-', starting with a letter and ending with a letter or digit",
    ),
    "cluster name": (
        re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,14}[A-Za-z0-9]$"),
        "must be 2-16 letters, digits or '-', starting with a letter and ending with a letter or digit",
    ),
    # Instance names end in a letter, or in digits not directly after a '-' ("ci-1" is refused).
    "instance name": (
        re.compile(r"^(?!.*-[0-9]+$)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$"),
        "must be 3-24 letters, digits or '-', starting with a letter, not ending in '-' or '-<digits>'",
    ),
    "region": (re.compile(r"^[a-z0-9]{2,40}$"), "must be an Azure region name such as westeurope"),
    # AML v2 job names: letters, digits, '_' and '-' (no ':' or '.'); the scheduler's own
    # names are derived from run keys.
    "job name": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"),
                 "must be 1-255 letters, digits, '_' or '-', starting with a letter or digit"),
    "batch endpoint name": (re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$"),
                            "must be 3-32 letters, digits or '-', starting with a letter"),
    "deployment name": (re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$"),
                        "must be 3-32 letters, digits or '-', starting with a letter"),
    "schedule name": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"),
                      "must be 1-255 letters, digits, '_' or '-', starting with a letter or digit"),
}


def check(kind: str, value: object) -> str:
    """Return `value` if it satisfies the rule for `kind`, else raise InvalidAmlName."""
    pattern, rule = _RULES[kind]
    # fullmatch, because `$` alone also matches before a trailing newline.
    if not isinstance(value, str) or not pattern.fullmatch(value):
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
