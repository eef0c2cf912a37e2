"""The tick, in two steps: the timer finds the due schedules by key, and workers dispatch them.

The tick (the timer, a singleton) reads the keys of the due index, one request per
shard, and puts one shard message per shard with due schedules on the queue; a busy
shard gets one message per page of DISPATCH_PAGE_SIZE due keys, so that a busy minute's
dispatch spreads over every worker process and instance instead of one per shard (and
its pages come before that minute's slot messages on the queue). A queue worker (scaled
out by the platform) dispatches each shard or page: reads its due schedules from the
index, plans their owed slots as of the tick's time, claims the slots to fire (one
inserted run record each, the claims of a page in one transaction), records the skipped
ones, moves the cursors, guarded by the due rows it read, and puts one slot message per
claim on the queue (with copies of the claim and the schedule, which save the worker
two reads).

Exactly once per slot: the insert is the claim (the store refuses a second), and only
a claimed slot is ever attempted. A dispatch that stops half-way leaves its cursors
where they were; the next tick plans those slots again, the claims already made stay
and the rest are made. One that stops after moving them, before queuing, leaves its
claims to the poll's sweep, as a lost slot message does. Pages only divide the work:
two ticks' pages that overlap, or a page and a whole-shard message, meet the same
claims and guarded cursor moves. If the queue cannot take a message, the tick
dispatches that shard or page itself: slower, but nothing waits for the queue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.config import DEFAULT_DISPATCH_PAGE_SIZE
from shared.engine.attempt import SlotRunner
from shared.engine.coverage import Coverage
from shared.engine.model import TickReport
from shared.engine.timing import WorkClock
from shared.queue import QueueUnavailable, ShardMessage, SlotMessage, SlotQueue
from shared.scheduling.slots import EARLY_LEEWAY, FIRE, SlotDecision, SlotPlan, plan_slots
from shared.store import AlreadyExists, RunRecord, ScheduleRecord, StoreError
from shared.store.keys import all_shards

log = logging.getLogger("shared.engine")
# Rounds of reading and writing around records that keep appearing before a dispatch gives up.
_GAP_ROUNDS = 5
# Due keys the tick reads per shard (one request). A backlog beyond them (16,000 due at
# once, say after a long outage) goes in each shard's last page, one long dispatch, as
# before pages: the timer's share stays one read a shard and a few hundred messages.
TICK_KEYS_PER_SHARD = 1000


class Ticker:
    def __init__(self, runner: SlotRunner, queue: SlotQueue, page_size: int = DEFAULT_DISPATCH_PAGE_SIZE):
        self._page_size = page_size
        self._runner = runner
        self._schedules = runner.schedules
        self._runs = runner.runs
        self._queue = queue

    # -- the timer's part --------------------------------------------------------------
    def tick(self, clock: WorkClock) -> TickReport:
        report = TickReport()
        horizon = clock.start + EARLY_LEEWAY
        queue_down = False
        for shard in all_shards():
            try:
                pages = dispatch_pages(self._schedules.due_keys(horizon, shard, TICK_KEYS_PER_SHARD), self._page_size)
            except StoreError as exc:
                log.warning("tick stopped: %s", exc)
                report.errors.append(f"tick: {type(exc).__name__}")
                return report
            for after, through in pages:
                if not queue_down:
                    try:
                        self._queue.send(ShardMessage(shard, clock.start, after, through))
                        report.enqueued += 1
                        continue
                    except QueueUnavailable as exc:
                        log.warning("slot queue unavailable (%s); the tick dispatches its shards itself", exc)
                        queue_down = True
                report.queue_failures += 1
                report.merge(self.dispatch(shard, clock.start, clock, after=after, through=through))
        return report

    # -- a shard -----------------------------------------------------------------------
    def dispatch(self, shard: str, planned_at: datetime, clock: WorkClock, *, after: str | None = None,
                 through: str | None = None) -> TickReport:
        """Claim, record and queue the owed slots of a shard's due schedules (those of one page,
        when `after` or `through` bound it), planned as of `planned_at`."""
        report = TickReport()
        try:
            due = self._schedules.due(planned_at + EARLY_LEEWAY, shard, after=after, through=through)
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
        claimed: list[tuple[ScheduleRecord, RunRecord]] = []
        try:
            settled = self._claim(planned, clock, report, claimed)
        except StoreError as exc:
            # Storage failed mid-way: the claims made are queued (without the schedule's copy:
            # the cursors did not move), the next tick plans these schedules again.
            log.warning("shard %s dispatch stopped: %s", shard, exc)
            report.errors.append(f"{shard}: {type(exc).__name__}")
            self._queue_claims(claimed, {}, report)
            return report
        moved: dict[str, StoreError | None] = {}
        try:
            moved = self._schedules.advance(settled)
        except StoreError as exc:
            log.warning("shard %s: cursors not moved this time: %s", shard, exc)
            report.errors.append(f"{shard}: {type(exc).__name__}")
        for schedule_id, error in moved.items():
            if error is not None:
                # Another dispatch moved the cursor, or a user changed the schedule: their
                # write stands, and the claims already made keep these slots unique.
                log.info("schedule %s changed while it was dispatched; its cursor is left to the other writer",
                         schedule_id)
        self._queue_claims(claimed, moved, report)
        return report

    def _queue_claims(self, claimed: list[tuple[ScheduleRecord, RunRecord]], moved: dict[str, StoreError | None],
                      report: TickReport) -> None:
        """One slot message per claim, after the cursor moves: a schedule whose move went through
        was not changed since its due row was read, so its copy may go with the claim's
        (shared.engine.copies says why that suffices); any other goes without."""
        queue_down = False
        for record, claim in claimed:
            if queue_down:
                report.queue_failures += 1
                continue
            copy = record if record.id in moved and moved[record.id] is None else None
            try:
                self._queue.send(SlotMessage(claim.schedule_id, claim.slot, claim.trigger, claim=claim,
                                             schedule=copy))
                report.enqueued += 1
            except QueueUnavailable as exc:
                # The claims stay pending: the poll's sweep sends them once their lease runs out.
                log.warning("slot queue unavailable (%s); claims wait for the sweep", exc)
                queue_down = True
                report.queue_failures += 1

    def _plan(self, record: ScheduleRecord, now: datetime) -> SlotPlan:
        definition = record.definition
        policy = definition.policy
        return plan_slots(definition.trigger.build(), record.next_fire_time, now, misfire=policy.misfire,
                          grace_seconds=policy.misfire_grace_seconds, max_catchup=policy.max_catchup,
                          not_before_offset=definition.trigger.jitter(record.id))

    def _claim(self, planned: list[tuple[ScheduleRecord, SlotPlan]], clock: WorkClock, report: TickReport,
               queued: list[tuple[ScheduleRecord, RunRecord]]) -> list[ScheduleRecord]:
        """Claim every slot to fire (each claim, with its schedule, added to `queued` as stored) and
        record every skipped one; the schedules to move."""
        now = clock.now()
        claims: list[RunRecord] = []
        skips: list[tuple[ScheduleRecord, SlotDecision, RunRecord]] = []
        owners: list[ScheduleRecord] = []
        # Schedule id -> the last slot of records already there that the cursor must not stay behind.
        ahead: dict[str, datetime] = {}
        for record, plan in planned:
            for decision in self._around_existing(record, plan, ahead):
                if decision.action == FIRE:
                    claims.append(self._runner.new_claim(record, decision.slot, now, "schedule"))
                    owners.append(record)
                else:
                    skips.append((record, decision, _skip_record(record, decision, now)))
        claimed = self._runs.claim_many(claims + [skip for _, _, skip in skips])
        covered = self._covered_elsewhere(claims + [skip for _, _, skip in skips], claimed)
        for record, claim, result in zip(owners, claims, claimed):
            if isinstance(result, AlreadyExists):
                report.lost_races += 1
                continue
            if isinstance(result, StoreError):
                raise result
            if _overlaps(covered.get(claim.schedule_id), claim):
                # Another dispatch, planning later, recorded this slot as missed in its summary.
                self._withdraw(result, report)
                continue
            report.claimed.append(claim.run_key)
            queued.append((record, result))
        for (record, decision, skip), result in zip(skips, claimed[len(claims):]):
            if isinstance(result, StoreError) and not isinstance(result, AlreadyExists):
                raise result
            if isinstance(result, AlreadyExists):
                report.lost_races += 1
            elif _overlaps(covered.get(record.id), skip):
                # Written, but inside a summary this dispatch only saw by colliding with it.
                self._withdraw(result, report)
            else:
                report.skipped += skip.skipped_count
                continue
            self._record_gaps(record, decision, skip, report)
        for schedule_id, (_, end) in covered.items():
            ahead[schedule_id] = max(ahead.get(schedule_id, end), end)
        settled = []
        for record, plan in planned:
            if not plan.decisions and plan.next_cursor == record.next_fire_time:
                continue  # due by the index but not yet by its jitter: nothing to move
            last = record.last_slot
            for decision in plan.decisions:
                last = decision.last_slot or decision.slot
            cursor = plan.next_cursor
            if cursor is not None and record.id in ahead and ahead[record.id] >= cursor:
                # Records already there reach further than this plan: the cursor must not stay
                # behind them, or the next plan would claim slots they already cover.
                cursor = record.definition.trigger.build().next_after(ahead[record.id])
                last = max(last, ahead[record.id]) if last else ahead[record.id]
            record.next_fire_time, record.last_slot = cursor, last
            settled.append(record)
        return settled

    def _around_existing(self, record: ScheduleRecord, plan: SlotPlan,
                         ahead: dict[str, datetime]) -> list[SlotDecision]:
        """The plan's decisions for the slots no record covers yet.

        A plan that only fires the cursor's slot needs no read: its claim is keyed by that
        slot and collides with any record of it. A plan that catches up (skips, or more than
        one slot) may meet records another dispatch wrote from another cursor or at another
        moment, some of them ranges under one key that nothing here would collide with; one
        range read shows them, and the plan writes around them.
        """
        decisions = list(plan.decisions)
        if len(decisions) < 2 and all(d.action == FIRE for d in decisions):
            return decisions
        trigger = record.definition.trigger.build()
        last = decisions[-1].last_slot or decisions[-1].slot
        coverage = Coverage(self._runs.records_around(record.id, decisions[0].slot, last))
        through = coverage.covered_through(plan.next_cursor, trigger)
        if through is not None:
            ahead[record.id] = through
        return coverage.uncovered(decisions, trigger)

    def _covered_elsewhere(self, planned: list[RunRecord], results: list) -> dict[str, tuple[datetime, datetime]]:
        """Schedule id -> (first, last) slot of another dispatch's missed-slot summary, for the
        schedules where one of this dispatch's records collided with such a summary.

        Between the range read that planned these records and their insert, another dispatch
        may have written a summary over some of them: claims are unique per slot, but a
        summary covers a range under one key, so a record inside the range would not collide:
        only the collision at the summary's own key shows it.
        """
        covered: dict[str, tuple[datetime, datetime]] = {}
        for run, result in zip(planned, results):
            if not isinstance(result, AlreadyExists) or run.schedule_id in covered:
                continue
            try:
                existing = self._runs.get(run.schedule_id, run.slot, run.trigger)
            except StoreError:
                continue  # pruned or unreadable: nothing more is known than before
            if existing.last_skipped_slot is not None and existing.last_skipped_slot >= run.slot:
                covered[run.schedule_id] = (run.slot, existing.last_skipped_slot)
        return covered

    def _withdraw(self, record: RunRecord, report: TickReport) -> None:
        """Take back a record written moments ago (a claim never queued) that another record already covers."""
        try:
            self._runs.delete(record)
            report.lost_races += 1
        except StoreError as exc:
            # Left as it is, the sweep would submit a slot the summary says was missed.
            log.warning("record %s lies inside another dispatch's missed-slot summary and could not be "
                        "taken back (%s)", record.run_key, exc)
            raise

    def _record_gaps(self, record: ScheduleRecord, decision: SlotDecision, template: RunRecord,
                     report: TickReport) -> None:
        """Record the slots of a skip decision that no record covers, around the ones that do.

        Another dispatch, planning at another moment, recorded some of these slots (one by
        one, as a summary, or fired them) after this plan read what was there: theirs stand,
        and each range between them gets one record, so every slot ends with exactly one.
        """
        trigger = record.definition.trigger.build()
        last = decision.last_slot or decision.slot
        for _ in range(_GAP_ROUNDS):
            gaps = Coverage(self._runs.records_around(record.id, decision.slot, last)).gaps(decision.slot, last,
                                                                                            trigger)
            for slot, count, final in gaps:
                try:
                    self._runs.claim(template.evolve(slot=slot, skipped_count=count,
                                                     last_skipped_slot=final if count > 1 else None))
                    report.skipped += count
                except AlreadyExists:
                    report.lost_races += 1
                    break  # another record appeared meanwhile: read again
            else:
                return
        # Cursors stay put: the next tick plans these slots again and writes around what is there.
        raise StoreError(f"{record.id}: records kept appearing inside {decision.slot.isoformat()}..{last.isoformat()}")


def dispatch_pages(keys: list[str], size: int = DEFAULT_DISPATCH_PAGE_SIZE) -> list[tuple[str | None, str | None]]:
    """The (after, through] due-key ranges a shard's dispatch is split into: `size` due rows
    each, the first and last open, so that a row that becomes due meanwhile still falls in
    one (a shard with TICK_KEYS_PER_SHARD due rows or more has the rest in its last)."""
    if not keys:
        return []
    bounds = [None] + keys[size - 1:-1:size] + [None]
    return list(zip(bounds, bounds[1:]))


def _skip_record(record: ScheduleRecord, decision: SlotDecision, now: datetime) -> RunRecord:
    reason = decision.reason
    if record.resumed_at is not None and decision.slot < record.resumed_at:
        reason = "missed: the schedule was disabled"
    return RunRecord(schedule_id=record.id, slot=decision.slot, status="Skipped", reason=reason,
                     experiment_name=record.definition.target.experiment_name, claimed_at=now, finished_at=now,
                     updated_at=now, skipped_count=decision.count, last_skipped_slot=decision.last_slot)


def _overlaps(span: tuple[datetime, datetime] | None, run: RunRecord) -> bool:
    """Whether `run`'s slots meet the span (first, last) of a summary."""
    if span is None:
        return False
    first, last = span
    return run.slot <= last and (run.last_skipped_slot or run.slot) >= first
