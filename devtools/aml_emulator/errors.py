"""Failures every area raises; the server turns them into AML's error body."""

from __future__ import annotations


class ApiError(Exception):
    """An answer in the AML error shape.

    ``inner_code`` is one code, or a tuple of codes from general to specific, which
    AML sends as nested ``innerError`` objects (e.g. ``("Immutable", "JobPropertyImmutable")``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        inner_code: str | tuple[str, ...] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.headers = headers or {}


def user_error(status: int, message: str, inner_code: str) -> ApiError:
    # Run history and the pipelines service report client mistakes as code
    # "UserError" with the specific reason in innerError.
    return ApiError(status, "UserError", message, inner_code=inner_code)


def not_found(message: str) -> ApiError:
    return user_error(404, message, "NotFoundError")


def bad_request(message: str) -> ApiError:
    return user_error(400, message, "BadArgument")
