"""ARM operations on the workspace's computes, and the long-running operations they start.

Everything here is addressed relative to the configured ARM base URL and the configured
workspace. Two kinds of URL come back from ARM instead of being built here: `nextLink`
(paging) and the `Azure-AsyncOperation` / `Location` headers of a long-running
operation. Both are re-checked against a strict allow-pattern before they are used, and
only their path and query are kept: the host is always the configured one.

A long-running operation is handed to callers as an opaque id: its kind letter and the
URL-safe base64 of the operation's path and query. Decoding applies the same checks as
encoding, so an id made up by a caller can only name an operation of this subscription's
Microsoft.MachineLearningServices provider or one of this workspace's computes.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

from shared.aml import names
from shared.aml.arm import MAX_PAGES, ArmResources, checked_query, json_object, json_or_none
from shared.aml.errors import AmlPermanentError, InvalidAmlName
from shared.aml.transport import AmlTransport, parse_retry_after
from shared.config import Settings

POWER_ACTIONS = ("start", "stop", "restart")
UNDERLYING_ACTIONS = ("Delete", "Detach")
TERMINAL_OPERATION_STATUSES = frozenset({"Succeeded", "Failed", "Canceled"})
MAX_OPERATION_ID_CHARS = 2048

_GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_OP_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
# Operation status and result URLs of the provider, scoped to a region of the subscription
# (observed: .../locations/{region}/computeOperationsStatus/{id}?api-version=...&service=new).
_PROVIDER_OPERATION = re.compile(
    rf"/subscriptions/(?P<sub>{_GUID})/providers/Microsoft\.MachineLearningServices"
    rf"/locations/[a-z0-9]{{2,40}}"
    rf"/(?:computeOperationsStatus|computeOperationsResult|computeOperationResults"
    rf"|operationsStatus|operationStatuses|operationResults)/{_OP_ID}",
    re.IGNORECASE,
)
_COMPUTE_PATH = re.compile(
    rf"/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>[-\w.()]{{1,90}})"
    rf"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[A-Za-z0-9][A-Za-z0-9_-]{{2,32}})"
    rf"/computes/(?P<name>[A-Za-z][A-Za-z0-9-]{{0,22}}[A-Za-z0-9])"
    rf"(?:/(?:operationResults|operationStatuses)/{_OP_ID})?",
    re.IGNORECASE,
)
_QUERY_RULES = {
    "api-version": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:-preview)?"),
    "service": re.compile(r"[A-Za-z]{1,20}"),
    "monitor": re.compile(r"true|false", re.IGNORECASE),
}


class InvalidOperationId(InvalidAmlName):
    def __init__(self, rule: str = "must be an operation id returned by this API"):
        super().__init__("operation id", "", rule)


@dataclass(frozen=True)
class ArmResult:
    """ARM's answer to a write: its status and body, and the operation it started, if any."""

    status: int
    body: Any
    operation_id: str | None
    retry_after: float | None


@dataclass(frozen=True)
class OperationStatus:
    status: str
    error: dict | None
    retry_after: float | None
    raw: Any

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_OPERATION_STATUSES


class ComputeClient:
    def __init__(self, transport: AmlTransport, settings: Settings, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self._t = transport
        self._s = settings
        self._sleep = sleep
        self._clock = clock
        self._arm = ArmResources(transport, settings, "computes", settings.compute_api_version)
        parts = urlsplit(settings.arm_base_url)
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self._prefix = parts.path.rstrip("/")

    # -- URLs ------------------------------------------------------------------------
    def _computes_path(self, *segments: str) -> str:
        return self._arm.path(*segments)

    def _url(self, path: str, **params: str) -> str:
        return self._arm.url(path, **params)

    def _request(self, method: str, url: str, **kwargs):
        return self._t.request(method, url, scope=self._s.arm_token_scope, **kwargs)

    # -- reads -----------------------------------------------------------------------
    def list(self) -> list[dict]:
        return self._arm.all(self._computes_path())

    def get(self, name: str) -> dict:
        return self._arm.get(self._computes_path(names.segment("compute name", name)))

    def list_nodes(self, name: str) -> list[dict]:
        path = self._computes_path(names.segment("compute name", name), "listNodes")
        url: str | None = self._url(path)
        nodes: list[dict] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return nodes
            # listNodes only reads, so repeating it after a failure is safe.
            page = json_object(self._request("POST", url, idempotent=True))
            nodes.extend(x for x in (page.get("nodes") or []) if isinstance(x, dict))
            url = self._arm.next_link(page.get("nextLink"), path)
        raise AmlPermanentError(f"ARM kept answering with a nextLink after {MAX_PAGES} pages")

    # -- writes ----------------------------------------------------------------------
    def create_or_update(self, name: str, body: dict) -> ArmResult:
        url = self._url(self._computes_path(names.segment("compute name", name)))
        return self._arm_result(self._request("PUT", url, json=body))

    def update(self, name: str, body: dict) -> ArmResult:
        url = self._url(self._computes_path(names.segment("compute name", name)))
        # The PATCH sets absolute scale settings, so sending it twice changes nothing more.
        return self._arm_result(self._request("PATCH", url, json=body, idempotent=True))

    def delete(self, name: str, underlying_action: str) -> ArmResult:
        if underlying_action not in UNDERLYING_ACTIONS:
            raise ValueError(f"underlying action must be one of {UNDERLYING_ACTIONS}")
        url = self._url(self._computes_path(names.segment("compute name", name)),
                        underlyingResourceAction=underlying_action)
        return self._arm_result(self._request("DELETE", url))

    def power(self, name: str, action: str) -> ArmResult:
        if action not in POWER_ACTIONS:
            raise ValueError(f"action must be one of {POWER_ACTIONS}")
        url = self._url(self._computes_path(names.segment("compute name", name), action))
        return self._arm_result(self._request("POST", url))

    # -- long-running operations -----------------------------------------------------
    def operation_status(self, operation_id: str) -> OperationStatus:
        kind, url = self.operation_url(operation_id)
        response = self._request("GET", url)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        body = json_or_none(response)
        if kind == "a":
            status = body.get("status") if isinstance(body, dict) else None
            status = status if isinstance(status, str) and status else "InProgress"
            if status not in TERMINAL_OPERATION_STATUSES:
                status = "InProgress"
            error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
            return OperationStatus(status, error, retry_after, body)
        # A Location URL answers 202 while the operation runs and 200/204 once it is done;
        # a failure arrives as an error status, which the transport raises.
        status = "InProgress" if response.status_code == 202 else "Succeeded"
        return OperationStatus(status, None, retry_after, body)

    def wait(self, operation_id: str, timeout_seconds: float) -> OperationStatus:
        """Poll until the operation ends or `timeout_seconds` pass; the last status either way."""
        deadline = self._clock() + max(0.0, timeout_seconds)
        while True:
            state = self.operation_status(operation_id)
            remaining = deadline - self._clock()
            if state.done or remaining <= 0:
                return state
            delay = state.retry_after if state.retry_after is not None else 1.0
            self._sleep(min(max(delay, 0.1), 5.0, remaining))

    def operation_url(self, operation_id: str) -> tuple[str, str]:
        """Decode an operation id into (kind, URL on the configured ARM host), or raise."""
        if not isinstance(operation_id, str) or not 2 <= len(operation_id) <= MAX_OPERATION_ID_CHARS:
            raise InvalidOperationId()
        kind, encoded = operation_id[0], operation_id[1:]
        if kind not in ("a", "l") or not re.fullmatch(r"[A-Za-z0-9_-]+", encoded):
            raise InvalidOperationId()
        try:
            target = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            raise InvalidOperationId() from None
        path, _, query = target.partition("?")
        params = self._checked_operation(path, query)
        if params is None:
            raise InvalidOperationId()
        return kind, f"{self._origin[0]}://{self._origin[1]}{path}?{urlencode(params)}"

    def encode_operation(self, kind: str, url: str | None) -> str | None:
        """The opaque id of an operation URL from ARM, or None when it fails the checks."""
        if not url:
            return None
        parts = urlsplit(url.strip())
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin or parts.fragment:
            return None
        if self._checked_operation(parts.path, parts.query) is None:
            return None
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        encoded = base64.urlsafe_b64encode(target.encode("ascii")).decode("ascii").rstrip("=")
        operation_id = kind + encoded
        return operation_id if len(operation_id) <= MAX_OPERATION_ID_CHARS else None

    # -- checks ----------------------------------------------------------------------
    def _checked_operation(self, path: str, query: str) -> dict[str, str] | None:
        if not path.isascii() or not query.isascii():
            return None
        if self._prefix:
            if not path.startswith(self._prefix + "/"):
                return None
            path = path[len(self._prefix):]
        match = _PROVIDER_OPERATION.fullmatch(path) or _COMPUTE_PATH.fullmatch(path)
        if match is None or match.group("sub").lower() != self._s.subscription_id.lower():
            return None
        groups = match.groupdict()
        if "ws" in groups and (groups["rg"].lower() != self._s.resource_group.lower()
                               or groups["ws"].lower() != self._s.workspace_name.lower()):
            return None
        return checked_query(query, _QUERY_RULES)

    def _arm_result(self, response) -> ArmResult:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        operation = self.encode_operation("a", response.headers.get("Azure-AsyncOperation"))
        if operation is None and response.status_code in (201, 202):
            operation = self.encode_operation("l", response.headers.get("Location"))
        return ArmResult(response.status_code, json_or_none(response), operation, retry_after)
