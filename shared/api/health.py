"""GET health: liveness plus the checks an operator needs after a deployment.

Reports which settings are missing or malformed, whether a token for each API scope can
be acquired and whether both tables answer, without revealing any setting's value.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.api.http import json_response

log = logging.getLogger(__name__)


def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.config import ConfigError, load_settings

    checks: dict[str, dict] = {}
    try:
        settings = load_settings()
        checks["settings"] = {"ok": True}
    except ConfigError as exc:
        checks["settings"] = {"ok": False, "problems": [{"setting": k, "message": v} for k, v in exc.problems.items()]}
        return json_response({"status": "unhealthy", "checks": checks}, 503)

    from shared.runtime import get_runtime

    runtime = get_runtime()
    for name, scope in (("armToken", settings.arm_token_scope), ("amlToken", settings.aml_token_scope)):
        if name == "amlToken" and scope == settings.arm_token_scope:
            checks[name] = dict(checks["armToken"])
            continue
        try:
            runtime.credential.get_token(scope)
            checks[name] = {"ok": True, "scope": scope}
        except Exception as exc:  # any credential failure is a health finding, not a crash
            log.warning("health: token for %s failed: %s", scope, type(exc).__name__)
            checks[name] = {"ok": False, "scope": scope, "error": type(exc).__name__}
    for name, probe in (("schedulesTable", lambda: runtime.schedules.list(limit=1)),
                        ("runsTable", lambda: runtime.runs.list_runs("health-probe", limit=1))):
        try:
            probe()
            checks[name] = {"ok": True}
        except Exception as exc:
            log.warning("health: %s failed: %s", name, type(exc).__name__)
            checks[name] = {"ok": False, "error": type(exc).__name__}
    healthy = all(c["ok"] for c in checks.values())
    return json_response({"status": "healthy" if healthy else "unhealthy", "checks": checks}, 200 if healthy else 503)
