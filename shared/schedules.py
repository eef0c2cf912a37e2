"""The schedule resource: parsing and validation of its JSON, and its canonical form.

Validation is strict (unknown fields are errors) because a typo such as "timezone" for
"timeZone" would otherwise silently run a schedule in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from shared.alerts.webhook import AlertsSpec, parse_alerts
from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from shared.scheduling.jitter import MAX_JITTER_SECONDS, jitter_offset
from shared.scheduling.recurrence import Recurrence, RecurrenceTrigger
from shared.scheduling.triggers import CronTrigger, Trigger
from shared.scheduling.zones import resolve_zone
from shared.targets import TARGET_KINDS, Target, parse_target  # noqa: F401 - re-exported: part of the schedule resource

UTC = timezone.utc
DEFAULT_PAUSE_AFTER_FAILURES = 5
SCHEDULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# What an answer carries besides the definition: accepted back in a body, and ignored, so a
# schedule read with GET can be sent back with PUT as it came.
READ_ONLY_FIELDS = frozenset({"nextFireTime", "lastSlot", "createdAt", "updatedAt", "etag", "consecutiveFailures",
                              "pausedReason", "pausedAt", "createdBy", "updatedBy", "health", "lastRun",
                              "successRate", "recentRuns", "failedInARow"})
CONCURRENCY = ("Allow", "Forbid", "Replace")
MISFIRE = ("latest", "all", "skip")


def check_schedule_id(value: Any, field_name: str = "id") -> str:
    if not isinstance(value, str) or not SCHEDULE_ID.match(value):
        raise ScheduleError(field_name, "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit")
    return value


MAX_RETRY_BACKOFF_SECONDS = 3600
# policy.sla.completeWithinMinutes: up to a week, like runTimeoutMinutes.
MAX_SLA_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_seconds: int = 60
    retry_on_run_failure: bool = False

    def delay_after(self, attempts_made: int) -> int:
        """Seconds to wait after the n-th failed attempt: exponential, capped at an hour."""
        return min(MAX_RETRY_BACKOFF_SECONDS, self.backoff_seconds * 2 ** max(0, attempts_made - 1))

    def to_dict(self) -> dict:
        return {"maxAttempts": self.max_attempts, "backoffSeconds": self.backoff_seconds,
                "retryOnRunFailure": self.retry_on_run_failure}


@dataclass(frozen=True)
class Policy:
    concurrency: str = "Allow"
    misfire: str = "latest"
    misfire_grace_seconds: int = 3600
    max_catchup: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    run_timeout_minutes: int | None = None
    # Disable the schedule after this many slots in a row that AML refused outright (a
    # target deleted, access taken away); 0 never pauses.
    pause_after_failures: int = DEFAULT_PAUSE_AFTER_FAILURES
    # A slot's run should have completed this long after its slot (policy.sla): past it, the
    # poll marks the run late once and the schedule shows as late. None: no deadline.
    complete_within_minutes: int | None = None

    def to_dict(self) -> dict:
        return {"concurrency": self.concurrency, "misfire": self.misfire,
                "misfireGraceSeconds": self.misfire_grace_seconds, "maxCatchup": self.max_catchup,
                "retry": self.retry.to_dict(), "runTimeoutMinutes": self.run_timeout_minutes,
                "pauseAfterFailures": self.pause_after_failures,
                "sla": ({"completeWithinMinutes": self.complete_within_minutes}
                        if self.complete_within_minutes is not None else None)}


@dataclass(frozen=True)
class TriggerSpec:
    """Exactly one of `cron` and `recurrence` is set. `time_zone` is the name as given
    (IANA or Windows), resolved on use."""

    cron: str | None
    time_zone: str
    start_time: datetime | None
    end_time: datetime | None
    recurrence: Recurrence | None = None
    jitter_seconds: int = 0

    def build(self) -> Trigger:
        if self.recurrence is not None:
            return RecurrenceTrigger(self.recurrence, self.zone, self.start_time, self.end_time)
        return CronTrigger(CronExpression(self.cron), self.zone, self.start_time, self.end_time)

    @property
    def zone(self) -> tzinfo:
        return resolve_zone(self.time_zone)

    def jitter(self, schedule_id: str) -> timedelta:
        """How long after each nominal slot this schedule's runs are submitted."""
        return jitter_offset(schedule_id, self.jitter_seconds)

    def to_dict(self) -> dict:
        doc: dict[str, Any] = ({"recurrence": self.recurrence.to_dict()} if self.recurrence is not None
                               else {"cron": self.cron})
        doc.update({"timeZone": self.time_zone, "startTime": iso(self.start_time), "endTime": iso(self.end_time),
                    "jitterSeconds": self.jitter_seconds})
        return doc


@dataclass(frozen=True)
class ScheduleDefinition:
    id: str
    description: str
    enabled: bool
    trigger: TriggerSpec
    target: Target
    policy: Policy
    # Where this schedule's incident messages go (shared.alerts); None: none are sent.
    alerts: AlertsSpec | None = None

    def to_dict(self) -> dict:
        """The stored form: a webhook in full (ScheduleRecord.to_api masks it)."""
        return {"id": self.id, "description": self.description, "enabled": self.enabled,
                "trigger": self.trigger.to_dict(), "target": self.target.to_dict(),
                "policy": self.policy.to_dict(), "alerts": self.alerts.to_dict() if self.alerts else None}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_instant(field_name: str, value: Any, zone: tzinfo | None = None) -> datetime:
    """ISO-8601 to an aware UTC datetime; a time without offset is read in `zone`."""
    if not isinstance(value, str) or len(value) > 40:
        raise ScheduleError(field_name, "must be an ISO-8601 date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(field_name, "must be an ISO-8601 date-time such as 2026-11-22T02:30:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a valid date-time before year 1 in UTC
        raise ScheduleError(field_name, "must lie between the years 1 and 9999 in UTC") from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _object(doc: Any, field_name: str, allowed: set[str]) -> dict:
    if not isinstance(doc, dict):
        raise ScheduleError(field_name, "must be an object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        prefix = f"{field_name}." if field_name else ""
        raise ScheduleError(f"{prefix}{unknown[0]}", "unknown field")
    return doc


def whole_number(value: Any) -> Any:
    """2.0 as 2: JSON Schema counts it an integer, so the API does too; anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _whole_numbers_in(recurrence: Any) -> Any:
    """The recurrence with its numbers (interval, hours, minutes, monthDays) as ints where they are whole."""
    if not isinstance(recurrence, dict):
        return recurrence
    doc = dict(recurrence)
    for key in ("interval", "hours", "minutes", "monthDays"):
        value = doc.get(key)
        doc[key] = [whole_number(v) for v in value] if isinstance(value, list) else whole_number(value)
        if recurrence.get(key) is None and key not in recurrence:
            del doc[key]
    return doc


def _int(doc: dict, key: str, field_name: str, default: int, low: int, high: int) -> int:
    value = whole_number(doc.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScheduleError(field_name, f"must be a whole number from {low} to {high}")
    return value


def _choice(doc: dict, key: str, field_name: str, default: str, options: tuple[str, ...]) -> str:
    value = doc.get(key, default)
    if value not in options:
        raise ScheduleError(field_name, "must be one of " + ", ".join(options))
    return value


def parse_trigger(doc: Any) -> TriggerSpec:
    doc = _object(doc, "trigger", {"cron", "recurrence", "timeZone", "startTime", "endTime", "jitterSeconds"})
    # null counts as absent, so a merge patch can switch kinds: {"cron": null, "recurrence": {...}}.
    if (doc.get("cron") is None) == (doc.get("recurrence") is None):
        raise ScheduleError("trigger", "give exactly one of cron or recurrence"
                            " (to switch with PATCH, set the other one to null)")
    # Only an absent or null zone means UTC: "" or [] is a mistake, not a choice of UTC.
    zone_name = "UTC" if doc.get("timeZone") is None else doc["timeZone"]
    zone = resolve_zone(zone_name)
    start = parse_instant("trigger.startTime", doc["startTime"], zone) if doc.get("startTime") is not None else None
    end = parse_instant("trigger.endTime", doc["endTime"], zone) if doc.get("endTime") is not None else None
    if start and end and end <= start:
        raise ScheduleError("trigger.endTime", "must be after startTime")
    jitter = _int(doc, "jitterSeconds", "trigger.jitterSeconds", 0, 0, MAX_JITTER_SECONDS)
    if doc.get("cron") is not None:
        return TriggerSpec(CronExpression(doc["cron"]).text, zone_name, start, end, jitter_seconds=jitter)
    recurrence = Recurrence.parse(_whole_numbers_in(doc["recurrence"]))
    # Only a Month pattern can miss forever (day 31 every 12 months from April); say so
    # now rather than leave a schedule that silently never runs.
    probe = start - timedelta(microseconds=1) if start else datetime(1969, 12, 30, tzinfo=UTC)
    if RecurrenceTrigger(recurrence, zone, start).next_after(probe) is None:
        raise ScheduleError("trigger.recurrence.monthDays", "none of these days occurs in the months this "
                            "recurrence selects, so it never fires")
    return TriggerSpec(None, zone_name, start, end, recurrence=recurrence, jitter_seconds=jitter)


def parse_policy(doc: Any) -> Policy:
    doc = _object(doc, "policy", {"concurrency", "misfire", "misfireGraceSeconds", "maxCatchup", "retry",
                                  "runTimeoutMinutes", "pauseAfterFailures", "sla"})
    retry_doc = _object(doc.get("retry", {}), "policy.retry", {"maxAttempts", "backoffSeconds", "retryOnRunFailure"})
    retry_on_failure = retry_doc.get("retryOnRunFailure", False)
    if not isinstance(retry_on_failure, bool):
        raise ScheduleError("policy.retry.retryOnRunFailure", "must be true or false")
    retry = RetryPolicy(
        max_attempts=_int(retry_doc, "maxAttempts", "policy.retry.maxAttempts", 3, 1, 10),
        backoff_seconds=_int(retry_doc, "backoffSeconds", "policy.retry.backoffSeconds", 60, 1, 3600),
        retry_on_run_failure=retry_on_failure,
    )
    timeout = doc.get("runTimeoutMinutes")
    if timeout is not None:
        timeout = _int(doc, "runTimeoutMinutes", "policy.runTimeoutMinutes", 0, 1, 7 * 24 * 60)
    return Policy(
        concurrency=_choice(doc, "concurrency", "policy.concurrency", "Allow", CONCURRENCY),
        misfire=_choice(doc, "misfire", "policy.misfire", "latest", MISFIRE),
        misfire_grace_seconds=_int(doc, "misfireGraceSeconds", "policy.misfireGraceSeconds", 3600, 0, 31 * 86400),
        max_catchup=_int(doc, "maxCatchup", "policy.maxCatchup", 10, 1, 1000),
        retry=retry,
        run_timeout_minutes=timeout,
        pause_after_failures=_int(doc, "pauseAfterFailures", "policy.pauseAfterFailures",
                                  DEFAULT_PAUSE_AFTER_FAILURES, 0, 1000),
        complete_within_minutes=_sla_minutes(doc.get("sla")),
    )


def _sla_minutes(sla: Any) -> int | None:
    """policy.sla: null or absent for none, else {"completeWithinMinutes": 1..MAX_SLA_MINUTES}."""
    if sla is None:
        return None
    sla = _object(sla, "policy.sla", {"completeWithinMinutes"})
    if "completeWithinMinutes" not in sla:
        raise ScheduleError("policy.sla.completeWithinMinutes", "is required (or leave out policy.sla)")
    return _int(sla, "completeWithinMinutes", "policy.sla.completeWithinMinutes", 0, 1, MAX_SLA_MINUTES)


def parse_schedule(doc: Any, *, schedule_id: str | None = None) -> ScheduleDefinition:
    """Validate a full schedule document. `schedule_id` (from the URL) must match any body id."""
    doc = _object(doc, "", {"id", "description", "enabled", "trigger", "target", "policy", "alerts"}
                  | READ_ONLY_FIELDS)
    body_id = doc.get("id")
    if schedule_id is not None:
        check_schedule_id(schedule_id, "id")
        if body_id is not None and body_id != schedule_id:
            raise ScheduleError("id", "does not match the id in the URL")
        body_id = schedule_id
    check_schedule_id(body_id)
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > 1024:
        raise ScheduleError("description", "must be a string of at most 1024 characters")
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScheduleError("enabled", "must be true or false")
    if "trigger" not in doc:
        raise ScheduleError("trigger", "is required")
    if "target" not in doc:
        raise ScheduleError("target", "is required")
    return ScheduleDefinition(
        id=body_id,
        description=description,
        enabled=enabled,
        trigger=parse_trigger(doc["trigger"]),
        target=parse_target(doc["target"]),
        policy=parse_policy(doc.get("policy", {})),
        alerts=parse_alerts(doc.get("alerts")),
    )
