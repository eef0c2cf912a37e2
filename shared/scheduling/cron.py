"""Cron expressions evaluated in a time zone, with one DST rule for 5 and 6 fields.

cronsim parses and matches wall-clock times; this module decides how wall-clock times
map to instants:

* Expressions whose hour field is `*` run on elapsed time: every real occurrence of a
  matching local time fires, so a local time the change skips does not fire and one it
  repeats fires twice. `30 * * * *` fires 23 times on the spring-forward day and 25 times
  on the fall-back day, like Debian cron.
* Every other expression runs on the wall clock: a local time that does not exist
  (spring forward) fires once at the first valid instant after the gap, and a local
  time that happens twice (fall back) fires once, at its first occurrence.

cronsim applies the wall-clock rule to 5-field expressions only, lets 6-field (NCRONTAB,
seconds first) expressions skip or repeat across DST, and in its elapsed-time mode steps
over local times next to a 30-minute shift (Australia/Lord_Howe). So we drive cronsim on
naive local times only and do the mapping here, for both forms and every shift size.

Which days match when both day fields are restricted depends on the form:

* 5 fields (classic cron): a day matching either field, as in Vixie cron and cronsim:
  `0 12 13 * 5` fires at noon on every 13th and on every Friday. As there, once either
  day field starts with `*` (even `*/2`), a day must match both.
* 6 fields (NCRONTAB): a day matching both, as in NCrontab and so in Azure Functions
  timers: `0 0 12 13 * 5` fires at noon on Friday the 13th only.

cronsim offers only the first rule, so the second is built here from two cronsim walks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator

from cronsim import CronSim, CronSimError

from shared.scheduling import ScheduleError
from shared.scheduling.cron_syntax import parse_fields

UTC = timezone.utc
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_PROBE_START = datetime(2000, 1, 1)
# The longest wait between two dates with the same day, month and weekday is 40 years
# (29 February on one weekday, across 2100), so a day rule that has not matched for 50
# years never will. cronsim gives up after the same span.
_GIVE_UP_AFTER_YEARS = 50
_PROBE_STEP = timedelta(days=1)
# Consecutive offset changes `_next_elapsed` follows before giving up; real zones need
# one, or two when the next fire is a year away.
_MAX_OFFSET_CHANGES = 64


class CronExpression:
    __slots__ = ("text", "elapsed_time", "_by_day_of_month", "_by_day_of_week")

    def __init__(self, text: str):
        fields = parse_fields(text)
        self.text = fields.text
        self.elapsed_time = fields.hour == "*"
        # cronsim already requires both day fields whenever one starts with `*`, so only a
        # 6-field expression restricting both needs the walk that requires both.
        both_restricted = not fields.day_of_month.startswith("*") and not fields.day_of_week.startswith("*")
        if fields.has_seconds and both_restricted:
            self._by_day_of_month = fields.with_days(fields.day_of_month, "*").text
            self._by_day_of_week = fields.with_days("*", fields.day_of_week).text
        else:
            self._by_day_of_month = self._by_day_of_week = None
        try:
            # cronsim judges each field; finding a first fire shows the fields can ever agree.
            CronSim(self.text, _PROBE_START)
            next(self._walls_after(_PROBE_START))
        except CronSimError as exc:
            raise ScheduleError("trigger.cron", f"invalid cron expression: {exc}") from None
        except StopIteration:
            raise ScheduleError("trigger.cron", "the expression never fires") from None

    def __repr__(self) -> str:
        return f"CronExpression({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronExpression) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def next_after(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first fire instant strictly after `after` (tz-aware), in UTC; None if never."""
        after = after.astimezone(UTC)
        try:
            if self.elapsed_time:
                return self._next_elapsed(after, zone)
            for wall in self._walls_after(after.astimezone(zone).replace(tzinfo=None)):
                instant = wall_to_instant(wall, zone)
                # A wall time in the second pass of a repeated hour maps to its first pass,
                # which can lie at or before `after`; such candidates are already settled.
                if instant > after:
                    return instant
        except (StopIteration, OverflowError, ValueError):
            return None
        return None

    def _next_elapsed(self, after: datetime, zone: tzinfo) -> datetime | None:
        # Between two offset changes local time runs like UTC, so the first matching wall
        # time maps straight to an instant. If an offset change comes first, restart from
        # it with the new offset: after a fall back that revisits local times, after a
        # spring forward that leaves the skipped ones out.
        moment, inclusive = after, False
        for _ in range(_MAX_OFFSET_CHANGES):
            offset = moment.astimezone(zone).utcoffset()
            local = moment.replace(tzinfo=None) + offset
            wall = next(self._walls_after(local - _ONE_MICROSECOND if inclusive else local))
            candidate = (wall - offset).replace(tzinfo=UTC)
            change = _first_offset_change(moment, candidate, zone)
            if change is None:
                return candidate
            moment, inclusive = change, True
        return None

    def _walls_after(self, after: datetime) -> Iterator[datetime]:
        """Matching naive local times strictly after `after`, in order."""
        if self._by_day_of_month is None:
            return iter(CronSim(self.text, after))
        return _walls_matching_both_day_fields(self._by_day_of_month, self._by_day_of_week, after)


def _walls_matching_both_day_fields(by_day_of_month: str, by_day_of_week: str,
                                    after: datetime) -> Iterator[datetime]:
    """Times strictly after `after` on days that match both day fields (NCRONTAB).

    The two expressions are the original with one day field set to `*`. Each walk jumps to
    the first time the other allows, at or after its own, until both agree; so a rare day
    (Friday the 13th, 29 February on a Monday) costs a few steps per month, never one per
    second of the days in between.
    """
    give_up_after = after.year + _GIVE_UP_AFTER_YEARS
    low = after
    while True:
        try:
            by_day = next(CronSim(by_day_of_month, low))
            # Wall times are whole seconds, so starting a second early includes `by_day`.
            by_weekday = next(CronSim(by_day_of_week, by_day - _ONE_SECOND))
        except StopIteration:
            return
        if by_weekday == by_day:
            yield by_day
            low = by_day
        elif by_weekday.year > give_up_after:
            return
        else:
            low = by_weekday - _ONE_SECOND


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """Map a naive local time to UTC: first occurrence if repeated, gap end if missing."""
    first = wall.replace(tzinfo=zone, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) == wall:
        return as_utc
    return _gap_end(wall, zone)


def _first_offset_change(low: datetime, high: datetime, zone: tzinfo) -> datetime | None:
    """The first instant in (low, high] where the offset differs from the one at `low`."""
    offset = low.astimezone(zone).utcoffset()
    step_low = low
    while step_low < high:
        # No zone changes its offset twice within a day, so daily probes find every change.
        step_high = min(step_low + _PROBE_STEP, high)
        if step_high.astimezone(zone).utcoffset() != offset:
            return _offset_change(step_low, step_high, zone)
        step_low = step_high
    return None


def _offset_change(low: datetime, high: datetime, zone: tzinfo) -> datetime:
    """The first instant in (low, high] whose offset is the offset at `high`."""
    target = high.astimezone(zone).utcoffset()
    while high - low > _ONE_MICROSECOND:
        mid = low + (high - low) // 2
        if mid.astimezone(zone).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high


def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The instant a DST gap containing `wall` ends, found by bisection on UTC seconds."""
    a = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    b = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _offset_change(min(a, b), max(a, b), zone)
