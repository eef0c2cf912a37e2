"""docs/access.md lists every route under the role its declaration names, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from shared.access.roles import PUBLIC, ROLES
from shared.blueprints import DECLARED

DOC = Path(__file__).resolve().parents[3] / "docs" / "access.md"


def documented() -> dict[str, set[str]]:
    """Role -> the `METHOD route` items of its paragraph in the doc's role list."""
    text = DOC.read_text()
    found: dict[str, set[str]] = {}
    for role, heading in [(r, r) for r in ROLES] + [(PUBLIC, "no role (anyone)")]:
        match = re.search(rf"^\*\*{re.escape(heading)}\*\*:.*?\n\n(.*?)\n", text, re.M | re.S)
        assert match, f"docs/access.md has no list for {heading}"
        found[role] = set(re.findall(r"`([A-Z]+ [^`]+)`", match.group(1)))
    return found


def test_the_role_lists_match_the_route_declarations():
    declared: dict[str, set[str]] = {}
    for access in DECLARED.values():
        declared.setdefault(access.role, set()).update(f"{m} {access.route}" for m in access.methods)
    assert documented() == declared
