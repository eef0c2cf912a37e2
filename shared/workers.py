"""Queue entry points: a worker's slot message, and a message the host gave up on (poison).

A worker that meets a storage outage lets its message go: the claim keeps its lease and
the poll's sweep sends the slot again once that runs out. Only a failure nobody planned
for (a bug) lets the host deliver the message again, up to `maxDequeueCount` times, and
then put it on the poison queue, where `run_poison` records the slot as SubmitFailed with
the reason, so no slot vanishes with its message.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
MAX_LOGGED_BODY = 200


def run_slot(body: bytes, dequeue_count: int = 1) -> None:
    from shared.queue import InvalidSlotMessage, ShardMessage, decode_message
    from shared.runtime import get_runtime
    from shared.store import StoreError

    try:
        message = decode_message(body)
    except InvalidSlotMessage as exc:
        # Not ours: let it fail, so the host moves it to the poison queue for inspection.
        raise ValueError(f"not a slot message ({exc})") from None
    runtime = get_runtime()
    try:
        report = runtime.engine.work(message, runtime.clock())
    except StoreError as exc:
        log.warning("%s: table storage failed (%s); the sweep or the next tick takes it up again", message, exc)
        return
    if isinstance(message, ShardMessage):
        log.info("shard %s (delivery %d): %d due schedule(s), %d slot(s) claimed, %d queued, %d skipped, "
                 "%d already taken, %d error(s)%s", message.shard, dequeue_count, report.schedules,
                 len(report.claimed), report.enqueued, report.skipped, report.lost_races, len(report.errors),
                 _page(message))
        return
    log.info("slot message %s %s (delivery %d): %d submitted, %d failed, %d already taken",
             message.schedule_id, message.slot.isoformat(), dequeue_count, len(report.submitted),
             len(report.failed), report.lost_races)


def run_poison(body: bytes, dequeue_count: int = 1) -> None:
    from shared.queue import InvalidSlotMessage, ShardMessage, decode_message
    from shared.runtime import get_runtime

    try:
        message = decode_message(body)
    except InvalidSlotMessage as exc:
        shown = body[:MAX_LOGGED_BODY].decode("utf-8", errors="replace")
        log.error("poison message that names no slot (%s), dropped after logging: %r", exc, shown)
        return
    if isinstance(message, ShardMessage):
        # Its cursors did not move: the next tick plans those schedules again.
        log.error("shard %s%s: its dispatch failed on every delivery; the next tick dispatches it again",
                  message.shard, _page(message))
        return
    runtime = get_runtime()
    outcome = runtime.engine.give_up(message, runtime.clock())
    log.error("slot %s %s: its queue message failed every delivery and went to the poison queue; %s",
              message.schedule_id, message.slot.isoformat(), outcome)


def _page(message) -> str:
    """Which due rows a shard message covers, for its log lines: nothing for a whole shard."""
    if message.after is None and message.through is None:
        return ""
    return "; the page of due rows {} {}".format(f"after {message.after}" if message.after else "from the first",
                                                 f"through {message.through}" if message.through else "to the last")
