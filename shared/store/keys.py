"""How records and their indexes are keyed in Table storage: the only indexes Table storage has.

Table storage indexes PartitionKey and RowKey and nothing else; every other filter scans.
So each question the scheduler asks every minute is answered by a key range:

Schedules table, in 16 shard partitions (`shard_00` .. `shard_15`, by a stable hash of
the schedule id; `_` never appears in a schedule id, which tells them from the old layout's
partitions), so that cursor writes spread and the tick's reads stay small:

    S_<id>              the schedule: definition, cursor, the key of its due row
    D_<due>_<id>        due index: one row per enabled schedule, at the instant its next
                        slot is due (jitter included), carrying a copy of the schedule so
                        the tick reads D rows only; rewritten in the same transaction as
                        the S row, so the copy is never stale
    H_<id>              history index: the schedule may have run records or audit
                        entries (the pruner's round; outlives the schedule until they
                        are gone)
    A_<id>_<reverse ms>_<tag>
                        audit entry: who changed the schedule or ran it by hand
                        (`shared.store.audit`); a schedule's entries are one key range,
                        newest first, written in the transaction of the change
    I_<id>              the schedule's alert incident (shared.store.incidents): its own
                        row so that writing it never changes the schedule row's ETag,
                        which guards the tick's cursor moves; deleted with the schedule
    R_<id>              run summary (shared.store.summary): written by the outcome
                        listener, never with the S row (whose ETag guards the cursor); a
                        page of S rows of a shard has its summaries in one R_ key range

Runs table, in the same shard partitions (the schedule's shard), so that the claims of
many schedules go in one transaction:

    <id>|<reverse time>_<slot key>   a run record: the claim, then the history; a
                                     schedule's records are one key range, newest first
    ~<id>|<reverse time>_<slot key>  live row of a run in flight (pending or active): the
                                     current state until it ends; every run in flight of
                                     a shard is one key range
    !<reverse finish ms>|<id>|...    finished index: a copy of a run's final record, written
                                     in the transaction that makes it final; every shard's
                                     index is one time-ordered key range (newest first), so
                                     "what failed last night" is 16 range reads merged
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
SHARDS = 16
SCHEDULE_PREFIX = "S_"
DUE_PREFIX = "D_"
HISTORY_PREFIX = "H_"
INCIDENT_PREFIX = "I_"
SUMMARY_PREFIX = "R_"
FINISHED_PREFIX = "!"
# Upper bound of finished-index times in milliseconds (year 5138), for their reverse order.
_REVERSE_MS = 10**14
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MARKER_PREFIX = "~"
# D_<time key>_<schedule id>: what due_key writes (the id as shared.schedules.SCHEDULE_ID allows).
DUE_KEY = re.compile(r"^D_\d{8}T\d{9}_[a-z0-9][a-z0-9-]{0,62}$")
META_PARTITION = "meta"
# The layout before shards: every schedule in one partition, keyed by its id.
LEGACY_SCHEDULE_PARTITION = "schedule"


def shard_of(schedule_id: str) -> str:
    number = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:4], "big") % SHARDS
    return f"shard_{number:02d}"


def all_shards() -> list[str]:
    return [f"shard_{n:02d}" for n in range(SHARDS)]


def time_key(instant: datetime) -> str:
    """Fixed width, so string order is time order (milliseconds, UTC)."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y%m%dT%H%M%S") + f"{utc.microsecond // 1000:03d}"


def due_key(due: datetime, schedule_id: str) -> str:
    return f"{DUE_PREFIX}{time_key(due)}_{schedule_id}"


def due_row_key(record) -> str | None:
    """The key of a schedule record's due row: None for a schedule that is not due at all."""
    if not record.definition.enabled or record.next_fire_time is None:
        return None
    return due_key(record.next_fire_time + record.definition.trigger.jitter(record.id), record.id)


def is_due_key(text: object) -> bool:
    """Whether `text` is a due row's key (a bound of a dispatch page, as a queue message carries it)."""
    return isinstance(text, str) and DUE_KEY.match(text) is not None


def due_upper_bound(horizon: datetime) -> str:
    """Every due row at or before `horizon`, whatever its schedule id, sorts at or below this."""
    return f"{DUE_PREFIX}{time_key(horizon)}_~"


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) of the row keys that start with `prefix` (the next character closes it)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)




def finished_time_key(instant: datetime) -> str:
    """Fixed-width reverse milliseconds: later instants sort first."""
    millis = (instant - _EPOCH) // timedelta(milliseconds=1)  # exact: no float rounding
    return f"{_REVERSE_MS - millis:014d}"


def finished_key(finished: datetime, record_row: str) -> str:
    return f"{FINISHED_PREFIX}{finished_time_key(finished)}|{record_row}"


def finished_range(start: datetime | None, end: datetime | None) -> tuple[str, str]:
    """[low, high) of the finished-index keys of runs that finished in [start, end] (either open)."""
    low = f"{FINISHED_PREFIX}{finished_time_key(end)}" if end else FINISHED_PREFIX
    # Every key of the start's millisecond sorts below "<time>|~" (ids and slot keys are below '~').
    high = f"{FINISHED_PREFIX}{finished_time_key(start)}|~" if start else prefix_range(FINISHED_PREFIX)[1]
    return low, high
