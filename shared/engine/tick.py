"""The tick: find the due schedules through the due index, claim their owed slots, hand each to the queue.

Exactly once per slot: a slot is claimed by inserting its run record (the store refuses
a second insert); only then does anything happen to it, and the schedule's cursor moves
last, guarded by the due row the tick read. Two ticks at once, a retried tick or a second
instance all compute the same owed slots from the same cursor; only one claim per slot
wins. A tick that stops half-way leaves the cursor where it was, and the next tick plans
the same slots again: the claims already made are kept, the rest are made.

The tick submits nothing itself: each claim becomes one queue message, and the
queue-triggered workers (scaled out by the platform) do the submitting. The claim's
lease covers the time in the queue; a message that never arrives is made good by the
poll's sweep once that lease has run out. So the tick's time grows with the number of
due slots, not with AML's latency.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from shared.engine.attempt import SlotRunner
from shared.engine.model import TickReport
from shared.engine.timing import WorkClock
from shared.queue import QueueUnavailable, SlotMessage, SlotQueue
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, SlotPlan, plan_slots
from shared.scheduling.triggers import Trigger
from shared.store import AlreadyExists, NotFound, RunRecord, ScheduleRecord, StoreError

log = logging.getLogger("shared.engine")


@dataclass
class _Settled:
    record: ScheduleRecord
    plan: SlotPlan
    claims: list[RunRecord]
    report: TickReport


class Ticker:
    def __init__(self, runner: SlotRunner, queue: SlotQueue, concurrency: int):
        self._runner = runner
        self._schedules = runner.schedules
        self._runs = runner.runs
        self._queue = queue
        self._concurrency = concurrency

    def tick(self, clock: WorkClock) -> TickReport:
        try:
            return self._tick(clock)
        except StoreError as exc:
            # Storage went away before or while claiming: whatever was claimed stays pending
            # for the sweep, the cursors did not move, and the next tick plans again.
            log.warning("tick stopped: %s", exc)
            return TickReport(errors=[f"tick: {type(exc).__name__}"])

    def _tick(self, clock: WorkClock) -> TickReport:
        report = TickReport()
        now = clock.start
        planned = []
        for record in self._schedules.due(now + EARLY_LEEWAY):
            report.schedules += 1
            try:
                planned.append((record, self._plan(record, now)))
            except ValueError as exc:  # a definition the planner refuses: the others still run
                log.warning("schedule %s not planned this tick: %s", record.id, exc)
                report.errors.append(f"{record.id}: {type(exc).__name__}")
        if not planned:
            return report
        firing = [record.id for record, plan in planned if plan.fires]
        # Before the first claim: the poll finds in-flight runs through this index only.
        self._schedules.mark_in_flight(firing, clock.now())
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="tick") as pool:
            settled = list(pool.map(lambda item: self._claim(*item, clock), planned))
            queue_down = _Flag()
            for outcome in pool.map(lambda s: self._enqueue(s, queue_down), settled):
                report.merge(outcome)
        moved = [s.record for s in settled if s.record is not None]
        for schedule_id, error in self._schedules.advance(moved).items():
            if error is not None:
                # Another tick moved the cursor, or a user changed the schedule: their write
                # stands, and the claims already made keep this tick's slots unique.
                log.info("schedule %s changed during the tick; its cursor is left to the other writer", schedule_id)
        for item in settled:
            report.merge(item.report)
        return report

    def _plan(self, record: ScheduleRecord, now: datetime) -> SlotPlan:
        definition = record.definition
        policy = definition.policy
        return plan_slots(definition.trigger.build(), record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup,
                          not_before_offset=definition.trigger.jitter(record.id))

    def _claim(self, record: ScheduleRecord, plan: SlotPlan, clock: WorkClock) -> _Settled:
        """Claim the slots to fire and record the skipped ones; the new cursor on success."""
        report = TickReport()
        claims: list[RunRecord] = []
        trigger = record.definition.trigger.build()
        last_decided = record.last_slot
        try:
            for decision in plan.decisions:
                if decision.action == FIRE:
                    claim = self._runner.new_claim(record, decision.slot, clock.now(), "schedule")
                    try:
                        claims.append(self._runs.claim(claim))
                        report.claimed.append(claim.run_key)
                    except AlreadyExists:
                        report.lost_races += 1
                else:
                    self._record_skip(record, trigger, decision, clock.now(), report)
                last_decided = decision.last_slot or decision.slot
        except (StoreError, ValueError) as exc:
            # The cursor stays, so the next tick plans these slots again; claims made stay.
            log.warning("schedule %s not settled this tick: %s", record.id, exc)
            report.errors.append(f"{record.id}: {type(exc).__name__}")
            return _Settled(None, plan, claims, report)
        record.next_fire_time = plan.next_cursor
        record.last_slot = last_decided
        return _Settled(record, plan, claims, report)

    def _enqueue(self, settled: _Settled, queue_down: "_Flag") -> TickReport:
        report = TickReport()
        for claim in settled.claims:
            if queue_down.is_set:
                report.queue_failures += 1
                continue
            try:
                self._queue.send(SlotMessage(claim.schedule_id, claim.slot, claim.trigger))
                report.enqueued += 1
            except QueueUnavailable as exc:
                # The claims stay pending: the poll's sweep sends them once their lease runs out.
                if not queue_down.is_set:
                    log.warning("slot queue unavailable (%s); claims wait for the sweep", exc)
                queue_down.set()
                report.queue_failures += 1
        return report

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


class _Flag:
    """Once the queue failed in this tick, the remaining claims do not wait on it too."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True


def _count_slots(trigger: Trigger, first: datetime, last: datetime) -> tuple[int, datetime]:
    """How many fire times lie in [first, last], and the last of them."""
    count, final, slot = 0, first, first
    while slot is not None and slot <= last:
        count, final = count + 1, slot
        slot = trigger.next_after(slot)
    return count, final
