"""HTTP handlers for schedules: CRUD with ETags, run history, fire-time preview, the audit history.

Every write names its caller (`shared.access.guard.current_actor`): on the schedule
(`createdBy`, `updatedBy`), on runs started by hand (`requestedBy`), and in an audit entry
(`shared.api.audit`) that a change of the schedule writes in the same transaction.
Every schedule answer carries its run health (shared.summaries): read from the summary
row beside the schedule, for a list with one range read per shard page, never per schedule.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Iterator

import azure.functions as func

from shared.alerts.webhook import WebhookPolicy, is_masked, mask_webhook
from shared.access.guard import current_actor
from shared.api import audit
from shared.api.http import ApiError, bad_request, json_response, no_content, query_int, read_json
from shared.engine.copies import retire_queued_copies
from shared.schedules import (
    ScheduleDefinition,
    Target,
    check_schedule_id,
    iso,
    merge_patch,
    parse_instant,
    parse_schedule,
)
from shared.scheduling import ScheduleError
from shared.scheduling.templating import validate_parameters
from shared.store import (
    ACTIVE_STATUSES,
    STATUS_GROUPS,
    TERMINAL_STATUSES,
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    RunStore,
    ScheduleRecord,
    ScheduleStore,
    StoreError,
    ScheduleSummary,
    SummaryView,
)
from shared.summaries import health_fields, parse_health_filter

RUN_STATUSES = sorted(ACTIVE_STATUSES | TERMINAL_STATUSES | {"Claimed"})
MAX_PREVIEW = 100
# An edit without If-Match is read, changed and written back conditionally until it lands.
# The timer writes a schedule at most a few times a minute, so the first retry lands; other
# editors racing for the same schedule are spread apart by random pauses. Past this budget
# the schedule is changing faster than anyone can edit it: a 409, nothing written.
UPDATE_BUDGET_SECONDS = 5.0
MAX_RETRY_PAUSE_SECONDS = 0.1
# What the stores issue: unpadded URL-safe base64, at most 2048 characters (shared.store.encode_token).
_STORE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,2048}")
# A filtered list (?health=) reads at most this many store pages per request: a page can be
# short, even empty, while continuationToken says there is more.
MAX_FILTER_READS = 5


class ScheduleHandlers:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, clock: Callable[[], datetime], engine: Any = None,
                 check_target: Callable[[Target], None] | None = None, webhooks: WebhookPolicy = WebhookPolicy()):
        self._schedules = schedules
        self._runs = runs
        self._clock = clock
        self._engine = engine
        # Asks AML whether a target exists (target_check.TargetCheck); None checks nothing.
        self._check_target = check_target
        # Where alert webhooks may post (settings); the default allows none.
        self._webhooks = webhooks

    # -- collection ------------------------------------------------------------------
    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        limit = query_int(req, "limit", 50, 1, 500)
        wanted = None
        if "health" in req.params:
            try:
                wanted = parse_health_filter(req.params["health"])
            except ValueError as exc:
                raise bad_request("health", str(exc)) from None
        token, now, found = _token(req), self._clock(), []
        for _ in range(MAX_FILTER_READS if wanted else 1):
            # Each read asks for what the page still lacks, so a page never holds more than `limit`.
            page = self._schedules.list(limit=limit - len(found), continuation=token, summaries=True)
            views = [_view(r, r.summary, now) for r in page.items]
            found += [v for v in views if wanted is None or v["health"] in wanted]
            token = page.continuation
            if not token or len(found) >= limit:
                break
        return json_response({"value": found, "continuationToken": token})

    def create(self, req: func.HttpRequest) -> func.HttpResponse:
        definition = self._with_alerts(parse_schedule(read_json(req)), None)
        self._checked(req, definition, None)
        try:
            stored = self._create(definition, self._clock())
        except AlreadyExists:
            raise ApiError(409, "Conflict", f"schedule {definition.id!r} already exists; use PUT to replace it",
                           field="id") from None
        return self._respond(stored, 201, location=f"/api/schedules/{stored.id}", new=True)

    # -- item ------------------------------------------------------------------------
    def get(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._respond(self._get(_id(req)))

    def put(self, req: func.HttpRequest) -> func.HttpResponse:
        schedule_id = _id(req)
        parsed = parse_schedule(read_json(req), schedule_id=schedule_id)
        if_match = _if_match(req)
        checked: list = []
        for attempt in _update_rounds():
            now = self._clock()
            try:
                current = self._schedules.get(schedule_id)
            except NotFound:
                if if_match is not None:
                    raise ApiError(412, "PreconditionFailed", "If-Match given but the schedule does not exist") from None
                definition = self._with_alerts(parsed, None)
                self._checked(req, definition, None, checked)
                try:
                    return self._respond(self._create(definition, now), 201,
                                         location=f"/api/schedules/{schedule_id}", new=True)
                except AlreadyExists:
                    continue  # created meanwhile: replace it on the next round
            definition = self._with_alerts(parsed, current.definition)
            self._checked(req, definition, current.definition, checked)
            try:
                return self._store_update(current, definition, if_match, now, "replace")
            except _Contended:
                _pause_before_retry(attempt)
        raise _kept_changing()

    def patch(self, req: func.HttpRequest) -> func.HttpResponse:
        schedule_id = _id(req)
        patch = read_json(req, allowed_types=("application/json", "application/merge-patch+json"))
        if not isinstance(patch, dict):
            raise bad_request("body", "a merge patch must be a JSON object")
        checked: list = []

        def change(current: ScheduleRecord) -> ScheduleDefinition:
            definition = parse_schedule(merge_patch(current.definition.to_dict(), patch), schedule_id=schedule_id)
            definition = self._with_alerts(definition, current.definition)
            self._checked(req, definition, current.definition, checked)
            return definition
        return self._read_modify_write(schedule_id, _if_match(req), change, "update")

    def delete(self, req: func.HttpRequest) -> func.HttpResponse:
        schedule_id = _id(req)
        if_match = _if_match(req)
        current = self._get(schedule_id)
        # Compared here first: only an ETag the store issued is handed to it, so a malformed
        # one is the 412 it deserves rather than a refusal of the Table service.
        if if_match is not None and if_match != current.etag:
            raise _stale()
        try:
            self._schedules.delete(schedule_id, etag=if_match,
                                   audit=audit.entry(schedule_id, "delete", self._clock()))
        except NotFound:
            raise _not_found(schedule_id) from None
        except PreconditionFailed:
            raise _stale() from None
        retire_queued_copies(self._runs, schedule_id, self._clock())
        return no_content()

    # -- enable, disable, run now, backfill ----------------------------------------------
    def enable(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._set_enabled(req, True)

    def disable(self, req: func.HttpRequest) -> func.HttpResponse:
        return self._set_enabled(req, False)

    def _set_enabled(self, req: func.HttpRequest, enabled: bool) -> func.HttpResponse:
        return self._read_modify_write(
            _id(req), _if_match(req),
            lambda current: parse_schedule({**current.definition.to_dict(), "enabled": enabled},
                                           schedule_id=current.id),
            "enable" if enabled else "disable")

    def trigger(self, req: func.HttpRequest) -> func.HttpResponse:
        from shared.engine import ConcurrencyConflict

        record = self._get(_id(req))
        overrides = None
        if (req.get_body() or b"").strip():
            body = read_json(req)
            if not isinstance(body, dict) or set(body) - {"parameterAssignments"}:
                extra = sorted(set(body) - {"parameterAssignments"}) if isinstance(body, dict) else []
                raise bad_request(extra[0] if extra else "body", "unknown field" if extra else "must be an object")
            overrides = validate_parameters("parameterAssignments", body.get("parameterAssignments", {}))
        now = self._clock()
        try:
            run = self._engine.trigger_now(record, now, overrides, requested_by=current_actor())
        except ConcurrencyConflict:
            raise ApiError(409, "Conflict", "a run of this schedule is active and its concurrency policy is Forbid") from None
        except AlreadyExists:
            raise ApiError(409, "Conflict", "a manual run of this schedule was already started this second") from None
        self._audit_run(audit.entry(record.id, "trigger", now, details={
            "slotKey": run.slot_key, "status": run.status, "parameterOverrides": sorted(overrides or {})}))
        return json_response(run.to_api(), 201)

    def backfill(self, req: func.HttpRequest) -> func.HttpResponse:
        from shared.engine import BackfillError

        record = self._get(_id(req))
        body = read_json(req)
        if not isinstance(body, dict):
            raise bad_request("body", "must be an object with from and to")
        unknown = sorted(set(body) - {"from", "to"})
        if unknown:
            raise bad_request(unknown[0], "unknown field")
        for name in ("from", "to"):
            if name not in body:
                raise bad_request(name, "is required")
        zone = record.definition.trigger.zone
        start, end = parse_instant("from", body["from"], zone), parse_instant("to", body["to"], zone)
        now = self._clock()
        try:
            result = self._engine.backfill(record, start, end, now, requested_by=current_actor())
        except BackfillError as exc:
            raise bad_request(exc.field, exc.message) from None
        self._audit_run(audit.entry(record.id, "backfill", now, details={
            "from": iso(start), "to": iso(end), "queued": len(result.queued), "existing": len(result.existing)}))
        return json_response({"scheduleId": record.id, "from": iso(start), "to": iso(end),
                              "queued": result.queued, "existing": result.existing, "count": len(result.queued)}, 202)

    # -- runs and preview ------------------------------------------------------------
    def runs(self, req: func.HttpRequest) -> func.HttpResponse:
        schedule_id = _id(req)
        status = run_status_param(req)
        limit = query_int(req, "limit", 50, 1, 500)
        page = self._runs.list_runs(schedule_id, status=status, limit=limit, continuation=_token(req))
        if not page.items and not _token(req):
            # History outlives a deleted schedule, so only an id with neither is a 404.
            self._get(schedule_id)
        return json_response({"value": [r.to_api() for r in page.items], "continuationToken": page.continuation})

    def preview(self, req: func.HttpRequest) -> func.HttpResponse:
        record = self._get(_id(req))
        count = query_int(req, "count", 10, 1, MAX_PREVIEW)
        start = parse_instant("from", req.params["from"]) if "from" in req.params else self._clock()
        trigger = record.definition.trigger.build()
        fires = [{"utc": iso(t), "local": t.astimezone(trigger.zone).isoformat()}
                 for t in trigger.fire_times(start, limit=count)]
        return json_response({"scheduleId": record.id, "timeZone": record.definition.trigger.time_zone,
                              "from": iso(start), "value": fires})

    def history(self, req: func.HttpRequest) -> func.HttpResponse:
        """Who changed the schedule or ran it by hand, newest first; kept after a delete."""
        schedule_id = _id(req)
        limit = query_int(req, "limit", 50, 1, 500)
        page = self._schedules.audit_page(schedule_id, limit=limit, continuation=_token(req))
        if not page.items and not _token(req):
            self._get(schedule_id)
        return json_response({"value": [e.to_api() for e in page.items], "continuationToken": page.continuation})

    # -- helpers ---------------------------------------------------------------------
    def _create(self, definition: ScheduleDefinition, now: datetime) -> ScheduleRecord:
        """Store a new schedule as the current caller's, with its audit entry; AlreadyExists if taken."""
        actor = current_actor()
        record = ScheduleRecord(definition, _first_fire(definition, now), None, now, now,
                                created_by=actor, updated_by=actor)
        return self._schedules.create(record, audit=audit.entry(definition.id, "create", now,
                                                                after=definition.to_dict()))

    def _audit_run(self, entry) -> None:
        """The entry of a run started by hand. The run is under way whatever happens here, and its
        record and the request's audit log line name the caller, so a store failure is logged
        rather than answered."""
        try:
            self._schedules.append_audit(entry)
        except StoreError as exc:
            audit.log.warning("audit entry for %s of schedule %s not stored: %s", entry.action, entry.schedule_id, exc)

    def _checked(self, req: func.HttpRequest, definition: ScheduleDefinition, current: ScheduleDefinition | None,
                 done: list | None = None) -> None:
        """Ask AML whether a new or changed target exists, unless ?validate=false; once per
        request (`done` remembers the targets checked across read-modify-write rounds)."""
        validate = req.params.get("validate", "true")
        if validate not in ("true", "false"):
            raise bad_request("validate", "must be true or false")
        target = definition.target
        if (validate == "false" or self._check_target is None
                or (current is not None and current.target == target) or (done is not None and target in done)):
            return
        self._check_target(target)
        if done is not None:
            done.append(target)

    def _with_alerts(self, definition: ScheduleDefinition, current: ScheduleDefinition | None) -> ScheduleDefinition:
        """The webhook to store: a mask sent back as this API shows it (a GET's document in a PUT) keeps the
        stored URL; any other must be on the allow-list (ALERT_WEBHOOK_HOSTS), checked on every write."""
        alerts = definition.alerts
        if alerts is None:
            return definition
        if is_masked(alerts.webhook):
            stored = current.alerts if current is not None else None
            if stored is None or mask_webhook(stored.webhook) != alerts.webhook:
                raise bad_request("alerts.webhook", "is masked as this API shows it and not the stored webhook's "
                                                    "mask: send the full URL")
            definition = replace(definition, alerts=replace(alerts, webhook=stored.webhook))
        self._webhooks.check(definition.alerts.webhook)
        return definition

    def _get(self, schedule_id: str) -> ScheduleRecord:
        try:
            return self._schedules.get(schedule_id)
        except NotFound:
            raise _not_found(schedule_id) from None

    def _read_modify_write(self, schedule_id: str, if_match: str | None,
                           change: Callable[[ScheduleRecord], ScheduleDefinition], action: str) -> func.HttpResponse:
        """Apply `change` to the stored schedule and write it back conditionally.

        The timer moves a schedule's cursor between our read and our write now and then. A
        caller who sent If-Match gets the 412 they asked for; one who did not asked for no
        precondition, so the change is applied again to a fresh read.
        """
        for attempt in _update_rounds():
            current = self._get(schedule_id)
            try:
                return self._store_update(current, change(current), if_match, self._clock(), action)
            except _Contended:
                _pause_before_retry(attempt)
        raise _kept_changing()

    def _store_update(self, current: ScheduleRecord, definition: ScheduleDefinition, if_match: str | None,
                      now: datetime, action: str) -> func.HttpResponse:
        if if_match is not None and if_match != current.etag:
            raise _stale()
        next_fire = current.next_fire_time
        if _fire_times_changed(definition, current.definition):
            # A new trigger starts from now: slots of the old trigger are not owed.
            next_fire = _first_fire(definition, now)
        resumed_at = current.resumed_at
        health = dict(failure_streak=current.failure_streak, paused_reason=current.paused_reason,
                      paused_at=current.paused_at)
        if definition.enabled and not current.definition.enabled:
            # The cursor stayed where it was while disabled: the next tick applies the
            # misfire policy to what was missed, and records those slots as missed-while-disabled.
            resumed_at = now
            # Enabling again is the operator saying the cause of a pause is dealt with.
            health = dict(failure_streak=0, paused_reason=None, paused_at=None)
        updated = ScheduleRecord(definition, next_fire, current.last_slot, current.created_at, now,
                                 etag=current.etag, resumed_at=resumed_at, created_by=current.created_by,
                                 updated_by=current_actor(), **health)
        entry = audit.entry(current.id, action, now, before=current.definition.to_dict(),
                            after=definition.to_dict())
        try:
            stored = self._schedules.replace(updated, audit=entry)
        except PreconditionFailed:
            if if_match is not None:
                raise ApiError(412, "PreconditionFailed",
                               "the schedule changed while this request was processed; read it again") from None
            raise _Contended() from None
        retire_queued_copies(self._runs, stored.id, now)
        return self._respond(stored)

    def _respond(self, record: ScheduleRecord, status: int = 200, location: str | None = None, *,
                 new: bool = False) -> func.HttpResponse:
        """The schedule with its health; a new schedule's summary is known to be empty."""
        summary = ScheduleSummary(record.id) if new else self._schedules.get_summary(record.id)
        headers: dict[str, Any] = {"ETag": record.etag} if record.etag else {}
        if location:
            headers["Location"] = location
        return json_response(_view(record, summary, self._clock()), status, headers)


class _Contended(Exception):
    """Someone else wrote the schedule between our read and our conditional write."""


def _update_rounds() -> Iterator[int]:
    """Round numbers for a read-modify-write, until the time budget is spent."""
    deadline = time.monotonic() + UPDATE_BUDGET_SECONDS
    attempt = 0
    while attempt == 0 or time.monotonic() < deadline:
        yield attempt
        attempt += 1


def _pause_before_retry(attempt: int) -> None:
    """A short random pause, growing per lost round, so racing editors stop colliding in lockstep."""
    time.sleep(random.uniform(0, min(MAX_RETRY_PAUSE_SECONDS, 0.005 * 2 ** attempt)))


def _kept_changing() -> ApiError:
    return ApiError(409, "Conflict", "the schedule kept changing while this request was applied; nothing was "
                                     "written, send it again")


def _fire_times_changed(new: ScheduleDefinition, old: ScheduleDefinition) -> bool:
    """Jitter only delays submissions; changing it alone keeps the owed slots."""
    return replace(new.trigger, jitter_seconds=0) != replace(old.trigger, jitter_seconds=0)


def _first_fire(definition: ScheduleDefinition, now: datetime) -> datetime | None:
    """A new schedule's cursor: its first fire time after now, never 'immediately'."""
    return definition.trigger.build().next_after(now)


def _id(req: func.HttpRequest) -> str:
    try:
        return check_schedule_id(req.route_params.get("id"), "id")
    except ScheduleError as exc:
        raise bad_request(exc.field, exc.message) from None


def _if_match(req: func.HttpRequest) -> str | None:
    value = req.headers.get("If-Match")
    if value is None or value.strip() in ("", "*"):
        return None
    return value.strip()


def _token(req: func.HttpRequest) -> str | None:
    """The page token, checked for the shape the stores issue (an empty one asks for the first page)."""
    token = req.params.get("continuationToken") or None
    if token is not None and not _STORE_TOKEN.fullmatch(token):
        raise bad_request("continuationToken", "is not a token from a previous page of this list")
    return token


def _stale() -> ApiError:
    return ApiError(412, "PreconditionFailed", "the schedule changed since it was read (ETag mismatch)")


def _not_found(schedule_id: str) -> ApiError:
    return ApiError(404, "NotFound", f"schedule {schedule_id!r} does not exist")


def run_status_param(req: func.HttpRequest) -> str | None:
    """`?status=`: a run status or a status group (failed, active, finished), or None."""
    status = req.params.get("status")
    if status is not None and status not in RUN_STATUSES and status not in STATUS_GROUPS:
        raise bad_request("status", "must be a status (" + ", ".join(RUN_STATUSES) + ") or a group ("
                          + ", ".join(f"{name}: {'/'.join(sorted(members))}"
                                      for name, members in STATUS_GROUPS.items()) + ")")
    return status


def _view(record: ScheduleRecord, summary: "ScheduleSummary | SummaryView | None", now: datetime) -> dict:
    return {**record.to_api(), **health_fields(record, summary, now)}
