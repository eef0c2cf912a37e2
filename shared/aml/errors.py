"""One error hierarchy for every AML call, with a retryable flag.

Callers branch on `retryable` (try again later) and `uncertain` (the request may have
been executed although we got no answer: a submit must be reconciled, not repeated).
"""

from __future__ import annotations

MAX_MESSAGE_CHARS = 1000


class AmlError(Exception):
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 uncertain: bool = False, retry_after: float | None = None):
        message = (message or "").strip()[:MAX_MESSAGE_CHARS]
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.uncertain = uncertain
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        return {"status": self.status, "code": self.code, "message": self.message}


class AmlTransientError(AmlError):
    """Throttling, 5xx, timeouts, resets: worth another attempt later."""

    retryable = True


class AmlTimeoutError(AmlTransientError):
    pass


class AmlPermanentError(AmlError):
    """AML understood the request and refused it; repeating it will not help."""


class AmlAuthError(AmlPermanentError):
    """401/403: wrong token audience, missing role assignment, or no identity."""


class AmlNotFoundError(AmlPermanentError):
    pass


class AmlConflictError(AmlPermanentError):
    pass


class InvalidAmlName(ValueError):
    """A value meant for an AML URL broke the naming rules; nothing was sent."""

    def __init__(self, kind: str, value: str, rule: str):
        super().__init__(f"invalid {kind}: {rule}")
        self.kind = kind
        self.rule = rule
