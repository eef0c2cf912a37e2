"""Cron expressions evaluated in a time zone, with one DST rule for 5 and 6 fields.

cronsim parses and matches; this module decides how wall-clock times map to instants:

* Expressions whose hour field is `*` run on elapsed time: every real hour counts, so
  `30 * * * *` fires 23 times on the spring-forward day and 25 times on the fall-back
  day, like Debian cron and cronsim.
* Every other expression runs on the wall clock: a local time that does not exist
  (spring forward) fires once at the first valid instant after the gap, and a local
  time that happens twice (fall back) fires once, at its first occurrence.

cronsim applies the wall-clock rule to 5-field expressions only and lets 6-field
(NCRONTAB, seconds first) expressions skip or repeat across DST; we drive cronsim on
naive local times and do the mapping here so both forms behave the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from cronsim import CronSim, CronSimError

from shared.scheduling import ScheduleError

UTC = timezone.utc


class CronExpression:
    __slots__ = ("text", "elapsed_time")

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise ScheduleError("trigger.cron", "must be a string")
        fields = text.split()
        if len(fields) not in (5, 6):
            raise ScheduleError("trigger.cron", "must have 5 fields, or 6 with seconds first (NCRONTAB)")
        normalized = " ".join(fields)
        try:
            probe = CronSim(normalized, datetime(2000, 1, 1))
            next(probe)
        except CronSimError as exc:
            raise ScheduleError("trigger.cron", f"invalid cron expression: {exc}") from None
        except StopIteration:
            raise ScheduleError("trigger.cron", "the expression never fires") from None
        self.text = normalized
        hour_field = fields[2] if len(fields) == 6 else fields[1]
        self.elapsed_time = hour_field == "*"

    def __repr__(self) -> str:
        return f"CronExpression({self.text!r})"

    def next_after(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first fire instant strictly after `after` (tz-aware), in UTC; None if never."""
        after = after.astimezone(UTC)
        try:
            if self.elapsed_time:
                # An aware start with a `*` hour field makes cronsim tick in real time.
                return next(iter(CronSim(self.text, after.astimezone(zone)))).astimezone(UTC)
            candidates = CronSim(self.text, after.astimezone(zone).replace(tzinfo=None))
            for wall in candidates:
                instant = wall_to_instant(wall, zone)
                # A wall time in the second pass of a repeated hour maps to its first pass,
                # which can lie at or before `after`; such candidates are already settled.
                if instant > after:
                    return instant
        except StopIteration:
            return None
        return None


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """Map a naive local time to UTC: first occurrence if repeated, gap end if missing."""
    first = wall.replace(tzinfo=zone, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) == wall:
        return as_utc
    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The instant a DST gap containing `wall` ends, found by bisection on UTC seconds."""
    a = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    b = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(a, b), max(a, b)
    after_offset = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi
