"""The slot queue and its two kinds of message, taken by queue-triggered workers.

* a shard message: the tick found due schedules in a shard (or, in a busy shard, a page
  of them, a range of its due rows); a worker claims their owed slots, moves their
  cursors and queues one slot message per claim;
* a slot message: one claimed slot wants an attempt.

The run record stays the truth; a message only says what wants doing. A lost shard
message leaves its cursors where they were, so the next tick plans those slots again;
a lost slot message is made good by the poll's sweep (the claim's lease runs out); a
repeated one meets claims and leases already taken. So the queue may lose, repeat or
reorder messages without losing or repeating a slot.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from shared.schedules import iso

if TYPE_CHECKING:
    from shared.store import RunRecord, ScheduleRecord

MESSAGE_VERSION = 1
MAX_MESSAGE_BYTES = 4096
# A slot message with its claim's copy: the copy is left out beyond this. Storage queues
# take 64 KiB, and base64 (as the Functions host sends queue messages) adds a third.
MAX_SLOT_MESSAGE_BYTES = 45_000


class QueueUnavailable(Exception):
    """The queue service could not take the message; the slot stays pending for the sweep."""


class InvalidSlotMessage(ValueError):
    """A message that is not one of ours (or from an incompatible version)."""


def message_document(text: str | bytes, kind: str, error: type[ValueError], *,
                     max_bytes: int = MAX_MESSAGE_BYTES) -> dict:
    """The JSON object of one of this app's queue messages (`{"v": MESSAGE_VERSION, ...}`),
    or `error` saying why the text is not one: every queue trigger reads untrusted text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > max_bytes:
        raise error("message too long")
    try:
        doc = json.loads(text)
    except ValueError:
        raise error("not JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != MESSAGE_VERSION:
        raise error(f"not a {kind} message of this version")
    return doc


@dataclass(frozen=True)
class SlotMessage:
    schedule_id: str
    slot: datetime
    trigger: str
    # The claim as the dispatch inserted it (shared.store.run_copy), when it fits: the
    # worker writes its lease against that copy instead of reading the claim back.
    claim: "RunRecord | None" = field(default=None, compare=False)
    # The schedule as the dispatch read it (shared.store.schedule_copy), sent only beside
    # the claim's copy and only when it may stand in for a read (shared.engine.copies).
    schedule: "ScheduleRecord | None" = field(default=None, compare=False)

    def encode(self) -> str:
        doc = {"v": MESSAGE_VERSION, "scheduleId": self.schedule_id, "slot": iso(self.slot), "trigger": self.trigger}
        if self.claim is None:
            return json.dumps(doc, separators=(",", ":"))
        from shared.store.run_copy import run_document
        from shared.store.schedule_copy import schedule_document

        copies = {"claim": run_document(self.claim)}
        if self.schedule is not None:
            copies["schedule"] = schedule_document(self.schedule)
        # The biggest message that fits: both copies, the claim's alone, or none.
        for extra in (copies, {"claim": copies["claim"]}):
            text = json.dumps({**doc, **extra}, separators=(",", ":"))
            if len(text.encode()) <= MAX_SLOT_MESSAGE_BYTES:
                return text
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_document(cls, doc: dict) -> "SlotMessage":
        from shared.schedules import check_schedule_id, parse_instant
        from shared.scheduling import ScheduleError

        trigger = doc.get("trigger")
        if trigger not in ("schedule", "backfill", "manual"):
            raise InvalidSlotMessage("unknown trigger")
        try:
            message = cls(check_schedule_id(doc.get("scheduleId"), "scheduleId"),
                          parse_instant("slot", doc.get("slot")), trigger)
        except ScheduleError as exc:
            raise InvalidSlotMessage(f"{exc.field}: {exc.message}") from None
        claim = _claim_copy(doc.get("claim"), message)
        schedule = _schedule_copy(doc.get("schedule"), message) if claim is not None else None
        return replace(message, claim=claim, schedule=schedule)


def _claim_copy(doc: object, message: SlotMessage) -> "RunRecord | None":
    """The message's copy of its claim, if it is a well-formed copy of this slot's claim: a
    copy that is not is left out (the worker then reads the claim), never refused."""
    if doc is None:
        return None
    from shared.store.run_copy import run_from_document

    try:
        claim = run_from_document(doc)
    except ValueError:
        return None
    if (claim.schedule_id, claim.slot, claim.trigger) != (message.schedule_id, message.slot, message.trigger):
        return None
    return claim


def _schedule_copy(doc: object, message: SlotMessage) -> "ScheduleRecord | None":
    """The message's copy of its schedule, if well formed and this slot's schedule's; like the
    claim's copy, one that is not is left out (the worker reads the schedule), never refused."""
    if doc is None:
        return None
    from shared.store.schedule_copy import schedule_from_document

    try:
        return schedule_from_document(doc, message.schedule_id)
    except (ValueError, TypeError, KeyError):  # what a stored schedule that fails to parse raises
        return None


@dataclass(frozen=True)
class ShardMessage:
    """Dispatch a shard's due schedules, or one page of them: those whose due rows are keyed
    after `after` and up to `through` (either open), as the tick split a busy shard."""

    shard: str
    now: datetime  # the tick's time: what the shard's slots are planned with
    after: str | None = None
    through: str | None = None

    def encode(self) -> str:
        doc = {"v": MESSAGE_VERSION, "shard": self.shard, "now": iso(self.now)}
        doc.update((name, value) for name, value in (("after", self.after), ("through", self.through)) if value)
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_document(cls, doc: dict) -> "ShardMessage":
        from shared.schedules import parse_instant
        from shared.scheduling import ScheduleError
        from shared.store.keys import all_shards, is_due_key

        if doc["shard"] not in all_shards():
            raise InvalidSlotMessage("not a shard message of this version")
        after, through = doc.get("after"), doc.get("through")
        for name, bound in (("after", after), ("through", through)):
            if bound is not None and not is_due_key(bound):
                raise InvalidSlotMessage(f"{name}: not a due row's key")
        if after is not None and through is not None and after >= through:
            raise InvalidSlotMessage("after: must come before through")
        try:
            return cls(doc["shard"], parse_instant("now", doc.get("now")), after, through)
        except ScheduleError as exc:
            raise InvalidSlotMessage(f"{exc.field}: {exc.message}") from None


def decode_message(text: str | bytes) -> "SlotMessage | ShardMessage":
    """Either kind of message, or InvalidSlotMessage for anything that is not ours."""
    doc = message_document(text, "queue", InvalidSlotMessage, max_bytes=MAX_SLOT_MESSAGE_BYTES)
    if "shard" not in doc:
        return SlotMessage.from_document(doc)
    return ShardMessage.from_document(doc)


class SlotQueue(Protocol):
    def send(self, message: "SlotMessage | ShardMessage") -> None: ...


class MemoryQueue:
    """For unit tests: keeps what was sent; `take()` hands the messages to a test's worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SlotMessage | ShardMessage] = []
        self.down = False

    def send(self, message: "SlotMessage | ShardMessage") -> None:
        with self._lock:
            if self.down:
                raise QueueUnavailable("the queue is down (test)")
            if isinstance(message, (SlotMessage, ShardMessage)):
                message = decode_message(message.encode())  # as a worker would read it
            self.sent.append(message)

    def take(self) -> list["SlotMessage | ShardMessage"]:
        with self._lock:
            taken, self.sent = self.sent, []
        return taken
