"""AML-style recurrence triggers: a frequency, an interval, and an optional pattern.

The meaning follows Azure ML's own schedules (v1 `ScheduleRecurrence`, v2
`RecurrenceTrigger` with `RecurrencePattern`):

* `frequency` Minute | Hour | Day | Week | Month and `interval` N: every N units,
  counted from the anchor.
* `hours` and `minutes` apply to Day, Week and Month; `weekDays` to Week only;
  `monthDays` to Month only. A month without the given day (31 in April) is skipped.
* A start in the past never fires at once: the first fire is the next computed time.

The anchor is `startTime` when given. Without one it is 1970-01-01T00:00 local time in
the schedule's zone, a function of the definition alone: AML uses the creation time
instead, which would make a schedule's fire times depend on when it was saved (or
re-saved), and previews and slots must not move when nothing in the trigger changed.

Minute and Hour run on elapsed time: anchor + k * interval, whatever the clocks do.
Day, Week and Month run on the wall clock with the same DST rule as cron: a local time
that does not exist fires when the gap ends, a repeated one fires once, the first time.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import cached_property
from typing import Any, Iterator

from shared.scheduling import ScheduleError
from shared.scheduling.cron import wall_to_instant
from shared.scheduling.triggers import ONE_MICROSECOND, FireTimes

UTC = timezone.utc
FIELD = "trigger.recurrence"
FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_INTERVAL = 1000
EPOCH_WALL = datetime(1970, 1, 1)
# A day's local times can map into the neighbouring UTC day; bounds keep this much slack.
_ONE_DAY = timedelta(days=1)

_UNIT = {"Minute": timedelta(minutes=1), "Hour": timedelta(hours=1)}
# Which pattern lists each frequency accepts, as AML documents them.
_APPLIES = {
    "hours": ("Day", "Week", "Month"),
    "minutes": ("Day", "Week", "Month"),
    "weekDays": ("Week",),
    "monthDays": ("Month",),
}
_KEYS = {"frequency", "interval", *_APPLIES}


@dataclass(frozen=True)
class Recurrence:
    frequency: str
    interval: int
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    week_days: tuple[str, ...] = ()
    month_days: tuple[int, ...] = ()

    @classmethod
    def parse(cls, doc: Any) -> Recurrence:
        if not isinstance(doc, dict):
            raise ScheduleError(FIELD, "must be an object with frequency and interval")
        unknown = sorted(set(doc) - _KEYS)
        if unknown:
            raise ScheduleError(f"{FIELD}.{unknown[0]}", "unknown field")
        frequency = _frequency(doc.get("frequency"))
        interval = doc.get("interval")
        if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= MAX_INTERVAL:
            raise ScheduleError(f"{FIELD}.interval", f"is required: a whole number from 1 to {MAX_INTERVAL}")
        for key, frequencies in _APPLIES.items():
            if doc.get(key) is not None and frequency not in frequencies:
                raise ScheduleError(f"{FIELD}.{key}", "applies to frequency " + " or ".join(frequencies) + " only")
        return cls(
            frequency=frequency,
            interval=interval,
            hours=_numbers(doc, "hours", 0, 23),
            minutes=_numbers(doc, "minutes", 0, 59),
            week_days=_week_days(doc),
            month_days=_numbers(doc, "monthDays", 1, 31),
        )

    def to_dict(self) -> dict:
        doc: dict[str, Any] = {"frequency": self.frequency, "interval": self.interval}
        for key, values in (("hours", self.hours), ("minutes", self.minutes),
                            ("weekDays", self.week_days), ("monthDays", self.month_days)):
            if values:
                doc[key] = list(values)
        return doc

    @property
    def elapsed_time(self) -> bool:
        return self.frequency in _UNIT


def _frequency(value: Any) -> str:
    if isinstance(value, str):
        for name in FREQUENCIES:
            if value.lower() == name.lower():
                return name
    raise ScheduleError(f"{FIELD}.frequency", "is required: one of " + ", ".join(FREQUENCIES))


def _items(doc: dict, key: str) -> list:
    value = doc.get(key)
    if value is None:
        return []
    # AML's v2 schema takes a single value as well as a list.
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ScheduleError(f"{FIELD}.{key}", "must not be empty; leave it out to take the value from startTime")
    return items


def _numbers(doc: dict, key: str, low: int, high: int) -> tuple[int, ...]:
    seen: list[int] = []
    for index, value in enumerate(_items(doc, key)):
        field = f"{FIELD}.{key}[{index}]"
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ScheduleError(field, f"must be a whole number from {low} to {high}")
        if value in seen:
            raise ScheduleError(field, f"repeats {value}")
        seen.append(value)
    return tuple(sorted(seen))


def _week_days(doc: dict) -> tuple[str, ...]:
    seen: list[str] = []
    for index, value in enumerate(_items(doc, "weekDays")):
        field = f"{FIELD}.weekDays[{index}]"
        name = next((d for d in WEEK_DAYS if isinstance(value, str) and value.lower() == d.lower()), None)
        if name is None:
            raise ScheduleError(field, "must be one of " + ", ".join(WEEK_DAYS))
        if name in seen:
            raise ScheduleError(field, f"repeats {name}")
        seen.append(name)
    return tuple(sorted(seen, key=WEEK_DAYS.index))


@dataclass(frozen=True)
class RecurrenceTrigger(FireTimes):
    recurrence: Recurrence
    zone: tzinfo
    start: datetime | None = None
    end: datetime | None = None

    # -- the anchor and what follows from it ---------------------------------------------
    @cached_property
    def _anchor_wall(self) -> datetime:
        if self.start is None:
            return EPOCH_WALL
        return self.start.astimezone(self.zone).replace(tzinfo=None)

    @cached_property
    def _anchor(self) -> datetime:
        return self.start if self.start is not None else wall_to_instant(EPOCH_WALL, self.zone)

    @cached_property
    def _times(self) -> tuple[time, ...]:
        """Local times of day a calendar frequency fires at, ascending."""
        r, anchor = self.recurrence, self._anchor_wall
        if not r.hours and not r.minutes:
            return (anchor.time(),)
        hours = r.hours or (anchor.hour,)
        minutes = r.minutes or (anchor.minute,)
        return tuple(time(h, m) for h in hours for m in minutes)

    @cached_property
    def _week_days(self) -> tuple[int, ...]:
        days = self.recurrence.week_days
        return tuple(WEEK_DAYS.index(d) for d in days) if days else (self._anchor_wall.weekday(),)

    @cached_property
    def _month_days(self) -> tuple[int, ...]:
        return self.recurrence.month_days or (self._anchor_wall.day,)

    @cached_property
    def _step(self) -> timedelta:
        return _UNIT[self.recurrence.frequency] * self.recurrence.interval

    # -- the interface ----------------------------------------------------------------------
    def next_after(self, after: datetime) -> datetime | None:
        """First fire time strictly after `after`, within [start, end]; None when exhausted."""
        if self.start is not None and after < self.start:
            after = self.start - ONE_MICROSECOND
        try:
            fire = self._next_elapsed(after) if self.recurrence.elapsed_time else self._next_calendar(after)
        except (OverflowError, ValueError):
            return None
        if fire is None or (self.end is not None and fire > self.end):
            return None
        return fire

    def previous_before(self, instant: datetime) -> datetime | None:
        """Last fire time strictly before `instant` and within [start, end]."""
        if self.end is not None and instant > self.end:
            instant = self.end + ONE_MICROSECOND
        try:
            fire = (self._previous_elapsed(instant) if self.recurrence.elapsed_time
                    else self._previous_calendar(instant))
        except (OverflowError, ValueError):
            return None
        if fire is None or (self.start is not None and fire < self.start):
            return None
        return fire

    # -- Minute and Hour: anchor + k * step ---------------------------------------------------
    def _next_elapsed(self, after: datetime) -> datetime:
        k = (after - self._anchor) // self._step + 1
        return (self._anchor + k * self._step).astimezone(UTC)

    def _previous_elapsed(self, instant: datetime) -> datetime:
        k = -((self._anchor - instant) // self._step) - 1
        return (self._anchor + k * self._step).astimezone(UTC)

    # -- Day, Week and Month: eligible periods, then dates, then times of day ---------------------
    def _period(self, day: date) -> int:
        frequency = self.recurrence.frequency
        if frequency == "Day":
            return day.toordinal()
        if frequency == "Week":
            # Weeks start on Monday (ISO 8601); ordinal 1 is Monday 0001-01-01.
            return (day.toordinal() - 1) // 7
        return day.year * 12 + day.month - 1

    def _dates(self, period: int) -> list[date]:
        frequency = self.recurrence.frequency
        if frequency == "Day":
            return [date.fromordinal(period)]
        if frequency == "Week":
            return [date.fromordinal(period * 7 + 1 + d) for d in self._week_days]
        year, month = divmod(period, 12)
        length = calendar.monthrange(year, month + 1)[1]
        return [date(year, month + 1, d) for d in self._month_days if d <= length]

    def _eligible_from(self, period: int, direction: int) -> Iterator[int]:
        """Periods the interval selects, from `period` on in `direction` (+1 or -1)."""
        interval = self.recurrence.interval
        first = self._period(self._anchor_wall.date())
        k = (period - first) // interval
        if direction > 0 and (period - first) % interval:
            k += 1
        while True:
            yield first + k * interval
            k += direction

    def _next_calendar(self, after: datetime) -> datetime | None:
        # Local times map to instants in the same order (gap times to the gap end, repeated
        # ones to their first pass), so no local time before `after`'s can fire after it.
        floor = after.astimezone(self.zone).replace(tzinfo=None)
        last_period = self._period(date.max)
        for period in self._eligible_from(self._period(floor.date()), +1):
            if period > last_period:
                return None
            for day in self._dates(period):
                if day < floor.date():
                    continue
                times = self._times
                if day == floor.date():
                    times = times[bisect_left(times, floor.time()):]
                for moment in times:
                    instant = wall_to_instant(datetime.combine(day, moment), self.zone)
                    if instant > after:
                        return instant
                    # Repeated and gap times collapse onto one instant; the loop moves on.
            if self.end is not None and self._span(period)[0] > self.end.astimezone(self.zone).date() + _ONE_DAY:
                return None
        return None

    def _previous_calendar(self, instant: datetime) -> datetime | None:
        # Inside a repeated hour a later local time can map before `instant` (its first
        # pass), so start from the largest local time any earlier instant can show.
        instant = instant.astimezone(UTC)
        local = instant.astimezone(self.zone)
        earlier = (instant - timedelta(days=2)).astimezone(self.zone)
        ceiling = instant.replace(tzinfo=None) + max(local.utcoffset(), earlier.utcoffset())
        first_period = self._period(date.min)
        for period in self._eligible_from(self._period(ceiling.date()), -1):
            if period < first_period:
                return None
            for day in reversed(self._dates(period)):
                if day > ceiling.date():
                    continue
                times = self._times
                if day == ceiling.date():
                    times = times[:bisect_right(times, ceiling.time())]
                for moment in reversed(times):
                    fire = wall_to_instant(datetime.combine(day, moment), self.zone)
                    if fire < instant:
                        return fire
            if self.start is not None and self._span(period)[1] < self.start.astimezone(self.zone).date() - _ONE_DAY:
                return None
        return None

    def _span(self, period: int) -> tuple[date, date]:
        """First and last calendar day of a period, whatever the pattern picks in it."""
        frequency = self.recurrence.frequency
        if frequency == "Day":
            return date.fromordinal(period), date.fromordinal(period)
        if frequency == "Week":
            return date.fromordinal(period * 7 + 1), date.fromordinal(period * 7 + 7)
        year, month = divmod(period, 12)
        return date(year, month + 1, 1), date(year, month + 1, calendar.monthrange(year, month + 1)[1])
