"""The tick, in two steps: the timer finds the shards with due schedules, and a worker dispatches each shard.

The tick (the timer, a singleton) reads the due index, a key-only row per shard, and
puts one shard message per shard with due schedules on the queue: it is done in
milliseconds, however many schedules are due. A queue worker (scaled out by the
platform) dispatches each shard: reads its due schedules from the index, plans their
owed slots as of the tick's time, claims the slots to fire (one inserted run record
each, the claims of a shard in few transactions), records the skipped ones, puts one
slot message per claim on the queue, and moves the cursors, guarded by the due rows it
read.

Exactly once per slot: the insert is the claim (the store refuses a second), and only
a claimed slot is ever attempted. A dispatch that stops half-way leaves its cursors
where they were; the next tick plans those slots again, the claims already made stay
and the rest are made. If the queue cannot take a shard message, the tick dispatches
that shard itself: slower, but nothing waits for the queue to come back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.engine.attempt import SlotRunner
from shared.engine.model import TickReport
from shared.engine.timing import WorkClock
from shared.queue import QueueUnavailable, ShardMessage, SlotMessage, SlotQueue
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, SlotPlan, plan_slots
from shared.scheduling.triggers import Trigger
from shared.store import AlreadyExists, NotFound, RunRecord, ScheduleRecord, StoreError

log = logging.getLogger("shared.engine")


class Ticker:
    def __init__(self, runner: SlotRunner, queue: SlotQueue):
        self._runner = runner
        self._schedules = runner.schedules
        self._runs = runner.runs
        self._queue = queue

    # -- the timer's part --------------------------------------------------------------
    def tick(self, clock: WorkClock) -> TickReport:
        report = TickReport()
        try:
            shards = self._schedules.due_shards(clock.start + EARLY_LEEWAY)
        except StoreError as exc:
            log.warning("tick stopped: %s", exc)
            report.errors.append(f"tick: {type(exc).__name__}")
            return report
        queue_down = False
        for shard in shards:
            if not queue_down:
                try:
                    self._queue.send(ShardMessage(shard, clock.start))
                    report.enqueued += 1
                    continue
                except QueueUnavailable as exc:
                    log.warning("slot queue unavailable (%s); the tick dispatches its shards itself", exc)
                    queue_down = True
            report.queue_failures += 1
            report.merge(self.dispatch(shard, clock.start, clock))
        return report

    # -- a shard -----------------------------------------------------------------------
    def dispatch(self, shard: str, planned_at: datetime, clock: WorkClock) -> TickReport:
        """Claim, record and queue the owed slots of a shard's due schedules, planned as of `planned_at`."""
        report = TickReport()
        try:
            due = self._schedules.due(planned_at + EARLY_LEEWAY, shard)
        except StoreError as exc:
            log.warning("shard %s not dispatched: %s", shard, exc)
            report.errors.append(f"{shard}: {type(exc).__name__}")
            return report
        report.schedules = len(due)
        planned: list[tuple[ScheduleRecord, SlotPlan]] = []
        for record in due:
            try:
                planned.append((record, self._plan(record, planned_at)))
            except ValueError as exc:  # a definition the planner refuses: the others still run
                log.warning("schedule %s not planned this tick: %s", record.id, exc)
                report.errors.append(f"{record.id}: {type(exc).__name__}")
        try:
            settled = self._claim_and_queue(planned, clock, report)
        except StoreError as exc:
            # Storage failed mid-way: what was claimed stays pending for the sweep, the
            # cursors did not move, and the next tick plans these schedules again.
            log.warning("shard %s dispatch stopped: %s", shard, exc)
            report.errors.append(f"{shard}: {type(exc).__name__}")
            return report
        try:
            outcome = self._schedules.advance(settled)
        except StoreError as exc:
            log.warning("shard %s: cursors not moved this time: %s", shard, exc)
            report.errors.append(f"{shard}: {type(exc).__name__}")
            return report
        for schedule_id, error in outcome.items():
            if error is not None:
                # Another dispatch moved the cursor, or a user changed the schedule: their
                # write stands, and the claims already made keep these slots unique.
                log.info("schedule %s changed while it was dispatched; its cursor is left to the other writer",
                         schedule_id)
        return report

    def _plan(self, record: ScheduleRecord, now: datetime) -> SlotPlan:
        definition = record.definition
        policy = definition.policy
        return plan_slots(definition.trigger.build(), record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup,
                          not_before_offset=definition.trigger.jitter(record.id))

    def _claim_and_queue(self, planned: list[tuple[ScheduleRecord, SlotPlan]], clock: WorkClock,
                         report: TickReport) -> list[ScheduleRecord]:
        """Claim every slot to fire and record every skipped one, queue the claims; the schedules to move."""
        now = clock.now()
        claims: list[RunRecord] = []
        skips: list[tuple[ScheduleRecord, SlotDecision, RunRecord]] = []
        for record, plan in planned:
            for decision in plan.decisions:
                if decision.action == FIRE:
                    claims.append(self._runner.new_claim(record, decision.slot, now, "schedule"))
                else:
                    skips.append((record, decision, _skip_record(record, decision, now)))
        claimed = self._runs.claim_many(claims + [skip for _, _, skip in skips])
        covered = self._covered_elsewhere(claims + [skip for _, _, skip in skips], claimed)
        queue_down = False
        for claim, result in zip(claims, claimed):
            if isinstance(result, AlreadyExists):
                report.lost_races += 1
                continue
            if isinstance(result, StoreError):
                raise result
            if claim.schedule_id in covered and claim.slot <= covered[claim.schedule_id]:
                # Another dispatch, planning later, recorded this slot as missed in its summary.
                self._withdraw(result, report)
                continue
            report.claimed.append(claim.run_key)
            if queue_down:
                report.queue_failures += 1
                continue
            try:
                self._queue.send(SlotMessage(claim.schedule_id, claim.slot, claim.trigger))
                report.enqueued += 1
            except QueueUnavailable as exc:
                # The claims stay pending: the poll's sweep sends them once their lease runs out.
                log.warning("slot queue unavailable (%s); claims wait for the sweep", exc)
                queue_down = True
                report.queue_failures += 1
        for (record, decision, skip), result in zip(skips, claimed[len(claims):]):
            if isinstance(result, AlreadyExists):
                report.lost_races += 1
                self._cover_rest(record, decision, skip, report)
            elif isinstance(result, StoreError):
                raise result
            else:
                report.skipped += skip.skipped_count
        settled = []
        for record, plan in planned:
            if not plan.decisions and plan.next_cursor == record.next_fire_time:
                continue  # due by the index but not yet by its jitter: nothing to move
            last = record.last_slot
            for decision in plan.decisions:
                last = decision.last_slot or decision.slot
            cursor = plan.next_cursor
            if cursor is not None and record.id in covered and covered[record.id] >= cursor:
                # The other dispatch's summary reaches further than this plan: the cursor must not
                # stay behind it, or the next plan would claim slots the summary already covers.
                cursor = record.definition.trigger.build().next_after(covered[record.id])
                last = max(last, covered[record.id]) if last else covered[record.id]
            record.next_fire_time, record.last_slot = cursor, last
            settled.append(record)
        return settled

    def _covered_elsewhere(self, planned: list[RunRecord], results: list) -> dict[str, datetime]:
        """Schedule id -> the last slot another dispatch's missed-slot summary covers, for the
        schedules where one of this dispatch's records collided with such a summary.

        Two dispatches can plan one schedule from the same cursor at different moments (a
        redelivered shard message, a clock that jumped): the later one records more slots as
        missed, in one summary keyed by the cursor's slot. Claims are unique per slot, but a
        summary covers a range under one key, so a claim inside the range would not collide:
        only the collision at the summary's own key shows it.
        """
        covered: dict[str, datetime] = {}
        for run, result in zip(planned, results):
            if not isinstance(result, AlreadyExists) or run.schedule_id in covered:
                continue
            try:
                existing = self._runs.get(run.schedule_id, run.slot, run.trigger)
            except StoreError:
                continue  # pruned or unreadable: nothing more is known than before
            if existing.last_skipped_slot is not None and existing.last_skipped_slot >= run.slot:
                covered[run.schedule_id] = existing.last_skipped_slot
        return covered

    def _withdraw(self, claim: RunRecord, report: TickReport) -> None:
        """Take back a claim made moments ago, never queued, that another record already covers."""
        try:
            self._runs.delete(claim)
            report.lost_races += 1
        except StoreError as exc:
            # Left as it is, the sweep would submit a slot the summary says was missed.
            log.warning("claim %s lies inside another dispatch's missed-slot summary and could not be "
                        "taken back (%s)", claim.run_key, exc)
            raise

    def _cover_rest(self, record: ScheduleRecord, decision: SlotDecision, first: RunRecord,
                    report: TickReport) -> None:
        """A skip record collided: another dispatch, planning at another moment, recorded some of
        these slots (one by one, as a shorter summary, or fired them). Those keep their records,
        and the rest of the range is recorded after the last slot they cover, so every slot
        ends with exactly one record."""
        trigger = record.definition.trigger.build()
        last = decision.last_slot or decision.slot
        slot: datetime | None = decision.slot
        while slot is not None and slot <= last:
            try:
                existing = self._runs.get(record.id, slot)
                covered_to = existing.last_skipped_slot or existing.slot
            except NotFound:  # pruned meanwhile: it covered its own slot
                covered_to = slot
            slot = trigger.next_after(covered_to)
            if slot is None or slot > last:
                return
            count, final = _count_slots(trigger, slot, last)
            try:
                self._runs.claim(first.evolve(slot=slot, skipped_count=count,
                                              last_skipped_slot=final if count > 1 else None))
                report.skipped += count
                return
            except AlreadyExists:
                report.lost_races += 1


def _skip_record(record: ScheduleRecord, decision: SlotDecision, now: datetime) -> RunRecord:
    reason = decision.reason
    if record.resumed_at is not None and decision.slot < record.resumed_at:
        reason = "missed: the schedule was disabled"
    return RunRecord(schedule_id=record.id, slot=decision.slot, status="Skipped", reason=reason,
                     experiment_name=record.definition.target.experiment_name, claimed_at=now, finished_at=now,
                     updated_at=now, skipped_count=decision.count, last_skipped_slot=decision.last_slot)


def _count_slots(trigger: Trigger, first: datetime, last: datetime) -> tuple[int, datetime]:
    """How many fire times lie in [first, last], and the last of them."""
    count, final, slot = 0, first, first
    while slot is not None and slot <= last:
        count, final = count + 1, slot
        slot = trigger.next_after(slot)
    return count, final
