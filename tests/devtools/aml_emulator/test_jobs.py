"""AML v2 jobs on the ARM plane: the JobBase shape, status over time, lists, cancel, failing jobs.

Shapes follow the 2025-12-01 examples (Job/PipelineJob/createOrUpdate.json, Job/CommandJob/get.json,
Job/cancel.json); a failed job's error is read from run history, where azure-ai-ml reads it.
"""

from __future__ import annotations

import requests

from tests.devtools.aml_emulator.support import Client, assert_error_shape, command_job, compute_id, \
    minted_token, pipeline_job, ARM


def history(aml, *segments):
    client = Client(aml, minted_token(ARM))
    return client.session.get(client.url("history", "/".join(segments)), timeout=5)


def test_put_answers_201_with_the_jobbase(aml, arm):
    created = arm.put_job("slot-1", pipeline_job(aml))
    assert created.status_code == 201
    job = created.json()
    assert job["id"] == f"/{aml.workspace_path}/jobs/slot-1"
    assert (job["name"], job["type"]) == ("slot-1", "Microsoft.MachineLearningServices/workspaces/jobs")
    props = job["properties"]
    assert (props["jobType"], props["status"], props["experimentName"]) == ("Pipeline", "NotStarted", "nightly")
    assert props["computeId"] == compute_id(aml, "cpu-cluster")
    assert props["inputs"]["data"]["jobInputType"] == "uri_folder" and set(props["jobs"]) == {"score"}
    assert props["services"]["Studio"]["endpoint"].startswith("https://ml.azure.com/runs/slot-1?wsid=/subscriptions/")
    assert set(job["systemData"]) == {"createdAt", "createdBy", "createdByType", "lastModifiedAt",
                                      "lastModifiedBy", "lastModifiedByType"}
    assert arm.get("JOBS", "slot-1").json()["name"] == "slot-1"  # literal path segments match in any case


def test_status_advances_like_a_run_to_the_outcome(aml, arm):
    arm.put_job("cmd-1", command_job(aml))
    job, seen = arm.wait_for_job("cmd-1", {"Completed"})
    order = ["NotStarted", "Queued", "Running", "Completed"]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "Completed"
    assert job["properties"]["jobType"] == "Command"


def test_a_job_is_a_run_history_run_and_shows_in_the_admin_run_view(aml, arm):
    arm.put_job("cmd-1", command_job(aml))
    run = history(aml, "runs", "cmd-1").json()
    assert (run["runId"], run["displayName"], run["target"]) == ("cmd-1", "nightly scoring", "cpu-cluster")
    [view] = requests.get(f"{aml.base_url}/_emulator/runs", timeout=5).json()
    assert (view["runId"], view["jobType"], view["experimentName"], view["invocation"]) == (
        "cmd-1", "Command", "nightly", None)
    assert [j["name"] for j in requests.get(f"{aml.base_url}/_emulator/jobs", timeout=5).json()] == ["cmd-1"]


def test_lists_filter_and_page_with_next_links_that_keep_the_filters(aml, arm):
    aml.arm_page_size = 2
    for index in range(3):
        arm.put_job(f"p{index}", pipeline_job(aml, tags={"slot": str(index)}))
    arm.put_job("c0", command_job(aml, tags={"other": "x"}))
    arm.put_job("archived", command_job(aml, isArchived=True))
    first = arm.get("jobs", params={**arm.params, "jobType": "Pipeline"}).json()
    assert [j["name"] for j in first["value"]] == ["p2", "p1"]
    second = arm.call("GET", url=first["nextLink"]).json()
    assert [j["name"] for j in second["value"]] == ["p0"] and "nextLink" not in second
    by_tag = arm.get("jobs", params={**arm.params, "tag": "other"}).json()
    assert [j["name"] for j in by_tag["value"]] == ["c0"]
    archived = arm.get("jobs", params={**arm.params, "listViewType": "ArchivedOnly"}).json()
    assert [j["name"] for j in archived["value"]] == ["archived"]
    assert_error_shape(arm.get("jobs", params={**arm.params, "listViewType": "Everything"}), 400)


def test_cancel_is_a_long_running_operation_ending_in_canceled(aml, arm):
    aml.run_seconds = 30
    arm.put_job("slot-1", pipeline_job(aml))
    accepted = arm.call("POST", "jobs", "slot-1", "cancel")
    assert accepted.status_code == 202 and accepted.headers["Retry-After"].isdigit()
    location = accepted.headers["Location"]
    assert f"/locations/{aml.location}/mfeOperationResults/" in location and "api-version=2025-12-01" in location
    assert arm.get("jobs", "slot-1").json()["properties"]["status"] == "CancelRequested"
    again = arm.call("POST", "jobs", "slot-1", "cancel")
    assert again.status_code == 202 and again.headers["Location"] == location
    _job, seen = arm.wait_for_job("slot-1", {"Canceled"})
    assert seen[-1] == "Canceled"
    assert arm.call("GET", url=location).status_code == 204
    error = assert_error_shape(arm.call("POST", "jobs", "slot-1", "cancel"), 400)
    assert error["code"] == "UserError" and "terminal state" in error["message"]


def test_the_cancel_operation_answers_202_while_the_cancel_is_pending(aml, arm):
    aml.run_seconds, aml.cancel_seconds = 30, 30
    arm.put_job("slot-1", pipeline_job(aml))
    location = arm.call("POST", "jobs", "slot-1", "cancel").headers["Location"]
    pending = arm.call("GET", url=location)
    assert pending.status_code == 202 and pending.headers["Location"] == location
    assert_error_shape(arm.call("GET", url=location.replace("mfeOperationResults/", "mfeOperationResults/x")), 404)


def test_cancel_of_a_missing_job_is_404(arm):
    assert_error_shape(arm.call("POST", "jobs", "nope", "cancel"), 404)


def test_a_job_outcome_fails_the_experiments_jobs_with_its_error(aml, arm):
    aml.set_job_outcome("nightly", "Failed", error={"code": "UserError", "message": "input folder is empty"})
    arm.put_job("failing", command_job(aml))
    arm.put_job("fine", command_job(aml, experimentName="other"))
    failed, _seen = arm.wait_for_job("failing", {"Completed", "Failed"})
    assert failed["properties"]["status"] == "Failed"
    assert "error" not in failed["properties"]  # JobBase has no error field; run history has the error
    run = history(aml, "runs", "failing").json()
    assert run["error"]["error"]["code"] == "UserError"
    assert run["error"]["error"]["message"] == "input folder is empty"
    details = history(aml, "runs", "failing", "details").json()
    assert details["error"]["error"]["message"] == "input folder is empty"
    assert arm.wait_for_job("fine", {"Completed", "Failed"})[0]["properties"]["status"] == "Completed"
