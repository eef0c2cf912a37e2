"""Engine over memory stores with a recording AML double: claims, misfire, concurrency, poll."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from shared.aml.errors import AmlPermanentError, AmlTransientError
from shared.engine import LEASE, RUN_KEY_TAG, BackfillError, ConcurrencyConflict
from shared.schedules import parse_schedule
from shared.store import RunRecord, ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


def make(cron="* * * * *", policy=None, params=None):
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    definition = parse_schedule({
        "id": "s1", "trigger": {"cron": cron},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "exp",
                   "parameterAssignments": params or {"day": "{{slot:%Y-%m-%d %H:%M}}", "n": 1}},
        "policy": policy or {},
    })
    first = definition.trigger.build().next_after(T0 - timedelta(seconds=1))
    schedules.create(ScheduleRecord(definition, first, None, T0, T0))
    return Driven(schedules, runs, aml), schedules, runs, aml


def statuses(runs):
    return [(r.slot_key, r.status) for r in runs.list_runs("s1", limit=500).items]


def test_due_slot_is_submitted_once_with_rendered_parameters_and_run_key_tag():
    engine, schedules, runs, aml = make()
    report = engine.tick(T0 + timedelta(seconds=1))
    assert report.submitted == ["s1_20261122T100000Z"]
    sub = aml.submissions[0]
    assert sub["parameter_assignments"] == {"day": "2026-11-22 10:00", "n": 1}
    assert sub["tags"][RUN_KEY_TAG] == "s1_20261122T100000Z"
    run = runs.get("s1", T0)
    assert (run.status, run.aml_run_id, run.attempts) == ("Submitted", "run-1", 1)
    assert schedules.get("s1").next_fire_time == T0 + timedelta(minutes=1)
    # The same tick again (a retried or duplicated timer) owes nothing.
    assert engine.tick(T0 + timedelta(seconds=2)).submitted == []
    assert len(aml.submissions) == 1


def test_parallel_ticks_submit_each_slot_once():
    engine, schedules, runs, aml = make()
    now = T0 + timedelta(minutes=1, seconds=1)
    threads = [threading.Thread(target=engine.tick, args=(now,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s["tags"][RUN_KEY_TAG] for s in aml.submissions) == ["s1_20261122T100000Z", "s1_20261122T100100Z"]


def test_permanent_submit_error_is_recorded_with_amls_message():
    engine, schedules, runs, aml = make()
    aml.fail_with = AmlPermanentError("Pipeline not found", status=404, code="NotFound")
    report = engine.tick(T0 + timedelta(seconds=1))
    run = runs.get("s1", T0)
    assert report.failed == ["s1_20261122T100000Z"]
    assert (run.status, run.error_code, run.error_message) == ("SubmitFailed", "NotFound", "Pipeline not found")
    assert schedules.get("s1").next_fire_time == T0 + timedelta(minutes=1)


def test_transient_error_is_retried_on_a_later_tick_with_backoff():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"retry": {"maxAttempts": 3, "backoffSeconds": 60}})
    aml.fail_with = AmlTransientError("throttled", status=429, code="TooManyRequests")
    engine.tick(T0 + timedelta(seconds=1))
    run = runs.get("s1", T0)
    assert (run.status, run.attempts, run.error_code) == ("Claimed", 1, "TooManyRequests")
    assert run.next_attempt_at == T0 + timedelta(seconds=61)
    engine.poll(T0 + timedelta(seconds=30))  # back-off not over yet: nothing is sent
    assert aml.submissions == [] and runs.get("s1", T0).attempts == 1
    aml.fail_with = None
    assert engine.poll(T0 + timedelta(seconds=62)).requeued == 1  # the sweep hands it back to the queue
    run = runs.get("s1", T0)
    assert (run.status, run.attempts, run.error_code) == ("Submitted", 2, None)
    assert "attempt 2" in run.reason and aml.submissions[0]["tags"]["scheduler_attempt"] == "2"


def test_retries_end_in_submit_failed_and_the_next_slot_still_fires():
    engine, schedules, runs, aml = make(policy={"retry": {"maxAttempts": 2, "backoffSeconds": 5}})
    aml.fail_with = AmlTransientError("unavailable", status=503, code="ServiceUnavailable")
    engine.tick(T0 + timedelta(seconds=1))
    engine.poll(T0 + timedelta(seconds=7))
    run = runs.get("s1", T0)
    assert (run.status, run.attempts) == ("SubmitFailed", 2)
    aml.fail_with = None
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert runs.get("s1", T0 + timedelta(minutes=1)).status == "Submitted"


def test_uncertain_failure_adopts_the_run_aml_did_start():
    engine, schedules, runs, aml = make(cron="0 * * * *")

    original = aml.submit_pipeline

    def submit_then_time_out(pipeline_id, **kwargs):
        original(pipeline_id, **kwargs)
        raise AmlTransientError("AML did not answer in time", uncertain=True)

    aml.submit_pipeline = submit_then_time_out
    engine.tick(T0 + timedelta(seconds=1))
    assert runs.get("s1", T0).status == "Claimed"
    aml.submit_pipeline = original
    engine.poll(T0 + timedelta(minutes=5))
    run = runs.get("s1", T0)
    assert run.reason.startswith("recovered")
    assert (run.status, run.aml_run_id) == ("Submitted", "run-1")
    assert len(aml.submissions) == 1


def test_stale_claim_from_a_crashed_tick_is_resubmitted_once():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    record = schedules.get("s1")
    runs.claim(RunRecord("s1", T0, "Claimed", claimed_at=T0, next_attempt_at=T0 + LEASE, experiment_name="exp"))
    engine.tick(T0 + timedelta(seconds=1))  # the slot is taken: nothing submitted yet
    assert aml.submissions == []
    engine.poll(T0 + LEASE + timedelta(seconds=1))  # the sweep takes the claim over
    assert runs.get("s1", T0).status == "Submitted" and len(aml.submissions) == 1
    assert record.id == "s1"


def test_forbid_skips_while_a_run_is_active():
    engine, schedules, runs, aml = make(policy={"concurrency": "Forbid"})
    engine.tick(T0 + timedelta(seconds=1))
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert statuses(runs)[0] == ("20261122T100100Z", "Skipped")
    assert "concurrency" in runs.get("s1", T0 + timedelta(minutes=1)).reason
    assert len(aml.submissions) == 1


def test_replace_cancels_the_active_run_first():
    engine, schedules, runs, aml = make(policy={"concurrency": "Replace"})
    engine.tick(T0 + timedelta(seconds=1))
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert aml.cancelled == ["run-1"] and len(aml.submissions) == 2


def test_downtime_with_latest_skips_summarised_and_fires_current():
    engine, schedules, runs, aml = make()
    engine.tick(T0 + timedelta(days=3, seconds=1))
    recorded = runs.list_runs("s1", limit=500).items
    assert len(recorded) <= 8
    assert sum(r.skipped_count for r in recorded if r.status == "Skipped") + len(aml.submissions) == 3 * 24 * 60 + 1


def test_poll_moves_runs_to_terminal_states():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Running"
    assert engine.poll(T0 + timedelta(minutes=1)).changed == 1
    assert runs.get("s1", T0).status == "Running"
    aml.status["run-1"] = "Failed"
    engine.poll(T0 + timedelta(minutes=2))
    run = runs.get("s1", T0)
    assert (run.status, run.error_code, run.error_message) == ("Failed", "UserError", "boom")
    assert run.finished_at == datetime(2026, 11, 22, 10, 5, 0, 123000, tzinfo=UTC)
    assert engine.poll(T0 + timedelta(minutes=3)).checked == 0


def test_run_failure_is_retried_on_the_same_slot_record_when_asked():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"retry": {"maxAttempts": 2, "backoffSeconds": 10,
                                                                           "retryOnRunFailure": True}})
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Failed"
    assert engine.poll(T0 + timedelta(minutes=1)).retrying == 1
    run = runs.get("s1", T0)
    assert (run.status, run.previous_aml_run_ids) == ("Claimed", ["run-1"])
    engine.poll(T0 + timedelta(minutes=1, seconds=11))
    run = runs.get("s1", T0)
    assert (run.status, run.aml_run_id, run.attempts) == ("Submitted", "run-2", 2)
    aml.status["run-2"] = "Failed"
    engine.poll(T0 + timedelta(minutes=3))
    assert runs.get("s1", T0).status == "Failed"  # attempts used up


def test_overrunning_run_is_cancelled_and_timed_out():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"runTimeoutMinutes": 30})
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["run-1"] = "Running"
    engine.poll(T0 + timedelta(minutes=29))
    assert runs.get("s1", T0).status == "Running"
    assert engine.poll(T0 + timedelta(minutes=31)).timed_out == 1
    run = runs.get("s1", T0)
    assert run.status == "TimedOut" and aml.cancelled == ["run-1"] and not run.active


def test_manual_run_has_its_own_key_and_overrides():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    run = engine.trigger_now(schedules.get("s1"), T0, {"n": 7})
    assert run.trigger == "manual" and run.slot_key == "20261122T100000Z-manual" and run.status == "Submitted"
    assert aml.submissions[0]["parameter_assignments"]["n"] == 7
    engine.tick(T0 + timedelta(seconds=1))  # the scheduled 10:00 slot is separate
    assert len(aml.submissions) == 2
    # The same instant again is another run (Allow), in the next millisecond's slot.
    again = engine.trigger_now(schedules.get("s1"), T0)
    assert again.slot_key == "20261122T100000.001Z-manual" and len(aml.submissions) == 3


def test_manual_run_refused_while_forbid_has_an_active_run():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"concurrency": "Forbid"})
    engine.tick(T0 + timedelta(seconds=1))
    with pytest.raises(ConcurrencyConflict):
        engine.trigger_now(schedules.get("s1"), T0 + timedelta(minutes=1))


def test_backfill_is_idempotent_bounded_and_drained_by_ticks():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"misfire": "skip"})
    now = T0 + timedelta(hours=5, seconds=1)
    engine.tick(now)  # 10:00..14:00 skipped as missed, 15:00 submitted
    result = engine.backfill(schedules.get("s1"), T0, T0 + timedelta(hours=5), now)
    assert result.queued == [f"20261122T{h}0000Z" for h in (10, 11, 12, 13, 14)]
    assert result.existing == ["20261122T150000Z"]
    again = engine.backfill(schedules.get("s1"), T0, T0 + timedelta(hours=5), now)
    assert again.queued == [] and len(again.existing) == 6
    engine.tick(now + timedelta(seconds=1))
    assert len(aml.submissions) == 6
    assert {r.trigger for r in runs.list_runs("s1").items} == {"schedule", "backfill"}
    with pytest.raises(BackfillError):
        engine.backfill(schedules.get("s1"), T0, now + timedelta(hours=1), now)
    with pytest.raises(BackfillError):
        engine.backfill(schedules.get("s1"), T0 - timedelta(days=30), T0, now)


def test_backfill_under_forbid_submits_one_slot_at_a_time():
    engine, schedules, runs, aml = make(cron="0 * * * *", policy={"concurrency": "Forbid"})
    now = T0 - timedelta(minutes=1)
    engine.backfill(schedules.get("s1"), T0 - timedelta(hours=3), T0 - timedelta(hours=1), now)
    engine.tick(now + timedelta(seconds=1))
    assert len(aml.submissions) == 1
    aml.status["run-1"] = "Completed"
    engine.poll(now + timedelta(seconds=10))
    engine.poll(now + timedelta(seconds=40))  # the next waiting slot's time has come
    assert len(aml.submissions) == 2


def test_slots_missed_while_disabled_say_so():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    record = schedules.get("s1")
    record.resumed_at = T0 + timedelta(hours=3)
    schedules.replace(record)
    engine.tick(T0 + timedelta(hours=3, seconds=1))
    reasons = {r.reason for r in runs.list_runs("s1").items if r.status == "Skipped"}
    assert reasons == {"missed: the schedule was disabled"}


def test_poll_prunes_old_history_in_bounded_batches():
    _, schedules, runs, aml = make()
    engine = Driven(schedules, runs, aml, retention=timedelta(days=30))
    for day in range(40):
        runs.claim(RunRecord("s1", T0 - timedelta(days=day), "Completed"))
    runs.claim(RunRecord("s1", T0 - timedelta(days=50, hours=1), "Running", aml_run_id="r", experiment_name="e"))
    aml.status["r"] = "Running"
    assert engine.poll(T0).pruned == 9  # days 31-39; day 30 is exactly at the cutoff
    remaining = runs.list_runs("s1", limit=100).items
    assert len(remaining) == 32 and any(r.status == "Running" for r in remaining)


def test_poll_prunes_audit_entries_with_the_runs_and_keeps_a_deleted_schedules_recent_ones():
    from shared.store.audit import AuditEntry

    _, schedules, runs, aml = make()
    engine = Driven(schedules, runs, aml, retention=timedelta(days=30))
    who = {"id": None, "name": "function key"}
    for day in (1, 29, 31, 45):
        schedules.append_audit(AuditEntry("s1", T0 - timedelta(days=day), "update", who))
    schedules.delete("s1", audit=AuditEntry("s1", T0, "delete", who))
    report = engine.poll(T0)
    assert report.audit_pruned == 2
    assert [e.action for e in schedules.audit_page("s1").items] == ["delete", "update", "update"]
    assert "s1" in schedules.history_page(None, 10)[0]  # still in the round while entries remain
    engine.poll(T0 + timedelta(days=31))
    assert schedules.audit_page("s1").items == []
    engine.poll(T0 + timedelta(days=31))
    assert "s1" not in schedules.history_page(None, 10)[0]


def test_disabled_schedule_is_not_due():
    engine, schedules, runs, aml = make()
    record = schedules.get("s1")
    record.definition = parse_schedule({**record.definition.to_dict(), "enabled": False})
    schedules.replace(record)
    assert engine.tick(T0 + timedelta(seconds=1)).schedules == 0


def test_jitter_delays_submission_by_a_stable_per_schedule_offset():
    from shared.scheduling.jitter import jitter_offset

    engine, schedules, runs, aml = make(cron="0 * * * *")
    record = schedules.get("s1")
    record.definition = parse_schedule({**record.definition.to_dict(),
                                        "trigger": {"cron": "0 * * * *", "jitterSeconds": 600}})
    schedules.replace(record)
    offset = jitter_offset("s1", 600)
    assert timedelta(0) < offset <= timedelta(seconds=600)
    assert engine.tick(T0 + offset - timedelta(seconds=3)).submitted == []
    assert engine.tick(T0 + offset).submitted == ["s1_20261122T100000Z"]
    assert runs.get("s1", T0).slot == T0  # the slot itself stays nominal


def test_queued_slot_outside_a_narrowed_window_is_skipped_with_that_reason():
    engine, schedules, runs, aml = make(cron="0 * * * *")
    now = T0 + timedelta(minutes=1)
    engine.backfill(schedules.get("s1"), T0 - timedelta(hours=2), T0 - timedelta(hours=1), now)
    record = schedules.get("s1")
    record.definition = parse_schedule({**record.definition.to_dict(),
                                        "trigger": {"cron": "0 * * * *", "startTime": "2026-11-22T08:30:00Z"}})
    schedules.replace(record)
    engine.tick(now + timedelta(seconds=1))
    assert runs.get("s1", T0 - timedelta(hours=2)).reason.startswith("outside start/end")
    assert runs.get("s1", T0 - timedelta(hours=1)).status == "Submitted"


def test_data_paths_are_rendered_per_slot():
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), RecordingAml()
    definition = parse_schedule({
        "id": "s1", "trigger": {"cron": "0 * * * *"},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "exp",
                   "parameterAssignments": {"day": "{{slot:%Y-%m-%d}}"},
                   "dataPathAssignments": {"input": {"DataStoreName": "blobs",
                                                     "RelativePath": "in/{{slot:%Y/%m/%d/%H}}"}}},
    })
    schedules.create(ScheduleRecord(definition, T0, None, T0, T0))
    Driven(schedules, runs, aml).tick(T0 + timedelta(seconds=1))
    sent = aml.submissions[0]
    assert sent["data_path_assignments"] == {"input": {"DataStoreName": "blobs", "RelativePath": "in/2026/11/22/10"}}
    assert sent["parameter_assignments"] == {"day": "2026-11-22"}
