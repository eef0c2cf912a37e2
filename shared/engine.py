"""Tick and poll: the scheduler's two loops, written against ports, with time passed in.

Exactly once per slot: a tick claims a slot by inserting its run record (the store
refuses a second insert), submits, records the outcome, and only then advances the
schedule's cursor with If-Match. Two ticks at once, a retried tick or a second instance
all compute the same owed slots from the same cursor; only one claim per slot wins.

A claimed record that is not yet submitted is *pending*: it carries `next_attempt_at`,
which is both the lease of the tick working on it and the time of its next attempt
(a retry after a transient failure, a backfilled slot queued behind a Forbid policy).
When a pending record's time comes, a tick wins it with If-Match and, before sending
anything, asks AML for a run tagged with the record's run key and attempt number: a
process that died after AML accepted the submit left exactly that run behind, and it
is adopted instead of submitting the slot a second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from shared.aml.errors import AmlError, AmlNotFoundError
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, plan_slots
from shared.scheduling.templating import SlotContext, render_parameters
from shared.schedules import Target, iso
from shared.store import (
    MANUAL,
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    RunRecord,
    RunStore,
    ScheduleRecord,
    ScheduleStore,
    StoreError,
)

if TYPE_CHECKING:
    from shared.aml.client import RunState, SubmittedRun

log = logging.getLogger(__name__)
UTC = timezone.utc

RUN_KEY_TAG = "scheduler_run_key"
ATTEMPT_TAG = "scheduler_attempt"
BACKFILL = "backfill"
# How long a tick owns a claimed slot before another tick may take over: longer than one
# submit can take through the transport's retries (4 x 30 s plus back-off).
LEASE = timedelta(minutes=5)
# A backfilled or retried slot held back by a Forbid policy looks again this much later.
WAIT_FOR_ACTIVE = timedelta(seconds=30)
PENDING_PER_TICK = 100
PRUNE_BATCH = 200
MAX_BACKFILL_SLOTS = 500
# A run AML cannot find this long after submission is treated as lost, not as lag.
LOST_RUN_AFTER = timedelta(minutes=15)
# AML run statuses folded into the record's coarser lifecycle.
_STATUS_FROM_AML = {
    "NotStarted": "Queued", "Starting": "Queued", "Provisioning": "Queued", "Preparing": "Queued",
    "Queued": "Queued", "Running": "Running", "Finalizing": "Running", "CancelRequested": "Running",
    "NotResponding": "Running", "Paused": "Running", "Unknown": "Running",
    "Completed": "Completed", "Failed": "Failed", "Canceled": "Canceled", "Cancelled": "Canceled",
}


class AmlPort(Protocol):
    def submit_pipeline(self, pipeline_id: str, **kwargs) -> "SubmittedRun": ...
    def submit_pipeline_endpoint(self, endpoint_id: str, **kwargs) -> "SubmittedRun": ...
    def get_run(self, experiment_name: str, run_id: str) -> "RunState": ...
    def cancel_run(self, experiment_name: str, run_id: str) -> None: ...
    def find_runs_by_tags(self, experiment_name: str, tags: dict, *, top: int = 10) -> list["RunState"]: ...
    def portal_url(self, run_id: str) -> str: ...


class ConcurrencyConflict(Exception):
    """A manual run was refused because the schedule's Forbid policy has a run active."""


class BackfillError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class TickReport:
    schedules: int = 0
    submitted: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    waiting: int = 0
    lost_races: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class PollReport:
    checked: int = 0
    changed: int = 0
    finished: int = 0
    timed_out: int = 0
    retrying: int = 0
    pruned: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BackfillResult:
    queued: list[str]
    existing: list[str]


def status_from_aml(aml_status: str) -> str:
    return _STATUS_FROM_AML.get(aml_status, "Running")


class Engine:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, aml: AmlPort, *,
                 retention: timedelta | None = None):
        self._schedules = schedules
        self._runs = runs
        self._aml = aml
        self._retention = retention

    # -- tick ------------------------------------------------------------------------
    def tick(self, now: datetime) -> TickReport:
        report = TickReport()
        for record in self._schedules.due(now + EARLY_LEEWAY):
            report.schedules += 1
            try:
                self._settle(record, now, report)
            except (StoreError, AmlError, ValueError) as exc:
                # One broken schedule or a passing storage fault must not starve the rest;
                # the cursor did not move, so the next tick retries this schedule.
                log.warning("schedule %s not settled this tick: %s", record.id, exc)
                report.errors.append(f"{record.id}: {type(exc).__name__}")
        self._drain_pending(now, report)
        return report

    def _settle(self, record: ScheduleRecord, now: datetime, report: TickReport) -> None:
        definition = record.definition
        trigger = definition.trigger.build()
        policy = definition.policy
        plan = plan_slots(trigger, record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup,
                          not_before_offset=definition.trigger.jitter(record.id))
        last_decided = record.last_slot
        for decision in plan.decisions:
            if decision.action == FIRE:
                self._start_slot(record, decision.slot, now, report)
            else:
                self._record_skip(record, decision, now, report)
            last_decided = decision.last_slot or decision.slot
        record.next_fire_time = plan.next_cursor
        record.last_slot = last_decided
        try:
            self._schedules.replace(record)
        except PreconditionFailed:
            # Another tick advanced the cursor, or a user edited the schedule; either way
            # their write stands, and the claims already made keep this tick's slots unique.
            log.info("schedule %s changed during the tick; leaving its cursor to the other writer", record.id)
        except NotFound:
            log.info("schedule %s was deleted during the tick", record.id)

    def _record_skip(self, record: ScheduleRecord, decision: SlotDecision, now: datetime,
                     report: TickReport) -> None:
        reason = decision.reason
        if record.resumed_at is not None and decision.slot < record.resumed_at:
            reason = "missed: the schedule was disabled"
        run = RunRecord(
            schedule_id=record.id, slot=decision.slot, status="Skipped", reason=reason,
            experiment_name=record.definition.target.experiment_name, claimed_at=now, finished_at=now,
            updated_at=now, skipped_count=decision.count, last_skipped_slot=decision.last_slot,
        )
        try:
            self._runs.claim(run)
            report.skipped += decision.count
        except AlreadyExists:
            report.lost_races += 1

    def _new_claim(self, record: ScheduleRecord, slot: datetime, now: datetime, kind: str,
                   overrides: dict | None = None, *, next_attempt_at: datetime | None = None,
                   reason: str | None = None) -> RunRecord:
        target = record.definition.target
        key_probe = RunRecord(record.id, slot, "Claimed", trigger=kind)
        assignments = {**target.parameter_assignments, **(overrides or {})}
        parameters = render_parameters(assignments, self._slot_context(record, slot, key_probe.run_key))
        return RunRecord(schedule_id=record.id, slot=slot, status="Claimed", trigger=kind, reason=reason,
                         experiment_name=target.experiment_name, claimed_at=now, updated_at=now,
                         next_attempt_at=next_attempt_at or now + LEASE, parameters=parameters)

    def _start_slot(self, record: ScheduleRecord, slot: datetime, now: datetime, report: TickReport,
                    kind: str = "schedule", overrides: dict | None = None) -> RunRecord | None:
        try:
            run = self._runs.claim(self._new_claim(record, slot, now, kind, overrides))
        except AlreadyExists:
            report.lost_races += 1
            return None
        return self._attempt(record, run, now, report, recovering=False)

    def _drain_pending(self, now: datetime, report: TickReport) -> None:
        schedules: dict[str, ScheduleRecord | None] = {}
        for run in self._runs.pending_runs(now, limit=PENDING_PER_TICK):
            try:
                if run.schedule_id not in schedules:
                    schedules[run.schedule_id] = self._find_schedule(run.schedule_id)
                record = schedules[run.schedule_id]
                if record is None:
                    self._save(run.evolve(status="Skipped", reason="the schedule was deleted before this slot ran",
                                          finished_at=now, updated_at=now, next_attempt_at=None))
                    continue
                if run.trigger != MANUAL and not _within_window(record, run.slot):
                    report.skipped += 1
                    self._save(run.evolve(status="Skipped", finished_at=now, updated_at=now, next_attempt_at=None,
                                          reason="outside start/end: the schedule's time window no longer holds this slot"))
                    continue
                if not record.definition.enabled:
                    self._save(run.evolve(next_attempt_at=now + LEASE, updated_at=now,
                                          reason="waiting: the schedule is disabled"))
                    report.waiting += 1
                    continue
                try:
                    # Winning the lease is what makes recovery single-handed.
                    run = self._runs.replace(run.evolve(claimed_at=now, next_attempt_at=now + LEASE, updated_at=now))
                except PreconditionFailed:
                    report.lost_races += 1
                    continue
                self._attempt(record, run, now, report, recovering=True)
            except (StoreError, AmlError, ValueError) as exc:
                log.warning("pending slot %s not handled this tick: %s", run.run_key, exc)
                report.errors.append(f"{run.run_key}: {type(exc).__name__}")

    def _attempt(self, record: ScheduleRecord, run: RunRecord, now: datetime, report: TickReport, *,
                 recovering: bool) -> RunRecord | None:
        definition = record.definition
        policy = definition.policy
        if recovering:
            try:
                found = self._find_lost_run(run)
            except AmlError as exc:
                # Without the answer we cannot tell a lost submit from a missing one; wait.
                log.info("slot %s: run lookup failed (%s); retrying later", run.run_key, exc.code or exc.status)
                return self._save(run.evolve(next_attempt_at=now + timedelta(seconds=policy.retry.backoff_seconds),
                                             updated_at=now))
            if found:
                adopted, adopted_attempt = found
                report.recovered.append(run.run_key)
                log.info("slot %s: adopted AML run %s found by its run key", run.run_key, adopted.run_id)
                return self._save(run.evolve(
                    status="Submitted", aml_run_id=adopted.run_id, aml_status=adopted.status,
                    attempts=adopted_attempt, portal_url=self._aml.portal_url(adopted.run_id),
                    submitted_at=now, updated_at=now, next_attempt_at=None,
                    reason="recovered: AML had the run although its submission was never recorded"))
            if run.attempts >= policy.retry.max_attempts:
                report.failed.append(run.run_key)
                return self._save(run.evolve(status="SubmitFailed", finished_at=now, updated_at=now,
                                             next_attempt_at=None,
                                             reason=f"no AML run after {run.attempts} attempt(s)"))

        if policy.concurrency != "Allow" and self._runs.has_active(record.id):
            if policy.concurrency == "Forbid":
                if run.trigger == "schedule" and not recovering:
                    report.skipped += 1
                    return self._save(run.evolve(status="Skipped", finished_at=now, updated_at=now,
                                                 next_attempt_at=None,
                                                 reason="concurrency: a run of this schedule is still active"))
                report.waiting += 1
                return self._save(run.evolve(next_attempt_at=now + WAIT_FOR_ACTIVE, updated_at=now,
                                             reason="waiting: a run of this schedule is active (concurrency Forbid)"))
            self._cancel_active(record.id, run.slot, now)

        attempt = run.attempts + 1
        try:
            submitted = self._submit(record, run, attempt)
        except AmlError as exc:
            return self._submit_failed(record, run, exc, attempt, now, report)
        report.submitted.append(run.run_key)
        log.info("slot %s: submitted AML run %s (attempt %d)", run.run_key, submitted.run_id, attempt)
        earlier = f" after: {run.error_code} {run.error_message}"[:300] if run.error_code else ""
        return self._save(run.evolve(
            status="Submitted", aml_run_id=submitted.run_id, aml_status=submitted.status or "NotStarted",
            attempts=attempt, portal_url=self._aml.portal_url(submitted.run_id), submitted_at=now,
            updated_at=now, next_attempt_at=None, error_code=None, error_message=None,
            reason=f"submitted on attempt {attempt}{earlier}" if attempt > 1 else None))

    def _submit_failed(self, record: ScheduleRecord, run: RunRecord, exc: AmlError, attempt: int, now: datetime,
                       report: TickReport) -> RunRecord | None:
        retry = record.definition.policy.retry
        errors = {"error_code": exc.code or (str(exc.status) if exc.status else type(exc).__name__),
                  "error_message": exc.message}
        log.warning("slot %s: attempt %d failed (%s %s): %s", run.run_key, attempt, exc.status, exc.code, exc.message)
        if exc.retryable and attempt < retry.max_attempts or exc.uncertain:
            # An uncertain failure may have started the run: the next attempt begins with
            # a lookup by run key, so it is safe even when the attempts are used up.
            delay = max(retry.delay_after(attempt), exc.retry_after or 0)
            report.retrying.append(run.run_key)
            what = "outcome unknown" if exc.uncertain else "failed"
            return self._save(run.evolve(
                attempts=attempt, next_attempt_at=now + timedelta(seconds=delay), updated_at=now,
                reason=f"attempt {attempt} of {retry.max_attempts} {what}; next at {iso(now + timedelta(seconds=delay))}",
                **errors))
        report.failed.append(run.run_key)
        reason = ("AML refused the submission" if not exc.retryable
                  else f"AML stayed unavailable through {attempt} attempt(s)")
        return self._save(run.evolve(status="SubmitFailed", attempts=attempt, finished_at=now, updated_at=now,
                                     next_attempt_at=None, reason=reason, **errors))

    def _slot_context(self, record: ScheduleRecord, slot: datetime, run_key: str) -> SlotContext:
        trigger = record.definition.trigger.build()
        return SlotContext(slot=slot, zone=trigger.zone, interval_start=trigger.previous_before(slot),
                           schedule_id=record.id, run_key=run_key)

    def _find_lost_run(self, run: RunRecord) -> "tuple[RunState, int] | None":
        """The AML run a previous attempt of this slot started without it being recorded.

        Candidates carry the slot's run key and an attempt number no lower than the last
        recorded one: the recorded attempt if its outcome was unknown, the next one if the
        process died between submitting and recording. Runs already known to have failed
        (retryOnRunFailure) are not candidates.
        """
        known = set(run.previous_aml_run_ids or [])
        best: "tuple[RunState, int] | None" = None
        for state in self._aml.find_runs_by_tags(run.experiment_name, {RUN_KEY_TAG: run.run_key}):
            try:
                attempt = int(state.tags.get(ATTEMPT_TAG, "0"))
            except (TypeError, ValueError):
                continue
            if state.run_id in known or attempt < max(run.attempts, 1):
                continue
            if best is None or attempt > best[1]:
                best = (state, attempt)
        return best

    @staticmethod
    def _tags(run: RunRecord, attempt: int) -> dict:
        return {RUN_KEY_TAG: run.run_key, ATTEMPT_TAG: str(attempt)}

    def _submit(self, record: ScheduleRecord, run: RunRecord, attempt: int) -> "SubmittedRun":
        target: Target = record.definition.target
        parameters, data_paths = run.parameters, {}
        # Parameters were rendered when the slot was claimed; the slot context (which walks
        # the trigger back to the previous fire time) is only rebuilt when something still
        # needs it.
        if parameters is None or target.data_path_assignments:
            ctx = self._slot_context(record, run.slot, run.run_key)
            if parameters is None:
                parameters = render_parameters(target.parameter_assignments, ctx)
            data_paths = {name: {**entry, "RelativePath": render_parameters({"p": entry["RelativePath"]}, ctx)["p"]}
                          for name, entry in target.data_path_assignments.items()}
        common = dict(
            experiment_name=target.experiment_name,
            parameter_assignments=parameters,
            data_path_assignments=data_paths or None,
            description=f"{run.trigger} run of {record.id} for slot {iso(run.slot)}",
            tags={**self._tags(run, attempt), "scheduler_schedule_id": record.id,
                  "scheduler_slot": iso(run.slot), "scheduler_trigger": run.trigger},
        )
        if target.kind == "pipelineEndpoint":
            return self._aml.submit_pipeline_endpoint(target.target_id, pipeline_version=target.pipeline_version,
                                                      **common)
        return self._aml.submit_pipeline(target.target_id, **common)

    def _cancel_active(self, schedule_id: str, slot: datetime, now: datetime) -> None:
        """Concurrency Replace: ask AML to cancel the schedule's active runs first."""
        for active in self._runs.active_runs():
            if active.schedule_id != schedule_id or not active.aml_run_id:
                continue
            try:
                self._aml.cancel_run(active.experiment_name, active.aml_run_id)
            except AmlError as exc:
                log.warning("could not cancel %s to replace it: %s", active.run_key, exc.message)
                continue
            self._save(active.evolve(reason=f"cancel requested: replaced by slot {iso(slot)}", updated_at=now))

    def _save(self, run: RunRecord) -> RunRecord | None:
        try:
            return self._runs.replace(run)
        except PreconditionFailed:
            log.info("run %s changed concurrently; keeping the other writer's update", run.run_key)
            return None

    def _find_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        try:
            return self._schedules.get(schedule_id)
        except NotFound:
            return None

    # -- manual runs and backfill ------------------------------------------------------
    def trigger_now(self, record: ScheduleRecord, now: datetime, overrides: dict | None = None) -> RunRecord:
        """Run a schedule now, recorded as a manual slot; raises ConcurrencyConflict or AlreadyExists."""
        if record.definition.policy.concurrency == "Forbid" and self._runs.has_active(record.id):
            raise ConcurrencyConflict(record.id)
        slot = now.replace(microsecond=0)
        report = TickReport()
        run = self._runs.claim(self._new_claim(record, slot, now, MANUAL, overrides))
        self._attempt(record, run, now, report, recovering=False)
        return self._runs.get(record.id, slot, MANUAL)

    def backfill(self, record: ScheduleRecord, start: datetime, end: datetime, now: datetime) -> BackfillResult:
        """Queue every slot in [start, end] for the next ticks; slots that already ran are left alone."""
        if end < start:
            raise BackfillError("to", "must not be before from")
        if end > now:
            raise BackfillError("to", "must not be in the future: future slots run on schedule")
        trigger = record.definition.trigger.build()
        slots = list(trigger.fire_times(start - timedelta(microseconds=1), limit=MAX_BACKFILL_SLOTS + 1))
        slots = [s for s in slots if s <= end]
        if len(slots) > MAX_BACKFILL_SLOTS:
            raise BackfillError("to", f"the range holds more than {MAX_BACKFILL_SLOTS} slots; split it")
        queued, existing = [], []
        for slot in slots:
            claim = self._new_claim(record, slot, now, BACKFILL, next_attempt_at=now, reason="backfill: queued")
            try:
                self._runs.claim(claim)
                queued.append(claim.slot_key)
                continue
            except AlreadyExists:
                pass
            current = self._runs.get(record.id, slot)
            # A slot skipped on its own (not a summary of many) is exactly what backfill is for.
            if current.status == "Skipped" and current.skipped_count == 1:
                try:
                    self._runs.replace(claim.evolve(etag=current.etag,
                                                    reason=f"backfill: queued (was skipped: {current.reason})"))
                    queued.append(claim.slot_key)
                    continue
                except PreconditionFailed:
                    pass
            existing.append(current.slot_key)
        return BackfillResult(queued, existing)

    # -- poll ------------------------------------------------------------------------
    def poll(self, now: datetime) -> PollReport:
        report = PollReport()
        schedules: dict[str, ScheduleRecord | None] = {}
        for run in self._runs.active_runs():
            report.checked += 1
            try:
                if run.schedule_id not in schedules:
                    schedules[run.schedule_id] = self._find_schedule(run.schedule_id)
                self._refresh(run, schedules[run.schedule_id], now, report)
            except (StoreError, AmlError) as exc:
                log.warning("run %s not refreshed: %s", run.run_key, exc)
                report.errors.append(f"{run.run_key}: {type(exc).__name__}")
        if self._retention is not None:
            try:
                self._prune(now - self._retention, report)
            except StoreError as exc:
                log.warning("history pruning skipped this poll: %s", exc)
        return report

    def _refresh(self, run: RunRecord, record: ScheduleRecord | None, now: datetime, report: PollReport) -> None:
        if not run.aml_run_id or not run.experiment_name:
            return
        policy = record.definition.policy if record else None
        if policy and policy.run_timeout_minutes and run.submitted_at and \
                now - run.submitted_at > timedelta(minutes=policy.run_timeout_minutes):
            # Cancel first: if AML does not take the cancel, the run stays active and the
            # next poll tries again, rather than recording a timeout AML never acted on.
            self._aml.cancel_run(run.experiment_name, run.aml_run_id)
            self._save(run.evolve(status="TimedOut", finished_at=now, updated_at=now,
                                  reason=f"ran longer than runTimeoutMinutes ({policy.run_timeout_minutes}); cancelled"))
            report.timed_out += 1
            report.finished += 1
            return
        try:
            state = self._aml.get_run(run.experiment_name, run.aml_run_id)
        except AmlNotFoundError as exc:
            if run.submitted_at and now - run.submitted_at > LOST_RUN_AFTER:
                self._save(run.evolve(status="Failed", reason="AML no longer knows this run",
                                      error_code=exc.code or "NotFound", error_message=exc.message,
                                      finished_at=now, updated_at=now))
                report.finished += 1
            return
        status = status_from_aml(state.status)
        if status == run.status and state.status == run.aml_status:
            return
        changes: dict = {"status": status, "aml_status": state.status, "updated_at": now}
        if status in ("Completed", "Failed", "Canceled"):
            changes["finished_at"] = _parse_time(state.end_time) or now
            if state.error_code or state.error_message:
                changes.update(error_code=state.error_code, error_message=state.error_message)
            retry = policy.retry if policy else None
            if status == "Failed" and retry and retry.retry_on_run_failure and run.attempts < retry.max_attempts:
                delay = retry.delay_after(run.attempts)
                changes.update(status="Claimed", finished_at=None, next_attempt_at=now + timedelta(seconds=delay),
                               previous_aml_run_ids=[*(run.previous_aml_run_ids or []), run.aml_run_id],
                               reason=f"AML run failed; attempt {run.attempts + 1} of {retry.max_attempts} follows")
                report.retrying += 1
            else:
                report.finished += 1
        if self._save(run.evolve(**changes)) is not None:
            report.changed += 1

    def _prune(self, cutoff: datetime, report: PollReport) -> None:
        for run in self._runs.older_than(cutoff, limit=PRUNE_BATCH):
            if run.active or run.pending:
                continue
            self._runs.delete(run)
            report.pruned += 1


def _within_window(record: ScheduleRecord, slot: datetime) -> bool:
    """Whether a queued or retried slot still lies in the schedule's startTime..endTime."""
    spec = record.definition.trigger
    return (spec.start_time is None or slot >= spec.start_time) and (spec.end_time is None or slot <= spec.end_time)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
