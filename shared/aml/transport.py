"""The single HTTP transport for AML and ARM calls.

Owns: the bearer token (fetched per call from the cached credential), timeouts, retries
with exponential backoff honouring Retry-After, the host allow-list, and the mapping of
every failure to the AML error hierarchy. Nothing above it sees `requests` exceptions.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

from shared.aml.errors import (
    AmlAuthError,
    AmlConflictError,
    AmlError,
    AmlNotFoundError,
    AmlPermanentError,
    AmlTimeoutError,
    AmlTransientError,
)
from shared.identity import TokenSource

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Statuses where the service says it did not start the work, so even a non-idempotent
# POST (a pipeline submit) may be sent again without risking a second run.
NOT_EXECUTED_STATUS = frozenset({429, 503})
USER_AGENT = "aml-batch-scheduler/1.0"


class HostNotAllowed(AmlPermanentError):
    pass


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds; accepts delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def error_from_response(response: requests.Response) -> AmlError:
    """Map a non-2xx answer to the hierarchy, keeping AML's own code and message."""
    code, message = None, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code") or None
            message = err.get("message") or None
        elif isinstance(body.get("Message"), str):
            message = body["Message"]
    if message is None:
        message = (response.text or response.reason or "").strip()[:300] or f"HTTP {response.status_code}"
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    kwargs: dict[str, Any] = {"status": status, "code": code, "retry_after": retry_after}
    if status in RETRYABLE_STATUS:
        return AmlTransientError(message, uncertain=status not in NOT_EXECUTED_STATUS, **kwargs)
    if status in (401, 403):
        return AmlAuthError(message, **kwargs)
    if status == 404:
        return AmlNotFoundError(message, **kwargs)
    if status == 409:
        return AmlConflictError(message, **kwargs)
    return AmlPermanentError(message, **kwargs)


class AmlTransport:
    def __init__(
        self,
        tokens: TokenSource,
        *,
        allowed_hosts: frozenset[str] | Callable[[str], bool],
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 20.0,
        max_retry_after_seconds: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._tokens = tokens
        # A set of hosts, or a check (the settings' `allows_host`, which also knows the
        # batch-scoring hosts of the workspace's region).
        self._allows = allowed_hosts.__contains__ if isinstance(allowed_hosts, (set, frozenset)) else allowed_hosts
        self._timeout = (min(5.0, timeout_seconds), timeout_seconds)
        self._max_retries = max_retries
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._max_retry_after = max_retry_after_seconds
        self._session = session or requests.Session()
        self._sleep = sleep

    @property
    def read_timeout_seconds(self) -> float:
        return self._timeout[1]

    def worst_case_seconds(self) -> float:
        """The longest one call can take, retries and their waits included: every attempt
        waits out connect and read timeouts, and every retry waits the longest Retry-After
        we honour. Leases on claimed slots are sized from this."""
        attempts = self._max_retries + 1
        return attempts * sum(self._timeout) + self._max_retries * max(self._max_retry_after, self._backoff_cap)

    def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send with retries; return the 2xx response or raise an AmlError.

        `idempotent` defaults from the method. For a non-idempotent call only failures
        that prove the service did not act (connect errors, 429, 503) are retried here;
        anything else is raised with `uncertain=True` for the caller to reconcile.
        """
        host = urlsplit(url).netloc.lower()
        if not self._allows(host):
            raise HostNotAllowed(f"refusing to call a host that is not configured: {host or '?'}")
        if idempotent is None:
            idempotent = method.upper() in ("GET", "PUT", "DELETE", "HEAD", "OPTIONS")
        path_for_log = urlsplit(url).path
        attempt = 0
        while True:
            attempt += 1
            try:
                token = self._tokens.token(scope)
            except Exception as exc:  # noqa: BLE001 - every credential failure becomes one AML error
                # Nothing was sent, so it is safe to repeat; only the exception's type is
                # kept, since credential messages can quote settings.
                error = AmlTransientError(f"no token for {scope}: {type(exc).__name__}", code="TokenUnavailable",
                                          uncertain=False)
                response = None
            else:
                response = self._send(method, url, token=token, params=params, json=json, files=files,
                                      headers=headers)
            if isinstance(response, AmlError):
                error = response
            elif response is not None:
                if response.status_code < 400:
                    log.debug("AML %s %s -> %s", method, path_for_log, response.status_code)
                    return response
                error = error_from_response(response)
                log.info("AML %s %s -> %s %s", method, path_for_log, response.status_code, error.code or "")

            can_retry = error.retryable and (idempotent or not error.uncertain)
            if not can_retry or attempt > self._max_retries:
                raise error
            delay = self._delay(attempt, error.retry_after)
            if delay is None:
                raise error
            log.info("retrying AML %s %s in %.1fs (attempt %d): %s", method, path_for_log, delay,
                     attempt + 1, error.code or error.status or type(error).__name__)
            self._sleep(delay)

    def _send(self, method: str, url: str, *, token: str, params: Any, json: Any, files: Any,
              headers: Mapping[str, str] | None = None) -> "requests.Response | AmlError":
        """One HTTP exchange: the response, or the AML error its failure maps to."""
        headers = {**(headers or {}), "Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                   "Accept": "application/json"}
        try:
            return self._session.request(
                method, url, params=params, json=json, files=files, headers=headers,
                timeout=self._timeout, allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            # A refused or reset connection before the request was written is safe to
            # repeat; requests reports both as ConnectionError, so only a connect
            # timeout/refusal counts as "not executed" for a POST.
            if isinstance(exc, requests.ConnectTimeout):
                return AmlTimeoutError("connecting to AML timed out", uncertain=False)
            not_sent = _is_connect_refused(exc)
            return AmlTransientError(f"connection to AML failed: {type(exc).__name__}", uncertain=not not_sent)
        except requests.Timeout:
            return AmlTimeoutError("AML did not answer in time", uncertain=True)
        except requests.RequestException as exc:
            raise AmlPermanentError(f"request to AML could not be sent: {type(exc).__name__}") from None

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            # A Retry-After longer than we are prepared to block a tick for is handed to
            # the caller (which reschedules) instead of being waited out here.
            return retry_after if retry_after <= self._max_retry_after else None
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


def _is_connect_refused(exc: requests.ConnectionError) -> bool:
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text
