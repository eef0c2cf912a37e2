"""The slot queue: one message per claimed slot, taken by queue-triggered workers.

The run record stays the truth; a message only says "this claimed slot wants an
attempt". A lost message is made good by the poll's sweep (the claim's lease runs out),
a duplicated one is refused by the record's lease: so the queue may lose, repeat or
reorder messages without losing or repeating a slot.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.schedules import iso

MESSAGE_VERSION = 1
MAX_MESSAGE_BYTES = 4096


class QueueUnavailable(Exception):
    """The queue service could not take the message; the slot stays pending for the sweep."""


class InvalidSlotMessage(ValueError):
    """A message that is not one of ours (or from an incompatible version)."""


@dataclass(frozen=True)
class SlotMessage:
    schedule_id: str
    slot: datetime
    trigger: str

    def encode(self) -> str:
        return json.dumps({"v": MESSAGE_VERSION, "scheduleId": self.schedule_id, "slot": iso(self.slot),
                           "trigger": self.trigger}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | bytes) -> "SlotMessage":
        from shared.schedules import check_schedule_id, parse_instant
        from shared.scheduling import ScheduleError

        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if len(text) > MAX_MESSAGE_BYTES:
            raise InvalidSlotMessage("message too long")
        try:
            doc = json.loads(text)
        except ValueError:
            raise InvalidSlotMessage("not JSON") from None
        if not isinstance(doc, dict) or doc.get("v") != MESSAGE_VERSION:
            raise InvalidSlotMessage("not a slot message of this version")
        trigger = doc.get("trigger")
        if trigger not in ("schedule", "backfill", "manual"):
            raise InvalidSlotMessage("unknown trigger")
        try:
            return cls(check_schedule_id(doc.get("scheduleId"), "scheduleId"), parse_instant("slot", doc.get("slot")),
                       trigger)
        except ScheduleError as exc:
            raise InvalidSlotMessage(f"{exc.field}: {exc.message}") from None


class SlotQueue(Protocol):
    def send(self, message: SlotMessage) -> None: ...


class MemoryQueue:
    """For unit tests: keeps what was sent; `take()` hands the messages to a test's worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SlotMessage] = []
        self.down = False

    def send(self, message: SlotMessage) -> None:
        with self._lock:
            if self.down:
                raise QueueUnavailable("the queue is down (test)")
            self.sent.append(message)

    def take(self) -> list[SlotMessage]:
        with self._lock:
            taken, self.sent = self.sent, []
        return taken
