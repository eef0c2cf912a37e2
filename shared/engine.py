"""Tick and poll: the scheduler's two loops, written against ports, with time passed in.

Exactly once per slot: a tick claims a slot by inserting its run record (the store
refuses a second insert), submits, records the outcome, and only then advances the
schedule's cursor with If-Match. Two ticks at once, a retried tick or a second instance
all compute the same owed slots from the same cursor; only one claim per slot wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from shared.aml.client import RunState, SubmittedRun
from shared.aml.errors import AmlError, AmlNotFoundError
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, plan_slots
from shared.scheduling.templating import SlotContext, render_parameters
from shared.scheduling.triggers import CronTrigger
from shared.schedules import Target, iso
from shared.store import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    RunRecord,
    RunStore,
    ScheduleRecord,
    ScheduleStore,
    StoreError,
)

log = logging.getLogger(__name__)
UTC = timezone.utc

RUN_KEY_TAG = "scheduler_run_key"
# AML run statuses folded into the record's coarser lifecycle.
_STATUS_FROM_AML = {
    "NotStarted": "Queued", "Starting": "Queued", "Provisioning": "Queued", "Preparing": "Queued",
    "Queued": "Queued", "Running": "Running", "Finalizing": "Running", "CancelRequested": "Running",
    "NotResponding": "Running", "Paused": "Running", "Unknown": "Running",
    "Completed": "Completed", "Failed": "Failed", "Canceled": "Canceled", "Cancelled": "Canceled",
}
# A run AML cannot find this long after submission is treated as lost, not as lag.
LOST_RUN_AFTER = timedelta(minutes=15)


class AmlPort(Protocol):
    def submit_pipeline(self, pipeline_id: str, **kwargs) -> SubmittedRun: ...
    def submit_pipeline_endpoint(self, endpoint_id: str, **kwargs) -> SubmittedRun: ...
    def get_run(self, experiment_name: str, run_id: str) -> RunState: ...
    def cancel_run(self, experiment_name: str, run_id: str) -> None: ...
    def portal_url(self, run_id: str) -> str: ...


@dataclass
class TickReport:
    schedules: int = 0
    submitted: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    lost_races: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class PollReport:
    checked: int = 0
    changed: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)


def status_from_aml(aml_status: str) -> str:
    return _STATUS_FROM_AML.get(aml_status, "Running")


class Engine:
    def __init__(self, schedules: ScheduleStore, runs: RunStore, aml: AmlPort):
        self._schedules = schedules
        self._runs = runs
        self._aml = aml

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
        return report

    def _settle(self, record: ScheduleRecord, now: datetime, report: TickReport) -> None:
        definition = record.definition
        trigger = definition.trigger.build()
        policy = definition.policy
        plan = plan_slots(trigger, record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup)
        last_decided = record.last_slot
        for decision in plan.decisions:
            if decision.action == FIRE:
                self._fire(record, trigger, decision.slot, now, report)
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
        run = RunRecord(
            schedule_id=record.id, slot=decision.slot, status="Skipped", reason=decision.reason,
            experiment_name=record.definition.target.experiment_name, claimed_at=now, finished_at=now,
            updated_at=now, skipped_count=decision.count, last_skipped_slot=decision.last_slot,
        )
        try:
            self._runs.claim(run)
            report.skipped += decision.count
        except AlreadyExists:
            report.lost_races += 1

    def _fire(self, record: ScheduleRecord, trigger: CronTrigger, slot: datetime, now: datetime,
              report: TickReport) -> None:
        definition = record.definition
        target = definition.target
        claim = RunRecord(schedule_id=record.id, slot=slot, status="Claimed", trigger="schedule",
                          experiment_name=target.experiment_name, claimed_at=now, updated_at=now)
        try:
            run = self._runs.claim(claim)
        except AlreadyExists:
            report.lost_races += 1
            return

        if definition.policy.concurrency != "Allow" and self._runs.has_active(record.id):
            if definition.policy.concurrency == "Forbid":
                self._finish(run.evolve(status="Skipped", finished_at=now, updated_at=now,
                                        reason="concurrency: a run of this schedule is still active"))
                report.skipped += 1
                return
            self._cancel_active(record.id, slot, now)

        ctx = SlotContext(slot=slot, zone=trigger.zone, interval_start=trigger.previous_before(slot),
                          schedule_id=record.id, run_key=run.run_key)
        parameters = render_parameters(target.parameter_assignments, ctx)
        data_paths = {name: {**entry, "RelativePath": render_parameters(
            {"p": entry["RelativePath"]}, ctx)["p"]} for name, entry in target.data_path_assignments.items()}
        run = run.evolve(parameters=parameters, attempts=run.attempts + 1)
        try:
            submitted = self._submit(target, parameters, data_paths, run, record.id)
        except AmlError as exc:
            reason = ("AML may have started the run: look it up by its run key tag" if exc.uncertain
                      else "AML refused the submission" if not exc.retryable
                      else "AML stayed unavailable through the retries")
            self._finish(run.evolve(status="SubmitFailed", reason=reason, error_code=exc.code or str(exc.status or ""),
                                    error_message=exc.message, finished_at=now, updated_at=now))
            report.failed.append(run.run_key)
            log.warning("slot %s: submit failed (%s %s): %s", run.run_key, exc.status, exc.code, exc.message)
            return
        self._finish(run.evolve(
            status="Submitted", aml_run_id=submitted.run_id, aml_status=submitted.status or "NotStarted",
            portal_url=self._aml.portal_url(submitted.run_id), submitted_at=now, updated_at=now))
        report.submitted.append(run.run_key)
        log.info("slot %s: submitted AML run %s", run.run_key, submitted.run_id)

    def _submit(self, target: Target, parameters: dict, data_paths: dict, run: RunRecord,
                schedule_id: str) -> SubmittedRun:
        common = dict(
            experiment_name=target.experiment_name,
            parameter_assignments=parameters,
            data_path_assignments=data_paths or None,
            description=f"Scheduled by {schedule_id} for slot {iso(run.slot)}",
            tags={RUN_KEY_TAG: run.run_key, "scheduler_schedule_id": schedule_id,
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
            self._finish(active.evolve(reason=f"cancel requested: replaced by slot {iso(slot)}", updated_at=now))

    def _finish(self, run: RunRecord) -> RunRecord | None:
        try:
            return self._runs.replace(run)
        except PreconditionFailed:
            log.info("run %s changed concurrently; keeping the other writer's update", run.run_key)
            return None

    # -- poll ------------------------------------------------------------------------
    def poll(self, now: datetime) -> PollReport:
        report = PollReport()
        for run in self._runs.active_runs():
            report.checked += 1
            try:
                self._refresh(run, now, report)
            except (StoreError, AmlError) as exc:
                log.warning("run %s not refreshed: %s", run.run_key, exc)
                report.errors.append(f"{run.run_key}: {type(exc).__name__}")
        return report

    def _refresh(self, run: RunRecord, now: datetime, report: PollReport) -> None:
        if not run.aml_run_id or not run.experiment_name:
            return
        try:
            state = self._aml.get_run(run.experiment_name, run.aml_run_id)
        except AmlNotFoundError as exc:
            if run.submitted_at and now - run.submitted_at > LOST_RUN_AFTER:
                self._finish(run.evolve(status="Failed", reason="AML no longer knows this run",
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
            report.finished += 1
        if self._finish(run.evolve(**changes)) is not None:
            report.changed += 1


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
