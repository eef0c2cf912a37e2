"""The AML emulator's ARM compute plane, script runs, run details and admin additions.

Shapes follow the 2025-12-01 compute examples in Azure/azure-rest-api-specs
(ComputeResource, AmlComputeNodesInformation, the 201/202 + Azure-AsyncOperation/Location
long-running pattern) and the execution service's startrun/StartRunResult.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import requests

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import encode_token

API = {"api-version": "2025-09-01"}


def token(audience):
    return encode_token({"aud": audience, "exp": int(time.time()) + 600, "oid": "o", "tid": "t"})


@pytest.fixture
def aml():
    with AmlEmulator(run_seconds=0.4, operation_seconds=0.3, compute_page_size=2, retry_after_seconds=0.1) as running:
        running.register_pipeline("11111111-2222-3333-4444-555555555555")
        yield running


@pytest.fixture
def arm(aml):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token('https://management.azure.com')}"
    base = f"{aml.base_url}/{aml.workspace_path}/computes"

    def call(method, path="", **kwargs):
        url = kwargs.pop("url", None) or f"{base}{path}"
        params = kwargs.pop("params", API)
        return session.request(method, url, params=params, timeout=5, **kwargs)

    return call


def cluster_body(max_nodes=2):
    return {"location": "westeurope", "properties": {"computeType": "AmlCompute", "properties": {
        "vmSize": "STANDARD_DS3_V2", "scaleSettings": {"minNodeCount": 0, "maxNodeCount": max_nodes,
                                                       "nodeIdleTimeBeforeScaleDown": "PT5M"}}}}


def wait_done(arm, url):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = arm("GET", url=url, params=None).json()
        if body["status"] != "InProgress":
            return body
        time.sleep(0.05)
    raise AssertionError("operation never finished")


def test_arm_routes_take_only_the_arm_audience_and_need_an_api_version(aml, arm):
    denied = requests.get(f"{aml.base_url}/{aml.workspace_path}/computes", params=API, timeout=5,
                          headers={"Authorization": f"Bearer {token('https://ml.azure.com')}"})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    missing = arm("GET", params={})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"


def test_create_is_a_long_running_operation_and_blocks_other_writes(arm):
    created = arm("PUT", "/gpu", json=cluster_body())
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Creating"
    status_url = created.headers["Azure-AsyncOperation"]
    assert "/locations/westeurope/computeOperationsStatus/" in status_url and "api-version=2025-09-01" in status_url
    assert created.headers["Retry-After"]
    busy = arm("PATCH", "/gpu", json={"properties": {"properties": {"scaleSettings": {"maxNodeCount": 4}}}})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "Conflict"
    assert wait_done(arm, status_url)["status"] == "Succeeded"
    got = arm("GET", "/gpu").json()
    assert got["type"] == "Microsoft.MachineLearningServices/workspaces/computes"
    assert got["properties"]["provisioningState"] == "Succeeded"
    assert got["properties"]["properties"]["allocationState"] == "Steady"


def test_patch_updates_scale_settings(aml, arm):
    aml.seed_compute("cpu", min_nodes=1, max_nodes=2)
    patched = arm("PATCH", "/cpu", json={"properties": {"properties": {"scaleSettings": {"minNodeCount": 2,
                                                                                         "maxNodeCount": 6}}}})
    assert patched.status_code == 200 and patched.json()["properties"]["provisioningState"] == "Updating"
    wait_done(arm, patched.headers["Azure-AsyncOperation"])
    props = arm("GET", "/cpu").json()["properties"]["properties"]
    assert props["scaleSettings"]["maxNodeCount"] == 6 and props["currentNodeCount"] == 2


def test_delete_answers_both_headers_and_the_result_url_reports_completion(aml, arm):
    aml.seed_compute("cpu")
    assert arm("DELETE", "/cpu").status_code == 400
    deleted = arm("DELETE", "/cpu", params={**API, "underlyingResourceAction": "Detach"})
    assert deleted.status_code == 202 and deleted.headers["Azure-AsyncOperation"]
    result_url = deleted.headers["Location"]
    assert arm("GET", url=result_url, params=None).status_code == 202
    time.sleep(0.35)
    assert arm("GET", url=result_url, params=None).status_code == 204
    gone = arm("GET", "/cpu")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    assert arm("DELETE", "/cpu", params={**API, "underlyingResourceAction": "Delete"}).status_code == 204


def test_instance_power_actions(aml, arm):
    aml.seed_compute("ci-dev", "ComputeInstance")
    assert arm("POST", "/ci-dev/start").status_code == 409
    stopped = arm("POST", "/ci-dev/stop")
    assert stopped.status_code == 202 and "Azure-AsyncOperation" in stopped.headers
    assert arm("GET", "/ci-dev").json()["properties"]["properties"]["state"] == "Stopping"
    wait_done(arm, stopped.headers["Azure-AsyncOperation"])
    assert arm("GET", "/ci-dev").json()["properties"]["properties"]["state"] == "Stopped"
    restarted = arm("POST", "/ci-dev/restart")
    assert restarted.status_code == 202 and "Location" in restarted.headers
    aml.seed_compute("cpu")
    assert arm("POST", "/cpu/start").status_code == 400


def test_failed_operations_report_an_error(aml, arm):
    aml.seed_compute("ci-dev", "ComputeInstance", operation_outcome="Failed")
    stopped = arm("POST", "/ci-dev/stop")
    final = wait_done(arm, stopped.headers["Azure-AsyncOperation"])
    assert final["status"] == "Failed" and final["error"]["code"] == "ComputeOperationFailed"
    props = arm("GET", "/ci-dev").json()["properties"]["properties"]
    assert props["state"] == "Running" and props["lastOperation"]["operationStatus"] == "StopFailed"


def test_lists_page_with_absolute_next_links(aml, arm):
    for name in ("c1", "c2", "c3"):
        aml.seed_compute(name, node_count=3)
    first = arm("GET").json()
    assert [c["name"] for c in first["value"]] == ["c1", "c2"]
    assert first["nextLink"].startswith(aml.base_url)
    assert [c["name"] for c in arm("GET", url=first["nextLink"], params=None).json()["value"]] == ["c3"]
    nodes = arm("POST", "/c1/listNodes").json()
    assert len(nodes["nodes"]) == 2 and set(nodes["nodes"][0]) == {
        "nodeId", "privateIpAddress", "publicIpAddress", "port", "nodeState", "runId"}
    assert len(arm("POST", url=nodes["nextLink"], params=None).json()["nodes"]) == 1


def test_faults_apply_to_arm_routes(aml, arm):
    aml.seed_compute("cpu")
    aml.add_fault(method="GET", path_contains="/computes/cpu", status=429, retry_after=2)
    throttled = arm("GET", "/cpu")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert arm("GET", "/cpu").status_code == 200


def test_admin_api_seeds_computes_and_changes_settings(aml):
    seeded = requests.put(f"{aml.base_url}/_emulator/computes/ci-x", json={"computeType": "ComputeInstance",
                                                                           "state": "Stopped"}, timeout=5)
    assert seeded.status_code == 200 and seeded.json()["properties"]["properties"]["state"] == "Stopped"
    assert requests.put(f"{aml.base_url}/_emulator/computes/ci-y", json={"colour": "red"}, timeout=5).status_code == 400
    assert [c["name"] for c in requests.get(f"{aml.base_url}/_emulator/computes", timeout=5).json()] == ["ci-x"]
    changed = requests.patch(f"{aml.base_url}/_emulator/settings", json={"operationSeconds": 2, "computePageSize": 9},
                             timeout=5).json()
    assert changed["operationSeconds"] == 2 and aml.compute_page_size == 9
    assert requests.patch(f"{aml.base_url}/_emulator/settings", json={"computePageSize": 0}, timeout=5).status_code == 400
    assert requests.delete(f"{aml.base_url}/_emulator/computes/ci-x", timeout=5).status_code == 200
    assert aml.computes() == []


def _zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", "print('hi')")
    return buffer.getvalue()


def test_startrun_takes_amls_multipart_upload_and_runs_advance(aml):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token('https://ml.azure.com')}"
    base = f"{aml.base_url}/execution/v1.0/{aml.workspace_path}/experiments/train"
    definition = json.dumps({"configuration": {"script": "train.py", "target": "cpu-cluster"}})
    files = {"runDefinitionFile": ("definition.json", definition), "projectZipFile": ("project.zip", _zip())}
    started = session.post(f"{base}/startrun", params={"runId": "train_1"}, files=files, timeout=5)
    assert started.status_code == 200 and started.json() == {"runId": "train_1"}
    assert session.post(f"{base}/startrun", params={"runId": "train_1"}, files=files, timeout=5).status_code == 409
    assert session.post(f"{base}/startrun", json={}, timeout=5).status_code == 415
    bad = {"runDefinitionFile": ("definition.json", definition), "projectZipFile": ("project.zip", b"nope")}
    assert session.post(f"{base}/startrun", files=bad, timeout=5).status_code == 400
    assert session.post(f"{base}/startrun", files={"runDefinitionFile": ("d.json", definition)},
                        timeout=5).status_code == 400
    history = f"{aml.base_url}/history/v1.0/{aml.workspace_path}/experiments/train/runs/train_1"
    run = session.get(history, timeout=5).json()
    assert run["runType"] == "azureml.scriptrun" and run["target"] == "cpu-cluster" and run["status"] == "NotStarted"
    time.sleep(0.45)
    details = session.get(f"{history}/details", timeout=5).json()
    assert details["status"] == "Completed" and details["runDefinition"]["configuration"]["script"] == "train.py"
    assert details["logFiles"] and details["computeDuration"]


def test_published_pipelines_are_listed(aml):
    listed = requests.get(f"{aml.base_url}/pipelines/v1.0/{aml.workspace_path}/pipelines", timeout=5,
                          headers={"Authorization": f"Bearer {token('https://management.azure.com')}"}).json()
    assert [p["Id"] for p in listed] == ["11111111-2222-3333-4444-555555555555"]
    assert listed[0]["Url"].endswith("/PipelineRuns/PipelineSubmit/11111111-2222-3333-4444-555555555555")
