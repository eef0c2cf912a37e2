"""When the copies a slot message carries may stand in for reading the claim and the schedule.

The dispatch puts into each slot message the claim it inserted (ETag included) and the
schedule as its due row showed it. A worker writes its lease with If-Match on the
claim's ETag: if that goes through, the claim is untouched since the dispatch, and the
worker submits from the schedule's copy without reading the schedule. Three rules make
that as good as a read:

1. The dispatch sends the schedule's copy only when its cursor move went through: the
   move is guarded by the due row the dispatch read, so no change to the schedule came
   between that read and the claim (every change rewrites the due row).
2. Every change to a schedule after that (an edit, enabling or disabling it, deleting
   it, a pause for refused submissions, a step of its failure streak) ends with
   `retire_queued_copies`: each of its claims still waiting in the queue is rewritten,
   so its ETag moves on and a lease written against the message's copy fails. The
   worker then reads the claim and the schedule as for any message.
3. A claim a worker already holds is left alone: that worker went past this point
   before the change finished, as it would have had it read the schedule a moment
   earlier.

A change whose writer stops between saving the schedule and retiring the copies (a
crash) leaves messages whose copies predate it: those slots are submitted as the
schedule was when it was dispatched. A slot is still submitted once at most.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.store import QUEUED, NotFound, PreconditionFailed, RunStore, StoreError

log = logging.getLogger("shared.engine")


def retire_queued_copies(runs: RunStore, schedule_id: str, now: datetime) -> int:
    """Rewrite each claim of the schedule still waiting in the queue (untaken, owner QUEUED), so
    that no slot message's copy of it matches any more; how many were rewritten. Storage
    failures are logged, not raised: the schedule's change itself is already saved."""
    try:
        waiting = [run for run in runs.in_flight(schedule_id) if run.pending and run.owner == QUEUED]
    except StoreError as exc:
        log.warning("schedule %s changed, but its queued claims could not be read (%s): slots already "
                    "queued may be submitted as dispatched", schedule_id, exc)
        return 0
    retired = 0
    for run in waiting:
        try:
            runs.replace(run.evolve(updated_at=now))  # If-Match on the ETag just read
            retired += 1
        except (PreconditionFailed, NotFound):
            pass  # another writer moved it on since: no copy matches it either way
        except StoreError as exc:
            log.warning("schedule %s changed, but its queued claim %s could not be rewritten (%s): it may "
                        "be submitted as dispatched", schedule_id, run.run_key, exc)
    return retired
