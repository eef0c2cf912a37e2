"""The RunOutcomes listener that keeps each schedule's run summary (shared.store.summary).

Told after a run's final record is written (or after the poll marked it late), it folds
the run into the summary (shared.summaries) and writes the summary with If-Match on the
etag it read, reading again when another writer got there first; a few rounds, then it
gives up and says so. The summary is advice derived from the records: a lost update
leaves it one run behind until the next run of the schedule ends, and never fails the
slot (RunOutcomes logs a listener's failure and goes on).

It never writes the schedule row: the tick moves cursors with If-Match on the schedule,
and a write there per run end would make those moves fail.
"""

from __future__ import annotations

import logging
from typing import Callable

from shared.store import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    RunRecord,
    ScheduleRecord,
    ScheduleStore,
    ScheduleSummary,
    StoreError,
)
from shared.summaries import fold_finished, fold_late

log = logging.getLogger("shared.engine")
WRITE_ROUNDS = 5


class SummaryKeeper:
    def __init__(self, schedules: ScheduleStore, *, rounds: int = WRITE_ROUNDS):
        self._schedules = schedules
        self._rounds = rounds

    def run_finished(self, run: RunRecord) -> None:
        self._update(run, lambda summary: fold_finished(summary, run))

    def run_late(self, run: RunRecord) -> None:
        self._update(run, lambda summary: fold_late(summary, run))

    def schedule_paused(self, record: ScheduleRecord) -> None:
        """Nothing to keep: a pause is on the schedule's own record."""

    def _update(self, run: RunRecord, change: Callable[[ScheduleSummary], ScheduleSummary | None]) -> None:
        for _ in range(self._rounds):
            try:
                current = self._schedules.get_summary(run.schedule_id)
                if current is None:
                    # A schedule from before summaries starts one; a deleted schedule gets none.
                    self._schedules.get(run.schedule_id)
                    current = ScheduleSummary(run.schedule_id)
                updated = change(current)
                if updated is not None:
                    self._schedules.put_summary(updated)
                return
            except (PreconditionFailed, AlreadyExists):
                continue  # another run of this schedule ended at the same time: read again
            except NotFound:
                return
            except StoreError as exc:
                log.warning("schedule %s: run summary not updated for %s: %s", run.schedule_id, run.run_key, exc)
                return
        log.warning("schedule %s: run summary not updated for %s (it kept changing)", run.schedule_id, run.run_key)
