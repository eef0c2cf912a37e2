"""The dead-man's switch: the tick and the poll each record when they last completed, and
GET health judges those times against the timers' own schedules.

A timer is stale once it has missed three of its fire times (each given SLACK to finish:
a record is written when a tick or poll completes, not when it starts). A timer with no
record, or a stale one, counts only once this process has been up for three fire times
itself: a fresh deployment (or an app restarted after a stop) is not unhealthy before its
timers could have run. Pure: the instants are passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.schedules import iso
from shared.scheduling.cron import CronExpression

LAST_TICK = "last-tick"
LAST_POLL = "last-poll"
MISSED_FOR_STALE = 3
# How long a tick or poll may take between its fire time and recording its completion.
SLACK = timedelta(seconds=30)
# The Functions timers run in UTC.
_UTC = timezone.utc


def fires_between(cron: CronExpression, after: datetime, until: datetime, *, stop_at: int) -> int:
    """Fire times in (after, until], counted up to `stop_at` (a long outage need not be walked)."""
    count, instant = 0, after
    while count < stop_at:
        instant = cron.next_after(instant, _UTC)
        if instant is None or instant > until:
            break
        count += 1
    return count


def period_seconds(cron: CronExpression, now: datetime) -> int | None:
    """The gap between the timer's next two fire times: what 'one period' means right now."""
    first = cron.next_after(now, _UTC)
    second = cron.next_after(first, _UTC) if first else None
    return int((second - first).total_seconds()) if second else None


def timer_state(cron: CronExpression, last: datetime | None, now: datetime, started: datetime) -> dict:
    """What GET health shows of one timer: `state` is ok, stale (three fire times missed),
    notYet (no completion recorded) or starting (stale or not yet, but this process is too
    young to judge); only stale is unhealthy."""
    settled = now - SLACK
    judged = fires_between(cron, started, settled, stop_at=MISSED_FOR_STALE) >= MISSED_FOR_STALE
    missed = (fires_between(cron, last, settled, stop_at=MISSED_FOR_STALE) if last else MISSED_FOR_STALE)
    if missed < MISSED_FOR_STALE:
        state = "ok"
    elif judged:
        state = "stale"
    else:
        state = "notYet" if last is None else "starting"
    return {"at": iso(last), "ageSeconds": round((now - last).total_seconds(), 1) if last else None,
            "periodSeconds": period_seconds(cron, now), "state": state}


def parse_recorded(value: str | None) -> datetime | None:
    """A stored completion time, or None when there is none (or it is not one we wrote)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
