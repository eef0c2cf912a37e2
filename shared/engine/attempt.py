"""One attempt at a claimed slot: own the lease, reconcile, respect concurrency, submit, record.

Every path that submits a slot goes through `SlotRunner.attempt`: a queue worker taking
a message, the poll's sweep when the queue is down, a manual run. Before anything goes
to AML the attempt makes sure that

* it holds the lease, with at least `LeasePolicy.needed_to_start` left: taken (or
  renewed) with If-Match, so two workers handed the same slot never both submit it and
  an attempt never starts on a claim another process may take over;
* the schedule still exists, is enabled and still holds the slot in its time window
  (read fresh, or the dispatch's copy when the lease shows nothing changed since:
  shared.engine.copies; a schedule deleted during a long tick gets no further submissions);
* when an earlier attempt may have reached AML, no AML run carries this slot's run key:
  if one does it is adopted instead of submitting the slot a second time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.aml.errors import AmlError
from shared.engine import kinds
from shared.engine.health import ScheduleHealth
from shared.engine.logs import slot_fields
from shared.engine.outcomes import RunOutcomes
from shared.engine.model import BACKFILL, WAIT_FOR_ACTIVE, AmlPort, TickReport
from shared.engine.timing import LeasePolicy, WorkClock
from shared.scheduling.templating import SlotContext
from shared.schedules import iso
from shared.store import (
    MANUAL,
    QUEUED,
    STATUS_GROUPS,
    TERMINAL_STATUSES,
    NotFound,
    PreconditionFailed,
    RunRecord,
    RunStore,
    ScheduleRecord,
    ScheduleStore,
)

if TYPE_CHECKING:
    from shared.aml.client import RunState, SubmittedRun

log = logging.getLogger("shared.engine")


class SlotRunner:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, aml: AmlPort, leases: LeasePolicy,
                 outcomes: RunOutcomes | None = None):
        self.schedules = schedules
        self.runs = runs
        self.aml = aml
        self.leases = leases
        self.outcomes = outcomes or RunOutcomes()
        self.health = ScheduleHealth(schedules, runs, self.outcomes)

    # -- claims ----------------------------------------------------------------------
    def new_claim(self, record: ScheduleRecord, slot: datetime, now: datetime, kind: str,
                  overrides: dict | None = None, *, owner: str = QUEUED, reason: str | None = None,
                  requested_by: dict | None = None) -> RunRecord:
        """A Claimed record for `slot` whose lease runs from `now` (the moment of the claim).

        It carries what the poll needs of the schedule's policy, so the poll reads no schedules:
        its deadline too (policy.sla), counted from the slot; a backfilled slot, claimed long
        after its time by design, counts from the claim instead.
        """
        target, policy = record.definition.target, record.definition.policy
        key_probe = RunRecord(record.id, slot, "Claimed", trigger=kind)
        parameters = target.rendered_parameters(slot_context(record, slot, key_probe.run_key), overrides)
        complete_by = None
        if policy.complete_within_minutes is not None:
            complete_by = (now if kind == BACKFILL else slot) + timedelta(minutes=policy.complete_within_minutes)
        return RunRecord(schedule_id=record.id, slot=slot, status="Claimed", trigger=kind, reason=reason,
                         experiment_name=target.experiment(), claimed_at=now, updated_at=now,
                         next_attempt_at=now + self.leases.lease, owner=owner, parameters=parameters,
                         run_timeout_minutes=policy.run_timeout_minutes, retry=policy.retry.to_dict(),
                         target_kind=target.kind, requested_by=requested_by, complete_by=complete_by)

    def save(self, run: RunRecord) -> RunRecord | None:
        """Write `run` (If-Match on its ETag); None if another writer changed or deleted it.
        Every step of a slot's record goes through here, so this is where its end is heard."""
        try:
            saved = self.runs.replace(run)
        except PreconditionFailed:
            log.info("run %s changed concurrently; keeping the other writer's update", run.run_key)
            return None
        except NotFound:
            log.info("run %s was deleted concurrently", run.run_key)
            return None
        if saved.status in TERMINAL_STATUSES and run.stored_status not in TERMINAL_STATUSES:
            _log_end(saved)
        self.outcomes.saved(run, saved)
        return saved

    # -- the attempt -----------------------------------------------------------------
    def attempt(self, run: RunRecord, clock: WorkClock, report: TickReport, *, owner: str,
                record: ScheduleRecord | None = None, recovering: bool | None = None) -> RunRecord | None:
        """Take the slot one step further as `owner`; returns the record as stored, or None if
        another writer has it.

        `record` may be passed only when it was read moments ago (a manual run) or is the
        dispatch's copy that the lease just taken vouches for (shared.engine.copies);
        otherwise the schedule is read again here. When an earlier attempt may have reached AML (an
        attempt was made, or a worker took the slot before), the attempt starts with the
        run-key lookup (`recovering`, worked out from `run` unless the caller, who took the
        lease just before, knows it from the record as it was).
        """
        if recovering is None:
            # A claim from before leases had owners (owner None) is treated as possibly sent.
            recovering = run.attempts > 0 or run.dequeued_at is not None or run.owner is None
        now = clock.now()
        if record is None:
            try:
                record = self.schedules.get(run.schedule_id)
            except NotFound:
                return self._schedule_deleted(run, now, report, owner=owner, recovering=recovering)
        if run.trigger != MANUAL and not _within_window(record, run.slot):
            report.skipped += 1
            return self.save(run.evolve(status="Skipped", finished_at=now, updated_at=now, next_attempt_at=None,
                                        reason="outside start/end: the schedule's time window no longer holds this slot"))
        if not record.definition.enabled and run.trigger != MANUAL:
            report.waiting += 1
            return self.save(run.evolve(next_attempt_at=now + self.leases.lease, updated_at=now,
                                        reason="waiting: the schedule is disabled"))
        run = self._own_lease(run, now, owner)
        if run is None:
            report.lost_races += 1
            return None
        return self._attempt_owned(record, run, clock, report, recovering=recovering)

    def _own_lease(self, run: RunRecord, now: datetime, owner: str) -> RunRecord | None:
        """The run held by `owner` with enough lease left to start an attempt (taken or
        renewed with If-Match when needed), or None if another process holds it."""
        left = run.next_attempt_at - now if run.next_attempt_at else None
        if run.owner == owner and left is not None and left >= self.leases.needed_to_start:
            return run
        return self.take_lease(run, now, owner)

    def take_lease(self, run: RunRecord, now: datetime, owner: str) -> RunRecord | None:
        """`run` as `owner` holds it from `now`, written with If-Match on its ETag; None if the
        record is no longer `run` (another writer got there first, or it is gone)."""
        taking_from_queue = run.owner == QUEUED
        try:
            return self.runs.replace(run.evolve(
                owner=owner, next_attempt_at=now + self.leases.lease, updated_at=now,
                dequeued_at=now if taking_from_queue else run.dequeued_at))
        except (PreconditionFailed, NotFound):
            return None

    def _attempt_owned(self, record: ScheduleRecord, run: RunRecord, clock: WorkClock, report: TickReport, *,
                       recovering: bool) -> RunRecord | None:
        policy = record.definition.policy
        now = clock.now()
        if recovering:
            try:
                found = self.lost_run(run, record)
            except AmlError as exc:
                # Without the answer we cannot tell a lost submit from a missing one; wait.
                log.info("slot %s: run lookup failed (%s); retrying later", run.run_key, exc.code or exc.status)
                delay = max(policy.retry.backoff_seconds, exc.retry_after or 0)
                return self.save(run.evolve(next_attempt_at=now + timedelta(seconds=delay), updated_at=now))
            if found:
                return self._adopt(run, found, now, report)
            if run.attempts >= policy.retry.max_attempts:
                report.failed.append(run.run_key)
                return self.save(run.evolve(status="SubmitFailed", finished_at=now, updated_at=now,
                                            next_attempt_at=None, reason=f"no AML run after {run.attempts} attempt(s)"))

        if policy.concurrency != "Allow" and self.runs.has_active(record.id):
            if policy.concurrency == "Forbid":
                if run.trigger == "schedule" and run.attempts == 0:
                    report.skipped += 1
                    return self.save(run.evolve(status="Skipped", finished_at=now, updated_at=now, next_attempt_at=None,
                                                reason="concurrency: a run of this schedule is still active"))
                report.waiting += 1
                return self.save(run.evolve(next_attempt_at=now + WAIT_FOR_ACTIVE, updated_at=now,
                                            reason="waiting: a run of this schedule is active (concurrency Forbid)"))
            self._cancel_active(record.id, run.slot, now)

        attempt = run.attempts + 1
        try:
            submitted = self._submit(record, run, attempt)
        except AmlError as exc:
            return self._submit_failed(record, run, exc, attempt, clock.now(), report)
        accepted_at = clock.now()  # when AML answered: the lag a user sees is accepted_at - slot
        report.submitted.append(run.run_key)
        # Lag, the number an operator watches: from the slot to AML accepting its run, and
        # where it went (claim, queue wait, submit).
        log.info("slot %s: submitted AML run %s (attempt %d), %.1f s after its slot (claimed +%.1f s, "
                 "taken from the queue +%.1f s)", run.run_key, submitted.run_id, attempt,
                 _seconds(run.slot, accepted_at), _seconds(run.slot, run.claimed_at),
                 _seconds(run.slot, run.dequeued_at or run.claimed_at),
                 extra=slot_fields(run.evolve(aml_run_id=submitted.run_id), status="Submitted", lag_from=accepted_at))
        if record.failure_streak:
            self.health.accepted(record, accepted_at)
        earlier = f" after: {run.error_code} {run.error_message}"[:300] if run.error_code else ""
        return self.save(run.evolve(
            status="Submitted", aml_run_id=submitted.run_id, aml_status=submitted.status or "NotStarted",
            attempts=attempt, portal_url=self.aml.portal_url(submitted.run_id), submitted_at=accepted_at,
            updated_at=accepted_at, next_attempt_at=None, error_code=None, error_message=None,
            reason=f"submitted on attempt {attempt}{earlier}" if attempt > 1 else None))

    def _schedule_deleted(self, run: RunRecord, now: datetime, report: TickReport, *, owner: str,
                          recovering: bool) -> RunRecord | None:
        """The schedule is gone: its slot is skipped, unless an earlier attempt may have reached
        AML. Then AML is asked first, holding the lease, and a run it has is adopted: that run
        goes on whether or not its schedule exists, and must not be left without a record."""
        if recovering:
            run = self._own_lease(run, now, owner)
            if run is None:
                report.lost_races += 1
                return None
            try:
                found = self.lost_run(run)
            except AmlError as exc:
                log.info("slot %s of a deleted schedule: run lookup failed (%s); retrying later", run.run_key,
                         exc.code or exc.status)
                return self.save(run.evolve(next_attempt_at=now + self.leases.settle, updated_at=now))
            if found:
                return self._adopt(run, found, now, report)
        report.skipped += 1
        return self.save(run.evolve(status="Skipped", finished_at=now, updated_at=now, next_attempt_at=None,
                                    reason="the schedule was deleted before this slot ran"))

    def _adopt(self, run: RunRecord, found: "tuple[RunState, int]", now: datetime,
               report: TickReport) -> RunRecord | None:
        report.recovered.append(run.run_key)
        log.info("slot %s: adopted AML run %s found by its run key", run.run_key, found[0].run_id)
        return self.save(self.adoption(run, found, now))

    def adoption(self, run: RunRecord, found: "tuple[RunState, int]", now: datetime) -> RunRecord:
        """`run` as Submitted with the AML run an earlier attempt started without it being recorded."""
        state, attempt = found
        return run.evolve(status="Submitted", aml_run_id=state.run_id, aml_status=state.status, attempts=attempt,
                          portal_url=self.aml.portal_url(state.run_id), submitted_at=run.submitted_at or now,
                          updated_at=now, next_attempt_at=None,
                          reason="recovered: AML had the run although its submission was never recorded")

    def _submit_failed(self, record: ScheduleRecord, run: RunRecord, exc: AmlError, attempt: int, now: datetime,
                       report: TickReport) -> RunRecord | None:
        retry = record.definition.policy.retry
        errors = {"error_code": exc.code or (str(exc.status) if exc.status else type(exc).__name__),
                  "error_message": exc.message}
        log.warning("slot %s: attempt %d failed (%s %s): %s", run.run_key, attempt, exc.status, exc.code, exc.message,
                    extra=slot_fields(run, attempt=attempt, errorCode=errors["error_code"]))
        if exc.retryable and attempt < retry.max_attempts or exc.uncertain:
            delay = timedelta(seconds=max(retry.delay_after(attempt), exc.retry_after or 0))
            if exc.uncertain and not record.definition.target.unique_by_name:
                # AML may still act on the request we gave up on: look for its run only once
                # AML has had time to act and run history to show it, whatever the backoff.
                # (A v2 slot's next attempt sends the same name or repeatability id: no wait.)
                delay = max(delay, self.leases.settle)
            report.retrying.append(run.run_key)
            what = "outcome unknown" if exc.uncertain else "failed"
            return self.save(run.evolve(
                attempts=attempt, next_attempt_at=now + delay, updated_at=now,
                reason=f"attempt {attempt} of {retry.max_attempts} {what}; next at {iso(now + delay)}", **errors))
        report.failed.append(run.run_key)
        reason = ("AML refused the submission" if not exc.retryable
                  else f"AML stayed unavailable through {attempt} attempt(s)")
        saved = self.save(run.evolve(status="SubmitFailed", attempts=attempt, finished_at=now, updated_at=now,
                                     next_attempt_at=None, reason=reason, **errors))
        if saved is not None and not exc.retryable:
            self.health.refused(record, run, exc, now)
        return saved

    def lost_run(self, run: RunRecord, record: ScheduleRecord | None = None) -> "tuple[RunState, int] | None":
        """The AML run a previous attempt of this slot started without it being recorded
        (how it is found depends on the target kind: kinds.find_lost)."""
        if record is None and run.target_kind == "batchEndpoint":
            try:
                record = self.schedules.get(run.schedule_id)
            except NotFound:
                record = None
        context = (lambda: slot_context(record, run.slot, run.run_key)) if record is not None else None
        return kinds.find_lost(self.aml, record, run, context)

    def _submit(self, record: ScheduleRecord, run: RunRecord, attempt: int) -> "SubmittedRun | RunState":
        return kinds.submit(self.aml, record, run, attempt, lambda: slot_context(record, run.slot, run.run_key))

    def _cancel_active(self, schedule_id: str, slot: datetime, now: datetime) -> None:
        """Concurrency Replace: ask AML to cancel the schedule's active runs first."""
        for active in self.runs.active_runs_of(schedule_id):
            if not active.aml_run_id:
                continue
            try:
                kinds.cancel(self.aml, active)
            except AmlError as exc:
                log.warning("could not cancel %s to replace it: %s", active.run_key, exc.message)
                continue
            self.save(active.evolve(reason=f"cancel requested: replaced by slot {iso(slot)}", updated_at=now))


def _log_end(run: RunRecord) -> None:
    """The one line per slot that says how it ended: a warning for the failed group."""
    failed = run.status in STATUS_GROUPS["failed"]
    error = f": {run.error_code} {run.error_message}"[:500] if failed and (run.error_code or run.error_message) else ""
    (log.warning if failed else log.info)("slot %s: %s%s%s", run.run_key, run.status,
                                          f" (AML run {run.aml_run_id})" if run.aml_run_id else "", error,
                                          extra=slot_fields(run, errorCode=run.error_code if failed else None))


def _seconds(start: datetime, end: datetime | None) -> float:
    return (end - start).total_seconds() if end else 0.0


def slot_context(record: ScheduleRecord, slot: datetime, run_key: str) -> SlotContext:
    trigger = record.definition.trigger.build()
    return SlotContext(slot=slot, zone=trigger.zone, interval_start=trigger.previous_before(slot),
                       schedule_id=record.id, run_key=run_key)


def _within_window(record: ScheduleRecord, slot: datetime) -> bool:
    """Whether a queued or retried slot still lies in the schedule's startTime..endTime."""
    spec = record.definition.trigger
    return (spec.start_time is None or slot >= spec.start_time) and (spec.end_time is None or slot <= spec.end_time)
