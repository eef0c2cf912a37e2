"""The AML emulator answers with the service's shapes, checks audiences and injects faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import IdentityEmulator, decode_token, encode_token

REPO_ROOT = Path(__file__).resolve().parents[2]
ARM = "https://management.azure.com"
RUN_SECONDS = 0.6
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def identity():
    with IdentityEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def token(identity):
    response = requests.get(
        identity.endpoint,
        params={"api-version": "2019-08-01", "resource": ARM},
        headers={"X-IDENTITY-HEADER": identity.identity_header},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture
def aml():
    with AmlEmulator(run_seconds=RUN_SECONDS, cancel_seconds=0.5) as running:
        running.register_pipeline("score-pipeline")
        yield running


class Client:
    """Just enough of an AML client to exercise the emulator over real HTTP."""

    def __init__(self, aml: AmlEmulator, token: str | None) -> None:
        self.aml = aml
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.w = aml.workspace_path

    def url(self, service: str, rest: str, workspace: str | None = None) -> str:
        return f"{self.aml.base_url}/{service}/v1.0/{workspace or self.w}/{rest}"

    def submit(self, pipeline_id="score-pipeline", experiment="batch_scoring", **extra) -> requests.Response:
        body = {"ExperimentName": experiment, "ParameterAssignments": {"param_batch_size": 50},
                "DataPathAssignments": {}, "Description": "nightly", "Tags": {}, "RunSource": "API"}
        body.update(extra)
        return self.session.post(self.url("pipelines", f"PipelineRuns/PipelineSubmit/{pipeline_id}"),
                                 json=body, timeout=5)

    def run(self, run_id: str, experiment: str | None = "batch_scoring") -> requests.Response:
        rest = f"experiments/{experiment}/runs/{run_id}" if experiment else f"runs/{run_id}"
        return self.session.get(self.url("history", rest), timeout=5)

    def wait_for(self, run_id: str, statuses: set[str], timeout: float = 5.0) -> tuple[dict, list[str]]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            dto = self.run(run_id).json()
            if not seen or seen[-1] != dto["status"]:
                seen.append(dto["status"])
            if dto["status"] in statuses:
                return dto, seen
            assert time.monotonic() < deadline, f"run stuck; saw {seen}"
            time.sleep(0.02)


@pytest.fixture
def client(aml, token):
    return Client(aml, token)


def assert_error_shape(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body["error"]) >= {"code", "message", "details"}
    assert GUID.match(body["correlation"]["RequestId"])
    return body["error"]


class TestPipelineSubmit:
    def test_submit_returns_a_pipeline_run_entity(self, client):
        response = client.submit(Tags={"schedule": "nightly"})
        assert response.status_code == 200
        entity = response.json()
        assert GUID.match(entity["Id"])
        assert entity["PipelineId"] == "score-pipeline"
        assert entity["RunHistoryExperimentName"] == "batch_scoring"
        assert entity["ParameterAssignments"] == {"param_batch_size": "50"}
        assert entity["tags"] == {"schedule": "nightly"}
        assert entity["Description"] == "nightly"
        status = entity["Status"]
        assert set(status) == {"StatusCode", "StatusDetail", "CreationTime", "EndTime"}
        assert isinstance(status["StatusCode"], int)
        assert status["StatusDetail"] == "NotStarted"
        assert status["EndTime"] is None

    def test_run_progresses_to_completed(self, client):
        run_id = client.submit().json()["Id"]
        dto, seen = client.wait_for(run_id, {"Completed", "Failed", "Canceled"})
        order = ["NotStarted", "Queued", "Running", "Completed"]
        assert seen == sorted(seen, key=order.index), seen
        assert {"Running", "Completed"} <= set(seen)
        assert dto["status"] == "Completed"
        assert dto["error"] is None
        assert dto["runId"] == run_id
        assert dto["runType"] == "azureml.PipelineRun"
        assert dto["parentRunId"] is None
        assert dto["startTimeUtc"] < dto["endTimeUtc"]
        assert dto["createdUtc"] <= dto["startTimeUtc"]

    def test_run_is_readable_without_the_experiment(self, client):
        run_id = client.submit().json()["Id"]
        experiment = client.session.get(client.url("history", "experiments/batch_scoring"), timeout=5).json()
        dto = client.run(run_id, experiment=None).json()
        assert dto["runId"] == run_id
        assert dto["experimentId"] == experiment["experimentId"]

    def test_failed_outcome_carries_an_error(self, aml, client):
        aml.register_pipeline("flaky", outcome="Failed", duration_seconds=0.2)
        run_id = client.submit("flaky").json()["Id"]
        dto, _ = client.wait_for(run_id, {"Completed", "Failed"})
        assert dto["status"] == "Failed"
        assert dto["error"]["error"]["code"] == "UserError"
        assert "emulated failure" in dto["error"]["error"]["message"]
        assert dto["endTimeUtc"] is not None

    def test_unknown_pipeline_is_404(self, client):
        error = assert_error_shape(client.submit("no-such-pipeline"), 404)
        assert "no-such-pipeline" in error["message"]

    @pytest.mark.parametrize("experiment", [None, "", "has space", "-leading-dash", 7])
    def test_invalid_experiment_name_is_400(self, client, experiment):
        assert_error_shape(client.submit(experiment=experiment), 400)

    def test_other_workspace_is_404(self, client):
        other = client.w.replace("ws-local", "ws-elsewhere")
        response = client.session.post(
            client.url("pipelines", "PipelineRuns/PipelineSubmit/score-pipeline", workspace=other),
            json={"ExperimentName": "batch_scoring"}, timeout=5)
        assert_error_shape(response, 404)

    def test_pipeline_endpoint_versions(self, aml, client):
        aml.register_pipeline("endpoint-1", kind="endpoint", versions=["1", "2"])
        base = client.url("pipelines", "PipelineRuns/PipelineEndpointSubmit/Id/endpoint-1")
        body = {"ExperimentName": "batch_scoring"}
        default = client.session.post(base, json=body, timeout=5)
        second = client.session.post(base, params={"pipelineVersion": "2"}, json=body, timeout=5)
        assert default.status_code == second.status_code == 200
        assert default.json()["PipelineId"] != second.json()["PipelineId"]
        assert_error_shape(client.session.post(base, params={"pipelineVersion": "9"}, json=body, timeout=5), 404)
        ran = {r["runId"]: r["pipelineVersion"] for r in aml.runs()}
        assert ran == {default.json()["Id"]: "1", second.json()["Id"]: "2"}
        # A pipeline endpoint is not a published pipeline, and the other way round.
        assert_error_shape(client.submit("endpoint-1"), 404)


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


class TestFaults:
    def test_429_with_retry_after_is_served_then_cleared(self, aml, client):
        aml.add_fault(method="POST", path_contains="PipelineSubmit", status=429, retry_after=2)
        throttled = client.submit()
        error = assert_error_shape(throttled, 429)
        assert error["code"] == "TooManyRequests"
        assert throttled.headers["Retry-After"] == "2"
        assert client.submit().status_code == 200
        assert [r["status"] for r in aml.requests_log()] == [429, 200]

    def test_admin_api_faults_consume_in_order_and_clear(self, aml, client):
        base = f"{aml.base_url}/_emulator/faults"
        requests.post(base, json={"pathContains": "PipelineSubmit", "status": 503, "times": 2}, timeout=5)
        requests.post(base, json={"status": 500}, timeout=5)
        assert assert_error_shape(client.submit(), 503)["code"] == "ServiceUnavailable"
        assert_error_shape(client.submit(), 503)
        assert [f["status"] for f in requests.get(base, timeout=5).json()] == [500]
        requests.delete(base, timeout=5)
        assert client.submit().status_code == 200

    def test_faults_only_hit_matching_requests(self, aml, client):
        aml.add_fault(method="GET", status=500)
        assert client.submit().status_code == 200  # a POST passes
        assert aml.faults()[0]["times"] == 1

    def test_delay_without_status_then_proceeds(self, aml, client):
        aml.add_fault(delaySeconds=0.3)
        started = time.monotonic()
        assert client.submit().status_code == 200
        assert time.monotonic() - started >= 0.3

    def test_hang_times_the_client_out_and_server_stays_up(self, aml, client):
        aml.add_fault(path_contains="PipelineSubmit", hang=True, hang_seconds=5)
        with pytest.raises(requests.exceptions.ReadTimeout):
            client.session.post(client.url("pipelines", "PipelineRuns/PipelineSubmit/score-pipeline"),
                                json={"ExperimentName": "batch_scoring"}, timeout=0.3)
        assert Client(aml, client.session.headers["Authorization"][7:]).submit().status_code == 200

    def test_reset_drops_the_connection(self, aml, client):
        aml.add_fault(reset=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            client.submit()
        assert client.submit().status_code == 200

    def test_invalid_fault_is_400(self, aml):
        response = requests.post(f"{aml.base_url}/_emulator/faults", json={"status": "soon"}, timeout=5)
        assert_error_shape(response, 400)


class TestCancel:
    def test_cancel_goes_through_cancel_requested_to_canceled(self, aml, client):
        aml.register_pipeline("slow", duration_seconds=30)
        run_id = client.submit("slow").json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/batch_scoring/runId/{run_id}/cancel"), timeout=5)
        assert response.status_code == 200
        assert response.json() == {"runId": run_id}
        assert client.run(run_id).json()["status"] == "CancelRequested"
        dto, _ = client.wait_for(run_id, {"Canceled"})
        assert dto["endTimeUtc"] is not None

    def test_cancel_of_a_finished_run_is_a_no_op(self, aml, client):
        aml.register_pipeline("instant", duration_seconds=0)
        run_id = client.submit("instant").json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/batch_scoring/runId/{run_id}/cancel"), timeout=5)
        assert response.status_code == 200
        assert client.run(run_id).json()["status"] == "Completed"

    def test_cancel_in_the_wrong_experiment_is_404(self, client):
        run_id = client.submit().json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/other/runId/{run_id}/cancel"), timeout=5)
        assert_error_shape(response, 404)
        assert_error_shape(client.run(run_id, experiment="other"), 404)
        assert_error_shape(client.run(str(uuid.uuid4())), 404)


class TestQueries:
    @pytest.fixture
    def tagged(self, client):
        ids = {}
        for key in ("a", "b"):
            ids[key] = client.submit(Tags={"runKey": f"nightly-{key}", "scheduleId": "nightly"}).json()["Id"]
        return ids

    def query(self, client, body, experiment="batch_scoring"):
        return client.session.post(client.url("history", f"experiments/{experiment}/runs:query"),
                                   json=body, timeout=5)

    @pytest.mark.parametrize("expression", ["Tags/runKey eq 'nightly-a'", '(Tags/runKey eq "nightly-a")'])
    def test_runs_query_filters_by_tag(self, client, tagged, expression):
        page = self.query(client, {"filter": expression}).json()
        assert [r["runId"] for r in page["value"]] == [tagged["a"]]
        assert page["continuationToken"] is None and page["nextLink"] is None

    def test_runs_query_combines_and_orders(self, client, tagged):
        page = self.query(client, {"filter": "Tags/scheduleId eq 'nightly' and Status ne 'Failed'",
                                   "orderBy": "CreatedUtc desc", "top": 5}).json()
        assert [r["runId"] for r in page["value"]] == [tagged["b"], tagged["a"]]
        assert len(self.query(client, {"top": 1}).json()["value"]) == 1

    def test_list_with_odata_filter_query_string(self, client, tagged):
        response = client.session.get(client.url("history", "experiments/batch_scoring/runs"),
                                      params={"$filter": "Tags/runKey eq 'nightly-b'"}, timeout=5)
        assert [r["runId"] for r in response.json()["value"]] == [tagged["b"]]

    def test_pages_carry_a_continuation_token(self, aml, client, tagged):
        aml.query_page_size = 1
        first = self.query(client, {}).json()
        assert len(first["value"]) == 1 and first["continuationToken"]
        second = self.query(client, {"continuationToken": first["continuationToken"]}).json()
        assert second["continuationToken"] is None
        assert {first["value"][0]["runId"], second["value"][0]["runId"]} == set(tagged.values())

    @pytest.mark.parametrize("body", [
        {"filters": [{"field": "tags/runKey", "operator": "eq", "values": ["x"]}]},
        {"filter": "Tags/runKey eq"},
        {"filter": "Colour eq 'blue'"},
        {"top": -1},
    ])
    def test_bad_queries_are_400(self, client, tagged, body):
        assert_error_shape(self.query(client, body), 400)

    def test_unknown_experiment_is_404(self, client):
        assert_error_shape(self.query(client, {}, experiment="nope"), 404)


class TestExperiments:
    def test_get_create_get(self, client):
        url = client.url("history", "experiments/fresh_experiment")
        assert_error_shape(client.session.get(url, timeout=5), 404)
        created = client.session.post(url, timeout=5)
        again = client.session.post(url, timeout=5)
        assert created.status_code == again.status_code == 200
        assert created.json()["experimentId"] == again.json()["experimentId"]
        fetched = client.session.get(url, timeout=5).json()
        assert fetched["name"] == "fresh_experiment" and fetched["createdUtc"]


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


def test_cli_registers_pipelines_and_exits_cleanly(token):
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.aml_emulator", "--port", "0", "--run-seconds", "0.1",
         "--pipeline", "p1", "--pipeline", "p2:Failed", "--endpoint", "e1:1,2"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("AML emulator listening on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1]
        pipelines = {p["id"]: p for p in requests.get(f"{base}/_emulator/pipelines", timeout=5).json()}
        assert pipelines["p2"]["outcome"] == "Failed"
        assert pipelines["e1"]["versions"] == ["1", "2"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert token not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_decoded_token_audience_is_what_the_emulator_checks(token):
    assert decode_token(token)["aud"] == ARM
