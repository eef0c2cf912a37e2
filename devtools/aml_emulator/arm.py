"""Conventions every ARM route shares: the api-version check and ``$skip`` paging.

ARM routes need ``?api-version=`` and accept only the ARM audience. Lists come in
pages of ``compute_page_size`` with an absolute ``nextLink`` carrying ``$skip``.
"""

from __future__ import annotations

import re
import urllib.parse

from devtools.aml_emulator.errors import ApiError
from devtools.aml_emulator.routing import Request

_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")


def api_version(request: Request) -> str:
    version = request.arg("api-version")
    if not version:
        raise ApiError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    if not _API_VERSION.fullmatch(version):
        raise ApiError(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
    return version


def skip_offset(request: Request) -> int:
    try:
        return int(request.arg("$skip") or 0)
    except ValueError:
        raise ApiError(400, "InvalidSkipToken", "The $skip value is not valid.") from None


def next_link(base_url: str, request: Request, version: str, offset: int, page_size: int, total: int) -> str | None:
    """The link to the page after ``offset``, or None when this page is the last."""
    if offset + page_size >= total:
        return None
    query = urllib.parse.urlencode({"api-version": version, "$skip": offset + page_size})
    return f"{base_url}{request.path}?{query}"
