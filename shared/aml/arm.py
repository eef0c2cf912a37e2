"""Requests to ARM resources of the configured workspace, and the pages ARM answers with.

Every URL is built from the configured ARM base and workspace; the one URL ARM hands
back that we follow, a page's `nextLink`, is re-checked: same origin, same resource
path, only query parameters we know, so a token never travels somewhere we did not choose.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from shared.aml.client import json_object
from shared.aml.errors import AmlPermanentError
from shared.aml.transport import AmlTransport
from shared.config import Settings

MAX_PAGES = 50
# What a nextLink of a workspace resource list may carry.
NEXT_LINK_QUERY_RULES = {
    "api-version": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:-preview)?"),
    "$skip": re.compile(r"[0-9]{1,9}"),
    "$skipToken": re.compile(r"[A-Za-z0-9+/=_.%-]{1,4096}"),
    "jobType": re.compile(r"[A-Za-z]{1,40}"),
    "tag": re.compile(r"[\x20-\x7e]{1,512}"),
    # Jobs: ActiveOnly, ArchivedOnly, All; schedules: EnabledOnly, DisabledOnly, All.
    "listViewType": re.compile(r"ActiveOnly|ArchivedOnly|EnabledOnly|DisabledOnly|All"),
}


class InvalidContinuation(ValueError):
    def __init__(self):
        super().__init__("continuation token was not issued by this API")


class ArmResources:
    """ARM calls under `{arm}/{workspace}/{collection}` at one api-version."""

    def __init__(self, transport: AmlTransport, settings: Settings, collection: str, api_version: str):
        self._t = transport
        self._s = settings
        parts = urlsplit(settings.arm_base_url)
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self._base = f"{parts.path.rstrip('/')}/{settings.workspace_path}/{collection}"
        self.api_version = api_version

    def path(self, *segments: str) -> str:
        """The resource path; segments must already be validated and encoded."""
        return "/".join((self._base, *segments))

    def url(self, path: str, **params: str) -> str:
        query = urlencode({"api-version": self.api_version, **{k: v for k, v in params.items() if v is not None}})
        return f"{self._origin[0]}://{self._origin[1]}{path}?{query}"

    def request(self, method: str, path: str, *, params: dict | None = None, **kwargs):
        return self._t.request(method, self.url(path, **(params or {})), scope=self._s.arm_token_scope, **kwargs)

    def get(self, path: str, **params: str) -> dict:
        return json_object(self.request("GET", path, params=params))

    def page(self, path: str, *, url: str | None = None, **params: str) -> tuple[list[dict], str | None]:
        """One page of a list, and the checked URL of the next one (None at the end)."""
        target = url or self.url(path, **params)
        body = json_object(self._t.request("GET", target, scope=self._s.arm_token_scope))
        items = [item for item in (body.get("value") or []) if isinstance(item, dict)]
        return items, self.next_link(body.get("nextLink"), path)

    def page_by_token(self, path: str, continuation: str | None, **params: str | None) -> tuple[list[dict], str | None]:
        """A page for a caller that pages itself: the next page is named by an opaque token
        (the nextLink's checked query), and a token is checked again when it comes back."""
        url = None
        if continuation:
            try:
                query = base64.urlsafe_b64decode(continuation.encode("ascii") + b"==").decode("utf-8")
            except (ValueError, UnicodeError):
                raise InvalidContinuation() from None
            checked = checked_query(query, NEXT_LINK_QUERY_RULES)
            if not checked:
                raise InvalidContinuation()
            url = f"{self._origin[0]}://{self._origin[1]}{path}?{urlencode(checked)}"
        items, following = self.page(path, url=url, **params)
        if following is None:
            return items, None
        token = base64.urlsafe_b64encode(urlsplit(following).query.encode("utf-8")).decode("ascii").rstrip("=")
        return items, token

    def all(self, path: str, **params: str) -> list[dict]:
        items, url = self.page(path, **params)
        for _ in range(MAX_PAGES - 1):
            if url is None:
                return items
            more, url = self.page(path, url=url)
            items.extend(more)
        if url is None:
            return items
        raise AmlPermanentError(f"ARM kept answering with a nextLink after {MAX_PAGES} pages")

    def next_link(self, link: Any, expected_path: str) -> str | None:
        """The next page's URL, rebuilt on the configured host, or None at the end."""
        if link in (None, ""):
            return None
        if not isinstance(link, str):
            raise AmlPermanentError("ARM answered with a malformed nextLink")
        parts = urlsplit(link)
        if ((parts.scheme.lower(), parts.netloc.lower()) != self._origin
                or parts.path.lower() != expected_path.lower() or parts.fragment):
            # Following it would send our token somewhere we did not choose.
            raise AmlPermanentError("ARM answered with a nextLink outside this workspace's resources")
        params = checked_query(parts.query, NEXT_LINK_QUERY_RULES)
        if params is None:
            raise AmlPermanentError("ARM answered with a nextLink carrying unexpected parameters")
        return f"{self._origin[0]}://{self._origin[1]}{expected_path}?{urlencode(params)}"


def checked_query(query: str, rules: dict[str, re.Pattern[str]]) -> dict[str, str] | None:
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    params: dict[str, str] = {}
    for key, value in pairs:
        rule = rules.get(key)
        if rule is None or key in params or not rule.fullmatch(value):
            return None
        params[key] = value
    return params


def json_or_none(response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
