"""The poll: every run in flight, every cycle; then a round of pruning.

The poll reads every run in flight from the live rows (one range query per shard,
whatever the history holds) and, schedule by schedule with bounded concurrency:

* brings each active run up to date with AML, times out overrunning ones, and retries
  failed ones when the policy asks (all from what the record carries of the policy);
* sweeps pending ones whose time has come (a retry's, or a lease no worker honoured
  because its message was lost): hands them back to the queue, or, when the queue is
  down, attempts them itself;
* marks runs past their deadline (policy.sla, `complete_by` on the record) and not final
  as late, once each: the mark is written with If-Match, so of two polls only the one
  whose write lands tells the listeners (`run_late`). Active runs are marked in a write
  of their own (only the poll writes active runs, so it costs no one a race); pending
  ones only in the sweep's own write, when their time has come, so a worker holding the
  lease never loses its write to the mark;
* prunes history a few schedules per poll, and the finished index (by when runs ended).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Callable

from shared.aml.errors import AmlError, AmlNotFoundError
from shared.engine import kinds
from shared.engine.attempt import SlotRunner
from shared.engine.logs import slot_fields
from shared.engine.model import (
    LOST_RUN_AFTER,
    PRUNE_BATCH,
    PRUNE_SCHEDULES_PER_POLL,
    PollReport,
    TickReport,
    parse_time,
    status_from_aml,
)
from shared.engine.timing import WorkClock
from shared.queue import QueueUnavailable, SlotMessage, SlotQueue
from shared.schedules import RetryPolicy, iso
from shared.store import QUEUED, NotFound, PreconditionFailed, RunRecord, StoreError

log = logging.getLogger("shared.engine")
PRUNE_POSITION = "prune-position"


class Poller:
    def __init__(self, runner: SlotRunner, queue: SlotQueue, owner: Callable[[], str], *, retention: timedelta | None,
                 concurrency: int, maintenance: Callable[[], object] | None = None):
        self._runner = runner
        self._queue = queue
        self._owner = owner
        self._retention = retention
        self._concurrency = concurrency
        # Store upkeep that runs a bounded step per poll (moving old history to a new layout).
        self._maintenance = maintenance

    def poll(self, clock: WorkClock) -> PollReport:
        report = PollReport()
        by_schedule: dict[str, list[RunRecord]] = defaultdict(list)
        try:
            for run in self._runner.runs.all_in_flight():
                by_schedule[run.schedule_id].append(run)
        except StoreError as exc:
            log.warning("runs in flight could not be listed this poll: %s", exc)
            report.errors.append(f"in flight: {type(exc).__name__}")
        queue_down = [False]
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="poll") as pool:
            for outcome in pool.map(lambda runs: self._poll_schedule(runs, clock, queue_down), by_schedule.values()):
                report.merge(outcome)
        report.schedules = len(by_schedule)
        if self._retention is not None:
            try:
                self._prune(clock.start - self._retention, report)
            except StoreError as exc:
                log.warning("history pruning skipped this poll: %s", exc)
        if self._maintenance is not None:
            try:
                self._maintenance()
            except StoreError as exc:
                log.warning("store upkeep skipped this poll: %s", exc)
        return report

    def _poll_schedule(self, runs: list[RunRecord], clock: WorkClock, queue_down: list[bool]) -> PollReport:
        report = PollReport()
        # Active runs first: one that just ended frees the way for a waiting slot below.
        for run in sorted(runs, key=lambda r: not r.active):
            try:
                if run.active:
                    report.checked += 1
                    current = self._refresh(run, clock.now(), report)
                    if current is not None and current.active and _past_deadline(current, clock.now()):
                        self._mark_late(current, clock.now(), report)
                elif run.next_attempt_at is None or run.next_attempt_at <= clock.now():
                    self._sweep(run, clock, report, queue_down)
            except (StoreError, AmlError) as exc:
                log.warning("run %s not handled this poll: %s", run.run_key, exc)
                report.errors.append(f"{run.run_key}: {type(exc).__name__}")
        return report

    # -- pending runs ------------------------------------------------------------------
    def _sweep(self, run: RunRecord, clock: WorkClock, report: PollReport, queue_down: list[bool]) -> None:
        """A pending run whose time has come: back to the queue, or attempted here if the queue is down."""
        now = clock.now()
        if not queue_down[0]:
            late = _past_deadline(run, now)
            try:
                requeued = self._runner.runs.replace(run.evolve(owner=QUEUED, updated_at=now,
                                                               next_attempt_at=now + self._runner.leases.lease,
                                                               late_at=now if late else run.late_at))
            except (PreconditionFailed, NotFound):
                return  # someone else took it meanwhile
            if late:
                self._announce_late(requeued, report)
            try:
                self._queue.send(SlotMessage(run.schedule_id, run.slot, run.trigger))
                report.requeued += 1
                return
            except QueueUnavailable as exc:
                log.warning("slot queue unavailable (%s); the poll attempts waiting slots itself", exc)
                queue_down[0] = True
                run = requeued
        outcome = TickReport()
        self._runner.attempt(run, clock, outcome, owner=self._owner())
        report.attempted_inline += 1

    # -- deadlines ---------------------------------------------------------------------
    def _mark_late(self, run: RunRecord, now: datetime, report: PollReport) -> None:
        try:
            marked = self._runner.runs.replace(run.evolve(late_at=now, updated_at=now))
        except (PreconditionFailed, NotFound):
            return  # another writer (another poll) got there first: it tells, or the next poll does
        self._announce_late(marked, report)

    def _announce_late(self, run: RunRecord, report: PollReport) -> None:
        report.late += 1
        log.warning("slot %s: late: not finished %s after its deadline (%s)", run.run_key,
                    _duration(run.late_at - run.complete_by), iso(run.complete_by),
                    extra=slot_fields(run, lateSeconds=round((run.late_at - run.complete_by).total_seconds(), 3)))
        self._runner.outcomes.late(run)

    # -- active runs -------------------------------------------------------------------
    def _refresh(self, run: RunRecord, now: datetime, report: PollReport) -> RunRecord | None:
        """Bring an active run up to date with AML; the record as it now stands (None if it was lost
        to another writer or has ended)."""
        if not run.aml_run_id or not run.experiment_name:
            return run
        aml, save = self._runner.aml, self._runner.save
        timeout, retry = self._policy(run)
        if timeout and run.submitted_at and now - run.submitted_at > timedelta(minutes=timeout):
            # Cancel first: if AML does not take the cancel, the run stays active and the
            # next poll tries again, rather than recording a timeout AML never acted on.
            kinds.cancel(aml, run)
            save(run.evolve(status="TimedOut", finished_at=now, updated_at=now,
                            reason=f"ran longer than runTimeoutMinutes ({timeout}); cancelled"))
            report.timed_out += 1
            report.finished += 1
            return None
        try:
            state = kinds.read(aml, run)
        except AmlNotFoundError as exc:
            if run.submitted_at and now - run.submitted_at > LOST_RUN_AFTER:
                save(run.evolve(status="Failed", reason="AML no longer knows this run",
                                error_code=exc.code or "NotFound", error_message=exc.message,
                                finished_at=now, updated_at=now))
                report.finished += 1
                return None
            return run
        status = status_from_aml(state.status)
        if status == run.status and state.status == run.aml_status:
            return run
        changes: dict = {"status": status, "aml_status": state.status, "updated_at": now}
        if status in ("Completed", "Failed", "Canceled"):
            changes["finished_at"] = parse_time(state.end_time) or now
            if state.error_code or state.error_message:
                changes.update(error_code=state.error_code, error_message=state.error_message)
            if status == "Failed" and retry and retry.retry_on_run_failure and run.attempts < retry.max_attempts:
                delay = retry.delay_after(run.attempts)
                changes.update(status="Claimed", finished_at=None, next_attempt_at=now + timedelta(seconds=delay),
                               previous_aml_run_ids=[*(run.previous_aml_run_ids or []), run.aml_run_id],
                               reason=f"AML run failed; attempt {run.attempts + 1} of {retry.max_attempts} follows")
                report.retrying += 1
            else:
                report.finished += 1
        saved = save(run.evolve(**changes))
        if saved is not None:
            report.changed += 1
        return saved

    def _policy(self, run: RunRecord) -> tuple[int | None, RetryPolicy | None]:
        """What the run carries of its schedule's policy; records from before that read the schedule."""
        if run.retry is not None:
            retry = run.retry
            return run.run_timeout_minutes, RetryPolicy(retry.get("maxAttempts", 3), retry.get("backoffSeconds", 60),
                                                         retry.get("retryOnRunFailure", False))
        try:
            policy = self._runner.schedules.get(run.schedule_id).definition.policy
        except NotFound:
            return None, None
        return policy.run_timeout_minutes, policy.retry

    # -- history -----------------------------------------------------------------------
    def _prune(self, cutoff: datetime, report: PollReport) -> None:
        """One step of the pruning round: a few schedules per poll, every schedule in turn."""
        schedules, runs = self._runner.schedules, self._runner.runs
        # The finished index by its own clock (when runs ended): a key range per shard. Not in
        # `pruned`, which counts run records.
        runs.prune_finished(cutoff)
        ids, following = schedules.history_page(schedules.get_meta(PRUNE_POSITION) or None, PRUNE_SCHEDULES_PER_POLL)
        for schedule_id in ids:
            old = runs.older_than(schedule_id, cutoff, limit=PRUNE_BATCH)
            for run in old:
                if run.active or run.pending:
                    continue
                runs.delete(run)
                report.pruned += 1
            # A schedule's audit entries are kept as long as its runs, deleted ones included.
            audited = schedules.prune_audit(schedule_id, cutoff, limit=PRUNE_BATCH)
            report.audit_pruned += audited
            if (not old and not audited and not self._exists(schedule_id)
                    and not runs.list_runs(schedule_id, limit=1).items
                    and not schedules.audit_page(schedule_id, limit=1).items):
                # A deleted schedule whose last record and entry are gone leaves the pruner's round.
                schedules.forget_history(schedule_id)
        schedules.set_meta(PRUNE_POSITION, following or "")


    def _exists(self, schedule_id: str) -> bool:
        try:
            self._runner.schedules.get(schedule_id)
            return True
        except NotFound:
            return False


def _past_deadline(run: RunRecord, now: datetime) -> bool:
    return run.complete_by is not None and run.late_at is None and now > run.complete_by


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds // 60} min {seconds % 60} s"


def process_owner() -> str:
    """Who holds a lease: this host and process, and a per-start suffix (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
