"""The ARM compute plane and its long-running operations.

Shapes follow the 2025-12-01 compute examples in Azure/azure-rest-api-specs
(ComputeResource, AmlComputeNodesInformation, the 201/202 + Azure-AsyncOperation/Location
long-running pattern).
"""

from __future__ import annotations

import time

import pytest
import requests

from devtools.aml_emulator import AmlEmulator
from tests.devtools.aml_emulator.support import ARM, ML, minted_token

API = {"api-version": "2025-09-01"}


@pytest.fixture
def aml():
    with AmlEmulator(operation_seconds=0.3, compute_page_size=2) as running:
        yield running


@pytest.fixture
def arm(aml):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {minted_token(ARM)}"
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
                          headers={"Authorization": f"Bearer {minted_token(ML)}"})
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


class TestRetryAfter:
    """Operations answer Retry-After in whole seconds, whatever retry_after_seconds holds."""

    @pytest.mark.parametrize(("setting", "header"), [(0, "0"), (0.2, "1"), (1, "1"), (1.5, "2")])
    def test_every_lro_answer_rounds_up(self, aml, arm, setting, header):
        requests.patch(f"{aml.base_url}/_emulator/settings", json={"retryAfterSeconds": setting}, timeout=5)
        aml.seed_compute("cpu")
        aml.operation_seconds = 30  # still running when polled
        patched = arm("PATCH", "/cpu", json={"properties": {"properties": {"scaleSettings": {"maxNodeCount": 3}}}})
        status = arm("GET", url=patched.headers["Azure-AsyncOperation"], params=None)
        assert status.json()["status"] == "InProgress"
        aml.seed_compute("old")
        deleted = arm("DELETE", "/old", params={**API, "underlyingResourceAction": "Delete"})
        result = arm("GET", url=deleted.headers["Location"], params=None)
        assert result.status_code == 202
        assert [r.headers["Retry-After"] for r in (patched, status, deleted, result)] == [header] * 4

    def test_the_setting_keeps_the_value_it_was_given(self, aml):
        changed = requests.patch(f"{aml.base_url}/_emulator/settings", json={"retryAfterSeconds": 0.2}, timeout=5)
        assert changed.json()["retryAfterSeconds"] == 0.2 and aml.retry_after_seconds == 0.2


def test_arm_paths_match_in_any_case(aml, arm):
    aml.seed_compute("ci-dev", "ComputeInstance")
    shouted = (f"{aml.base_url}/SUBSCRIPTIONS/{aml.subscription_id}/RESOURCEGROUPS/{aml.resource_group}"
               f"/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/{aml.workspace}/Computes")
    assert [c["name"] for c in arm("GET", url=shouted).json()["value"]] == ["ci-dev"]
    assert arm("GET", url=f"{shouted}/ci-dev").json()["name"] == "ci-dev"
    stopped = arm("POST", url=f"{shouted}/ci-dev/Stop")
    assert stopped.status_code == 202
    assert arm("GET", "/ci-dev").json()["properties"]["properties"]["state"] == "Stopping"
    status_url = stopped.headers["Azure-AsyncOperation"].replace("/computeOperationsStatus/",
                                                                 "/COMPUTEOPERATIONSSTATUS/")
    assert wait_done(arm, status_url)["status"] == "Succeeded"
    # The compute name is a value, not a literal segment: it keeps its case.
    assert arm("GET", "/CI-DEV").status_code == 404
