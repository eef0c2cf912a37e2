"""Time-zone names to tzinfo objects: IANA names, and Windows names as AML accepts them.

Windows names ("Pacific Standard Time") map to IANA zones through the CLDR
windowsZones table (territory 001, the zone Windows itself means), as shipped by the
`tzlocal` package: a maintained, generated copy rather than a table typed by hand here.
Callers keep the name the user gave and resolve it on use, so a CLDR or tzdata update
reaches stored schedules without rewriting them.
"""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.scheduling import ScheduleError

FIELD = "trigger.timeZone"
_HINT = "use an IANA name such as Europe/Berlin or a Windows name such as W. Europe Standard Time"


def resolve_zone(name: Any) -> tzinfo:
    """IANA or Windows zone name to ZoneInfo; raise ScheduleError for anything else."""
    # Checked before the cache: a list or object from a request body cannot be a cache key.
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ScheduleError(FIELD, f"must be a time zone name: {_HINT}")
    return _resolve_name(name)


@lru_cache(maxsize=512)
def _resolve_name(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    iana = windows_zone_names().get(name)
    if iana is not None:
        return ZoneInfo(iana)
    raise ScheduleError(FIELD, f"unknown time zone {name!r}: {_HINT}")


def windows_zone_names() -> dict[str, str]:
    """Windows zone name -> IANA name, from CLDR via tzlocal."""
    # Imported on first use: most schedules name IANA zones, and cold start counts.
    from tzlocal.windows_tz import win_tz

    return win_tz
