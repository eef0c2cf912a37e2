"""An independent reference for the DST rule, used by the scheduling tests as an oracle.

Built from zoneinfo and from cronsim on naive local times only: none of the mapping code
in shared.scheduling is used, so a bug there cannot hide by agreeing with itself. The
NCRONTAB day rule (6 fields: a day must match both day fields) is rebuilt here too, by
filtering cronsim's matches day by day rather than by the leapfrog walk the app uses.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from cronsim import CronSim

UTC = timezone.utc


def offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset()


@lru_cache(maxsize=64)
def transitions(zone_name: str, first_year: int = 2020, last_year: int = 2030) -> tuple[datetime, ...]:
    """Every instant (UTC, to the minute) at which the zone's offset changes."""
    zone = ZoneInfo(zone_name)
    found = []
    day = datetime(first_year, 1, 1, tzinfo=UTC)
    stop = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    while day < stop:
        nxt = day + timedelta(days=1)
        if offset(day, zone) != offset(nxt, zone):
            hour = day
            while offset(hour + timedelta(hours=1), zone) == offset(day, zone):
                hour += timedelta(hours=1)
            minute = hour
            while offset(minute, zone) == offset(day, zone):
                minute += timedelta(minutes=1)
            found.append(minute)
        day = nxt
    return tuple(found)


def occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every real instant whose local time is `wall`: none (gap), one, or two (fold)."""
    found = set()
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            found.add(instant)
    return sorted(found)


def gap_end(wall: datetime, zone_name: str) -> datetime:
    """The transition that skipped `wall`: local time before it is below, after it above."""
    zone = ZoneInfo(zone_name)
    for change in transitions(zone_name, wall.year - 1, wall.year + 1):
        before = (change - timedelta(microseconds=1)).astimezone(zone).replace(tzinfo=None)
        after = change.astimezone(zone).replace(tzinfo=None)
        if before < wall < after:
            return change
    raise AssertionError(f"{wall} exists in {zone_name}")


def wall_clock_instant(wall: datetime, zone_name: str) -> datetime:
    """The rule for wall-clock schedules: first occurrence, or the end of the gap."""
    found = occurrences(wall, ZoneInfo(zone_name))
    return found[0] if found else gap_end(wall, zone_name)


def weekday_field_allows(day_of_week: str, day: date) -> bool:
    """Whether cronsim's reading of a day-of-week field allows `day`."""
    midnight = datetime.combine(day, time())
    return next(CronSim(f"0 0 * * {day_of_week}", midnight - timedelta(seconds=1))) == midnight


def matching_times(expr: str, start: datetime, until: datetime | None = None) -> Iterator[datetime]:
    """Times strictly after `start` (naive, or aware as cronsim allows) matching `expr`, up
    to `until` if given (an expression whose days rarely meet, such as 29 February on a
    Monday, would otherwise be walked day by day for decades).

    5 fields: cronsim as it is. 6 fields: a time must also fall on a day the day-of-week
    field allows, whatever the day-of-month field says (NCRONTAB), so walk the matches of
    the expression with its weekday field set to `*` and drop the days the field refuses.
    """
    fields = expr.split()
    if len(fields) == 5:
        for moment in CronSim(expr, start):
            if until is not None and moment > until:
                return
            yield moment
        return
    by_day_of_month = " ".join(fields[:5] + ["*"])
    while True:
        for moment in CronSim(by_day_of_month, start):
            if until is not None and moment > until:
                return
            if weekday_field_allows(fields[5], moment.date()):
                yield moment
                continue
            start = datetime.combine(moment.date(), time(23, 59, 59), tzinfo=moment.tzinfo)
            break
        else:
            return


def cron_walls(expr: str, low: datetime, high: datetime) -> list[datetime]:
    """Naive local times in (low, high] matching a cron expression."""
    out = []
    for wall in matching_times(expr, low):
        if wall > high:
            return out
        out.append(wall)
    return out


def expected_fires(walls: Iterable[datetime], zone_name: str, *, elapsed: bool,
                   low: datetime, high: datetime) -> list[datetime]:
    """Fire instants in [low, high] for the given matching wall times, under our DST rule."""
    zone = ZoneInfo(zone_name)
    instants: set[datetime] = set()
    for wall in walls:
        if elapsed:
            instants.update(occurrences(wall, zone))
        else:
            instants.add(wall_clock_instant(wall, zone_name))
    return sorted(t for t in instants if low <= t <= high)


def local_window(low: datetime, high: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Naive local bounds wide enough to hold every wall time of instants in [low, high]."""
    return (low.astimezone(zone).replace(tzinfo=None) - timedelta(days=1),
            high.astimezone(zone).replace(tzinfo=None) + timedelta(days=1))


def day_bounds(zone_name: str, day: date) -> tuple[datetime, datetime]:
    """First instant of a local calendar day and of the next one."""
    start = wall_clock_instant(datetime.combine(day, datetime.min.time()), zone_name)
    end = wall_clock_instant(datetime.combine(day + timedelta(days=1), datetime.min.time()), zone_name)
    return start, end


def fires_between(trigger, low: datetime, high: datetime, limit: int = 100_000) -> list[datetime]:
    """A trigger's fire times in [low, high], by repeated next_after."""
    out = []
    fire = trigger.next_after(low - timedelta(microseconds=1))
    while fire is not None and fire <= high and len(out) < limit:
        out.append(fire)
        fire = trigger.next_after(fire)
    return out
