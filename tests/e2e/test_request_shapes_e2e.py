"""Request shapes users already have, accepted through the dev host of the local stack:
ARM's ComputeResource body, AML's PascalCase submit body, ARM's delete parameter, and
pipeline endpoint versions in the form Microsoft's own client sends."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.support import SSH_KEY

pytestmark = pytest.mark.e2e

SUBNET = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/"
          "Microsoft.Network/virtualNetworks/vnet-ml/subnets/compute")


@pytest.fixture
def emulator(emulator_admin):
    return emulator_admin


def wait_until_provisioned(proxy, name, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, compute, _ = proxy("GET", f"computes/{name}")
        if status == 200 and compute["provisioningState"] != "Creating":
            return compute
        time.sleep(0.1)
    raise AssertionError(f"{name} was never provisioned")


def seed_style_cluster(**overrides):
    """The body AML's sample scripts PUT to ARM, credentials and subnet beside `properties`."""
    body = {"location": "westeurope",
            "properties": {"computeType": "AmlCompute",
                           "properties": {"vmSize": "STANDARD_D2_V2", "vmPriority": "Dedicated",
                                          "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0,
                                                            "nodeIdleTimeBeforeScaleDown": "PT120S"}}},
            "userAccountCredentials": {"adminUserName": "azureuser", "adminUserSshPublicKey": SSH_KEY},
            "subnet": {"id": SUBNET}}
    body.update(overrides)
    return body


def test_an_arm_compute_body_from_amls_samples_creates_a_cluster(proxy, emulator, tag):
    name = f"arm-{tag}"
    status, accepted, _ = proxy("PUT", f"computes/{name}", seed_style_cluster())
    assert status == 202, accepted
    compute = wait_until_provisioned(proxy, name)
    assert compute["computeType"] == "AmlCompute" and compute["vmSize"] == "STANDARD_D2_V2"
    assert compute["subnetId"] == SUBNET
    assert compute["scaleSettings"] == {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT120S"}
    sent = [r for r in emulator("GET", "requests") if r["method"] == "PUT" and r["path"].endswith(f"/computes/{name}")]
    assert len(sent) == 1


def test_the_current_arm_shape_nests_subnet_and_credentials(proxy, tag):
    name = f"arm2-{tag}"
    body = seed_style_cluster()
    inner = body["properties"]["properties"]
    inner["subnet"] = body.pop("subnet")
    inner["userAccountCredentials"] = body.pop("userAccountCredentials")
    status, accepted, _ = proxy("PUT", f"computes/{name}", body)
    assert status == 202, accepted
    assert wait_until_provisioned(proxy, name)["subnetId"] == SUBNET


def test_arm_body_errors_name_the_field_as_written(proxy, emulator, tag):
    name = f"bad-{tag}"
    with_password = seed_style_cluster(userAccountCredentials={"adminUserName": "azureuser",
                                                               "adminUserPassword": "hunter2-Secret"})
    status, body, _ = proxy("PUT", f"computes/{name}", with_password)
    assert status == 400 and body["error"]["code"] == "PasswordNotAccepted"
    assert body["error"]["details"][0]["field"] == "body.userAccountCredentials.adminUserPassword"
    assert "hunter2" not in str(body)

    unknown = seed_style_cluster()
    unknown["properties"]["properties"]["osType"] = "Linux"
    status, body, _ = proxy("PUT", f"computes/{name}", unknown)
    assert status == 400 and body["error"]["details"][0]["field"] == "properties.properties.osType"
    assert "ComputeResource" in body["error"]["message"]

    too_big = seed_style_cluster()
    too_big["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 0
    status, body, _ = proxy("PUT", f"computes/{name}", too_big)
    assert status == 400
    assert body["error"]["details"][0]["field"] == "properties.properties.scaleSettings.maxNodeCount"
    assert not [r for r in emulator("GET", "requests") if f"/computes/{name}" in r["path"]]


def test_delete_takes_arms_underlying_resource_action(proxy, emulator, tag):
    name = f"del-{tag}"
    assert proxy("PUT", f"computes/{name}", seed_style_cluster())[0] == 202
    wait_until_provisioned(proxy, name)
    status, body, _ = proxy("DELETE", f"computes/{name}?underlyingResourceAction=Remove")
    assert status == 400 and body["error"]["message"] == "underlyingResourceAction: must be Delete or Detach"
    status, _, _ = proxy("DELETE", f"computes/{name}?underlyingResourceAction=Delete&wait=true")
    assert status == 204
    deletes = [r for r in emulator("GET", "requests") if r["method"] == "DELETE" and f"/computes/{name}" in r["path"]]
    assert [r["query"].split("&")[-1] for r in deletes] == ["underlyingResourceAction=Delete"]


@pytest.fixture
def pipeline(emulator):
    pipeline_id = str(uuid.uuid4())
    emulator("PUT", f"pipelines/{pipeline_id}", {"kind": "pipeline"})
    yield pipeline_id
    emulator("DELETE", f"pipelines/{pipeline_id}")


@pytest.fixture
def endpoint(emulator):
    endpoint_id = str(uuid.uuid4())
    emulator("PUT", f"pipelines/{endpoint_id}", {"kind": "endpoint", "versions": ["1", "2"]})
    yield endpoint_id
    emulator("DELETE", f"pipelines/{endpoint_id}")


def test_amls_pascal_case_submit_body_submits(proxy, emulator, pipeline, tag):
    pasted = {"ExperimentName": f"pascal_{tag}", "ParameterAssignments": {"param_batch_size": 50},
              "Tags": {"team": "scoring"}, "Description": "pasted from AML's sample", "RunSource": "API"}
    status, submitted, _ = proxy("POST", f"pipelines/{pipeline}/submit", pasted)
    assert status == 201 and submitted["experimentName"] == f"pascal_{tag}"
    run = {r["runId"]: r for r in emulator("GET", "runs")}[submitted["runId"]]
    assert run["parameterAssignments"] == {"param_batch_size": 50} and run["tags"]["team"] == "scoring"
    assert run["description"] == "pasted from AML's sample"

    status, body, _ = proxy("POST", f"pipelines/{pipeline}/submit",
                            {"ExperimentName": f"pascal_{tag}", "ParameterAssignments": {"bad name": 1}})
    assert status == 400 and body["error"]["details"][0]["field"] == "ParameterAssignments.bad name"
    status, body, _ = proxy("POST", f"pipelines/{pipeline}/submit",
                            {"ExperimentName": "a", "experimentName": "b"})
    assert status == 400 and "keep one spelling" in body["error"]["message"]


def test_a_pinned_endpoint_version_runs_that_version_in_the_official_clients_form(proxy, emulator, endpoint, tag):
    status, submitted, _ = proxy("POST", f"pipeline-endpoints/{endpoint}/submit",
                                 {"experimentName": f"versions_{tag}", "pipelineVersion": "2"})
    assert status == 201, submitted
    [sent] = [r for r in emulator("GET", "requests") if endpoint in r["path"]]
    assert sent["path"].endswith(f"/PipelineEndpointSubmit/Id/{endpoint}/2") and sent["query"] == "pipelineVersion=2"
    run = {r["runId"]: r for r in emulator("GET", "runs")}[submitted["runId"]]
    assert run["pipelineVersion"] == "2"
