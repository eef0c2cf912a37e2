"""The caller, from what App Service Authentication (Easy Auth) hands the app.

Easy Auth validates the Entra token, strips any principal headers the client sent, and
sets `X-MS-CLIENT-PRINCIPAL`: base64 of `{"auth_typ", "name_typ", "role_typ", "claims":
[{"typ", "val"}]}`, claims named as App Service maps them. Roles are the claims whose
type is `roles` (access tokens) or the principal's `role_typ`. The header is parsed
defensively: anything that is not such a document is a `PrincipalError` (the API answers
401), never an exception that would surface as a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Mapping

from shared.access.roles import ROLES, effective

PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
PRINCIPAL_ID_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"
PRINCIPAL_NAME_HEADER = "X-MS-CLIENT-PRINCIPAL-NAME"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS = ("name", "preferred_username")
ROLE_CLAIM = "roles"
# A token with many groups makes a large principal; far beyond that is not Easy Auth's.
MAX_HEADER_CHARS = 64 * 1024
MAX_CLAIMS = 2000
MAX_TEXT = 256


class PrincipalError(ValueError):
    """The principal header is present but is not one Easy Auth would send."""


@dataclass(frozen=True)
class Principal:
    id: str | None
    name: str
    roles: frozenset[str]
    kind: str  # "entra" or "functionKey"

    def actor(self) -> dict:
        """Who, as records and audit entries store it: {id, name}."""
        return {"id": self.id, "name": self.name}

    def holds(self, role: str) -> bool:
        return role in effective(self.roles)


# In functionKey mode the host checked a key, and a key carries no identity.
FUNCTION_KEY_CALLER = Principal(None, "function key", frozenset(ROLES), "functionKey")


def printable(value: Any, limit: int = MAX_TEXT) -> str:
    """A claim value safe to store and log: text, no control characters, bounded."""
    text = value if isinstance(value, str) else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text.strip())[:limit]


def from_headers(headers: Mapping[str, str]) -> Principal | None:
    """The Easy Auth principal of a request, None without one; PrincipalError if malformed."""
    raw = headers.get(PRINCIPAL_HEADER)
    if raw is None or not raw.strip():
        return None
    document = _decode(raw.strip())
    claims = _claims(document)
    role_type = document.get("role_typ")
    role_types = {ROLE_CLAIM} | ({role_type} if isinstance(role_type, str) and role_type else set())
    roles = frozenset(val for typ, val in claims if typ in role_types)
    object_id = _first(claims, OBJECT_ID_CLAIMS) or printable(headers.get(PRINCIPAL_ID_HEADER) or "") or None
    if not object_id:
        raise PrincipalError("the principal carries no object id (oid claim)")
    name_type = document.get("name_typ")
    name = (_first(claims, NAME_CLAIMS)
            or (_first(claims, (name_type,)) if isinstance(name_type, str) else None)
            or printable(headers.get(PRINCIPAL_NAME_HEADER) or "")
            or object_id)
    return Principal(printable(object_id), printable(name), roles, "entra")


def _decode(raw: str) -> dict:
    if len(raw) > MAX_HEADER_CHARS:
        raise PrincipalError(f"{PRINCIPAL_HEADER} is longer than {MAX_HEADER_CHARS} characters")
    try:
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise PrincipalError(f"{PRINCIPAL_HEADER} is not base64") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PrincipalError(f"{PRINCIPAL_HEADER} is not base64-encoded JSON") from None
    if not isinstance(document, dict):
        raise PrincipalError(f"{PRINCIPAL_HEADER} must hold a JSON object")
    return document


def _claims(document: dict) -> list[tuple[str, str]]:
    claims = document.get("claims")
    if not isinstance(claims, list):
        raise PrincipalError(f"{PRINCIPAL_HEADER} has no claims list")
    if len(claims) > MAX_CLAIMS:
        raise PrincipalError(f"{PRINCIPAL_HEADER} has more than {MAX_CLAIMS} claims")
    found = []
    for claim in claims:
        # A claim of another shape cannot name a role or the caller: it is left out, not fatal.
        if isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str):
            found.append((claim["typ"], claim["val"]))
    return found


def _first(claims: list[tuple[str, str]], types: tuple[str, ...]) -> str | None:
    for wanted in types:
        for typ, val in claims:
            if typ == wanted and val.strip():
                return printable(val)
    return None
