"""Conventions every ARM route shares: the api-version check, ``$skip`` paging, systemData.

ARM routes need ``?api-version=`` and accept only the ARM audience. Lists come in
pages (computes: ``compute_page_size``; the AML v2 lists: ``arm_page_size``) with an
absolute ``nextLink`` carrying ``$skip``, which clients treat as opaque.
"""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
from typing import Any

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
    """The link to the page after ``offset``, or None when this page is the last.

    It keeps the request's other query parameters (list filters such as ``jobType``),
    because clients follow nextLink as it is and would otherwise lose them.
    """
    if offset + page_size >= total:
        return None
    params = {k: v for k, v in request.query.items() if k not in ("api-version", "$skip")}
    params["api-version"] = [version]
    params["$skip"] = [str(offset + page_size)]
    return f"{base_url}{request.path}?{urllib.parse.urlencode(params, doseq=True)}"


def page(base_url: str, request: Request, items: list[Any], page_size: int) -> dict[str, Any]:
    """``{"value": [...], "nextLink"?}`` for the page of ``items`` the request's ``$skip`` asks for."""
    version = api_version(request)
    offset = skip_offset(request)
    body: dict[str, Any] = {"value": items[offset:offset + page_size]}
    link = next_link(base_url, request, version, offset, page_size, len(items))
    if link is not None:
        body["nextLink"] = link
    return body


def system_data(created_at: float, created_by: str | None, modified_at: float | None = None) -> dict[str, Any]:
    """ARM ``systemData``; the creator is the token's object id, as a user or an application."""
    return {
        "createdAt": arm_time(created_at),
        "createdBy": created_by,
        "createdByType": "User",
        "lastModifiedAt": arm_time(modified_at if modified_at is not None else created_at),
        "lastModifiedBy": created_by,
        "lastModifiedByType": "User",
    }


def arm_time(ts: float) -> str:
    """ARM times: ISO 8601 UTC with milliseconds and a ``Z``, as the spec examples write them."""
    moment = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def workspace_resource_id(workspace_path: str, *segments: str) -> str:
    """``/subscriptions/.../workspaces/{ws}/a/b``: the ARM id of a workspace child resource."""
    return "/" + "/".join((workspace_path, *segments))
