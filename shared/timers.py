"""Timer entry points: one tick or one poll against the process runtime."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run_tick(past_due: bool = False) -> None:
    from shared.runtime import get_runtime

    runtime = get_runtime()
    report = runtime.engine.tick(runtime.clock())
    log.info("tick: %d dispatch message(s) handed to the queue workers (a shard with due schedules, or a page "
             "of a busy one), %d message(s) the queue did not take (dispatched here, their slots left to the "
             "sweep), %d error(s)%s", report.enqueued, report.queue_failures, len(report.errors),
             " (timer was past due)" if past_due else "")

def run_poll() -> None:
    from shared.runtime import get_runtime

    runtime = get_runtime()
    report = runtime.engine.poll(runtime.clock())
    if report.schedules:
        log.info("poll: %d schedule(s) in flight, %d active run(s) checked, %d changed, %d finished, "
                 "%d slot(s) sent again, %d attempted here, %d error(s)", report.schedules, report.checked,
                 report.changed, report.finished, report.requeued, report.attempted_inline, len(report.errors))
