"""The dev host playing App Service Authentication (Easy Auth) for an app in entra mode.

In Azure, Easy Auth validates the caller's Entra token, removes every principal header
the client sent, and adds its own `X-MS-CLIENT-PRINCIPAL*`; App Service tells the app it
is on with `WEBSITE_AUTH_ENABLED=True`. Locally there is no token to validate, so the
dev host vouches for a principal it is told about instead:

* `DEV_PRINCIPAL=alice:Scheduler.Reader,Scheduler.Operator` (environment or settings
  file): every request is signed in as alice with those app roles;
* `X-Dev-Principal: bob:Scheduler.Reader` on a request: that request is signed in as bob
  (a local sign-in per request, so tests can try several callers against one host). The
  header is removed before the app sees it; "bob:" is bob with no roles;
* neither: the request reaches the app without a principal (the app answers 401).

Client-sent `X-MS-CLIENT-PRINCIPAL*` headers are always dropped first, as Easy Auth does.
The dev host plays Easy Auth when the app's `API_AUTH_MODE` is `entra`, and then sets
`WEBSITE_AUTH_ENABLED=True` for the app, unless that is already set to something else:
`WEBSITE_AUTH_ENABLED=False` runs the app as if Easy Auth were off (nothing is stripped
or added), to see it refuse to serve. Object ids are derived from the name, so alice is
the same caller in every run.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from devtools.devhost.errors import DevHostError
from devtools.devhost.pipeline import HttpAnswer, IncomingRequest, json_error

DEV_PRINCIPAL_SETTING = "DEV_PRINCIPAL"
DEV_PRINCIPAL_HEADER = "X-Dev-Principal"
AUTH_MODE_SETTING = "API_AUTH_MODE"
EASY_AUTH_SETTING = "WEBSITE_AUTH_ENABLED"
PRINCIPAL_HEADER_PREFIX = "x-ms-client-principal"
# What App Service calls the claims of an Entra sign-in.
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_CLAIM_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_CLAIM_TYPE = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
_NAMESPACE = uuid.UUID("3c9f0d5e-8a41-4e2b-9b7d-6f1a2c3e4d5b")
_SPEC = re.compile(r"(?P<name>[A-Za-z0-9._@-]{1,64}):(?P<roles>[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*)?")


@dataclass(frozen=True)
class DevPrincipal:
    name: str
    roles: tuple[str, ...]

    @property
    def object_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.name))

    def headers(self) -> list[tuple[str, str]]:
        """The headers Easy Auth would add for this caller."""
        claims = [{"typ": OID_CLAIM, "val": self.object_id}, {"typ": "name", "val": self.name},
                  {"typ": "preferred_username", "val": self.name}]
        claims += [{"typ": "roles", "val": role} for role in self.roles]
        document = {"auth_typ": "aad", "name_typ": NAME_CLAIM_TYPE, "role_typ": ROLE_CLAIM_TYPE, "claims": claims}
        encoded = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
        return [("X-MS-CLIENT-PRINCIPAL", encoded), ("X-MS-CLIENT-PRINCIPAL-ID", self.object_id),
                ("X-MS-CLIENT-PRINCIPAL-NAME", self.name), ("X-MS-CLIENT-PRINCIPAL-IDP", "aad")]


def parse_principal(spec: str) -> DevPrincipal:
    """`name:Role,Role` (roles may be left out: `name:`); ValueError otherwise."""
    found = _SPEC.fullmatch(spec.strip())
    if found is None:
        raise ValueError(f"{spec!r} is not name:Role,Role (a name of letters, digits, . _ @ -; roles may be empty)")
    roles = tuple(r for r in (found.group("roles") or "").split(",") if r)
    return DevPrincipal(found.group("name"), roles)


class EasyAuthStep:
    """A request step (see pipeline.py): strip client-sent principals, add the vouched-for one."""

    def __init__(self, default: DevPrincipal | None):
        self.default = default

    def __call__(self, request: IncomingRequest) -> HttpAnswer | None:
        requested = request.header(DEV_PRINCIPAL_HEADER)
        request.headers = [(k, v) for k, v in request.headers
                           if not k.lower().startswith(PRINCIPAL_HEADER_PREFIX)
                           and k.lower() != DEV_PRINCIPAL_HEADER.lower()]
        principal = self.default
        if requested is not None:
            try:
                principal = parse_principal(requested)
            except ValueError as exc:
                # Easy Auth answers an invalid token with 401 before the app sees the request.
                return json_error(401, "InvalidDevPrincipal", f"{DEV_PRINCIPAL_HEADER}: {exc}")
        if principal is not None:
            for name, value in principal.headers():
                request.add_header(name, value)
        return None


def easy_auth_for(environ: Mapping[str, str]) -> EasyAuthStep | None:
    """The step to run when the app (as configured in `environ`) expects Easy Auth in front, else None.

    DevHostError for a DEV_PRINCIPAL that cannot be used: malformed, or set for an app
    that is not in entra mode (it would silently do nothing).
    """
    entra = environ.get(AUTH_MODE_SETTING, "").strip().lower() == "entra"
    spec = environ.get(DEV_PRINCIPAL_SETTING, "").strip()
    if spec and not entra:
        raise DevHostError(f"{DEV_PRINCIPAL_SETTING} is set but {AUTH_MODE_SETTING} is not entra: set "
                           f"{AUTH_MODE_SETTING}=entra to run the app behind the dev host's Easy Auth")
    if not entra or environ.get(EASY_AUTH_SETTING, "True").strip().lower() != "true":
        return None
    try:
        default = parse_principal(spec) if spec else None
    except ValueError as exc:
        raise DevHostError(f"{DEV_PRINCIPAL_SETTING}: {exc}") from None
    return EasyAuthStep(default)
