"""Every AML proxy route through the dev host of the local stack, against the AML emulator.

The stack is shared with the scheduler's end-to-end tests, whose timers keep submitting
runs; so every compute, experiment, pipeline and fault here uses names of its own.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
import requests

from tests.e2e.support import SSH_KEY, EmulatorAdmin

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def admin(stack):
    admin = EmulatorAdmin(stack.aml_url)
    before = admin("GET", "settings")
    # Retry-After: 0 (whole seconds, as on the wire) lets the app poll operations again at once.
    admin("PATCH", "settings", {"operationSeconds": 0.3, "computePageSize": 2, "retryAfterSeconds": 0})
    yield admin
    admin("PATCH", "settings", {key: before[key] for key in ("operationSeconds", "computePageSize",
                                                              "retryAfterSeconds")})


def poll_operation(proxy, href, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = proxy("GET", href.removeprefix("/api/"))
        assert status == 200, body
        if body["status"] != "InProgress":
            return body
        time.sleep(0.1)
    raise AssertionError("operation did not finish")


def project_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("score.py", "print('scoring')")
    return buffer.getvalue()


# -- computes -------------------------------------------------------------------------------

def test_cluster_lifecycle_put_poll_patch_nodes_detach(proxy, admin, tag):
    name = f"cpu-{tag}"
    body = {"computeType": "AmlCompute", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
            "vmPriority": "LowPriority", "adminUserName": "azureuser", "adminUserSshPublicKey": SSH_KEY,
            "scaleSettings": {"minNodeCount": 1, "maxNodeCount": 3, "nodeIdleTimeBeforeScaleDown": "PT10M"}}
    status, accepted, headers = proxy("PUT", f"computes/{name}", body)
    assert status == 202 and accepted["compute"]["provisioningState"] == "Creating"
    assert headers["Location"] == accepted["operation"]["href"]
    assert poll_operation(proxy, accepted["operation"]["href"])["status"] == "Succeeded"

    status, compute, _ = proxy("GET", f"computes/{name}")
    assert status == 200 and compute["provisioningState"] == "Succeeded" and compute["vmPriority"] == "LowPriority"
    assert compute["scaleSettings"] == {"minNodeCount": 1, "maxNodeCount": 3, "nodeIdleTimeBeforeScaleDown": "PT10M"}

    status, patched, _ = proxy("PATCH", f"computes/{name}?wait=true",
                               {"scaleSettings": {"minNodeCount": 3, "maxNodeCount": 5}})
    assert status == 200 and patched["scaleSettings"]["maxNodeCount"] == 5 and patched["currentNodeCount"] == 3

    status, nodes, _ = proxy("GET", f"computes/{name}/nodes")
    assert status == 200 and len(nodes["value"]) == 3  # two pages of two, followed by the app
    assert {n["nodeState"] for n in nodes["value"]} == {"idle"}

    status, accepted, _ = proxy("DELETE", f"computes/{name}?action=Detach")
    assert status == 202
    assert poll_operation(proxy, accepted["operation"]["href"])["status"] == "Succeeded"
    status, missing, _ = proxy("GET", f"computes/{name}")
    assert status == 404 and missing["error"]["details"][0]["amlCode"] == "ResourceNotFound"
    deletes = [r for r in admin.requests_for(f"/computes/{name}") if r["method"] == "DELETE"]
    assert [r["query"] for r in deletes] == ["api-version=2025-09-01&underlyingResourceAction=Detach"]


def test_compute_list_follows_next_links_and_raw_is_optional(proxy, admin, tag):
    for i in range(3):
        admin("PUT", f"computes/l{i}-{tag}", {"computeType": "AmlCompute"})
    status, listed, _ = proxy("GET", "computes")
    assert status == 200
    names = [c["name"] for c in listed["value"]]
    assert {f"l{i}-{tag}" for i in range(3)} <= set(names)
    assert all("raw" not in c for c in listed["value"])
    status, raw_listed, _ = proxy("GET", "computes?raw=true")
    mine = [c for c in raw_listed["value"] if c["name"].endswith(tag)]
    assert mine and all(c["raw"]["type"] == "Microsoft.MachineLearningServices/workspaces/computes" for c in mine)


def test_compute_instance_create_stop_start_restart(proxy, admin, tag):
    name = f"ci-{tag}x"
    body = {"computeType": "ComputeInstance", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
            "sshPublicAccess": "Enabled", "sshPublicKey": SSH_KEY}
    status, created, _ = proxy("PUT", f"computes/{name}?wait=true", body)
    assert status == 201 and created["state"] == "Running" and created["computeType"] == "ComputeInstance"

    status, stopped, _ = proxy("POST", f"computes/{name}/stop?wait=true")
    assert status == 200 and stopped["state"] == "Stopped"
    status, accepted, _ = proxy("POST", f"computes/{name}/start")
    assert status == 202
    assert poll_operation(proxy, accepted["operation"]["href"])["status"] == "Succeeded"
    status, restarted, _ = proxy("POST", f"computes/{name}/restart?wait=true")  # ARM answers with Location
    assert status == 200 and restarted["lastOperation"]["name"] == "Restart"


def test_aml_404_and_409_keep_amls_status_and_code(proxy, admin, tag):
    status, body, _ = proxy("GET", f"computes/none-{tag}")
    assert status == 404 and body["error"]["details"][0]["amlStatus"] == 404
    admin("PUT", f"computes/ci-{tag}y", {"computeType": "ComputeInstance"})
    status, body, _ = proxy("POST", f"computes/ci-{tag}y/start")  # it is already running
    assert status == 409 and body["error"]["code"] == "AmlConflict"
    assert (body["error"]["details"][0]["amlStatus"], body["error"]["details"][0]["amlCode"]) == (409, "Conflict")


def test_a_failed_operation_and_a_passwords_refusal(proxy, admin, tag):
    admin("PUT", f"computes/ci-{tag}z", {"computeType": "ComputeInstance", "operationOutcome": "Failed"})
    status, body, _ = proxy("POST", f"computes/ci-{tag}z/stop?wait=true")
    assert status == 502 and body["error"]["details"][0]["amlCode"] == "ComputeOperationFailed"
    refused = {"computeType": "AmlCompute", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
               "adminUserName": "azureuser", "adminUserPassword": "Pa55word!x", "scaleSettings": {"maxNodeCount": 1}}
    status, body, _ = proxy("PUT", f"computes/pw-{tag}", refused)
    assert status == 400 and "Pa55word" not in json.dumps(body)
    assert admin.requests_for(f"pw-{tag}") == []


def test_throttling_is_retried_then_succeeds(proxy, admin, tag):
    name = f"t-{tag}"
    admin("PUT", f"computes/{name}", {"computeType": "AmlCompute"})
    admin.fault(method="GET", pathContains=f"/computes/{name}", status=429, retryAfter=0, times=2)
    status, body, _ = proxy("GET", f"computes/{name}")
    assert status == 200 and body["name"] == name
    assert [r["status"] for r in admin.requests_for(f"/computes/{name}")] == [429, 429, 200]


# -- experiments and runs ----------------------------------------------------------------------

def test_experiment_and_run_lifecycle(proxy, admin, tag):
    experiment = f"e2e_proxy_{tag}"
    assert proxy("GET", f"experiments/{experiment}")[0] == 404
    status, created, _ = proxy("POST", f"experiments/{experiment}")
    assert status == 200 and created["name"] == experiment
    assert proxy("GET", f"experiments/{experiment}")[1]["experimentId"] == created["experimentId"]

    definition = json.dumps({"configuration": {"script": "score.py", "target": "cpu-cluster"}})
    files = {"runDefinitionFile": ("definition.json", definition, "application/json"),
             "projectZipFile": ("project.zip", project_zip(), "application/zip")}
    status, started, headers = proxy("POST", f"experiments/{experiment}/runs", files=files)
    assert status == 201 and started["portalUrl"].startswith("https://ml.azure.com/runs/")
    run_id = started["runId"]
    assert headers["Location"] == f"/api/experiments/{experiment}/runs/{run_id}"

    status, run, _ = proxy("GET", f"experiments/{experiment}/runs/{run_id}?details=true")
    assert status == 200 and run["runType"] == "azureml.scriptrun" and run["details"]["target"] == "cpu-cluster"
    status, page, _ = proxy("GET", f"experiments/{experiment}/runs?status={run['status']}")
    assert status == 200 and [r["runId"] for r in page["value"]] == [run_id]

    status, cancel, _ = proxy("POST", f"experiments/{experiment}/runs/{run_id}/cancel",
                              headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ops@contoso.com"})
    assert status == 202 and cancel["cancelRequested"] is True
    deadline = time.monotonic() + 10
    while proxy("GET", f"experiments/{experiment}/runs/{run_id}")[1]["status"] != "Canceled":
        assert time.monotonic() < deadline, "the run was never canceled"
        time.sleep(0.2)
    status, body, _ = proxy("GET", f"experiments/{experiment}/runs/nope_{tag}")
    assert status == 404 and body["error"]["details"][0]["amlStatus"] == 404


# -- pipelines -------------------------------------------------------------------------------

@pytest.fixture
def pipeline(admin, tag):
    pipeline_id = str(uuid.uuid4())
    admin("PUT", f"pipelines/{pipeline_id}", {"kind": "pipeline"})
    yield pipeline_id
    requests.delete(f"{admin.base}/pipelines/{pipeline_id}", timeout=10)


@pytest.fixture
def endpoint(admin):
    endpoint_id = str(uuid.uuid4())
    admin("PUT", f"pipelines/{endpoint_id}", {"kind": "endpoint", "versions": ["1", "2"]})
    yield endpoint_id
    requests.delete(f"{admin.base}/pipelines/{endpoint_id}", timeout=10)


def test_pipeline_list_and_submits(proxy, admin, pipeline, endpoint, tag):
    status, listed, _ = proxy("GET", "pipelines")
    assert status == 200 and pipeline in {p["id"] for p in listed["value"]}
    body = {"experimentName": f"proxy_{tag}", "parameterAssignments": {"batch": 10},
            "dataPathAssignments": {"input": {"DataStoreName": "workspaceblobstore", "RelativePath": "in/"}}}
    status, submitted, _ = proxy("POST", f"pipelines/{pipeline}/submit", body)
    assert status == 201 and submitted["pipelineId"] == pipeline and submitted["runId"]
    status, submitted, _ = proxy("POST", f"pipeline-endpoints/{endpoint}/submit", {**body, "pipelineVersion": "2"})
    assert status == 201 and submitted["pipelineVersion"] == "2"
    runs = {r["runId"]: r for r in admin("GET", "runs")}
    assert runs[submitted["runId"]]["pipelineVersion"] == "2"
    status, body, _ = proxy("POST", f"pipeline-endpoints/{endpoint}/submit", {**body, "pipelineVersion": "9"})
    assert status == 404


def test_a_500_on_a_submit_is_a_502_that_says_the_run_may_exist(proxy, admin, pipeline, tag):
    admin.fault(method="POST", pathContains=pipeline, status=500, times=1)
    status, body, _ = proxy("POST", f"pipelines/{pipeline}/submit", {"experimentName": f"proxy_{tag}"})
    assert status == 502
    detail = body["error"]["details"][0]
    assert (detail["amlStatus"], detail["mayHaveExecuted"]) == (500, True)
    assert len(admin.requests_for(pipeline)) == 1  # a submit is not repeated after a 500


def test_an_aml_that_does_not_answer_in_time_is_a_504(proxy, admin, pipeline, tag):
    admin.fault(method="POST", pathContains=pipeline, status=None, delaySeconds=5, times=1)
    started = time.monotonic()
    status, body, _ = proxy("POST", f"pipelines/{pipeline}/submit", {"experimentName": f"proxy_{tag}"})
    assert status == 504 and body["error"]["code"] == "AmlTimeout"
    assert body["error"]["details"][0]["mayHaveExecuted"] is True
    elapsed = time.monotonic() - started
    assert elapsed < 5  # the configured 3 s timeout, not the emulator's 5 s delay
    time.sleep(6 - elapsed)  # the emulator logs a request when it has answered it
    assert len(admin.requests_for(pipeline)) == 1  # a submit is not repeated after a timeout


# -- path injection and the API description ----------------------------------------------------

@pytest.mark.parametrize("route", [
    "computes/{}", "computes/{}/nodes", "experiments/{}", "experiments/exp/runs/{}",
    "pipelines/{}/submit", "pipeline-endpoints/{}/submit",
])
@pytest.mark.parametrize("bad", ["..%2F..%2Fsecrets", "a%2Fb", "inj%3Fx%3D1", "inj%23frag", "%D0%B0dmin",
                                 "inj%E2%88%95x", "i" * 300, "inj%20x", "inj%0A"])
def test_path_injection_is_400_before_any_aml_call(proxy, admin, route, bad):
    method = "POST" if route.endswith("submit") else "GET"
    before = len(admin("GET", "requests"))
    status, body, _ = proxy(method, route.format(bad), {"experimentName": "exp"} if method == "POST" else None)
    assert status == 400, (route, bad, body)
    assert body["error"]["code"] == "ValidationFailed"
    new = admin("GET", "requests")[before:]
    assert not [r for r in new if "inj" in r["path"] or "secrets" in r["path"] or "admin" in r["path"]]


def test_openapi_document_is_served(proxy):
    status, doc, _ = proxy("GET", "openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert "/computes/{name}" in doc["paths"] and "/schedules/{id}/backfill" in doc["paths"]

