"""Time-zone names to tzinfo objects."""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.scheduling import ScheduleError


@lru_cache(maxsize=512)
def resolve_zone(name: str) -> tzinfo:
    """IANA zone name to ZoneInfo; raise ScheduleError for anything else."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ScheduleError("trigger.timeZone", "must be an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError("trigger.timeZone", f"unknown time zone {name!r}") from None
