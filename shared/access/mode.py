"""Which protection the API runs under (`API_AUTH_MODE`), and whether App Service Authentication is on.

The mode is read once, when the blueprints are imported: it decides the auth level the
routes are published with, and the check each request passes must match that decision
for the life of the process. Reading it again per request could pair anonymous routes
(published under `entra`) with no check at all. An unknown value publishes the routes
with function keys and refuses every request until the setting is fixed (fail closed).
"""

from __future__ import annotations

import os
from typing import Mapping

FUNCTION_KEY = "functionKey"
ENTRA = "entra"
MODES = (FUNCTION_KEY, ENTRA)
SETTING = "API_AUTH_MODE"
# Set by App Service itself ("True") when its authentication feature is on for the app.
EASY_AUTH_SETTING = "WEBSITE_AUTH_ENABLED"


def parse_mode(raw: str | None) -> str | None:
    """The mode a setting value names (functionKey when unset), or None for an unknown value."""
    value = (raw or "").strip()
    if not value:
        return FUNCTION_KEY
    for mode in MODES:
        if value.lower() == mode.lower():
            return mode
    return None


def mode_problem(raw: str | None) -> str | None:
    """Why a setting value is refused (for shared.config and health), or None."""
    if parse_mode(raw) is None:
        return f"must be {' or '.join(MODES)}"
    return None


def easy_auth_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(EASY_AUTH_SETTING, "").strip().lower() == "true"


# The process's mode, fixed at import (see the module docstring).
MODE = parse_mode(os.environ.get(SETTING))
