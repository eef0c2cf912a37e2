"""Through the dev host, on the local stack's seeded AML v2 workspace (compute cpu-cluster, batch
endpoint score-batch with deployment blue): v2 schedules fire, submit once, reach their outcome;
targets AML does not have are refused at save; a target that disappears pauses its schedule."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def batch_schedule(schedule_id, endpoint="score-batch", cron="*/2 * * * * *", **target):
    return {"id": schedule_id, "trigger": {"cron": cron},
            "target": {"kind": "batchEndpoint", "endpointName": endpoint,
                       "inputs": {"orders": {"type": "uri_folder",
                                             "uri": "azureml://datastores/in/paths/{{slot:%Y%m%d%H%M%S}}/"}},
                       **target}}


def job_schedule(schedule_id, experiment, cron="*/2 * * * * *"):
    return {"id": schedule_id, "trigger": {"cron": cron},
            "target": {"kind": "job", "job": {
                "jobType": "Command", "experimentName": experiment, "computeId": "azureml:cpu-cluster",
                "command": "python score.py --slot {{slot}} --data ${{inputs.orders}}",
                "environmentId": "azureml:AzureML-sklearn-1.5@latest",
                "inputs": {"orders": {"jobInputType": "uri_folder", "uri": "azureml://datastores/in/paths/x/"}}}}}


def wait_for(api, schedule_id, predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    runs = []
    while time.monotonic() < deadline:
        code, body = api("GET", f"schedules/{schedule_id}/runs")
        assert code == 200, body
        runs = body["value"]
        match = [r for r in runs if predicate(r)]
        if match:
            return match[0]
        time.sleep(0.5)
    raise AssertionError(f"no {what} run for {schedule_id} within {timeout}s; saw {[r['status'] for r in runs]}")


def aml_jobs_for(emulator_admin, run_key):
    return [r for r in emulator_admin("GET", "runs") if r["tags"].get("scheduler_run_key") == run_key]


def test_a_batch_endpoint_schedule_fires_and_its_job_completes(api, emulator_admin):
    code, created = api("POST", "schedules", batch_schedule("e2e-v2-batch", deployment="blue"))
    assert code == 201, created
    run = wait_for(api, "e2e-v2-batch", lambda r: r["status"] == "Completed", "Completed")
    assert run["targetKind"] == "batchEndpoint" and run["amlJobName"] == run["amlRunId"]
    assert run["portalUrl"].startswith("https://ml.azure.com/runs/" + run["amlJobName"])
    (job,) = aml_jobs_for(emulator_admin, run["runKey"])
    assert job["invocation"]["deployment"] == "blue"
    assert job["invocation"]["inputData"]["orders"]["uri"].startswith("azureml://datastores/in/paths/20")
    api("POST", "schedules/e2e-v2-batch/disable")


def test_a_job_schedule_fires_a_job_named_after_its_slot_that_completes(api, emulator_admin):
    assert api("POST", "schedules", job_schedule("e2e-v2-job", "e2e_v2_jobs"))[0] == 201
    run = wait_for(api, "e2e-v2-job", lambda r: r["status"] == "Completed", "Completed")
    assert run["amlJobName"] == run["runKey"].replace(".", "_")
    (job,) = aml_jobs_for(emulator_admin, run["runKey"])
    assert job["runId"] == run["amlJobName"]
    api("POST", "schedules/e2e-v2-job/disable")


def test_a_failing_v2_job_is_recorded_failed_with_amls_error(api, emulator_admin):
    emulator_admin("PUT", "job-outcomes/e2e_v2_fails",
                   {"status": "Failed", "error": {"code": "UserError", "message": "score.py: no orders"}})
    assert api("POST", "schedules", job_schedule("e2e-v2-fails", "e2e_v2_fails"))[0] == 201
    run = wait_for(api, "e2e-v2-fails", lambda r: r["status"] == "Failed", "Failed")
    assert run["error"] == {"code": "UserError", "message": "score.py: no orders"}
    code, failed = api("GET", "schedules/e2e-v2-fails/runs?status=failed")
    assert code == 200 and run["runKey"] in [r["runKey"] for r in failed["value"]]
    api("POST", "schedules/e2e-v2-fails/disable")


@pytest.mark.parametrize("schedule, field", [
    (batch_schedule("e2e-v2-noep", endpoint="no-such-endpoint"), "target.endpointName"),
    (batch_schedule("e2e-v2-nodep", deployment="purple"), "target.deployment"),
    (job_schedule("e2e-v2-nocompute", "x") | {"target": {"kind": "job", "job": {
        "jobType": "Command", "computeId": "gpu-cluster", "command": "x", "environmentId": "azureml:e@latest"}}},
     "target.job.computeId"),
])
def test_a_target_aml_does_not_have_is_refused_at_save_naming_the_field(api, schedule, field):
    code, body = api("POST", "schedules", schedule)
    assert code == 400, body
    assert body["error"]["details"][0]["field"] == field and "AML has no" in body["error"]["message"]
    assert api("GET", f"schedules/{schedule['id']}")[0] == 404
    # For a target that will exist later: saved without asking.
    code, body = api("POST", "schedules?validate=false", {**schedule, "enabled": False})
    assert code == 201, body


def test_a_schedule_whose_target_disappears_pauses_itself_saying_why(api, emulator_admin):
    emulator_admin("PUT", "batch-endpoints/vanishing", {"deployments": ["blue"]})
    schedule = batch_schedule("e2e-v2-vanish", endpoint="vanishing")
    schedule["policy"] = {"pauseAfterFailures": 2}
    assert api("POST", "schedules", schedule)[0] == 201
    wait_for(api, "e2e-v2-vanish", lambda r: r["status"] == "Submitted" or r.get("amlRunId"), "submitted")
    emulator_admin("DELETE", "batch-endpoints/vanishing")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, record = api("GET", "schedules/e2e-v2-vanish")
        if not record["enabled"]:
            break
        time.sleep(0.5)
    # A slot already under way when the pause lands may still add one more refusal.
    assert not record["enabled"] and record["consecutiveFailures"] in (2, 3)
    assert "2 slots in a row" in record["pausedReason"] and "vanishing" in record["pausedReason"]
    code, failed = api("GET", "schedules/e2e-v2-vanish/runs?status=SubmitFailed")
    assert len(failed["value"]) == record["consecutiveFailures"]
    # Enabling again is the operator saying the cause is dealt with: the streak and reason go.
    code, enabled = api("POST", "schedules/e2e-v2-vanish/enable")
    assert code == 200 and enabled["pausedReason"] is None and enabled["consecutiveFailures"] == 0
    api("DELETE", "schedules/e2e-v2-vanish")
