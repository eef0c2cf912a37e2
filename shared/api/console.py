"""The operator console: one static page and its assets (shipped in shared/console/), and `me`.

The page holds no data: it reads and changes schedules through the JSON API, so serving
it needs no key. Only names in `ASSETS` are served (a fixed allow-list: a request names
an asset, never a path), each with its content type, a strict Content-Security-Policy
(scripts and styles from this app only, nothing inline, nothing fetched elsewhere) and an
ETag, so browsers revalidate cheaply and a deploy is seen at the next load.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func

from shared.api.http import ApiError, bad_request, json_response

ASSET_DIR = Path(__file__).resolve().parents[1] / "console"
PAGE = "index.html"
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,40}\.(?:css|js|svg)")
# Name -> media type (all UTF-8 text). JavaScript is served as text/javascript (the type HTML asks for and
# the one module scripts require); nosniff makes browsers hold the app to these types.
ASSETS = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "api.js": "text/javascript",
    "dom.js": "text/javascript",
    "schedules.js": "text/javascript",
    "detail.js": "text/javascript",
    "timeline.js": "text/javascript",
    "actions.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
PAGE_TYPE = "text/html"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate on every load (the ETag makes that a 304): asset names carry no version,
    # so a cached script must never outlive a deploy of the page that loads it.
    "Cache-Control": "no-cache",
}

_cache: dict[str, tuple[bytes, str]] = {}
_cache_lock = threading.Lock()


def page(req: func.HttpRequest) -> func.HttpResponse:
    path = urlsplit(req.url).path
    if path.endswith("/"):
        # The page links its assets relative to its own URL; with a trailing slash they would
        # resolve one level too deep.
        return func.HttpResponse(status_code=308, headers={"Location": "../console", **SECURITY_HEADERS})
    return _serve(req, PAGE, PAGE_TYPE)


def asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name") or ""
    if not ASSET_NAME.fullmatch(name):
        # Like every route parameter of the API: a malformed one is a 400 (a well-formed name
        # the console does not ship is a 404).
        raise bad_request("name", "an asset name is letters, digits and dashes, then .css, .js or .svg")
    content_type = ASSETS.get(name)
    if content_type is None:
        raise ApiError(404, "NotFound", "no such console asset")
    return _serve(req, name, content_type)


def me(req: func.HttpRequest) -> func.HttpResponse:
    """Who the caller is and the roles they hold (implied ones included), so the page shows
    only the actions the API would let them take. With function keys, a caller who got
    past the host's key check holds the whole API, so every role."""
    from shared.access.guard import current_principal
    from shared.access.roles import ROLES, effective

    principal = current_principal()
    if principal is None:  # served outside the route guard: never more than a key would give
        return json_response({"mode": "functionKey", "name": "function key", "roles": list(ROLES)})
    held = effective(principal.roles)
    return json_response({"mode": principal.kind, "name": principal.name,
                          "roles": [role for role in ROLES if role in held]})


def _serve(req: func.HttpRequest, name: str, content_type: str) -> func.HttpResponse:
    body, etag = _load(name)
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if etag in _etags(req.headers.get("If-None-Match")):
        return func.HttpResponse(status_code=304, headers=headers)
    # Every asset is UTF-8 text; the worker writes the Content-Type from these two.
    return func.HttpResponse(body, status_code=200, headers=headers, mimetype=content_type, charset="utf-8")


def _load(name: str) -> tuple[bytes, str]:
    with _cache_lock:
        if name not in _cache:
            body = (ASSET_DIR / name).read_bytes()
            _cache[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        return _cache[name]


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    # Weak validators compare equal for a GET (RFC 9110, 13.1.2).
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
