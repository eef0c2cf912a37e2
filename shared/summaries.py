"""A schedule's health: folding a finished or late run into its summary, and judging it.

Pure functions of (record, summary, run, now): no clock reads, no I/O. The listener that
applies them and stores the result is shared.engine.summaries; the API shows them.

Health, the first rule that holds:
  paused    disabled, with a paused_reason (policy.pauseAfterFailures stopped it)
  disabled  disabled by someone
  failing   the last finished run (by slot) is in the failed group (Failed, SubmitFailed, TimedOut)
  late      a run is past its deadline (policy.sla) and not finished; or the last finished
            run completed after its deadline; or the schedule's next slot is due more than
            BEHIND_AFTER ago (the tick is not moving its cursor: the scheduler is behind or down)
  ok        anything else
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from shared.schedules import iso
from shared.store import STATUS_GROUPS, TERMINAL_STATUSES, RunRecord, ScheduleRecord
from shared.store.summary import LateRun, RunOutcome, ScheduleSummary, SummaryView

WINDOW = 20
# Late markers kept at most: runs in flight past their deadline (Allow concurrency can have several).
MAX_LATE = 20
# Skipped is a decision, not an outcome: it says nothing of whether the target works.
OUTCOMES = TERMINAL_STATUSES - {"Skipped"}
FAILED = STATUS_GROUPS["failed"]
HEALTH = ("ok", "late", "failing", "paused", "disabled")
# The tick moves a due schedule's cursor within a minute or two; five minutes past due means
# the scheduler is behind or not running.
BEHIND_AFTER = timedelta(minutes=5)


def finished_late(run: RunRecord) -> bool:
    return run.complete_by is not None and run.finished_at is not None and run.finished_at > run.complete_by


def fold_finished(summary: ScheduleSummary, run: RunRecord) -> ScheduleSummary | None:
    """The summary with `run` (final) folded in; None when it changes nothing (a repeat, a skip).

    Ordered by slot, so a run of an older slot that finishes after a newer one takes its place
    in the window without becoming the last run; one older than the whole window is left out.
    """
    late = [m for m in summary.late if m.run_key != run.run_key]
    changed = len(late) != len(summary.late)
    if run.status not in OUTCOMES or any(o.run_key == run.run_key for o in summary.recent):
        return replace(summary, late=late) if changed else None
    outcome = RunOutcome(run.run_key, run.slot, run.status, run.finished_at, run.aml_run_id, finished_late(run))
    recent = sorted([*summary.recent, outcome], key=lambda o: (o.slot, o.run_key), reverse=True)
    window_full = len(recent) > WINDOW
    recent = recent[:WINDOW]
    if outcome not in recent:
        return replace(summary, late=late) if changed else None
    return replace(summary, recent=recent, late=late,
                   failed_in_a_row=_failed_in_a_row(summary, recent, outcome, window_full))


def _failed_in_a_row(before: ScheduleSummary, recent: list[RunOutcome], added: RunOutcome, window_full: bool) -> int:
    """Failed outcomes from the newest back. Counted in the window, except when the window is all
    failures, was before, and pushed its oldest out: then the streak reaches past the window
    (the stored count knows how far) and grows by the one added."""
    count = 0
    for outcome in recent:
        if outcome.status not in FAILED:
            return count
        count += 1
    was_all_failed = bool(before.recent) and before.failed_in_a_row >= len(before.recent)
    if window_full and was_all_failed and added.status in FAILED:
        return before.failed_in_a_row + 1
    # The window is all failures and was not before: the one pushed out ended the streak.
    return count


def fold_late(summary: ScheduleSummary, run: RunRecord) -> ScheduleSummary | None:
    """The summary with a late marker for `run` (past its deadline, not finished); None if it has one
    already or the run is known finished."""
    if any(m.run_key == run.run_key for m in summary.late) or any(o.run_key == run.run_key for o in summary.recent):
        return None
    marker = LateRun(run.run_key, run.slot, run.complete_by, run.late_at)
    late = sorted([*summary.late, marker], key=lambda m: (m.slot, m.run_key), reverse=True)[:MAX_LATE]
    return replace(summary, late=late)


def _view(summary: "ScheduleSummary | SummaryView | None") -> SummaryView:
    if summary is None:
        return SummaryView()
    return summary.view() if isinstance(summary, ScheduleSummary) else summary


def schedule_health(record: ScheduleRecord, summary: "ScheduleSummary | SummaryView | None", now: datetime, *,
                    behind_after: timedelta = BEHIND_AFTER) -> str:
    definition = record.definition
    if not definition.enabled:
        return "paused" if record.paused_reason else "disabled"
    view = _view(summary)
    last = view.last_run
    if last is not None and last.status in FAILED:
        return "failing"
    if view.late:
        return "late"
    if last is not None and last.late and last.status == "Completed":
        return "late"
    if record.next_fire_time is not None:
        due = record.next_fire_time + definition.trigger.jitter(record.id)
        if now - due > behind_after:
            return "late"
    return "ok"


def health_fields(record: ScheduleRecord, summary: "ScheduleSummary | SummaryView | None", now: datetime) -> dict:
    """The read-only fields a schedule answer carries about its runs (names the console reads)."""
    view = _view(summary)
    last = view.last_run
    return {
        "health": schedule_health(record, view, now),
        "lastRun": None if last is None else {"runKey": last.run_key, "slot": iso(last.slot), "status": last.status,
                                               "finishedAt": iso(last.finished_at), "amlRunId": last.aml_run_id},
        "successRate": round(view.completed / view.recent_runs, 4) if view.recent_runs else None,
        "recentRuns": view.recent_runs,
        "failedInARow": view.failed_in_a_row,
    }


def parse_health_filter(value: str) -> frozenset[str]:
    """`failing` or `late,failing`: the health values asked for; ValueError naming what is not one."""
    wanted = frozenset(part.strip() for part in value.split(","))
    unknown = sorted(wanted - set(HEALTH))
    if unknown or not value.strip():
        raise ValueError(f"{(unknown or [''])[0]!r} is not one of " + ", ".join(HEALTH))
    return wanted
