"""Hears run outcomes and pauses (shared.engine.outcomes), keeps the incident, hands alerts to a queue.

It runs on the thread that wrote the run record (a poll thread, a queue worker), so it
only decides and enqueues: one point read of the incident row per failed or completed
run; only when an incident opens, escalates or closes, a read of the schedule (its alerts),
a conditional write of the row and one queue message. The webhook is posted by the queue-triggered sender (`delivery`), so a
slow or hanging webhook never holds up a tick, a poll or a submit.

Every transition is logged as one structured event (logger `shared.alerts`), whether or
not the schedule has a webhook, so an Azure Monitor log alert can work from the log alone.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable

from shared.alerts.incidents import Decision, decide, event_of
from shared.alerts.message import EVENT_PREFIX, AlertMessage, trimmed
from shared.schedules import iso
from shared.store import AlreadyExists, NotFound, PreconditionFailed, RunRecord, ScheduleRecord, ScheduleStore, \
    StoreError
from shared.store.incidents import IncidentStore

log = logging.getLogger("shared.alerts")
# Two workers finishing runs of one schedule at once: the loser reads again and usually finds
# nothing left to do. A few rounds are plenty; past them the event is logged as dropped.
_WRITE_ROUNDS = 5


class AlertListener:
    def __init__(self, incidents: IncidentStore, schedules: ScheduleStore, queue, clock: Callable[[], datetime]):
        self._incidents = incidents
        self._schedules = schedules
        self._queue = queue  # anything with send(message); the alert queue
        self._clock = clock

    # -- OutcomeListener -------------------------------------------------------------------
    def run_finished(self, run: RunRecord) -> None:
        event = event_of(run.status)
        if event is not None:
            self._handle(run.schedule_id, event, run=run)

    def run_late(self, run: RunRecord) -> None:
        self._handle(run.schedule_id, "late", run=run)

    def schedule_paused(self, record: ScheduleRecord) -> None:
        self._handle(record.id, "paused", record=record)

    # -- the decision ----------------------------------------------------------------------
    def _handle(self, schedule_id: str, event: str, *, run: RunRecord | None = None,
                record: ScheduleRecord | None = None) -> None:
        now = self._clock()
        looked_up: list = [record, "not requested"] if record is not None else []
        try:
            decision = self._decide_and_write(schedule_id, event, now, run, looked_up)
        except StoreError as exc:
            log.warning("schedule %s: %s not weighed for alerts (incident row: %s)", schedule_id, event, exc)
            return
        if decision is None or decision.alert is None:
            return
        record, delivery = looked_up
        message = _message(decision, schedule_id, now, run, record)
        spec = record.definition.alerts if record is not None else None
        if spec is not None and spec.wants(decision.alert):
            delivery = self._enqueue(message)
        _log_event(message, delivery)

    def _decide_and_write(self, schedule_id: str, event: str, now: datetime, run: RunRecord | None,
                          looked_up: list) -> Decision | None:
        """The decision, written; `looked_up` gets the schedule (read once, and only if something changes)."""
        for _ in range(_WRITE_ROUNDS):
            current = self._incidents.get(schedule_id)
            decision = decide(current, event, schedule_id, now, run.run_key if run else None, run.slot if run else None)
            if decision.incident is None:
                return decision
            if not looked_up:
                looked_up.extend(self._schedule(schedule_id))
            if looked_up[1] == "schedule deleted":
                # A run of a deleted schedule ended: an incident row now would outlive the schedule
                # and silence the first alert of one created again under its id.
                log.info("schedule %s: %s of a deleted schedule; no incident", schedule_id, event)
                return None
            try:
                if current is None:
                    self._incidents.create(decision.incident)
                else:
                    self._incidents.replace(decision.incident)
                return decision
            except (AlreadyExists, PreconditionFailed, NotFound):
                continue  # another worker wrote it first: weigh the event against what it wrote
        log.warning("schedule %s: %s not weighed for alerts (the incident row kept changing)", schedule_id, event)
        return None

    def _schedule(self, schedule_id: str) -> tuple[ScheduleRecord | None, str]:
        """The schedule (for its alerts), or None and what that means for the delivery."""
        try:
            return self._schedules.get(schedule_id), "not requested"
        except NotFound:
            return None, "schedule deleted"
        except StoreError as exc:
            # The incident is recorded; without the definition its message cannot be addressed.
            log.warning("schedule %s: not read for its alert (%s)", schedule_id, exc)
            return None, "schedule not readable"

    def _enqueue(self, message: AlertMessage) -> str:
        try:
            self._queue.send(message)
            return "queued"
        except Exception as exc:  # noqa: BLE001 - a queue outage costs this message, never the run's record
            log.error("schedule %s: alert %s of incident %s could not be queued (%s); it is in the log only",
                      message.schedule_id, message.kind, message.incident_id, type(exc).__name__)
            return "queue unavailable"


def _message(decision: Decision, schedule_id: str, now: datetime, run: RunRecord | None,
             record: ScheduleRecord | None) -> AlertMessage:
    incident = decision.incident
    paused = decision.alert == "paused"
    return AlertMessage(
        kind=decision.alert, schedule_id=schedule_id, incident_id=incident.incident_id, at=iso(now),
        opened_at=iso(incident.opened_at), cause=incident.cause,
        run_key=run.run_key if run else None, slot=iso(run.slot) if run else None,
        status="Paused" if paused else (run.status if run else None),
        target_kind=run.target_kind if run else None,
        aml_run_id=run.aml_run_id if run else None, portal_url=run.portal_url if run else None,
        error_code=trimmed(run.error_code, 100) if run else None,
        error_message=trimmed(run.error_message) if run else None,
        reason=trimmed(record.paused_reason) if paused and record is not None else None,
    )


def _log_event(message: AlertMessage, delivery: str) -> None:
    """One line per incident transition: `ALERT {json}`, the same keys in `extra`. Recoveries are
    INFO, the rest WARNING, so a log level filter alone separates trouble from its end."""
    event = message.event(delivery)
    level = logging.INFO if message.kind == "recovered" else logging.WARNING
    log.log(level, EVENT_PREFIX + json.dumps({k: v for k, v in event.items() if v is not None},
                                             separators=(",", ":")),
            extra={"custom_dimensions": event, **event})
