"""Timer entry points: one tick or one poll against the process runtime."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run_tick(past_due: bool = False) -> None:
    from shared.runtime import get_runtime

    runtime = get_runtime()
    report = runtime.engine.tick(runtime.clock())
    log.info("tick: %d due schedule(s), %d submitted, %d skipped, %d failed, %d already taken, %d error(s)%s",
             report.schedules, len(report.submitted), report.skipped, len(report.failed), report.lost_races,
             len(report.errors), " (timer was past due)" if past_due else "")


def run_poll() -> None:
    from shared.runtime import get_runtime

    runtime = get_runtime()
    report = runtime.engine.poll(runtime.clock())
    if report.checked:
        log.info("poll: %d active run(s) checked, %d changed, %d finished, %d error(s)",
                 report.checked, report.changed, report.finished, len(report.errors))
