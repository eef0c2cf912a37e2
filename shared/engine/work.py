"""A queue worker's part: a shard message is a dispatch (tick.py), a slot message one attempt.

A slot message only names the slot; the run record decides. A slot already submitted or
final, or held by another process's lease, is left alone, so a message delivered twice,
or sent again by the sweep while a worker was still on it, never starts a second attempt.
"""

from __future__ import annotations

import logging

from shared.aml.errors import AmlError
from shared.engine.attempt import SlotRunner
from shared.engine.model import TickReport
from shared.engine.timing import WorkClock
from shared.queue import SlotMessage
from shared.store import QUEUED, NotFound

log = logging.getLogger("shared.engine")


def work(runner: SlotRunner, message: SlotMessage, clock: WorkClock, owner: str) -> TickReport:
    report = TickReport()
    if message.claim is not None and _work_from_copy(runner, message, clock, owner, report):
        return report
    try:
        run = runner.runs.get(message.schedule_id, message.slot, message.trigger)
    except NotFound:
        log.info("message for %s %s: no such run record (pruned or never claimed); dropped",
                 message.schedule_id, message.slot.isoformat())
        return report
    if not run.pending:
        report.lost_races += 1  # a repeated message for a slot that is past its attempt
        return report
    now = clock.now()
    held_elsewhere = run.owner not in (QUEUED, owner) and run.next_attempt_at is not None and run.next_attempt_at > now
    if held_elsewhere:
        # Another process holds the lease (or the slot waits for its retry time): its
        # message, or the sweep, brings it back when that time comes.
        report.lost_races += 1
        return report
    runner.attempt(run, clock, report, owner=owner)
    return report


def _work_from_copy(runner: SlotRunner, message: SlotMessage, clock: WorkClock, owner: str,
                    report: TickReport) -> bool:
    """Take the slot with the lease written against the dispatch's copy of its claim: no read
    first. False when the copy is no longer the record (another worker, the sweep, a retry,
    a change to the schedule moved it on): the caller then reads the record and decides as
    for any message.

    The lease going through also shows that the schedule has not changed since the dispatch
    (shared.engine.copies), so the message's copy of the schedule, when it has one, stands
    in for reading it.
    """
    claim = message.claim
    if claim is None or claim.owner != QUEUED or not claim.pending:
        return False
    taken = runner.take_lease(claim, clock.now(), owner)
    if taken is None:
        return False
    # What an untouched claim is: nothing can have reached AML for it yet.
    runner.attempt(taken, clock, report, owner=owner, record=message.schedule,
                   recovering=claim.attempts > 0 or claim.dequeued_at is not None)
    return True


def give_up(runner: SlotRunner, message: SlotMessage, clock: WorkClock, owner: str) -> str:
    """The host gave up on this slot's message: a slot still pending ends SubmitFailed, saying why.

    Unless it is in someone's hands (a lease held by another process: that one finishes
    it), or an earlier attempt may have reached AML and AML has its run: then the run is
    adopted, as any attempt would.
    """
    try:
        run = runner.runs.get(message.schedule_id, message.slot, message.trigger)
    except NotFound:
        return "no such run record"
    if not run.pending:
        return f"its record is already {run.status}"
    now = clock.now()
    if run.owner not in (QUEUED, owner, None) and run.next_attempt_at is not None and run.next_attempt_at > now:
        return "another process holds its lease and will finish it"
    if run.attempts > 0 or run.dequeued_at is not None or run.owner is None:
        try:
            found = runner.lost_run(run)
        except AmlError as exc:
            return f"left pending for the sweep: its run could not be looked up ({exc.code or exc.status})"
        if found is not None:
            runner.save(runner.adoption(run, found, now))
            return "its AML run was found and adopted"
    saved = runner.save(run.evolve(
        status="SubmitFailed", finished_at=now, updated_at=now, next_attempt_at=None,
        error_code=run.error_code or "WorkerFailed",
        error_message=run.error_message or "the worker failed on every delivery of this slot's queue message",
        reason="its queue message went to the poison queue after repeated worker failures; see the app's logs"))
    return "recorded as SubmitFailed" if saved is not None else "its record changed meanwhile"
