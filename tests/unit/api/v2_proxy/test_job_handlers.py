"""AML v2 job proxy handlers (create, read, list, cancel) with the real clients and transport,
against the AML emulator.

As in tests/unit/api/test_proxy_handlers.py: tokens are minted locally, every rejected
request is checked to have sent nothing to AML, and nothing of the code under test is replaced.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging

import pytest

from shared.access.guard import acting_as
from shared.access.principal import Principal
from tests.unit.api.v2_proxy.support import COMMAND_JOB, Proxy, emulator_job, put_job, wait_for_status


# -- create ------------------------------------------------------------------------------

def test_put_creates_the_job_with_arm_compute_ids_and_answers_its_view(proxy, aml):
    status, job, headers = put_job(proxy, "score-1", params={"raw": "true"})
    assert status == 201 and headers["Location"] == "/api/jobs/score-1"
    compute_id = f"/{aml.workspace_path}/computes/cpu-cluster"
    assert {k: job[k] for k in ("name", "jobType", "displayName", "experimentName", "computeId", "tags")} == {
        "name": "score-1", "jobType": "Command", "displayName": "score-1", "experimentName": "proxy_v2",
        "computeId": compute_id, "tags": {"team": "ml"}}
    assert job["status"] == "NotStarted" and job["createdAt"].endswith("Z")
    # The studio link is built from the name, not taken from the job's services.
    assert job["portalUrl"].startswith("https://ml.azure.com/runs/score-1?wsid=/subscriptions/")
    assert job["raw"]["properties"]["services"]["Studio"]["endpoint"] != job["portalUrl"]
    sent = emulator_job(aml, "score-1")["properties"]
    assert sent["computeId"] == compute_id and sent["command"] == COMMAND_JOB["command"]  # ${{...}} is AML's own
    # The same job again: AML answers with the job it has.
    status, again, headers = put_job(proxy, "score-1")
    assert status == 200 and again["name"] == "score-1" and "Location" not in headers and "raw" not in again


def test_every_compute_reference_of_a_pipeline_job_is_sent_as_an_arm_id(proxy, aml):
    arm_id = f"/{aml.workspace_path}/computes/cpu-cluster"
    body = {"jobType": "Pipeline", "settings": {"default_compute": "azureml:cpu-cluster"},
            "jobs": {"prep": {"type": "command", "computeId": "cpu-cluster"}, "score": {"type": "command"}}}
    status, job, _ = put_job(proxy, "pipe_1", body)
    assert status == 201 and job["jobType"] == "Pipeline" and job["experimentName"] == "Default"
    sent = emulator_job(aml, "pipe_1")["properties"]
    assert sent["settings"]["default_compute"] == arm_id and sent["jobs"]["prep"]["computeId"] == arm_id


@pytest.mark.parametrize("body, field", [
    ({"experimentName": "x"}, "jobType"),
    ({**COMMAND_JOB, "jobType": "Sweep"}, "jobType"),
    ({**COMMAND_JOB, "status": "Completed"}, "status"),
    ({**COMMAND_JOB, "computeId": "a/b"}, "computeId"),
    ({**COMMAND_JOB, "computeId": "https://evil.example.com/computes/x"}, "computeId"),
    ({"jobType": "Pipeline", "jobs": {"s": {"computeId": "x"}}}, "jobs.s.computeId"),
    ({"jobType": "Pipeline", "settings": {"default_compute": 5}}, "settings.default_compute"),
    ({**COMMAND_JOB, "settings": None}, "settings"),
    ({**COMMAND_JOB, "tags": {"team": 1}}, "tags"),
    ({**COMMAND_JOB, "tags": {"scheduler_run_key": "nightly-20261122T013000Z"}}, "tags.scheduler_run_key"),
    ({**COMMAND_JOB, "experimentName": "a b"}, "experimentName"),
    ({**COMMAND_JOB, "displayName": "x" * 1025}, "displayName"),
    ({**COMMAND_JOB, "displayName": "scores for {{slot:%Y-%m-%d}}"}, "displayName"),
    ({**COMMAND_JOB, "inputs": {"day": {"jobInputType": "literal", "value": "{{slot}}"}}}, "inputs.day.value"),
    ({**COMMAND_JOB, "inputs": {"days": {"jobInputType": "literal", "value": ["{{ nope }}"]}}}, "inputs.days.value[0]"),
    ({**COMMAND_JOB, "description": "d" * 1000, "command": "x" * 33_000}, "body"),
    ([COMMAND_JOB], "body"),
])
def test_bad_job_definitions_name_the_field_and_send_nothing(proxy, aml, body, field):
    status, payload, _ = put_job(proxy, "bad-job", body)
    assert status == 400, payload
    assert payload["error"]["details"][0]["field"] == field
    assert aml.requests_log() == []


def test_placeholders_are_refused_with_the_reason(proxy, aml):
    status, payload, _ = put_job(proxy, "p", {**COMMAND_JOB, "displayName": "run {{schedule_id}}"})
    assert status == 400 and "filled per slot by schedules only" in payload["error"]["message"]


@pytest.mark.parametrize("name", ["a.b", "-lead", "x" * 256, "a:b", "\u0430dmin", "a b"])
def test_bad_job_names_are_400_naming_the_field(proxy, aml, name):
    for operation, method in (("get", "GET"), ("put", "PUT"), ("cancel", "POST")):
        status, payload, _ = proxy("jobs", operation, method, {"name": name}, COMMAND_JOB)
        assert status == 400 and payload["error"]["details"][0]["field"] == "name", (operation, payload)
    assert aml.requests_log() == []


def test_amls_refusal_of_a_job_is_a_400_with_amls_status(proxy, aml):
    body = {key: value for key, value in COMMAND_JOB.items() if key != "environmentId"}
    status, payload, _ = put_job(proxy, "no-env", body)
    assert status == 400 and payload["error"]["code"] == "AmlRejectedRequest"
    assert payload["error"]["details"][0]["amlStatus"] == 400
    status, payload, _ = put_job(proxy, "no-compute", {**COMMAND_JOB, "computeId": "gpu-cluster"})
    assert status == 400 and "gpu-cluster" in payload["error"]["message"]


# -- read --------------------------------------------------------------------------------

def test_get_unknown_job_is_a_404_with_amls_status(proxy, aml):
    status, payload, _ = proxy("jobs", "get", route={"name": "nowhere"})
    assert status == 404 and payload["error"]["details"][0]["amlStatus"] == 404


def test_a_failed_job_shows_its_error_from_run_history(proxy, aml):
    aml.set_job_outcome("doomed", "Failed", error={"code": "UserError", "message": "score.py exited with 1"},
                       duration_seconds=0.1)
    try:
        assert put_job(proxy, "doomed-1", {**COMMAND_JOB, "experimentName": "doomed"})[0] == 201
        job = wait_for_status(proxy, "doomed-1", {"Failed"})
    finally:
        aml.clear_job_outcome("doomed")
    assert job["error"] == {"code": "UserError", "message": "score.py exited with 1"}
    status, completed, _ = put_job(proxy, "fine-1")
    assert wait_for_status(proxy, "fine-1", {"Completed"})["error"] is None


# -- list ---------------------------------------------------------------------------------

def list_all(proxy, **params):
    seen, token, pages = [], None, 0
    while True:
        query = {**params, **({"continuationToken": token} if token else {})}
        status, page, _ = proxy("jobs", "list", params=query)
        assert status == 200, page
        seen += page["value"]
        pages += 1
        token = page["continuationToken"]
        if token is None:
            return seen, pages


def test_lists_page_through_arm_with_the_tag_filter_kept_by_the_token(proxy, aml):
    for i in range(5):
        assert put_job(proxy, f"tagged-{i}", {**COMMAND_JOB, "tags": {"batch7": "x"}})[0] == 201
    assert put_job(proxy, "untagged", {**COMMAND_JOB, "tags": {}})[0] == 201
    jobs, pages = list_all(proxy, tag="batch7")
    assert [j["name"] for j in jobs] == [f"tagged-{i}" for i in reversed(range(5))]  # newest first
    assert pages == 3  # ARM pages of two
    assert all("raw" not in j and "error" not in j for j in jobs)
    # Later pages keep the first page's filters, whether or not they are sent again.
    status, first, _ = proxy("jobs", "list", params={"tag": "batch7"})
    status, second, _ = proxy("jobs", "list", params={"continuationToken": first["continuationToken"]})
    assert [j["name"] for j in second["value"]] == ["tagged-2", "tagged-1"]
    status, payload, _ = proxy("jobs", "list", params={"tag": "other", "continuationToken": first["continuationToken"]})
    assert status == 400 and payload["error"]["details"][0]["field"] == "tag"
    lists = [r for r in aml.requests_log() if r["method"] == "GET" and r["path"].endswith("/jobs")]
    assert all("tag=batch7" in r["query"] for r in lists)


def test_the_status_filter_is_applied_to_each_page(proxy, aml):
    for i in range(3):
        assert put_job(proxy, f"s-{i}", {**COMMAND_JOB, "tags": {"sbatch": "x"}})[0] == 201
    wait_for_status(proxy, "s-2", {"Completed"})
    assert put_job(proxy, "s-new", {**COMMAND_JOB, "tags": {"sbatch": "x"}})[0] == 201
    jobs, pages = list_all(proxy, tag="sbatch", status="Completed", raw="true")
    assert sorted(j["name"] for j in jobs) == ["s-0", "s-1", "s-2"] and pages == 2
    assert all(j["raw"]["properties"]["status"] == "Completed" for j in jobs)
    status, page, _ = proxy("jobs", "list", params={"tag": "sbatch", "status": "Completed"})
    assert [j["name"] for j in page["value"]] == ["s-2"] and page["continuationToken"]  # s-new was dropped


@pytest.mark.parametrize("params, field", [
    ({"jobType": "Batch"}, "jobType"), ({"status": "Done"}, "status"), ({"listViewType": "Some"}, "listViewType"),
    ({"tag": "a=b"}, "tag"), ({"tag": ""}, "tag"), ({"raw": "yes"}, "raw"),
    ({"continuationToken": "not a token!"}, "continuationToken"),
    ({"continuationToken": base64.urlsafe_b64encode(b'{"t": "x"}').decode().rstrip("=")}, "continuationToken"),
    ({"continuationToken": base64.urlsafe_b64encode(
        b'{"t": "JHNraXA9Mg", "f": {"status": "Bogus"}}').decode().rstrip("=")}, "continuationToken"),
    # A token of our shape carrying a next page this API could not have been given by ARM.
    ({"continuationToken": base64.urlsafe_b64encode(json.dumps(
        {"t": base64.urlsafe_b64encode(b"url=https://evil.example.com/").decode(), "f": {}}).encode()).decode()},
     "continuationToken"),
])
def test_bad_list_requests_are_400_before_arm(proxy, aml, params, field):
    status, payload, _ = proxy("jobs", "list", params=params)
    assert status == 400 and payload["error"]["details"][0]["field"] == field, payload
    assert aml.requests_log() == []


# -- cancel -------------------------------------------------------------------------------

def cancels(aml):
    return [r for r in aml.requests_log() if r["method"] == "POST" and r["path"].endswith("/cancel")]


def test_cancel_is_accepted_then_a_finished_job_is_a_409_and_no_cancel_is_sent(proxy, aml, caplog):
    aml.set_job_outcome("slow", "Completed", duration_seconds=30)
    try:
        assert put_job(proxy, "long-1", {**COMMAND_JOB, "experimentName": "slow"})[0] == 201
    finally:
        aml.clear_job_outcome("slow")
    caplog.set_level(logging.INFO, logger="shared.api.audit")
    with acting_as(Principal("5b5450db-eb26-4c1a-981c-ba1d25f0483d", "ops@contoso.com", frozenset(), "entra")):
        status, payload, headers = proxy("jobs", "cancel", "POST", {"name": "long-1"})
    assert (status, payload) == (202, {"name": "long-1", "status": "CancelRequested"})
    assert headers["Location"] == "/api/jobs/long-1"
    assert any("job cancel of job long-1 requested by ops@contoso.com" in r.getMessage() for r in caplog.records)
    assert wait_for_status(proxy, "long-1", {"Canceled"})["status"] == "Canceled"
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "long-1"})
    assert status == 409 and payload["error"]["code"] == "JobAlreadyFinished"
    assert payload["error"]["details"][0]["status"] == "Canceled"
    assert len(cancels(aml)) == 1


def test_a_job_that_ends_while_its_cancel_is_on_the_way_is_a_409(proxy, aml):
    aml.set_job_outcome("quick", "Completed", duration_seconds=0.3)
    try:
        assert put_job(proxy, "quick-1", {**COMMAND_JOB, "experimentName": "quick"})[0] == 201
    finally:
        aml.clear_job_outcome("quick")
    aml.add_fault(method="POST", path_contains="/jobs/quick-1/cancel", delay_seconds=0.8)
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "quick-1"})
    assert status == 409 and payload["error"]["details"][0]["status"] == "Completed"
    assert [r["status"] for r in cancels(aml)] == [400]  # AML's refusal, answered as the conflict it is


def test_cancel_of_an_unknown_job_is_a_404_and_can_be_switched_off(proxy, settings, aml):
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "nowhere"})
    assert status == 404 and cancels(aml) == []
    locked = Proxy(dataclasses.replace(settings, allow_destructive=False))
    before = len(aml.requests_log())
    status, payload, _ = locked("jobs", "cancel", "POST", {"name": "nowhere"})
    assert status == 403 and payload["error"]["code"] == "OperationDisabled"
    assert len(aml.requests_log()) == before


