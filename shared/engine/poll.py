"""The poll: bring every active run's record up to date with AML, time out overrunning ones, prune history."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.aml.errors import AmlError, AmlNotFoundError
from shared.engine.attempt import SlotRunner
from shared.engine.model import LOST_RUN_AFTER, PRUNE_BATCH, PollReport, parse_time, status_from_aml
from shared.store import NotFound, RunRecord, ScheduleRecord, StoreError, StoreUnavailable

log = logging.getLogger("shared.engine")


class Poller:
    def __init__(self, runner: SlotRunner, retention: timedelta | None):
        self._runner = runner
        self._retention = retention

    def poll(self, now: datetime) -> PollReport:
        report = PollReport()
        schedules: dict[str, ScheduleRecord | None] = {}
        try:
            # Every active run, page after page: a poll that stopped at a page boundary
            # would check the same first runs every time and never the rest.
            for run in self._runner.runs.active_runs():
                report.checked += 1
                try:
                    if run.schedule_id not in schedules:
                        schedules[run.schedule_id] = self._find_schedule(run.schedule_id)
                    self._refresh(run, schedules[run.schedule_id], now, report)
                except (StoreError, AmlError) as exc:
                    log.warning("run %s not refreshed: %s", run.run_key, exc)
                    report.errors.append(f"{run.run_key}: {type(exc).__name__}")
        except StoreUnavailable as exc:
            log.warning("active runs could not be listed this poll: %s", exc)
            report.errors.append(f"active runs: {type(exc).__name__}")
        if self._retention is not None:
            try:
                self._prune(now - self._retention, report)
            except StoreError as exc:
                log.warning("history pruning skipped this poll: %s", exc)
        return report

    def _find_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        try:
            return self._runner.schedules.get(schedule_id)
        except NotFound:
            return None

    def _refresh(self, run: RunRecord, record: ScheduleRecord | None, now: datetime, report: PollReport) -> None:
        if not run.aml_run_id or not run.experiment_name:
            return
        aml, save = self._runner.aml, self._runner.save
        policy = record.definition.policy if record else None
        if policy and policy.run_timeout_minutes and run.submitted_at and \
                now - run.submitted_at > timedelta(minutes=policy.run_timeout_minutes):
            # Cancel first: if AML does not take the cancel, the run stays active and the
            # next poll tries again, rather than recording a timeout AML never acted on.
            aml.cancel_run(run.experiment_name, run.aml_run_id)
            save(run.evolve(status="TimedOut", finished_at=now, updated_at=now,
                            reason=f"ran longer than runTimeoutMinutes ({policy.run_timeout_minutes}); cancelled"))
            report.timed_out += 1
            report.finished += 1
            return
        try:
            state = aml.get_run(run.experiment_name, run.aml_run_id)
        except AmlNotFoundError as exc:
            if run.submitted_at and now - run.submitted_at > LOST_RUN_AFTER:
                save(run.evolve(status="Failed", reason="AML no longer knows this run",
                                error_code=exc.code or "NotFound", error_message=exc.message,
                                finished_at=now, updated_at=now))
                report.finished += 1
            return
        status = status_from_aml(state.status)
        if status == run.status and state.status == run.aml_status:
            return
        changes: dict = {"status": status, "aml_status": state.status, "updated_at": now}
        if status in ("Completed", "Failed", "Canceled"):
            changes["finished_at"] = parse_time(state.end_time) or now
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
        if save(run.evolve(**changes)) is not None:
            report.changed += 1

    def _prune(self, cutoff: datetime, report: PollReport) -> None:
        for run in self._runner.runs.older_than(cutoff, limit=PRUNE_BATCH):
            if run.active or run.pending:
                continue
            self._runner.runs.delete(run)
            report.pruned += 1
