"""Bad days on real parts (Azurite and the AML emulator): crashes mid-tick, downtime, throttling."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shared.config import load_settings
from shared.engine import RUN_KEY_TAG
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from tests.integration.support import Driven

UTC = timezone.utc
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"


class SimulatedCrash(BaseException):
    """The process dies: nothing after this point of the tick runs (not an Exception, so no
    handler in the engine can swallow it)."""


class CrashingRuns:
    """Run store wrapper that kills the 'process' right after a claim or right before a
    record is marked Submitted."""

    def __init__(self, inner, rng, lock, rate):
        self._inner, self._rng, self._lock, self._rate = inner, rng, lock, rate

    def _roll(self):
        with self._lock:
            return self._rng.random() < self._rate

    def claim(self, run):
        stored = self._inner.claim(run)
        if run.status == "Claimed" and self._roll():
            raise SimulatedCrash("after the claim")
        return stored

    def claim_many(self, runs):
        stored = self._inner.claim_many(runs)
        if any(r.status == "Claimed" for r in runs) and self._roll():
            raise SimulatedCrash("after the claim")
        return stored

    def replace(self, run):
        if run.status == "Submitted" and self._roll():
            raise SimulatedCrash("before the status write")
        return self._inner.replace(run)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class CrashingAml:
    """AML client wrapper that kills the 'process' right after AML accepted a submit."""

    def __init__(self, inner, rng, lock, rate):
        self._inner, self._rng, self._lock, self._rate = inner, rng, lock, rate

    def submit_pipeline(self, *args, **kwargs):
        submitted = self._inner.submit_pipeline(*args, **kwargs)
        with self._lock:
            crash = self._rng.random() < self._rate
        if crash:
            raise SimulatedCrash("after the AML submit")
        return submitted

    def __getattr__(self, name):
        return getattr(self._inner, name)


def make_schedule(runtime, schedule_id, cron, cursor, now, policy=None):
    definition = parse_schedule({
        "id": schedule_id, "trigger": {"cron": cron},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "semantics",
                   "parameterAssignments": {"slot": "{{slot}}"}},
        "policy": policy or {},
    })
    runtime.schedules.create(ScheduleRecord(definition, cursor, None, now, now))
    return definition.trigger.build()


def covered_slots(records, trigger):
    """Every trigger slot each record accounts for (a skip summary covers a range)."""
    covered = Counter()
    for r in records:
        covered[r.slot] += 1
        if r.skipped_count > 1:
            slot = r.slot
            for _ in range(r.skipped_count - 1):
                slot = trigger.next_after(slot)
                covered[slot] += 1
            assert slot == r.last_skipped_slot
    return covered


def test_crashes_at_every_step_never_duplicate_or_lose_a_slot(app_env, aml_emulator):
    settings = load_settings(app_env)
    rng, lock = random.Random(20261122), threading.Lock()
    instances = []
    for _ in range(3):
        runtime = build_runtime(settings)
        instances.append(Driven(runtime, still=False, runs=CrashingRuns(runtime.runs, rng, lock, 0.15),
                                aml=CrashingAml(runtime.aml, rng, lock, 0.15)))
    clean = build_runtime(settings)

    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    triggers = {sid: make_schedule(clean, sid, "*/10 * * * * *", start, start) for sid in ("crash-a", "crash-b")}
    crashes = Counter()

    def tick(engine, now):
        try:
            engine.tick(now)
        except SimulatedCrash as crash:
            crashes[str(crash)] += 1

    now = start
    for step in range(30):
        now = start + timedelta(seconds=10 * step, milliseconds=300)
        threads = [threading.Thread(target=tick, args=(rt, now)) for rt in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert set(crashes) == {"after the claim", "after the AML submit", "before the status write"}, crashes

    # The survivors (no more crashes) take over stale claims once their lease has run out:
    # the poll's sweep hands them to the queue again, and a worker finishes them.
    survivor = Driven(clean, still=False)
    end = now + clean.engine.leases.lease + timedelta(seconds=1)
    survivor.poll(end)
    survivor.tick(end + timedelta(seconds=1))

    per_key = Counter(run["tags"][RUN_KEY_TAG] for run in aml_emulator.runs())
    assert per_key and set(per_key.values()) == {1}, "a slot reached AML twice"
    all_records = [r for sid in triggers for r in clean.runs.list_runs(sid, limit=1000).items]
    assert any((r.reason or "").startswith("recovered") for r in all_records), "no run was adopted by run key"
    for schedule_id, trigger in triggers.items():
        records = clean.runs.list_runs(schedule_id, limit=1000).items
        assert all(r.status != "Claimed" for r in records), [(r.slot_key, r.reason) for r in records if r.pending]
        owed = list(trigger.fire_times(start - timedelta(microseconds=1), limit=10_000))
        owed = [s for s in owed if s <= end + timedelta(seconds=2)]
        coverage = covered_slots(records, trigger)
        assert all(coverage[s] == 1 for s in owed), "a slot has no record, or two"
        assert set(coverage) == set(owed)
        submitted = {r.run_key for r in records if r.aml_run_id}
        assert submitted == {k for k in per_key if k.startswith(schedule_id + "_")}


class CountingStore:
    def __init__(self, inner, counter):
        self._inner, self._counter = inner, counter

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name in ("claim", "replace", "create", "delete"):
            def counted(*args, **kwargs):
                self._counter[name] += 1
                return attr(*args, **kwargs)
            return counted
        return attr


@pytest.mark.parametrize("outage", [timedelta(hours=1), timedelta(hours=6), timedelta(days=3)],
                         ids=["1h", "6h", "3d"])
@pytest.mark.parametrize("misfire", ["latest", "all", "skip"])
def test_downtime_is_settled_by_policy_with_bounded_writes(app_env, aml_emulator, misfire, outage):
    runtime = build_runtime(load_settings(app_env))
    writes = Counter()
    engine = Driven(runtime, schedules=CountingStore(runtime.schedules, writes), runs=CountingStore(runtime.runs, writes))
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    trigger = make_schedule(runtime, "outage", "* * * * *", start, start,
                            {"misfire": misfire, "misfireGraceSeconds": 1800, "maxCatchup": 5})
    now = start + outage
    report = engine.tick(now)

    records = runtime.runs.list_runs("outage", limit=1000).items
    submitted = sorted(r.slot for r in records if r.aml_run_id)
    on_time = [now - timedelta(minutes=2), now - timedelta(minutes=1), now]
    if misfire == "all":
        grace_start = now - timedelta(minutes=30)
        assert submitted == [grace_start + timedelta(minutes=i) for i in range(5)]  # oldest first, capped
        assert runtime.schedules.get("outage").next_fire_time == grace_start + timedelta(minutes=5)
    else:
        assert submitted == on_time  # the current slots run; the missed ones are recorded as skipped
    assert len(report.submitted) == len(submitted)
    # Bounded: each fired slot costs a claim and a status write; skips are summarised.
    assert writes["claim"] + writes["replace"] <= 2 * len(submitted) + 6, writes
    settled_until = runtime.schedules.get("outage").next_fire_time
    coverage = covered_slots(records, trigger)
    owed = [s for s in trigger.fire_times(start - timedelta(microseconds=1), limit=10_000) if s < settled_until]
    assert all(coverage[s] == 1 for s in owed) and set(coverage) == set(owed)


def test_throttling_is_retried_then_fails_and_the_next_slot_still_fires(app_env, aml_emulator):
    runtime = build_runtime(load_settings({**app_env, "AML_MAX_RETRIES": "1"}))
    # Time stands still inside each call, so the back-off times below are exact.
    engine = Driven(runtime)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    make_schedule(runtime, "throttled", "0 * * * *", start, start,
                  {"retry": {"maxAttempts": 3, "backoffSeconds": 10}})
    # A 429 with a short Retry-After (here 0 s) is absorbed inside one attempt by the transport.
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=429, times=1, retry_after=0)
    engine.tick(start + timedelta(seconds=1))
    first = runtime.runs.get("throttled", start)
    assert (first.status, first.attempts) == ("Submitted", 1)

    # Then AML answers 503 for a while: every attempt (and its in-transport retry) fails.
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=503, times=100)
    slot = start + timedelta(hours=1)
    engine.tick(slot + timedelta(seconds=1))
    run = runtime.runs.get("throttled", slot)
    assert (run.status, run.attempts, run.error_code) == ("Claimed", 1, "ServiceUnavailable")
    assert run.next_attempt_at == slot + timedelta(seconds=11)
    engine.poll(slot + timedelta(seconds=12))  # the sweep hands the slot back to the queue
    run = runtime.runs.get("throttled", slot)
    assert (run.attempts, run.next_attempt_at) == (2, slot + timedelta(seconds=32))  # back-off doubled
    engine.poll(slot + timedelta(seconds=33))
    run = runtime.runs.get("throttled", slot)
    assert (run.status, run.attempts) == ("SubmitFailed", 3)
    assert "unavailable" in run.reason
    submits = [r for r in aml_emulator.requests_log() if "PipelineSubmit" in r["path"] and r["status"] == 503]
    assert len(submits) == 3 * 2  # three attempts, each retried once inside the transport

    aml_emulator.clear_faults()
    next_slot = start + timedelta(hours=2)
    engine.tick(next_slot + timedelta(seconds=1))
    assert runtime.runs.get("throttled", next_slot).status == "Submitted"
