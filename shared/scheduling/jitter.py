"""A per-schedule fixed delay, so schedules sharing a cron line do not all hit AML at once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

MAX_JITTER_SECONDS = 3600


def jitter_offset(schedule_id: str, jitter_seconds: int) -> timedelta:
    """Whole seconds in [0, jitter_seconds], the same for a schedule id on every machine.

    sha256 rather than `hash()`, which Python salts per process: the offset must not
    change between ticks, instances or restarts, or a slot could be judged owed twice.
    """
    if isinstance(jitter_seconds, bool) or not isinstance(jitter_seconds, int) or jitter_seconds < 0:
        raise ValueError("jitter_seconds must be a whole number of seconds, 0 or more")
    if jitter_seconds == 0:
        return timedelta(0)
    digest = hashlib.sha256(schedule_id.encode("utf-8")).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % (jitter_seconds + 1))
