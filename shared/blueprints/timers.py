"""Timers: the scheduler tick (claims due slots) and the outcome poll (tracks active runs).

The schedules are app settings resolved by the host, in UTC; `run_on_startup` stays off
because it would fire on every restart and scale-out.
"""

import azure.functions as func

from shared import timers

bp = func.Blueprint()


@bp.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def scheduler_tick(timer: func.TimerRequest) -> None:
    timers.run_tick(past_due=timer.past_due)


@bp.timer_trigger(schedule="%POLL_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def outcome_poll(timer: func.TimerRequest) -> None:
    timers.run_poll()
