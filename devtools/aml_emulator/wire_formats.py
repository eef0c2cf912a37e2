"""How values are written on the wire: times, durations, scalars and Retry-After."""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

_RUN_HISTORY_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def rh_time(ts: float | None) -> str | None:
    """Run-history time: UTC with six fractional digits and a ``Z``."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime(_RUN_HISTORY_TIME)


def parse_rh_time(text: str | None) -> float | None:
    if not text:
        return None
    return _dt.datetime.strptime(text, _RUN_HISTORY_TIME).replace(tzinfo=_dt.timezone.utc).timestamp()


def pipelines_time(ts: float | None) -> str | None:
    # The pipelines service writes .NET round-trip times: seven fractional digits
    # and an explicit offset. Clients that only parse six digits break on them.
    if ts is None:
        return None
    moment = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0+00:00"


def timespan(seconds: float) -> str:
    """A .NET TimeSpan (``hh:mm:ss.fffffff``), the way run history writes durations."""
    seconds = max(0.0, seconds)
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = int(round((seconds - whole) * 10_000_000))
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{min(fraction, 9_999_999):07d}"


def wire_string(value: Any) -> str:
    """Parameter and tag values travel as strings; non-strings as their JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def json_copy(value: Any) -> Any:
    """A deep copy that also proves the value is plain JSON."""
    return json.loads(json.dumps(value))


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` as the real services send it: a whole number of seconds.

    Microsoft's generated clients parse the header as an integer and fail on ``0.2``,
    so a fraction is rounded up; zero stays zero, meaning "ask again now".
    """
    return str(math.ceil(max(0.0, float(seconds))))
