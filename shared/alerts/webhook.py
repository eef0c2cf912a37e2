"""A schedule's `alerts` definition, its webhook URL, the URL's mask and the host allow-list.

A webhook URL is a secret: Teams, Slack and Power Automate put the token that lets anyone
post to the channel in its path or query. So it is stored as given, but answered and
logged only masked (`https://hooks.slack.com/***`), and never put on a queue.

Two checks, on purpose apart:

* the *shape* (`parse_alerts`, part of the schedule resource): https, a host, no
  credentials, no fragment, a length cap. A stored schedule is always re-read with it, so
  it must not depend on settings: a narrowed allow-list must not make stored schedules
  unreadable (and so stop them running);
* the *policy* (`WebhookPolicy`, from the settings): the host is on `ALERT_WEBHOOK_HOSTS`.
  Checked when a schedule is saved (a 400) and again before every send (the list may
  have changed since the schedule was saved).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.scheduling import ScheduleError

ALERT_KINDS = ("failed", "late", "paused", "recovered")
MAX_WEBHOOK_LENGTH = 2048
MASKED_PATH = "/***"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
HOSTS_SETTING = "ALERT_WEBHOOK_HOSTS"
HTTP_LOOPBACK_SETTING = "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST"
_FIELD = "alerts.webhook"
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


@dataclass(frozen=True)
class AlertsSpec:
    """`on`: which incident events are sent (canonical order); `webhook`: where, as given."""

    on: tuple[str, ...]
    webhook: str

    def wants(self, kind: str) -> bool:
        return kind in self.on

    def to_dict(self) -> dict:
        """The stored form: the webhook in full."""
        return {"on": list(self.on), "webhook": self.webhook}

    def to_api(self) -> dict:
        """What the API answers: the webhook masked."""
        return {"on": list(self.on), "webhook": mask_webhook(self.webhook)}


def parse_alerts(doc: Any) -> AlertsSpec | None:
    """The `alerts` field of a schedule; None (or absent) means no webhook messages."""
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ScheduleError("alerts", "must be an object with on and webhook")
    unknown = sorted(set(doc) - {"on", "webhook"})
    if unknown:
        raise ScheduleError(f"alerts.{unknown[0]}", "unknown field")
    on = doc.get("on")
    if on is None:
        kinds: tuple[str, ...] = ALERT_KINDS
    else:
        if not isinstance(on, list) or any(k not in ALERT_KINDS for k in on) or len(set(on)) != len(on):
            raise ScheduleError("alerts.on", "must be a list of distinct events from " + ", ".join(ALERT_KINDS))
        kinds = tuple(k for k in ALERT_KINDS if k in on)
    if doc.get("webhook") is None:
        raise ScheduleError(_FIELD, "is required: the https URL of a Teams, Slack or other incoming webhook")
    return AlertsSpec(kinds, check_webhook_shape(doc["webhook"]))


def check_webhook_shape(value: Any, field: str = _FIELD) -> str:
    """The URL as given, if it has the shape of a webhook this app may post to; else ScheduleError.

    Messages never quote the URL: it may carry its token.
    """
    if not isinstance(value, str) or not value:
        raise ScheduleError(field, "must be an https URL string")
    if len(value) > MAX_WEBHOOK_LENGTH:
        raise ScheduleError(field, f"must be at most {MAX_WEBHOOK_LENGTH} characters")
    # What urlsplit silently drops or browsers read differently (tabs, newlines, '\') is refused.
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in value):
        raise ScheduleError(field, "must not contain spaces, control characters or backslashes")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.netloc:
        raise ScheduleError(field, "must be an absolute https URL")
    if "@" in parts.netloc:
        raise ScheduleError(field, "must not carry credentials (user:password@): the host's own token "
                                   "belongs in its path or query")
    try:
        port = parts.port
    except ValueError:
        raise ScheduleError(field, "has an invalid port (1-65535)") from None  # Python's message quotes it
    if port == 0:
        raise ScheduleError(field, "has an invalid port (1-65535)")
    try:
        host = normalise_host(parts.hostname or "")
    except ValueError as exc:
        raise ScheduleError(field, str(exc)) from None
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ScheduleError(field, "must use https (http only for a loopback receiver in local development)")
    if parts.fragment or value.endswith("#"):
        raise ScheduleError(field, "must not carry a fragment (#...)")
    return value


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, internationalised names as their ASCII (punycode) form, so
    that `Hooks.Slack.com.` and a Unicode look-alike compare as what DNS would resolve."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ValueError("has no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("has a host that is not a valid domain name") from None
    if not _HOST.fullmatch(ascii_host) or any(len(label) > 63 for label in ascii_host.split(".")):
        raise ValueError("has a host that is not a valid domain name")
    return ascii_host


def mask_webhook(url: str) -> str:
    """Scheme, host and port only: the path and query (where the token lives) become `***`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if not parts.scheme or not host:
        return "***"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{shown}{f':{port}' if port else ''}{MASKED_PATH}"


def is_masked(url: str) -> bool:
    """Whether `url` is a mask as the API answers it (sent back with a PUT of a GET's document)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path == MASKED_PATH and not parts.query and not parts.fragment


# -- the allow-list -----------------------------------------------------------------------------

@dataclass(frozen=True)
class HostRule:
    host: str  # normalised; for a wildcard, the suffix after "*."
    wildcard: bool
    port: int | None  # None: the scheme's default port only

    def matches(self, host: str, port: int) -> bool:
        if port != (self.port or 443):
            return False
        return host.endswith("." + self.host) if self.wildcard else host == self.host


def parse_allow_list(text: str) -> tuple[HostRule, ...]:
    """`ALERT_WEBHOOK_HOSTS`: a comma list of hosts (`hooks.slack.com`), wildcards (`*.webhook.office.com`,
    any depth below the suffix, not the suffix itself), each optionally with a port (`host:8443`).
    ValueError naming the first bad entry by its position (settings' values are never echoed)."""
    rules = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), 1):
        if not entry:
            continue
        name = f"entry {position}"
        if "/" in entry or "@" in entry:
            raise ValueError(f"{name}: give a host name such as hooks.slack.com, not a URL")
        host, port = entry, None
        if entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"{name}: the port must be a number from 1 to 65535")
            port = int(port_text)
        wildcard = host.startswith("*.")
        suffix = host[2:] if wildcard else host
        if "*" in suffix:
            raise ValueError(f"{name}: '*' may only stand first, as in *.webhook.office.com")
        try:
            normalised = normalise_host(suffix)
        except ValueError:
            raise ValueError(f"{name}: not a valid host name") from None
        if wildcard and "." not in normalised:
            raise ValueError(f"{name}: a wildcard needs at least two labels after '*.': a top-level domain "
                             "alone would allow anyone's host")
        rules.append(HostRule(normalised, wildcard, port))
    return tuple(rules)


@dataclass(frozen=True)
class WebhookPolicy:
    """Where webhooks may go: the allow-list, and (local development only) http on loopback."""

    rules: tuple[HostRule, ...] = ()
    allow_http_loopback: bool = False

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be called, or None if it may. Never quotes the URL's path or query."""
        try:
            check_webhook_shape(url)
            parts = urlsplit(url)
            host, port = normalise_host(parts.hostname or ""), parts.port
        except (ScheduleError, ValueError) as exc:
            return getattr(exc, "message", None) or str(exc)
        if parts.scheme.lower() == "http":
            if self.allow_http_loopback:
                return None
            return (f"plain http is refused; {HTTP_LOOPBACK_SETTING}=true allows it for a loopback receiver in "
                    "local development only")
        if not self.rules:
            return (f"webhooks are turned off: {HOSTS_SETTING} is empty; set it to the hosts webhooks may call, "
                    "e.g. *.webhook.office.com,hooks.slack.com")
        if any(rule.matches(host, port or 443) for rule in self.rules):
            return None
        where = host if port in (None, 443) else f"{host}:{port}"
        return f"host {where} is not on the allow-list {HOSTS_SETTING}"

    def check(self, url: str, field: str = _FIELD) -> None:
        reason = self.refusal(url)
        if reason is not None:
            raise ScheduleError(field, reason)
