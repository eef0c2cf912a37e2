"""GET health: liveness plus the checks an operator needs after a deployment.

Reports which settings are missing or malformed (the Functions host's timer settings
included), whether a token for each API scope can be acquired and whether both tables
answer, without revealing any setting's value; and the dead-man's switch: when the tick
and the poll last completed (`lastTick`, `lastPoll`: time, age, the timer's period), 503
once either has missed three of its fire times (shared.heartbeat), but never before
this process has been up for three of them. The probes run in parallel and each has a
deadline, so a network that swallows packets (a private workspace without its DNS zone,
say) shows up as a failed check instead of a request that hangs until the front end's
230-second cut-off.
"""

from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

import azure.functions as func

from shared.api.http import json_response

log = logging.getLogger(__name__)

PROBE_DEADLINE_SECONDS = 15.0
# When this worker process started (the module is imported as the app is indexed): timers
# are not judged before it has been up for three of their periods.
PROCESS_STARTED = datetime.now(timezone.utc)
# Read by the Functions host to schedule the timers, never by shared.config.
TIMER_SETTINGS = {"TICK_SCHEDULE": "scheduler_tick", "POLL_SCHEDULE": "outcome_poll"}

_TOKEN_HINT = ("no token for this scope: in Azure check that AZURE_CLIENT_ID is the client id of the app's "
               "user-assigned identity; locally, that a developer login or the identity emulator is available")
_TABLE_HINTS = {
    401: "the table service refused the credential",
    403: ("the identity lacks Storage Table Data Contributor on the storage account "
          "(a new role assignment can take a few minutes to apply)"),
    404: "no such storage account: check TABLES_ENDPOINT",
}


def timer_problems(env: Any = None) -> dict[str, str]:
    """Problems with the timer settings the host resolves (%TICK_SCHEDULE%, %POLL_SCHEDULE%)."""
    from shared.scheduling.cron import CronExpression

    env = os.environ if env is None else env
    problems = {}
    for name, function in TIMER_SETTINGS.items():
        value = env.get(name, "").strip()
        if not value:
            problems[name] = f"is required: the Functions host cannot schedule {function} without it"
            continue
        try:
            CronExpression(value)
        except Exception:
            problems[name] = "must be an NCRONTAB expression (6 fields, seconds first), in UTC"
    return problems


def access_problems(env: Any = None) -> dict[str, str]:
    """Entra mode without App Service Authentication in front: every other route answers 503."""
    from shared.access import mode as modes

    if modes.MODE == modes.ENTRA and not modes.easy_auth_enabled(env):
        return {modes.SETTING: (f"is {modes.ENTRA} but App Service Authentication is off ({modes.EASY_AUTH_SETTING} "
                                "is not True): the API refuses every request until it is turned on")}
    return {}


def setting_warnings(settings: Any, env: Any = None) -> list[dict]:
    """Legal but probably unintended combinations."""
    env = os.environ if env is None else env
    warnings = []
    if settings.tables_connection_string and settings.tables_endpoint:
        warnings.append({"setting": "TABLES_ENDPOINT",
                         "message": "ignored: TABLES_CONNECTION_STRING is also set and wins"})
    if env.get("IDENTITY_ENDPOINT") and not settings.managed_identity_client_id:
        warnings.append({"setting": "AZURE_CLIENT_ID",
                         "message": "not set: only a system-assigned identity can be used"})
    return warnings


def _describe_error(exc: BaseException) -> dict:
    from shared.store import StoreUnavailable

    found: dict = {"error": type(exc).__name__}
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        found["status"] = status
    if isinstance(exc, StoreUnavailable):
        # Our own message: the service's status and reason phrase, never a key or a URL.
        found["detail"] = str(exc)[:300]
    return found


def _run_probes(probes: dict[str, Callable[[], Any]], deadline: float) -> dict[str, BaseException | None]:
    """Run each probe in its own thread; a probe that outlives the deadline counts as failed."""
    results: dict[str, BaseException | None] = {}
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="health")
    try:
        futures = {name: pool.submit(probe) for name, probe in probes.items()}
        end = time.monotonic() + deadline
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.0, end - time.monotonic()))
                results[name] = None
            except FutureTimeout:
                results[name] = TimeoutError(f"no answer within {deadline:g} s")
            except Exception as exc:  # any probe failure is a health finding, not a crash
                results[name] = exc
    finally:
        # Do not wait for a hung probe; its thread ends when its own I/O gives up.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def timer_checks(recorded: dict[str, str | None], error: BaseException | None, problems: dict, now: datetime,
                 started: datetime) -> tuple[dict, dict]:
    """`lastTick` and `lastPoll` (None for a timer whose setting is broken: the settings check says
    why), and the check they add up to."""
    from shared.heartbeat import LAST_POLL, LAST_TICK, parse_recorded, timer_state
    from shared.scheduling.cron import CronExpression

    if error is not None:
        return {"lastTick": None, "lastPoll": None}, {"ok": False, **_describe_error(error)}
    shown, stale = {}, []
    for field, setting, name in (("lastTick", "TICK_SCHEDULE", LAST_TICK), ("lastPoll", "POLL_SCHEDULE", LAST_POLL)):
        if setting in problems:
            shown[field] = None
            continue
        shown[field] = timer_state(CronExpression(os.environ[setting].strip()), parse_recorded(recorded.get(name)),
                                   now, started)
        if shown[field]["state"] == "stale":
            stale.append(TIMER_SETTINGS[setting])
    check: dict[str, Any] = {"ok": not stale}
    if stale:
        check["stale"] = stale
        check["hint"] = ("missed three of its fire times: check the function app is running, the timer's setting, "
                         "and its logs")
    return shown, check


def health(req: func.HttpRequest, *, deadline: float | None = None, started: datetime | None = None) -> func.HttpResponse:
    from shared.config import ConfigError, load_settings
    from shared.heartbeat import LAST_POLL, LAST_TICK

    deadline = PROBE_DEADLINE_SECONDS if deadline is None else deadline
    checks: dict[str, dict] = {}
    problems = {**timer_problems(), **access_problems()}
    settings = None
    try:
        settings = load_settings()
    except ConfigError as exc:
        problems = {**exc.problems, **problems}
    checks["settings"] = {"ok": not problems}
    if problems:
        checks["settings"]["problems"] = [{"setting": k, "message": v} for k, v in problems.items()]
    if settings is None:
        return json_response({"status": "unhealthy", "checks": checks}, 503)
    warnings = setting_warnings(settings)
    if warnings:
        checks["settings"]["warnings"] = warnings

    from shared.runtime import get_runtime

    try:
        runtime = get_runtime()
    except Exception as exc:
        log.warning("health: building the runtime failed: %s", type(exc).__name__)
        checks["runtime"] = {"ok": False, **_describe_error(exc)}
        return json_response({"status": "unhealthy", "checks": checks}, 503)

    scopes = {"armToken": settings.arm_token_scope, "amlToken": settings.aml_token_scope}
    distinct = {name: scope for name, scope in scopes.items()
                if name == "armToken" or scope != settings.arm_token_scope}
    probes: dict[str, Callable[[], Any]] = {
        name: (lambda scope=scope: runtime.credential.get_token(scope)) for name, scope in distinct.items()}
    probes["schedulesTable"] = lambda: runtime.schedules.list(limit=1)
    probes["runsTable"] = lambda: runtime.runs.list_runs("health-probe", limit=1)
    recorded: dict[str, str | None] = {}
    probes["timers"] = lambda: recorded.update({name: runtime.schedules.get_meta(name) for name in (LAST_TICK, LAST_POLL)})
    outcomes = _run_probes(probes, deadline)

    credential = type(runtime.credential).__name__
    for name, scope in scopes.items():
        error = outcomes[name if name in distinct else "armToken"]
        check = {"ok": error is None, "scope": scope, "credential": credential}
        if error is not None:
            log.warning("health: token for %s failed: %s", scope, type(error).__name__)
            check.update(_describe_error(error), hint=_TOKEN_HINT)
        checks[name] = check
    tables_auth = "connectionString" if settings.tables_connection_string else "identity"
    for name in ("schedulesTable", "runsTable"):
        error = outcomes[name]
        check = {"ok": error is None, "auth": tables_auth}
        if error is not None:
            log.warning("health: %s failed: %s", name, type(error).__name__)
            check.update(_describe_error(error))
            hint = _TABLE_HINTS.get(check.get("status") or _status_in(check.get("detail", "")))
            if hint:
                check["hint"] = hint
        checks[name] = check

    timers, checks["timers"] = timer_checks(recorded, outcomes["timers"], problems, runtime.clock(),
                                            started or PROCESS_STARTED)
    healthy = all(c["ok"] for c in checks.values())
    return json_response({"status": "healthy" if healthy else "unhealthy", "checks": checks, **timers},
                         200 if healthy else 503)


def _status_in(detail: str) -> int | None:
    match = re.search(r"answered (\d{3})", detail)
    return int(match.group(1)) if match else None
