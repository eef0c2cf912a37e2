"""AML v2 targets on real parts: the jobs and batch clients against the AML emulator, the
engine on Azurite, and the check at save."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shared.aml.errors import AmlPermanentError
from shared.api.target_check import TargetCheck
from shared.config import load_settings
from shared.engine import RUN_KEY_TAG
from shared.runtime import build_runtime
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.api.http import ApiError
from shared.targets import parse_target
from tests.integration.support import Driven

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def job_target(experiment, compute="cpu-cluster"):
    return {"kind": "job", "job": {"jobType": "Command", "experimentName": experiment, "computeId": compute,
                                   "command": "python score.py --day {{slot:%Y-%m-%d}}",
                                   "environmentId": "azureml:AzureML-sklearn-1.5@latest"}}


def batch_target(endpoint="score-batch", deployment=None):
    target = {"kind": "batchEndpoint", "endpointName": endpoint,
              "inputs": {"data": {"type": "uri_folder", "uri": "azureml://datastores/in/paths/{{slot:%Y/%m/%d}}/"}}}
    if deployment:
        target["deployment"] = deployment
    return target


@pytest.fixture
def runtime(app_env, aml_emulator):
    aml_emulator.seed_compute("cpu-cluster")
    aml_emulator.seed_batch_endpoint("score-batch", deployments=("blue", "green"), default="blue")
    return build_runtime(load_settings(app_env))


def add(runtime, schedule_id, target, cron="0 10 * * *", policy=None):
    definition = parse_schedule({"id": schedule_id, "trigger": {"cron": cron}, "target": target,
                                 "policy": policy or {}})
    runtime.schedules.create(ScheduleRecord(definition, T0, None, T0, T0))


def settle(engine, runtime, schedule_id, *, seconds=6.0):
    """Poll until the slot's run is final (the emulator's jobs take about a second)."""
    deadline = time.monotonic() + seconds
    minute = 1
    while time.monotonic() < deadline:
        engine.poll(T0 + timedelta(minutes=minute))
        run = runtime.runs.get(schedule_id, T0)
        if run.status in ("Completed", "Failed", "Canceled", "TimedOut", "SubmitFailed"):
            return run
        minute += 1
        time.sleep(0.2)
    return runtime.runs.get(schedule_id, T0)


def test_a_job_schedule_submits_a_named_job_that_completes_with_its_studio_link(runtime, aml_emulator):
    engine = Driven(runtime)
    add(runtime, "job-ok", job_target("v2_ok"))
    engine.tick(T0 + timedelta(seconds=1))
    run = settle(engine, runtime, "job-ok")
    assert run.status == "Completed" and run.aml_run_id == "job-ok_20261122T100000Z"
    assert run.portal_url.endswith("/runs/job-ok_20261122T100000Z?wsid=" + run.portal_url.split("?wsid=")[1])
    (job,) = [j for j in aml_emulator.jobs() if j["name"] == run.aml_run_id]
    assert job["properties"]["tags"][RUN_KEY_TAG] == run.run_key
    assert job["properties"]["command"] == "python score.py --day 2026-11-22"


def test_a_failing_job_reaches_failed_with_amls_error(runtime, aml_emulator):
    aml_emulator.set_job_outcome("v2_fails", "Failed", error={"code": "UserError", "message": "score.py exited 2"})
    engine = Driven(runtime)
    add(runtime, "job-bad", job_target("v2_fails"))
    engine.tick(T0 + timedelta(seconds=1))
    run = settle(engine, runtime, "job-bad")
    assert (run.status, run.error_code, run.error_message) == ("Failed", "UserError", "score.py exited 2")


def test_a_batch_schedule_invokes_the_endpoint_and_completes(runtime, aml_emulator):
    engine = Driven(runtime)
    add(runtime, "batch-ok", batch_target(deployment="green"))
    engine.tick(T0 + timedelta(seconds=1))
    run = settle(engine, runtime, "batch-ok")
    assert run.status == "Completed" and run.target_kind == "batchEndpoint"
    (job,) = [r for r in aml_emulator.runs() if r.get("runId") == run.aml_run_id]
    invocation = job["invocation"]
    assert invocation["deployment"] == "green" and invocation["repeatabilityRequestId"]
    assert invocation["inputData"]["data"]["uri"] == "azureml://datastores/in/paths/2026/11/22/"


@pytest.mark.parametrize("mode", ["update", "conflict", "return-existing"])
def test_a_second_put_of_a_slots_job_adopts_the_first_whatever_aml_answers(runtime, aml_emulator, mode):
    aml_emulator.duplicate_job_put = mode
    try:
        props = {"jobType": "Command", "experimentName": "v2_dup", "computeId": runtime.aml.compute_id("cpu-cluster"),
                 "command": "echo",
                 "environmentId": "azureml:AzureML-sklearn-1.5@latest", "tags": {RUN_KEY_TAG: "k1"}}
        first = runtime.aml.submit_job("dup-job-1", props, tag=RUN_KEY_TAG, value="k1")
        # A later attempt sends a different body (its attempt tag changed): still the same job.
        again = runtime.aml.submit_job("dup-job-1", {**props, "tags": {RUN_KEY_TAG: "k1", "n": "2"},
                                                     "displayName": "other"}, tag=RUN_KEY_TAG, value="k1")
        assert first.run_id == again.run_id == "dup-job-1"
        assert [j["name"] for j in aml_emulator.jobs()].count("dup-job-1") == 1
        with pytest.raises(AmlPermanentError) as taken:
            runtime.aml.submit_job("dup-job-1", {**props, "command": "rm -rf /", "tags": {RUN_KEY_TAG: "other"}},
                                   tag=RUN_KEY_TAG, value="other")
        assert taken.value.status in (400, 409)
    finally:
        aml_emulator.duplicate_job_put = "update"


def test_an_invocation_repeated_with_its_id_starts_one_job(runtime, aml_emulator):
    args = dict(deployment=None, experiment_name=None, tags={RUN_KEY_TAG: "k"}, repeatability_id="rid-1")
    inputs = {"data": {"type": "uri_file", "uri": "azureml://x/a.csv"}}
    one = runtime.aml.invoke_batch("score-batch", inputs, {}, **args)
    two = runtime.aml.invoke_batch("score-batch", inputs, {}, **args)
    assert one.run_id == two.run_id
    assert Counter(r.get("invocation", {}).get("repeatabilityRequestId") for r in aml_emulator.runs())["rid-1"] == 1


def test_a_scoring_uri_on_another_host_is_not_followed(app_env, aml_emulator):
    aml_emulator.seed_compute("cpu-cluster")
    aml_emulator.seed_batch_endpoint("elsewhere")
    # The app allows only its configured inference base; ARM pointing elsewhere is refused.
    settings = load_settings({**app_env, "AML_INFERENCE_BASE_URL": "http://127.0.0.1:9/"})
    runtime = build_runtime(settings)
    with pytest.raises(AmlPermanentError) as refused:
        runtime.aml.invoke_batch("elsewhere", {}, {}, deployment=None, experiment_name=None, tags={},
                                 repeatability_id="rid-x")
    assert refused.value.code == "ScoringUriNotAllowed"
    assert not [r for r in aml_emulator.requests_log() if "/batch/elsewhere/" in r["path"]]


@pytest.mark.parametrize("target, field", [
    (batch_target("no-such-endpoint"), "target.endpointName"),
    (batch_target(deployment="purple"), "target.deployment"),
    (job_target("x", compute="gpu-cluster"), "target.job.computeId"),
    ({"kind": "pipeline", "pipelineId": "99999999-2222-3333-4444-555555555555", "experimentName": "e"},
     "target.pipelineId"),
    ({"kind": "pipelineEndpoint", "pipelineEndpointId": "99999999-2222-3333-4444-555555555555",
      "experimentName": "e"}, "target.pipelineEndpointId"),
])
def test_targets_aml_does_not_have_are_refused_naming_the_field(runtime, target, field):
    check = TargetCheck(runtime.aml, runtime.compute)
    with pytest.raises(ApiError) as refused:
        check(parse_target(target))
    assert refused.value.status == 400 and refused.value.details[0]["field"] == field


def test_targets_aml_has_pass_the_check(runtime):
    from tests.conftest import ENDPOINT_ID, PIPELINE_ID
    check = TargetCheck(runtime.aml, runtime.compute)
    for target in (batch_target(), batch_target(deployment="green"), job_target("x"),
                   {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "e"},
                   {"kind": "pipelineEndpoint", "pipelineEndpointId": ENDPOINT_ID, "pipelineVersion": "2",
                    "experimentName": "e"}):
        check(parse_target(target))
