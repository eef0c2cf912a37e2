"""Batch endpoints and deployments on the ARM plane, and their seeds.

Shapes follow the 2025-12-01 examples Workspace/BatchEndpoint/get.json and
Workspace/BatchDeployment/get.json.
"""

from __future__ import annotations

import pytest
import requests

from devtools.aml_emulator import AmlEmulator
from tests.devtools.aml_emulator.support import Arm, ML, assert_error_shape, compute_id, minted_token


def test_an_endpoint_names_its_scoring_uri_and_default_deployment(aml, arm):
    seeded = aml.seed_batch_endpoint("score-batch", ["blue", "green"], "green")
    got = arm.get("batchEndpoints", "score-batch").json()
    assert got == seeded
    assert got["id"] == f"/{aml.workspace_path}/batchEndpoints/score-batch"
    assert got["type"] == "Microsoft.MachineLearningServices/workspaces/batchEndpoints"
    props = got["properties"]
    assert props["scoringUri"] == f"{aml.base_url}/batch/score-batch/jobs"
    assert props["defaults"] == {"deploymentName": "green"}
    assert (props["authMode"], props["provisioningState"]) == ("AADToken", "Succeeded")


def test_deployments_are_listed_and_read(aml, arm):
    aml.seed_batch_endpoint("score-batch", ["blue", "green"], compute="cpu-cluster")
    listed = arm.get("batchEndpoints", "score-batch", "deployments").json()
    assert [d["name"] for d in listed["value"]] == ["blue", "green"] and "nextLink" not in listed
    blue = arm.get("batchEndpoints", "score-batch", "deployments", "blue").json()
    assert blue["type"] == "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments"
    assert (blue["properties"]["compute"], blue["properties"]["provisioningState"]) == (
        compute_id(aml, "cpu-cluster"), "Succeeded")
    assert_error_shape(arm.get("batchEndpoints", "score-batch", "deployments", "red"), 404)
    assert_error_shape(arm.get("batchEndpoints", "nope", "deployments"), 404)
    assert_error_shape(arm.get("batchEndpoints", "nope"), 404)


def test_endpoints_are_paged_with_next_links(aml, arm):
    aml.arm_page_size = 2
    for name in ("a", "b", "c"):
        aml.seed_batch_endpoint(name)
    first = arm.get("batchEndpoints").json()
    assert [e["name"] for e in first["value"]] == ["a", "b"]
    assert [e["name"] for e in arm.call("GET", url=first["nextLink"]).json()["value"]] == ["c"]


def test_endpoints_take_only_the_arm_audience(aml, arm):
    aml.seed_batch_endpoint("score-batch")
    denied = requests.get(arm.url("batchEndpoints", "score-batch"), params=arm.params, timeout=5,
                          headers={"Authorization": f"Bearer {minted_token(ML)}"})
    assert_error_shape(denied, 401)


def test_the_inference_base_option_moves_the_scoring_uri():
    with AmlEmulator(inference_base_url="http://127.0.0.1:9/") as aml:
        aml.seed_batch_endpoint("score-batch")
        got = Arm(aml).get("batchEndpoints", "score-batch").json()
        assert got["properties"]["scoringUri"] == "http://127.0.0.1:9/batch/score-batch/jobs"


@pytest.mark.parametrize("kwargs", [
    {"deployments": ["blue"], "default": "green"},
    {"deployments": ["blue", "blue"]},
    {"deployments": ["a/b"]},
    {"outcome": "Maybe"},
    {"duration_seconds": -1},
])
def test_bad_seeds_are_refused(aml, kwargs):
    with pytest.raises(ValueError):
        aml.seed_batch_endpoint("score-batch", **kwargs)
    assert aml.batch_endpoints() == []
