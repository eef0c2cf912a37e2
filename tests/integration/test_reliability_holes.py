"""Holes found by probing the landed code on bad days, on real parts (Azurite, the AML emulator)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from shared.config import load_settings
from shared.engine import RUN_KEY_TAG
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord
from tests.integration.support import Driven

UTC = timezone.utc
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"


def add_schedule(runtime, schedule_id, *, experiment, start, cron="0 * * * *", policy=None):
    definition = parse_schedule({
        "id": schedule_id, "trigger": {"cron": cron},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": experiment},
        "policy": policy or {},
    })
    runtime.schedules.create(ScheduleRecord(definition, start, None, start, start))


def still_engine(runtime):
    """The runtime's engine, its queue worked at once, time standing still in each call."""
    return Driven(runtime)


def test_a_transient_first_failure_on_a_new_experiment_is_not_stuck_forever(app_env, aml_emulator):
    runtime = build_runtime(load_settings({**app_env, "AML_MAX_RETRIES": "0"}))
    engine = still_engine(runtime)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    # Daily, so no other slot of the schedule creates the experiment meanwhile.
    add_schedule(runtime, "new-exp", experiment="never_seen_before", start=start, cron="0 10 * * *",
                 policy={"retry": {"maxAttempts": 3, "backoffSeconds": 60}})
    # The first submit fails transiently, so AML never hears of the experiment; every later
    # attempt starts with a run-key lookup that run history answers 404 (no such experiment).
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=500, times=1)
    engine.tick(start + timedelta(seconds=1))
    assert runtime.runs.get("new-exp", start).status == "Claimed"
    for hours in (1, 2):
        engine.poll(start + timedelta(hours=hours, seconds=1))
    run = runtime.runs.get("new-exp", start)
    assert run.aml_run_id and run.active and run.attempts == 2, (run.status, run.attempts, run.reason)
    assert Counter(r["tags"][RUN_KEY_TAG] for r in aml_emulator.runs()) == {"new-exp_20261122T100000Z": 1}


def test_a_crash_before_the_first_submit_of_a_new_experiment_is_recovered(app_env, aml_emulator):
    runtime = build_runtime(load_settings(app_env))
    engine = still_engine(runtime)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    add_schedule(runtime, "crashed", experiment="also_never_seen", start=start, cron="0 10 * * *")
    # What a worker that died right after taking the slot leaves behind.
    runtime.runs.claim(RunRecord("crashed", start, "Claimed", claimed_at=start, experiment_name="also_never_seen",
                                 next_attempt_at=start + engine.leases.lease, owner="a-worker", dequeued_at=start))
    engine.poll(start + engine.leases.lease + timedelta(seconds=1))
    assert runtime.runs.get("crashed", start).status == "Submitted"


def test_aml_acting_after_the_client_gave_up_does_not_get_a_second_submit(app_env, aml_emulator):
    # AML takes longer than our read timeout to act on the submit, then starts the run
    # anyway. A short backoff must not send the slot again before AML has had time to act.
    runtime = build_runtime(load_settings({**app_env, "AML_HTTP_TIMEOUT_SECONDS": "1", "AML_MAX_RETRIES": "0"}))
    engine = still_engine(runtime)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    add_schedule(runtime, "slow-aml", experiment="slow_aml", start=start,
                 policy={"retry": {"maxAttempts": 3, "backoffSeconds": 1}})
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", delay_seconds=1.5, times=1)
    engine.tick(start + timedelta(seconds=1))
    run = runtime.runs.get("slow-aml", start)
    assert (run.status, run.attempts) == ("Claimed", 1) and "outcome unknown" in run.reason
    assert run.next_attempt_at >= start + timedelta(seconds=1) + engine.leases.settle
    engine.poll(start + timedelta(seconds=3))  # the user's backoff has passed: still nothing sent
    deadline = time.monotonic() + 5
    while not aml_emulator.runs() and time.monotonic() < deadline:  # AML acts, late
        time.sleep(0.05)
    engine.poll(run.next_attempt_at + timedelta(seconds=1))
    run = runtime.runs.get("slow-aml", start)
    assert run.status == "Submitted" and run.reason.startswith("recovered")
    assert Counter(r["tags"][RUN_KEY_TAG] for r in aml_emulator.runs()) == {"slow-aml_20261122T100000Z": 1}


def test_every_active_run_is_checked_by_every_poll(app_env, aml_emulator):
    runtime = build_runtime(load_settings(app_env))
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    for i in range(600):
        runtime.runs.claim(RunRecord(f"many-{i % 6}", start + timedelta(minutes=i), "Submitted",
                                     experiment_name="many", aml_run_id=f"run_{i}", submitted_at=start))
    # The runs are unknown to AML but recent, so they stay active: each poll checks all 600.
    now = start + timedelta(minutes=1)
    assert [runtime.engine.poll(now).checked for _ in range(2)] == [600, 600]
