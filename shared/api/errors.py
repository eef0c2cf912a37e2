"""Maps domain, store, configuration and AML errors to API errors, in one place."""

from __future__ import annotations

import logging

from shared.aml.errors import (
    AmlAuthError,
    AmlError,
    AmlNotFoundError,
    AmlPermanentError,
    AmlTimeoutError,
    InvalidAmlName,
)
from shared.api.http import ApiError
from shared.config import ConfigError
from shared.scheduling import ScheduleError
from shared.store import AlreadyExists, InvalidContinuationToken, NotFound, PreconditionFailed, StoreUnavailable

log = logging.getLogger(__name__)


def to_api_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, ScheduleError):
        return ApiError(400, "ValidationFailed", f"{exc.field}: {exc.message}", field=exc.field)
    if isinstance(exc, InvalidAmlName):
        return ApiError(400, "ValidationFailed", str(exc), field=exc.kind)
    if isinstance(exc, InvalidContinuationToken):
        return ApiError(400, "ValidationFailed", "continuationToken: malformed", field="continuationToken")
    if isinstance(exc, NotFound):
        return ApiError(404, "NotFound", "no such resource")
    if isinstance(exc, AlreadyExists):
        return ApiError(409, "Conflict", "the resource already exists")
    if isinstance(exc, PreconditionFailed):
        return ApiError(412, "PreconditionFailed", "the resource changed since it was read (ETag mismatch)")
    if isinstance(exc, StoreUnavailable):
        log.warning("table storage unavailable: %s", exc)
        return ApiError(503, "StorageUnavailable", "table storage is unavailable; nothing was written")
    if isinstance(exc, ConfigError):
        log.error("%s", exc)
        return ApiError(503, "Misconfigured", "the app's settings are incomplete; see GET /api/health",
                        details=[{"field": name, "message": why} for name, why in exc.problems.items()])
    if isinstance(exc, AmlError):
        return aml_error(exc)
    return None


# AML refusing what the caller asked for: the caller's to fix, so a 4xx of this API. The
# app builds every request from validated input, so these mean the input's content (a
# parameter AML does not know, a compute in the wrong state), not a bug of the app.
_CALLERS_FAULT = {400: (400, "AmlRejectedRequest"), 422: (400, "AmlRejectedRequest"), 409: (409, "AmlConflict")}


def aml_error(exc: AmlError) -> ApiError:
    """AML's refusal keeps AML's status and code in the details.

    A 404 stays a 404, a refusal of the caller's input is a 400 or 409, a timeout is a 504;
    everything else is AML (or the app's access to it) failing: a 502.
    """
    details = [{"field": "aml", "message": exc.message, "amlStatus": exc.status, "amlCode": exc.code}]
    if exc.uncertain:
        # A write whose answer was lost may still have happened: say so, so callers look before repeating it.
        details[0]["mayHaveExecuted"] = True
    headers = {}
    if exc.retry_after is not None and exc.status in (429, 503):
        headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    if isinstance(exc, AmlNotFoundError):
        return ApiError(404, "NotFound", f"AML: {exc.message}", details=details)
    if isinstance(exc, AmlTimeoutError):
        return ApiError(504, "AmlTimeout", "AML did not answer in time", details=details)
    if isinstance(exc, AmlPermanentError) and exc.status in _CALLERS_FAULT:
        status, code = _CALLERS_FAULT[exc.status]
        return ApiError(status, code, f"AML refused the request ({exc.status}): {exc.message}", details=details)
    if isinstance(exc, AmlAuthError):
        # Not the caller's 401/403: the app's own managed identity lacks access.
        log.error("AML refused the app's identity (%s %s): %s", exc.status, exc.code or "", exc.message)
        return ApiError(502, "AmlAccessDenied",
                        f"AML refused the app's managed identity ({exc.status}): check its role assignments on "
                        "the workspace (see README, Roles the app's identity needs)", details=details)
    return ApiError(502, "AmlError", f"AML answered {exc.status or 'with an error'}: {exc.message}", details=details,
                    headers=headers)
