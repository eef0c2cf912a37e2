"""Serving: audiences and tokens, the request log, and routes that match in any case."""

from __future__ import annotations

import json
import time

import requests
from azure.identity import ManagedIdentityCredential

from devtools.identity_emulator import decode_token, encode_token
from tests.devtools.aml_emulator.support import ARM, Client, assert_error_shape


class TestAuth:
    def test_missing_token_is_401_with_challenge(self, aml):
        response = Client(aml, None).submit()
        error = assert_error_shape(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert ARM in error["message"]

    def test_wrong_audience_is_401(self, aml, identity):
        storage_token = identity.token_for("https://storage.azure.com")
        response = Client(aml, storage_token).submit()
        error = assert_error_shape(response, 401)
        assert "https://storage.azure.com" in error["message"]
        assert "https://ml.azure.com" in error["message"]

    def test_undecodable_token_is_401(self, aml):
        assert_error_shape(Client(aml, "not-a-jwt").submit(), 401)

    def test_expired_token_is_401(self, aml):
        expired = encode_token({"aud": ARM, "exp": int(time.time()) - 60})
        assert_error_shape(Client(aml, expired).submit(), 401)

    def test_ml_audience_and_trailing_slash_are_accepted(self, aml, identity):
        for resource in ("https://ml.azure.com", "https://management.azure.com/"):
            assert Client(aml, identity.token_for(resource)).submit().status_code == 200
        assert [r["audience"] for r in aml.requests_log()] == ["https://ml.azure.com", "https://management.azure.com/"]

    def test_real_managed_identity_credential_token_is_accepted(self, aml, identity, monkeypatch):
        for name, value in identity.env().items():
            monkeypatch.setenv(name, value)
        for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET"):
            monkeypatch.delenv(name, raising=False)
        access = ManagedIdentityCredential().get_token(f"{ARM}/.default")
        assert Client(aml, access.token).submit().status_code == 200

    def test_request_log_never_holds_the_token(self, client, token):
        client.submit()
        log = client.aml.requests_log()
        admin = requests.get(f"{client.aml.base_url}/_emulator/requests", timeout=5).json()
        assert log == admin
        assert token not in json.dumps(log)
        assert set(log[0]) == {"method", "path", "query", "status", "audience", "time"}
        assert log[0]["audience"] == ARM and log[0]["status"] == 200


class TestPathCase:
    """AML and ARM compare literal path segments case-insensitively; captured values keep their case."""

    def test_pipeline_submit_in_any_case(self, aml, client):
        ws = aml.workspace_path
        shouted_ws = (f"SUBSCRIPTIONS/{aml.subscription_id}/RESOURCEGROUPS/{aml.resource_group}"
                      f"/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/{aml.workspace}")
        for path in (f"/pipelines/v1.0/{ws}/PIPELINERUNS/pipelinesubmit/score-pipeline",
                     f"/pipelines/v1.0/{ws}/PipelineRuns/PipelineSubmit/score-pipeline",
                     f"/PIPELINES/V1.0/{shouted_ws}/pipelineRuns/pipelineSubmit/score-pipeline"):
            response = client.session.post(f"{aml.base_url}{path}", json={"ExperimentName": "batch_scoring"},
                                           timeout=5)
            assert response.status_code == 200, path
        assert len(aml.runs()) == 3

    def test_captured_values_keep_their_case(self, aml, client):
        aml.register_pipeline("Mixed-Case-Pipeline")
        submitted = client.submit("Mixed-Case-Pipeline", experiment="Nightly_Scoring")
        assert submitted.status_code == 200
        assert submitted.json()["PipelineId"] == "Mixed-Case-Pipeline"
        assert aml.runs()[0]["experimentName"] == "Nightly_Scoring"
        # Ids are values, not literal segments: another spelling is another pipeline.
        assert_error_shape(client.submit("mixed-case-pipeline"), 404)

    def test_published_pipelines_list_as_the_v1_client_asks_for_it(self, client):
        listed = client.session.get(client.url("pipelines", "Pipelines"), timeout=5)
        assert listed.status_code == 200
        assert [p["Id"] for p in listed.json()] == ["score-pipeline"]

    def test_run_history_in_any_case(self, client):
        run_id = client.submit().json()["Id"]
        fetched = client.session.get(client.url("HISTORY", f"Experiments/batch_scoring/Runs/{run_id}"), timeout=5)
        assert fetched.status_code == 200 and fetched.json()["runId"] == run_id
        query = client.session.post(client.url("history", "EXPERIMENTS/batch_scoring/RUNS:QUERY"), json={},
                                    timeout=5)
        assert [r["runId"] for r in query.json()["value"]] == [run_id]
        cancel = client.session.post(client.url("Execution", f"experiments/batch_scoring/RunId/{run_id}/Cancel"),
                                     timeout=5)
        assert cancel.json() == {"runId": run_id}

    def test_admin_routes_match_exactly(self, aml):
        assert requests.get(f"{aml.base_url}/_emulator/healthz", timeout=5).status_code == 200
        assert_error_shape(requests.get(f"{aml.base_url}/_emulator/HEALTHZ", timeout=5), 404)


def test_decoded_token_audience_is_what_the_emulator_checks(token):
    assert decode_token(token)["aud"] == ARM
