"""What the chaos harness does to the scheduler during a step, each at a random moment."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone

from devtools.chaos.checks import RoundSchedule
from devtools.chaos.stack import ChaosStack

SUBMIT = "PipelineSubmit"
JOB_PUT = "/jobs/"
INVOKE = "/batch/"


def aml_faults(rng: random.Random) -> list[dict]:
    """One or two of AML's bad days: throttling, 5xx, a late-acting submit, hangs, resets."""
    kinds = [
        dict(method="POST", path_contains=SUBMIT, status=429, retry_after=1, times=rng.randint(1, 3)),
        dict(method="POST", path_contains=SUBMIT, status=503, times=rng.randint(2, 6)),
        dict(method="POST", path_contains=SUBMIT, status=500, times=rng.randint(1, 2)),
        # AML carries the submit out after the client gave up (read timeout 1 s).
        dict(method="POST", path_contains=SUBMIT, delay_seconds=1.5, times=1),
        dict(method="POST", path_contains=SUBMIT, hang=True, hang_seconds=1.5, reset=True, times=1),
        dict(method="POST", path_contains=SUBMIT, reset=True, times=1),
        dict(method="POST", path_contains="runs:query", status=503, times=rng.randint(1, 3)),
        dict(method="GET", path_contains="/runs/", status=500, times=rng.randint(1, 3)),
        # The same on AML v2: a job PUT or a batch invocation AML carries out after the
        # client gave up, fails, or resets; job reads failing.
        dict(method="PUT", path_contains=JOB_PUT, delay_seconds=1.5, times=1),
        dict(method="PUT", path_contains=JOB_PUT, status=500, times=rng.randint(1, 2)),
        dict(method="POST", path_contains=INVOKE, delay_seconds=1.5, times=1),
        dict(method="POST", path_contains=INVOKE, status=503, times=rng.randint(1, 3)),
        dict(method="POST", path_contains=INVOKE, reset=True, times=1),
        dict(method="GET", path_contains=JOB_PUT, status=500, times=rng.randint(1, 3)),
    ]
    return rng.sample(kinds, rng.randint(1, 2))


def outage(proxy, seconds: float) -> None:
    proxy.down()
    time.sleep(seconds)
    proxy.up()


def edit(stack: ChaosStack, schedule: RoundSchedule, rng: random.Random) -> None:
    """A user saves the schedule (its description): the tick's cursor move must lose to it."""
    from shared.engine.copies import retire_queued_copies
    from shared.schedules import parse_schedule
    from shared.store import NotFound, PreconditionFailed

    try:
        record = stack.runtime.schedules.get(schedule.id)
        record.definition = parse_schedule({**record.definition.to_dict(), "description": f"edited {rng.random():.6f}"})
        stack.runtime.schedules.replace(record)
    except (NotFound, PreconditionFailed):
        return
    # As the API does after every change: queued slots stop trusting their copy of the schedule.
    retire_queued_copies(stack.runtime.runs, schedule.id, datetime.now(timezone.utc))


def delete(stack: ChaosStack, schedule: RoundSchedule) -> None:
    from shared.engine.copies import retire_queued_copies
    from shared.store import NotFound

    try:
        stack.runtime.schedules.delete(schedule.id)
    except NotFound:
        return
    retire_queued_copies(stack.runtime.runs, schedule.id, datetime.now(timezone.utc))


def repeat_a_message(stack: ChaosStack, schedules: list[RoundSchedule], rng: random.Random) -> bool:
    """The queue delivers a slot's message again (at-least-once delivery)."""
    from shared.queue import SlotMessage

    for schedule in rng.sample(schedules, len(schedules)):
        runs = stack.runtime.runs.in_flight(schedule.id) or stack.runtime.runs.list_runs(schedule.id, limit=3).items
        if runs:
            run = rng.choice(runs)
            stack.queue().send_message(SlotMessage(run.schedule_id, run.slot, run.trigger).encode())
            return True
    return False


def poison_a_message(stack: ChaosStack, schedules: list[RoundSchedule], rng: random.Random) -> bool:
    """A slot's message lands on the poison queue, as after repeated worker failures."""
    from shared.queue import SlotMessage

    for schedule in rng.sample(schedules, len(schedules)):
        pending = [r for r in stack.runtime.runs.in_flight(schedule.id) if r.pending]
        if pending:
            run = rng.choice(pending)
            stack.queue(f"{stack.slot_queue}-poison").send_message(
                SlotMessage(run.schedule_id, run.slot, run.trigger).encode())
            return True
    return False


def garbage_message(stack: ChaosStack) -> None:
    """Something that is not a slot message: it must end on the poison queue, logged, and harm nothing."""
    stack.queue().send_message('{"not": "a slot"}')
