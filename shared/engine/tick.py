"""The tick: settle every due schedule's owed slots, then take up pending ones.

Exactly once per slot: a slot is claimed by inserting its run record (the store refuses
a second insert), attempted, and only then does the schedule's cursor move, with
If-Match. Two ticks at once, a retried tick or a second instance all compute the same
owed slots from the same cursor; only one claim per slot wins. A tick that stops
half-way (a crash, a schedule edited under it) leaves the cursor where it was, and the
next tick plans the same slots again: the claims already made are kept, the rest are made.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.aml.errors import AmlError
from shared.engine.attempt import SlotRunner
from shared.engine.model import PENDING_PER_TICK, TickReport
from shared.engine.timing import WorkClock
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, plan_slots
from shared.scheduling.triggers import Trigger
from shared.store import AlreadyExists, NotFound, PreconditionFailed, RunRecord, ScheduleRecord, StoreError

log = logging.getLogger("shared.engine")


class Ticker:
    def __init__(self, runner: SlotRunner):
        self._runner = runner
        self._schedules = runner.schedules
        self._runs = runner.runs

    def tick(self, clock: WorkClock) -> TickReport:
        report = TickReport()
        # Older slots first: a retry or backfill waiting behind a Forbid policy would
        # otherwise lose the schedule's one concurrent run to each new on-time slot and
        # never run at all.
        self._drain_pending(clock, report)
        now = clock.start
        for record in self._schedules.due(now + EARLY_LEEWAY):
            report.schedules += 1
            try:
                self._settle(record, now, clock, report)
            except (StoreError, AmlError, ValueError) as exc:
                # One broken schedule or a passing storage fault must not starve the rest;
                # the cursor did not move, so the next tick retries this schedule.
                log.warning("schedule %s not settled this tick: %s", record.id, exc)
                report.errors.append(f"{record.id}: {type(exc).__name__}")
        return report

    def _settle(self, record: ScheduleRecord, now: datetime, clock: WorkClock, report: TickReport) -> None:
        """Decide the owed slots as of the tick's `now`; claims and leases take the clock's time."""
        definition = record.definition
        trigger = definition.trigger.build()
        policy = definition.policy
        plan = plan_slots(trigger, record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup,
                          not_before_offset=definition.trigger.jitter(record.id))
        last_decided = record.last_slot
        fired = 0
        for decision in plan.decisions:
            if decision.action == FIRE:
                fresh = record if fired == 0 else self._unchanged(record)
                if fresh is None:
                    # Deleted, edited or advanced by another tick since this tick read it:
                    # claim nothing more; the cursor stays for whoever owns the change.
                    log.info("schedule %s changed during the tick; its remaining slots are left", record.id)
                    return
                self._start_slot(fresh, decision.slot, clock, report)
                fired += 1
            else:
                self._record_skip(record, trigger, decision, clock.now(), report)
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

    def _unchanged(self, record: ScheduleRecord) -> ScheduleRecord | None:
        try:
            current = self._schedules.get(record.id)
        except NotFound:
            return None
        return current if current.etag == record.etag else None

    def _start_slot(self, record: ScheduleRecord, slot: datetime, clock: WorkClock, report: TickReport) -> None:
        try:
            run = self._runs.claim(self._runner.new_claim(record, slot, clock.now(), "schedule"))
        except AlreadyExists:
            report.lost_races += 1
            return
        self._runner.attempt(run, clock, report, recovering=False, record=record)

    def _record_skip(self, record: ScheduleRecord, trigger: Trigger, decision: SlotDecision, now: datetime,
                     report: TickReport) -> None:
        """Record skipped slots so that each ends with exactly one record, its own or a summary's.

        A summary is keyed by its first slot. Another tick that planned at a different
        moment may already have recorded some of these slots (one by one, or as a shorter
        summary, or fired them): those keep their records and the rest of the range is
        recorded after the last slot they cover.
        """
        reason = decision.reason
        if record.resumed_at is not None and decision.slot < record.resumed_at:
            reason = "missed: the schedule was disabled"
        last = decision.last_slot or decision.slot
        slot: datetime | None = decision.slot
        while slot is not None and slot <= last:
            count, final = _count_slots(trigger, slot, last)
            run = RunRecord(schedule_id=record.id, slot=slot, status="Skipped", reason=reason,
                            experiment_name=record.definition.target.experiment_name, claimed_at=now,
                            finished_at=now, updated_at=now, skipped_count=count,
                            last_skipped_slot=final if count > 1 else None)
            try:
                self._runs.claim(run)
                report.skipped += count
                return
            except AlreadyExists:
                report.lost_races += 1
            try:
                existing = self._runs.get(record.id, slot)
                covered_to = existing.last_skipped_slot or existing.slot
            except NotFound:  # pruned meanwhile: it covered its own slot
                covered_to = slot
            slot = trigger.next_after(covered_to)

    def _drain_pending(self, clock: WorkClock, report: TickReport) -> None:
        for run in self._runs.pending_runs(clock.now(), limit=PENDING_PER_TICK):
            try:
                self._runner.attempt(run, clock, report, recovering=True)
            except (StoreError, AmlError, ValueError) as exc:
                log.warning("pending slot %s not handled this tick: %s", run.run_key, exc)
                report.errors.append(f"{run.run_key}: {type(exc).__name__}")


def _count_slots(trigger: Trigger, first: datetime, last: datetime) -> tuple[int, datetime]:
    """How many fire times lie in [first, last], and the last of them."""
    count, final, slot = 0, first, first
    while slot is not None and slot <= last:
        count, final = count + 1, slot
        slot = trigger.next_after(slot)
    return count, final
