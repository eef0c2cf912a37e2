"""A schedule's trigger: when it fires, as a pure function of instants.

Two kinds share one interface (`Trigger`): `CronTrigger` here and `RecurrenceTrigger` in
`recurrence.py`. Everything downstream (slot planning, preview, placeholders) sees only
the interface, so a new kind needs no change there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator, Protocol

from shared.scheduling.cron import CronExpression

UTC = timezone.utc
ONE_MICROSECOND = timedelta(microseconds=1)
# How far back `previous_before` looks before giving up. NCRONTAB needs a day to match
# both day fields, and the same day, month and weekday can be 40 years apart (29 February
# on a Monday across 2100), so this is the span after which the cron parser gives up.
_MAX_LOOKBACK = timedelta(days=366 * 50)


class Trigger(Protocol):
    @property
    def zone(self) -> tzinfo: ...

    @property
    def start(self) -> datetime | None: ...

    @property
    def end(self) -> datetime | None: ...

    def next_after(self, after: datetime) -> datetime | None: ...

    def first_at_or_after(self, instant: datetime) -> datetime | None: ...

    def fire_times(self, after: datetime, *, limit: int) -> Iterator[datetime]: ...

    def previous_before(self, instant: datetime) -> datetime | None: ...


class FireTimes(ABC):
    """The parts of the interface that follow from `next_after` alone."""

    @abstractmethod
    def next_after(self, after: datetime) -> datetime | None:
        """First fire time strictly after `after`; None when the trigger is exhausted."""

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        return self.next_after(instant - ONE_MICROSECOND)

    def fire_times(self, after: datetime, *, limit: int) -> Iterator[datetime]:
        fire = self.next_after(after)
        while fire is not None and limit > 0:
            yield fire
            limit -= 1
            fire = self.next_after(fire)


@dataclass(frozen=True)
class CronTrigger(FireTimes):
    cron: CronExpression
    zone: tzinfo
    start: datetime | None = None
    end: datetime | None = None

    def next_after(self, after: datetime) -> datetime | None:
        """First fire time strictly after `after`, within [start, end]; None when exhausted.

        A start in the past does not fire "immediately": fire times are computed from
        the cron expression, and the start only bounds them from below.
        """
        if self.start is not None and after < self.start:
            after = self.start - ONE_MICROSECOND
        fire = self.cron.next_after(after, self.zone)
        if fire is None or (self.end is not None and fire > self.end):
            return None
        return fire

    def previous_before(self, instant: datetime) -> datetime | None:
        """Last fire time strictly before `instant`: the start of the slot's interval."""
        # cronsim only walks forward, so look back in growing windows and walk forward.
        window = timedelta(minutes=1)
        while True:
            window = min(window, _MAX_LOOKBACK)
            low = instant - window
            last = None
            fire = self.next_after(low - ONE_MICROSECOND)
            while fire is not None and fire < instant:
                last = fire
                fire = self.next_after(fire)
            if last is not None:
                return last
            if self.start is not None and low <= self.start or window == _MAX_LOOKBACK:
                return None
            window *= 4
