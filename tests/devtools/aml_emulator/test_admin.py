"""The admin API under /_emulator/: pipelines, runs, reset, computes and settings over HTTP."""

from __future__ import annotations

import requests

from tests.devtools.aml_emulator.support import assert_error_shape


class TestAdmin:
    def test_register_submit_list_reset_over_http(self, aml, client):
        base = f"{aml.base_url}/_emulator"
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        put = requests.put(f"{base}/pipelines/p-http", json={"outcome": "Failed", "durationSeconds": 0.1}, timeout=5)
        assert put.json()["outcome"] == "Failed"
        run_id = client.submit("p-http", ParameterAssignments={"scoring_date": "2026-11-22"}).json()["Id"]
        runs = requests.get(f"{base}/runs", timeout=5).json()
        assert runs[0]["runId"] == run_id
        assert runs[0]["pipelineId"] == "p-http"
        assert runs[0]["experimentName"] == "batch_scoring"
        assert runs[0]["parameterAssignments"] == {"scoring_date": "2026-11-22"}
        assert requests.delete(f"{base}/pipelines/p-http", timeout=5).status_code == 200
        assert_error_shape(client.submit("p-http"), 404)
        assert requests.post(f"{base}/reset", timeout=5).status_code == 200
        assert aml.runs() == [] and aml.requests_log() == []
        assert {p["id"] for p in aml.pipelines()} == {"score-pipeline"}

    def test_bad_pipeline_registration_is_400(self, aml):
        response = requests.put(f"{aml.base_url}/_emulator/pipelines/x", json={"outcome": "Maybe"}, timeout=5)
        assert_error_shape(response, 400)


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
