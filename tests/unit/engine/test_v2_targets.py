"""AML v2 targets in the engine: jobs named per slot, batch invocations with a repeatability id,
outcomes and timeouts through the jobs API, and the pause after refused slots."""

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shared.aml.errors import AmlNotFoundError, AmlTimeoutError
from shared.engine import RUN_KEY_TAG
from shared.engine.kinds import job_name, repeatability_id
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.memory import MemoryRunStore, MemoryScheduleStore
from tests.doubles.aml import RecordingAml
from tests.unit.engine.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
JOB = {"kind": "job", "job": {"jobType": "Pipeline", "experimentName": "scoring", "computeId": "cpu-cluster",
                              "inputs": {"day": {"jobInputType": "literal", "value": "{{slot:%Y-%m-%d}}"}},
                              "tags": {"team": "ml"}}}
BATCH = {"kind": "batchEndpoint", "endpointName": "score-batch", "deployment": "blue",
         "inputs": {"data": {"type": "uri_folder", "uri": "azureml://datastores/in/paths/{{slot:%Y/%m/%d}}/"}},
         "outputs": {"scores": {"type": "uri_folder", "uri": "azureml://datastores/out/paths/{{slot:%Y%m%d}}/"}}}


class ActsThenTimesOut(RecordingAml):
    """AML takes the first request, but its answer never arrives (a timeout after acting)."""

    def __init__(self, times=1):
        super().__init__()
        self.times = times

    def _then_time_out(self, result):
        if self.times:
            self.times -= 1
            raise AmlTimeoutError("AML did not answer in time", uncertain=True)
        return result

    def submit_job(self, *args, **kwargs):
        return self._then_time_out(super().submit_job(*args, **kwargs))

    def invoke_batch(self, *args, **kwargs):
        return self._then_time_out(super().invoke_batch(*args, **kwargs))


def make(target, aml=None, policy=None, cron="* * * * *"):
    schedules, runs, aml = MemoryScheduleStore(), MemoryRunStore(), aml or RecordingAml()
    definition = parse_schedule({"id": "s1", "trigger": {"cron": cron}, "target": target, "policy": policy or {}})
    first = definition.trigger.build().next_after(T0 - timedelta(seconds=1))
    schedules.create(ScheduleRecord(definition, first, None, T0, T0))
    return Driven(schedules, runs, aml), schedules, runs, aml


def test_a_job_is_named_after_its_slot_with_rendered_inputs_and_the_run_key_tag():
    engine, _, runs, aml = make(JOB)
    engine.tick(T0 + timedelta(seconds=1))
    (sub,) = aml.submissions
    assert sub["job"] == "s1_20261122T100000Z"
    assert sub["properties"]["inputs"]["day"] == {"jobInputType": "literal", "value": "2026-11-22"}
    assert sub["tags"][RUN_KEY_TAG] == "s1_20261122T100000Z" and sub["tags"]["team"] == "ml"
    run = runs.get("s1", T0)
    assert (run.status, run.target_kind, run.aml_run_id, run.experiment_name) == (
        "Submitted", "job", "s1_20261122T100000Z", "scoring")
    api = run.to_api()
    assert api["amlJobName"] == "s1_20261122T100000Z" and api["portalUrl"].endswith("/runs/s1_20261122T100000Z")


@pytest.mark.parametrize("duplicate", ["return", "refuse"])
def test_a_job_put_whose_answer_was_lost_is_adopted_not_repeated(duplicate):
    aml = ActsThenTimesOut()
    aml.duplicate = duplicate
    engine, _, runs, _ = make(JOB, aml, policy={"retry": {"maxAttempts": 3, "backoffSeconds": 5}})
    engine.tick(T0 + timedelta(seconds=1))
    assert runs.get("s1", T0).status == "Claimed"
    # No settle wait for a named job: the next attempt comes after the plain backoff.
    engine.poll(T0 + timedelta(seconds=10))
    run = runs.get("s1", T0)
    assert run.status == "Submitted" and run.aml_run_id == "s1_20261122T100000Z"
    assert len(aml.submissions) == 1


def test_a_batch_invocation_is_sent_with_the_slots_repeatability_id_and_rendered_io():
    engine, _, runs, aml = make(BATCH)
    engine.tick(T0 + timedelta(seconds=1))
    (sub,) = aml.submissions
    run = runs.get("s1", T0)
    assert sub["repeatability_id"] == repeatability_id(run)
    assert sub["inputs"]["data"]["uri"] == "azureml://datastores/in/paths/2026/11/22/"
    assert sub["outputs"]["scores"]["uri"] == "azureml://datastores/out/paths/20261122/"
    assert sub["deployment"] == "blue" and sub["tags"][RUN_KEY_TAG] == run.run_key
    assert (run.status, run.target_kind, run.aml_run_id, run.experiment_name) == (
        "Submitted", "batchEndpoint", "batchjob-1", "score-batch")


def test_a_batch_invocation_whose_answer_was_lost_is_repeated_with_the_same_id_and_starts_nothing_new():
    aml = ActsThenTimesOut()
    engine, _, runs, _ = make(BATCH, aml, policy={"retry": {"maxAttempts": 3, "backoffSeconds": 5}})
    engine.tick(T0 + timedelta(seconds=1))
    engine.poll(T0 + timedelta(seconds=10))
    run = runs.get("s1", T0)
    assert run.status == "Submitted" and run.aml_run_id == "batchjob-1"
    assert len(aml.submissions) == 1


def test_v2_outcomes_come_from_the_jobs_api_with_amls_error():
    engine, _, runs, aml = make(JOB)
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["s1_20261122T100000Z"] = "Failed"
    engine.poll(T0 + timedelta(seconds=30))
    run = runs.get("s1", T0)
    assert (run.status, run.error_code, run.error_message) == ("Failed", "UserError", "boom")


def test_an_overrunning_v2_job_is_cancelled_through_the_jobs_api():
    engine, _, runs, aml = make(BATCH, policy={"runTimeoutMinutes": 5})
    engine.tick(T0 + timedelta(seconds=1))
    aml.status["batchjob-1"] = "Running"
    engine.poll(T0 + timedelta(minutes=7))
    assert aml.cancelled == ["batchjob-1"] and runs.get("s1", T0).status == "TimedOut"


def test_a_failed_job_retried_on_run_failure_gets_a_new_name_and_a_new_repeatability_id():
    policy = {"retry": {"maxAttempts": 3, "backoffSeconds": 5, "retryOnRunFailure": True}}
    engine, _, runs, aml = make(JOB, policy=policy)
    engine.tick(T0 + timedelta(seconds=1))
    first = runs.get("s1", T0)
    aml.status[first.aml_run_id] = "Failed"
    engine.poll(T0 + timedelta(seconds=30))
    engine.poll(T0 + timedelta(seconds=60))
    second = runs.get("s1", T0)
    assert second.aml_run_id == "s1_20261122T100000Z-g1" == job_name(second)
    assert repeatability_id(second) != repeatability_id(first)
    assert Counter(s["job"] for s in aml.submissions) == {"s1_20261122T100000Z": 1, "s1_20261122T100000Z-g1": 1}


def test_manual_slot_job_names_avoid_the_dot_aml_refuses():
    engine, schedules, runs, aml = make(JOB, cron="0 0 1 1 *")
    engine.trigger_now(schedules.get("s1"), T0 + timedelta(milliseconds=250))
    (sub,) = aml.submissions
    assert sub["job"] == "s1_20261122T100000_250Z-manual"


def test_a_schedule_pauses_after_its_limit_of_refused_slots_and_says_why():
    engine, schedules, runs, aml = make(BATCH, policy={"pauseAfterFailures": 3, "misfire": "all", "maxCatchup": 10})
    aml.fail_with = AmlNotFoundError("Batch endpoint score-batch was not found.", status=404, code="UserError")
    now = T0 + timedelta(seconds=1)
    for minute in range(5):
        engine.tick(now + timedelta(minutes=minute))
    record = schedules.get("s1")
    assert not record.definition.enabled and record.failure_streak == 3
    assert "3 slots in a row" in record.paused_reason and "was not found" in record.paused_reason
    assert [r.status for r in runs.list_runs("s1", limit=10).items].count("SubmitFailed") == 3
    # The history says who disabled it: the scheduler, with the reason.
    [pause] = schedules.audit_page("s1").items
    assert (pause.action, pause.actor, pause.details) == ("pause", {"id": None, "name": "scheduler"},
                                                          {"reason": record.paused_reason})
    assert record.updated_by == {"id": None, "name": "scheduler"}


def test_an_accepted_submit_ends_the_streak():
    engine, schedules, runs, aml = make(JOB, policy={"pauseAfterFailures": 3})
    aml.fail_with = AmlNotFoundError("Compute cpu-cluster was not found.", status=404)
    engine.tick(T0 + timedelta(seconds=1))
    engine.tick(T0 + timedelta(minutes=1, seconds=1))
    assert schedules.get("s1").failure_streak == 2
    aml.fail_with = None
    engine.tick(T0 + timedelta(minutes=2, seconds=1))
    record = schedules.get("s1")
    assert record.failure_streak == 0 and record.definition.enabled


def test_outages_do_not_count_towards_the_pause():
    from shared.aml.errors import AmlTransientError
    engine, schedules, _, aml = make(JOB, policy={"pauseAfterFailures": 1, "retry": {"maxAttempts": 1}})
    aml.fail_with = AmlTransientError("unavailable", status=503)
    engine.tick(T0 + timedelta(seconds=1))
    record = schedules.get("s1")
    assert record.failure_streak == 0 and record.definition.enabled
