"""Which slots of a schedule already have a record, so a dispatch writes only where none does.

A claim or a single skip record covers its own slot; a missed-slot summary covers a
range under one key, its first slot's. The store refuses a second record under one key,
but a record inside another's range has a key of its own: only reading the records
around a range shows what it already holds. Dispatches that plan one schedule at
different moments (a redelivered shard message, a clock that jumped, an edit while a
dispatch was running) record different ranges, so each writes around what is there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Iterable

from shared.scheduling.slots import FIRE, SlotDecision
from shared.scheduling.triggers import Trigger
from shared.store import RunRecord


class Coverage:
    def __init__(self, records: Iterable[RunRecord]):
        self._spans = sorted((r.slot, r.last_skipped_slot or r.slot) for r in records)

    def covers(self, slot: datetime) -> bool:
        return any(start <= slot <= end for start, end in self._spans)

    def covered_through(self, slot: datetime | None, trigger: Trigger) -> datetime | None:
        """The last fire time of the unbroken run of covered ones that starts at `slot`
        (None: no record covers `slot`)."""
        through = None
        while slot is not None:
            ends = [end for start, end in self._spans if start <= slot <= end]
            if not ends:
                break
            through = max(ends)
            slot = trigger.next_after(through)
        return through

    def first_uncovered(self, slot: datetime | None, trigger: Trigger) -> datetime | None:
        """The first fire time from `slot` on that no record covers (None: the trigger ends first)."""
        through = self.covered_through(slot, trigger)
        return slot if through is None else trigger.next_after(through)

    def gaps(self, first: datetime, last: datetime, trigger: Trigger) -> list[tuple[datetime, int, datetime]]:
        """The runs of fire times in [first, last] that no record covers: (first, count, last) each."""
        out: list[tuple[datetime, int, datetime]] = []
        slot: datetime | None = self.first_uncovered(first, trigger)
        while slot is not None and slot <= last:
            start, count, final = slot, 0, slot
            while slot is not None and slot <= last and not self.covers(slot):
                count, final = count + 1, slot
                slot = trigger.next_after(slot)
            out.append((start, count, final))
            slot = self.first_uncovered(slot, trigger)
        return out

    def uncovered(self, decisions: Iterable[SlotDecision], trigger: Trigger) -> list[SlotDecision]:
        """The decisions for the slots no record covers: a covered slot is not fired again, and
        a skip range keeps only its gaps (each its own record, keyed by its first slot)."""
        out: list[SlotDecision] = []
        for decision in decisions:
            if decision.action == FIRE:
                if not self.covers(decision.slot):
                    out.append(decision)
                continue
            for start, count, final in self.gaps(decision.slot, decision.last_slot or decision.slot, trigger):
                out.append(replace(decision, slot=start, count=count, last_slot=final if count > 1 else None))
        return out
