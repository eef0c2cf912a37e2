"""A schedule's trigger: when it fires, as a pure function of instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator

from shared.scheduling.cron import CronExpression

UTC = timezone.utc
_ONE_MICROSECOND = timedelta(microseconds=1)
# How far back `previous_before` looks before giving up: covers `0 0 29 2 *`.
_MAX_LOOKBACK = timedelta(days=366 * 9)


@dataclass(frozen=True)
class CronTrigger:
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
            after = self.start - _ONE_MICROSECOND
        fire = self.cron.next_after(after, self.zone)
        if fire is None or (self.end is not None and fire > self.end):
            return None
        return fire

    def first_at_or_after(self, instant: datetime) -> datetime | None:
        return self.next_after(instant - _ONE_MICROSECOND)

    def fire_times(self, after: datetime, *, limit: int) -> Iterator[datetime]:
        fire = self.next_after(after)
        while fire is not None and limit > 0:
            yield fire
            limit -= 1
            fire = self.next_after(fire)

    def previous_before(self, instant: datetime) -> datetime | None:
        """Last fire time strictly before `instant`: the start of the slot's interval."""
        window = timedelta(minutes=1)
        while window <= _MAX_LOOKBACK:
            low = instant - window
            last = None
            fire = self.next_after(low - _ONE_MICROSECOND)
            while fire is not None and fire < instant:
                last = fire
                fire = self.next_after(fire)
            if last is not None:
                return last
            if self.start is not None and low <= self.start:
                return None
            window *= 4
        return None
