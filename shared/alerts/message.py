"""The alert queue's message, the structured log event, and the webhook body built from them.

The message says what happened, never where to send it: the sender reads the schedule's
webhook when it sends, so the URL (a secret) is not copied onto a queue (and its poison
queue), and a webhook changed or removed meanwhile is respected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from shared.alerts.webhook import ALERT_KINDS
from shared.queue import MESSAGE_VERSION, message_document

MAX_MESSAGE_BYTES = 8192
MAX_ERROR_TEXT = 300
# Every event line starts with this, then the event as JSON: the Functions host sends a
# Python log record's message text to Application Insights but not its `extra` fields,
# so a log alert query parses the text (README, Alerts).
EVENT_PREFIX = "ALERT "
_TITLES = {
    "failed": "\u274c Schedule {id}: a run failed",
    "late": "\u23f0 Schedule {id}: a run is late",
    "paused": "\u23f8 Schedule {id} paused itself",
    "recovered": "\u2705 Schedule {id} recovered",
}


class InvalidAlertMessage(ValueError):
    """A message on the alert queue that is not one of ours."""


def trimmed(text: str | None, limit: int = MAX_ERROR_TEXT) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


@dataclass(frozen=True)
class AlertMessage:
    kind: str  # failed, late, paused, recovered
    schedule_id: str
    incident_id: str
    at: str  # when it was decided (ISO-8601 UTC)
    opened_at: str
    cause: str  # what opened the incident
    run_key: str | None = None
    slot: str | None = None
    status: str | None = None  # the run's status; "Paused" for a pause
    target_kind: str | None = None
    aml_run_id: str | None = None
    portal_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    reason: str | None = None

    def encode(self) -> str:
        doc = {"v": MESSAGE_VERSION, **{_camel(k): v for k, v in asdict(self).items() if v is not None}}
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | bytes) -> "AlertMessage":
        doc = message_document(text, "alert", InvalidAlertMessage, max_bytes=MAX_MESSAGE_BYTES)
        if doc.get("kind") not in ALERT_KINDS:
            raise InvalidAlertMessage("not an alert message of this version")
        from shared.schedules import check_schedule_id
        from shared.scheduling import ScheduleError

        fields = {name: doc.get(_camel(name)) for name in cls.__dataclass_fields__}
        if any(value is not None and not isinstance(value, str) for value in fields.values()):
            raise InvalidAlertMessage("a field is not a string")
        try:
            check_schedule_id(fields["schedule_id"], "scheduleId")
        except ScheduleError as exc:
            raise InvalidAlertMessage(f"{exc.field}: {exc.message}") from None
        if not all(fields[name] for name in ("incident_id", "at", "opened_at", "cause")):
            raise InvalidAlertMessage("incidentId, at, openedAt and cause are required")
        return cls(**fields)

    def event(self, delivery: str) -> dict[str, Any]:
        """The structured log event, customDimensions-style keys (what an alert rule queries)."""
        return {"event": "alert", "kind": self.kind, "scheduleId": self.schedule_id, "incidentId": self.incident_id,
                "runKey": self.run_key, "amlRunId": self.aml_run_id, "status": self.status,
                "targetKind": self.target_kind, "slot": self.slot, "cause": self.cause,
                "errorCode": self.error_code, "delivery": delivery}

    def title(self) -> str:
        return _TITLES[self.kind].format(id=self.schedule_id)

    def webhook_body(self, console_url: str | None = None) -> dict:
        """`{"text": ...}`: what Teams and Slack incoming webhooks both take."""
        lines = [self.title()]
        if self.status:
            lines.append(f"Status: {self.status}")
        if self.slot:
            lines.append(f"Slot: {self.slot}")
        if self.run_key:
            lines.append(f"Run key: {self.run_key}")
        if self.aml_run_id:
            lines.append(f"AML run: {self.aml_run_id}" + (f" ({self.portal_url})" if self.portal_url else ""))
        if self.error_code or self.error_message:
            lines.append("Error: " + ": ".join(t for t in (self.error_code, trimmed(self.error_message)) if t))
        if self.reason:
            lines.append(f"Reason: {trimmed(self.reason)}")
        if self.kind == "recovered":
            lines.append(f"Incident {self.incident_id}: {self.cause} since {self.opened_at}, closed {self.at}")
        else:
            lines.append(f"Incident {self.incident_id}, opened {self.opened_at}")
        if console_url:
            lines.append(f"Console: {console_url}")
        return {"text": _escaped("\n".join(lines))}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _escaped(text: str) -> str:
    """Slack reads <...> as links and mentions and wants &, < and > escaped; Teams shows the entities as
    the characters. AML's error messages may hold any of them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
