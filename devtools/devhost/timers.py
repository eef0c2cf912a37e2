"""Timer triggers: NCRONTAB schedules (UTC, seconds first) fired on one thread per function."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from azure.functions.timer import TimerRequest
from cronsim import CronSim, CronSimError

from devtools.devhost.errors import DevHostError
from devtools.devhost.functions import AppFunction
from devtools.devhost.settings import resolve_setting_tokens
from devtools.devhost.triggers import TriggerKind

log = logging.getLogger("devhost")

# Scheduler jitter and GC pauses should not flag an invocation as past due.
PAST_DUE_TOLERANCE = timedelta(seconds=3)
# Bounded waits let a timer notice a wall-clock jump (laptop sleep) within a second.
_TIMER_WAIT_SLICE = 1.0


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _next_occurrence(schedule: str, after: datetime) -> datetime:
    # CronSim yields instants strictly after the whole second of ``after``.
    return next(CronSim(schedule, after.astimezone(timezone.utc)))


def validate_schedule(schedule: str, function_name: str = "?") -> str:
    """Check an NCRONTAB expression (6 fields, seconds first; 5 accepted)."""
    fields = schedule.split()
    if re.fullmatch(r"\d+(\.\d+)?:\d{2}:\d{2}", schedule.strip()):
        raise DevHostError(
            f"Functions.{function_name}: TimeSpan schedule {schedule!r} is not supported by "
            "the dev host (nor on Consumption plans); use an NCRONTAB expression"
        )
    if len(fields) not in (5, 6):
        raise DevHostError(
            f"Functions.{function_name}: {schedule!r} is not a valid NCRONTAB expression "
            "(6 fields, seconds first)"
        )
    try:
        _next_occurrence(schedule, _utcnow())
    except CronSimError as exc:
        raise DevHostError(f"Functions.{function_name}: bad schedule {schedule!r}: {exc}") from exc
    except StopIteration as exc:
        raise DevHostError(f"Functions.{function_name}: schedule {schedule!r} never fires") from exc
    return schedule


class TimerRunner(threading.Thread):
    """Fires one timer function on its schedule; never overlaps itself.

    Exceptions from the function are logged and the schedule carries on.
    """

    def __init__(
        self,
        function: AppFunction,
        schedule: str,
        *,
        run_on_startup: bool = False,
        stop_event: threading.Event | None = None,
        clock: Callable[[], datetime] = _utcnow,
        past_due_tolerance: timedelta = PAST_DUE_TOLERANCE,
    ) -> None:
        super().__init__(name=f"timer-{function.name}", daemon=True)
        self.function = function
        self.schedule = schedule
        self.run_on_startup = run_on_startup
        self.stop_event = stop_event or threading.Event()
        self._clock = clock
        self._tolerance = past_due_tolerance
        self._last: datetime | None = None

    def run(self) -> None:
        try:
            self._loop()
        except Exception:  # noqa: BLE001 - a dead timer thread must at least say why
            log.exception("Timer for Functions.%s stopped unexpectedly", self.function.name)

    def _loop(self) -> None:
        now = self._clock()
        due = _next_occurrence(self.schedule, now)
        if self.run_on_startup and not self.stop_event.is_set():
            self._fire(now, past_due=False, following=due)
        while not self.stop_event.is_set():
            now = self._clock()
            if due > now:
                if not self._sleep_until(due):
                    return
                now = self._clock()
                past_due = now - due > self._tolerance
            else:
                # An occurrence passed while the previous invocation ran: fire once
                # for all of them, the way the host's singleton timer catches up.
                past_due = True
            following = _next_occurrence(self.schedule, max(due, now))
            self._fire(now, past_due=past_due, following=following)
            due = following

    def _sleep_until(self, due: datetime) -> bool:
        while True:
            remaining = (due - self._clock()).total_seconds()
            if remaining <= 0:
                return True
            if self.stop_event.wait(min(remaining, _TIMER_WAIT_SLICE)):
                return False

    def _fire(self, fired_at: datetime, *, past_due: bool, following: datetime) -> None:
        name = self.function.name
        invocation_id = str(uuid.uuid4())
        status = {
            "Last": (self._last or fired_at).isoformat(),
            "Next": following.isoformat(),
            "LastUpdated": fired_at.isoformat(),
        }
        request = TimerRequest(
            past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True}
        )
        log.info(
            "Executing 'Functions.%s' (Reason='Timer fired at %s', Id=%s)",
            name,
            fired_at.isoformat(),
            invocation_id,
        )
        started = time.perf_counter()
        outcome = "Succeeded"
        try:
            self.function.invoke(request, invocation_id)
        except Exception:  # noqa: BLE001 - a failing timer must not kill its thread
            outcome = "Failed"
            log.exception("Executed 'Functions.%s' failed with an exception", name)
        millis = round((time.perf_counter() - started) * 1000)
        log.info("Executed 'Functions.%s' (%s, Duration=%dms)", name, outcome, millis)
        self._last = fired_at



class TimerTriggers(TriggerKind):
    """Every ``timerTrigger`` function of the app, one ``TimerRunner`` each."""

    trigger_type = "timerTrigger"

    def __init__(self, *, enabled: bool = True) -> None:
        super().__init__(enabled=enabled)
        self.schedules: dict[str, str] = {}  # function name -> resolved schedule
        self._specs: list[tuple[AppFunction, str, bool]] = []
        self._runners: list[TimerRunner] = []

    def add(self, function: AppFunction) -> None:
        # Resolved and validated even when timers are disabled: the real host refuses to
        # index a bad schedule, so the dev host must not start with one either.
        schedule = resolve_setting_tokens(function.trigger.schedule, function_name=function.name)
        validate_schedule(schedule, function.name)
        self.schedules[function.name] = schedule
        self._specs.append((function, schedule, bool(function.trigger.run_on_startup)))

    def listing(self) -> list[str]:
        state = "" if self.enabled else " (timers disabled)"
        return [
            f"{name}: timerTrigger, schedule '{schedule}' (UTC){state}"
            for name, schedule in sorted(self.schedules.items())
        ]

    def start(self, stop_event: threading.Event) -> None:
        for function, schedule, on_startup in self._specs:
            runner = TimerRunner(
                function, schedule, run_on_startup=on_startup, stop_event=stop_event
            )
            self._runners.append(runner)
            runner.start()

    def stop(self, deadline: float) -> None:
        for runner in self._runners:
            runner.join(max(0.0, deadline - time.monotonic()))
            if runner.is_alive():
                log.warning(
                    "Functions.%s is still running at the stop deadline; leaving it behind",
                    runner.function.name,
                )
