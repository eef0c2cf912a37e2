"""The AML v2 proxy routes (jobs, batch endpoints) through the dev host of the local stack.

The stack's AML emulator holds the local workspace (compute cpu-cluster, batch endpoint
score-batch with its default deployment blue). The stack is shared with the scheduler's
end-to-end tests, so every job, experiment and tag here carries a name of its own.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.support import EmulatorAdmin

pytestmark = pytest.mark.e2e

FINAL = {"Completed", "Failed", "Canceled"}


@pytest.fixture(scope="module")
def admin(stack):
    admin = EmulatorAdmin(stack.aml_url)
    before = admin("GET", "settings")
    # Pages of two jobs, and a cancel that takes effect quickly.
    admin("PATCH", "settings", {"armPageSize": 2, "cancelSeconds": 0.5})
    yield admin
    admin("PATCH", "settings", {key: before[key] for key in ("armPageSize", "cancelSeconds")})


@pytest.fixture
def slow_experiment(admin, tag):
    """An experiment whose jobs run for a minute unless cancelled."""
    name = f"e2e_v2_{tag}"
    admin("PUT", f"job-outcomes/{name}", {"status": "Completed", "durationSeconds": 60})
    yield name
    admin("DELETE", f"job-outcomes/{name}")


def command_job(experiment, tag_key, **extra):
    return {"jobType": "Command", "experimentName": experiment, "displayName": "e2e scoring",
            "command": "python score.py --day ${{inputs.day}}", "environmentId": "azureml:scoring-env:1",
            "computeId": "cpu-cluster", "inputs": {"day": {"jobInputType": "literal", "value": "2026-11-22"}},
            "tags": {tag_key: "yes"}, **extra}


def wait_for_job(proxy, name, statuses, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job, _ = proxy("GET", f"jobs/{name}")
        assert status == 200, job
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {name} never reached {statuses}")


# -- jobs -------------------------------------------------------------------------------------

def test_job_lifecycle_create_get_list_cancel(proxy, admin, slow_experiment, tag):
    tag_key = f"e2e_{tag}"
    name = f"e2e-job-{tag}"
    status, created, headers = proxy("PUT", f"jobs/{name}", command_job(slow_experiment, tag_key))
    assert status == 201, created
    assert headers["Location"] == f"/api/jobs/{name}"
    assert created["computeId"].endswith("/workspaces/ws-local/computes/cpu-cluster")
    assert created["portalUrl"].startswith(f"https://ml.azure.com/runs/{name}?wsid=")

    status, job, _ = proxy("GET", f"jobs/{name}?raw=true")
    assert status == 200 and job["status"] not in FINAL and job["error"] is None
    assert job["tags"] == {tag_key: "yes"} and job["raw"]["name"] == name

    # Three more with the tag, one without: the tag filter and ARM's pages of two.
    others = [f"e2e-job-{tag}-{i}" for i in range(3)]
    for other in others:
        assert proxy("PUT", f"jobs/{other}", command_job(slow_experiment, tag_key))[0] == 201
    assert proxy("PUT", f"jobs/e2e-untagged-{tag}", command_job(slow_experiment, f"x_{tag}"))[0] == 201
    listed, token, pages = [], None, 0
    while True:
        query = {"tag": tag_key, **({"continuationToken": token} if token else {})}
        status, page, _ = proxy("GET", "jobs", params=query)
        assert status == 200, page
        listed += [j["name"] for j in page["value"]]
        pages += 1
        token = page["continuationToken"]
        if token is None:
            break
    assert listed == list(reversed(others)) + [name] and pages == 2  # newest first
    status, page, _ = proxy("GET", "jobs", params={"tag": tag_key, "status": "Canceled"})
    assert status == 200 and page["value"] == []

    status, cancel, headers = proxy("POST", f"jobs/{name}/cancel",
                                    headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ops@contoso.com"})
    assert (status, cancel) == (202, {"name": name, "status": "CancelRequested"})
    assert wait_for_job(proxy, name, {"Canceled"})["status"] == "Canceled"
    status, body, _ = proxy("POST", f"jobs/{name}/cancel")
    assert status == 409 and body["error"]["code"] == "JobAlreadyFinished"
    assert body["error"]["details"][0]["status"] == "Canceled"
    cancels = [r for r in admin.requests_for(f"/jobs/{name}/cancel") if r["method"] == "POST"]
    assert len(cancels) == 1  # the second cancel was answered without asking AML
    for other in others + [f"e2e-untagged-{tag}"]:
        assert proxy("POST", f"jobs/{other}/cancel")[0] == 202


def test_job_errors_name_the_field_and_unknown_jobs_are_404(proxy, admin, tag):
    status, body, _ = proxy("PUT", f"jobs/e2e-bad-{tag}", {"jobType": "Command", "computeId": "no/such"})
    assert status == 400 and body["error"]["details"][0]["field"] == "computeId"
    status, body, _ = proxy("PUT", f"jobs/e2e-bad-{tag}",
                            command_job("e2e", "t", displayName="scores of {{slot:%Y-%m-%d}}"))
    assert status == 400 and body["error"]["details"][0]["field"] == "displayName"
    assert "schedules only" in body["error"]["message"]
    for method, path in (("GET", "jobs/a.b"), ("PUT", "jobs/-lead"), ("POST", "jobs/a%2Fb/cancel")):
        status, body, _ = proxy(method, path, command_job("e2e", "t") if method == "PUT" else None)
        assert status == 400 and body["error"]["details"][0]["field"] == "name", (method, path, body)
    assert admin.requests_for(f"e2e-bad-{tag}") == []
    status, body, _ = proxy("GET", f"jobs/none-{tag}")
    assert status == 404 and body["error"]["details"][0]["amlStatus"] == 404


# -- batch endpoints ----------------------------------------------------------------------------

def test_batch_endpoint_list_get_and_deployments(proxy):
    status, listed, _ = proxy("GET", "batch-endpoints")
    assert status == 200 and "score-batch" in [e["name"] for e in listed["value"]]
    status, endpoint, _ = proxy("GET", "batch-endpoints/score-batch")
    assert status == 200 and endpoint["defaultDeployment"] == "blue" and endpoint["authMode"] == "AADToken"
    assert endpoint["scoringUri"].endswith("/batch/score-batch/jobs")
    status, deployments, _ = proxy("GET", "batch-endpoints/score-batch/deployments?raw=true")
    assert status == 200 and [(d["name"], d["isDefault"]) for d in deployments["value"]] == [("blue", True)]
    assert deployments["value"][0]["compute"].endswith("/computes/cpu-cluster")
    assert deployments["value"][0]["raw"]["name"] == "blue"
    status, body, _ = proxy("GET", "batch-endpoints/no-such-endpoint")
    assert status == 404 and body["error"]["details"][0]["amlStatus"] == 404
    status, body, _ = proxy("GET", "batch-endpoints/ab/deployments")
    assert status == 400 and body["error"]["details"][0]["field"] == "name"


def test_invoke_with_and_without_deployment_and_repeated_with_one_id(proxy, admin, tag):
    experiment = f"e2e_invoke_{tag}"
    body = {"inputs": {"input_data": {"type": "uri_folder",
                                      "uri": "azureml://datastores/workspaceblobstore/paths/scoring/in/"}},
            "outputs": {"score": {"type": "uri_folder",
                                  "uri": "azureml://datastores/workspaceblobstore/paths/scoring/out/"}},
            "experimentName": experiment}
    status, first, headers = proxy("POST", "batch-endpoints/score-batch/invoke", body)
    assert status == 201, first
    assert str(uuid.UUID(first["repeatabilityRequestId"])) == first["repeatabilityRequestId"]
    assert headers["Location"] == f"/api/jobs/{first['jobName']}"

    request_id = str(uuid.uuid4())
    answers = [proxy("POST", "batch-endpoints/score-batch/invoke", {**body, "deployment": "blue"},
                     headers={"Repeatability-Request-ID": request_id}) for _ in range(2)]
    assert [a[0] for a in answers] == [201, 201]
    assert answers[0][1]["jobName"] == answers[1][1]["jobName"] != first["jobName"]
    assert answers[1][1]["repeatabilityRequestId"] == request_id

    runs = [r for r in admin("GET", "runs") if r["experimentName"] == experiment]
    assert len(runs) == 2  # one per repeatability id
    sent = {r["runId"]: r["invocation"] for r in runs}
    assert sent[answers[0][1]["jobName"]]["repeatabilityRequestId"] == request_id
    assert sent[answers[0][1]["jobName"]]["repeats"] == 1
    assert {i["deployment"] for i in sent.values()} == {"blue"}
    job = wait_for_job(proxy, first["jobName"], FINAL)
    assert job["experimentName"] == experiment and job["jobType"] == "Pipeline"


def test_invoke_refusals(proxy, admin, tag):
    experiment = f"e2e_refused_{tag}"
    cases = [
        ({"experimentName": experiment, "deployment": "b"}, {}, "deployment"),
        ({"experimentName": experiment, "inputs": {"d": {"type": "literal", "value": "{{slot}}"}}}, {},
         "inputs.d.value"),
        ({"experimentName": experiment}, {"Repeatability-Request-ID": "12345"}, "Repeatability-Request-ID"),
    ]
    for body, headers, field in cases:
        status, answer, _ = proxy("POST", "batch-endpoints/score-batch/invoke", body, headers=headers)
        assert status == 400 and answer["error"]["details"][0]["field"] == field, answer
    status, answer, _ = proxy("POST", "batch-endpoints/no-such-endpoint/invoke", {"experimentName": experiment})
    assert status == 404
    status, answer, _ = proxy("POST", "batch-endpoints/score-batch/invoke",
                              {"experimentName": experiment, "deployment": "purple"})
    assert status == 404 and answer["error"]["details"][0]["field"] == "deployment"
    assert [r for r in admin("GET", "runs") if r["experimentName"] == experiment] == []
