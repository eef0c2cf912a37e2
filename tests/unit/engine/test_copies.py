"""The schedule's copy in a slot message stands in for reading it, and stops doing so the moment
the schedule changes: through the API (edit, disable, delete), or by a refused submission."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import azure.functions as func

from shared.aml.errors import AmlError
from shared.api.http import handle
from shared.api.schedules import ScheduleHandlers
from shared.engine import RUN_KEY_TAG
from shared.engine.copies import retire_queued_copies
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
FIRST, SECOND = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"


class CountingSchedules(MemoryScheduleStore):
    """The memory schedule store, counting reads of single schedules."""

    def __init__(self):
        super().__init__()
        self.gets = 0

    def get(self, schedule_id):
        self.gets += 1
        return super().get(schedule_id)


class Stack:
    """Memory stores shared by the engine (driven as the platform would) and the schedule API."""

    def __init__(self, **policy):
        self.schedules, self.runs, self.aml = CountingSchedules(), MemoryRunStore(), RecordingAml()
        self.now = T0
        self.driven = Driven(self.schedules, self.runs, self.aml)
        self.api = ScheduleHandlers(self.schedules, self.runs, lambda: self.now, self.driven.engine)
        self.call("create", "POST", body=schedule_doc(FIRST, policy))

    def call(self, operation, method, schedule_id=None, body=None):
        req = func.HttpRequest(method, "http://localhost/api/x", headers={"Content-Type": "application/json"},
                               route_params={"id": schedule_id} if schedule_id else {},
                               body=json.dumps(body).encode() if body is not None else b"")
        response = handle(lambda: getattr(self.api, operation)(req))
        assert response.status_code < 300, response.get_body()
        return response

    def dispatch(self, seconds: float) -> list:
        self.now = T0 + timedelta(seconds=seconds)
        return self.driven.dispatch(self.now)

    def work(self, messages, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)
        for message in messages:
            self.driven.engine.work(message, self.now)

    def submitted(self) -> list[tuple[str, str]]:
        return [(s["pipeline"], s["tags"][RUN_KEY_TAG]) for s in self.aml.submissions]


def schedule_doc(pipeline: str, policy: dict, **changes) -> dict:
    return {"id": "s1", "trigger": {"cron": "* * * * *"},
            "target": {"kind": "pipeline", "pipelineId": pipeline, "experimentName": "exp"},
            "policy": policy, **changes}


def test_a_slot_dispatched_with_both_copies_is_submitted_without_reading_the_schedule():
    stack = Stack()
    [message] = stack.dispatch(60.5)
    assert message.schedule is not None and message.schedule.definition.target.target_id == FIRST
    reads = stack.schedules.gets
    stack.work([message], 61)
    assert stack.schedules.gets == reads
    assert stack.submitted() == [(FIRST, "s1_20261122T100100Z")]


def test_an_edit_after_the_dispatch_is_what_the_queued_slot_runs():
    stack = Stack()
    [message] = stack.dispatch(60.5)
    stack.call("put", "PUT", "s1", schedule_doc(SECOND, {}))
    stack.work([message], 61)
    assert stack.submitted() == [(SECOND, "s1_20261122T100100Z")]


def test_a_schedule_disabled_after_the_dispatch_does_not_submit_its_queued_slot():
    stack = Stack()
    [message] = stack.dispatch(60.5)
    stack.call("disable", "POST", "s1")
    stack.work([message], 61)
    assert stack.submitted() == []
    run = stack.runs.get("s1", T0 + timedelta(minutes=1))
    assert run.pending and run.reason == "waiting: the schedule is disabled"


def test_a_schedule_deleted_after_the_dispatch_skips_its_queued_slot():
    stack = Stack()
    [message] = stack.dispatch(60.5)
    stack.call("delete", "DELETE", "s1")
    stack.work([message], 61)
    assert stack.submitted() == []
    run = stack.runs.get("s1", T0 + timedelta(minutes=1))
    assert run.status == "Skipped" and "deleted" in run.reason


def test_a_change_between_the_dispatch_reading_the_schedule_and_moving_its_cursor_sends_no_copy():
    stack = Stack()

    class EditingRuns(MemoryRunStore):
        def claim_many(self, runs):
            claimed = super().claim_many(runs)
            # A user's edit lands after the dispatch read the due row, before the cursor moves:
            # the claim is not there yet when the API retires queued copies.
            stack.call("put", "PUT", "s1", schedule_doc(SECOND, {}))
            return claimed

    stack.runs = EditingRuns()
    stack.driven = Driven(stack.schedules, stack.runs, stack.aml)
    stack.api = ScheduleHandlers(stack.schedules, stack.runs, lambda: stack.now, stack.driven.engine)
    [message] = stack.dispatch(60.5)
    assert message.claim is not None and message.schedule is None
    stack.work([message], 61)
    assert stack.submitted() == [(SECOND, "s1_20261122T100100Z")]


def test_a_refused_submission_retires_the_copies_of_the_schedules_other_queued_slots():
    stack = Stack(misfire="all", maxCatchup=5, pauseAfterFailures=2, retry={"maxAttempts": 1})
    first, second = stack.dispatch(120.5)  # 10:01 and 10:02 owed: two claims, two messages
    stack.aml.fail_with = AmlError("pipeline not found", status=404, code="NotFound")
    stack.work([first], 121)
    assert stack.schedules.get("s1").failure_streak == 1
    stack.aml.fail_with = None
    reads = stack.schedules.gets
    stack.work([second], 122)
    # The second slot read the schedule (its copy said the streak was 0) and its success ended the streak.
    assert stack.schedules.gets > reads
    assert stack.schedules.get("s1").failure_streak == 0
    assert stack.submitted() == [(FIRST, "s1_20261122T100200Z")]


def test_retiring_leaves_a_claim_a_worker_holds_alone():
    stack = Stack()
    [message] = stack.dispatch(60.5)
    claim = stack.runs.get("s1", T0 + timedelta(minutes=1))
    taken = stack.runs.replace(claim.evolve(owner="worker-7", next_attempt_at=T0 + timedelta(minutes=9)))
    assert retire_queued_copies(stack.runs, "s1", T0 + timedelta(seconds=61)) == 0
    assert stack.runs.get("s1", T0 + timedelta(minutes=1)).etag == taken.etag
    assert retire_queued_copies(stack.runs, "other", T0) == 0 and message.claim is not None
