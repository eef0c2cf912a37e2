"""Pipeline submits, pipeline endpoint versions and the published-pipeline list."""

from __future__ import annotations

import pytest
import requests

from tests.devtools.aml_emulator.support import GUID, assert_error_shape


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


class TestEndpointVersions:
    """An endpoint version may come in the path, the query or both: Microsoft's v1
    client (azureml-pipeline-core) sends ``.../Id/{endpointId}/{version}?pipelineVersion={version}``."""

    @pytest.fixture
    def submit(self, aml, client):
        # The default version is the first registered, not the lowest.
        aml.register_pipeline("endpoint-1", kind="endpoint", versions=["2", "1", "3"])

        def submit(path_version=None, query_version=None, endpoint_id="endpoint-1"):
            rest = f"PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}"
            if path_version is not None:
                rest += f"/{path_version}"
            params = {"pipelineVersion": query_version} if query_version is not None else None
            return client.session.post(client.url("pipelines", rest), params=params,
                                       json={"ExperimentName": "batch_scoring"}, timeout=5)

        return submit

    @pytest.mark.parametrize(("path_version", "query_version", "ran"), [
        (None, None, "2"),
        ("3", None, "3"),
        (None, "3", "3"),
        ("3", "3", "3"),
        ("3", "", "3"),
    ])
    def test_version_from_the_path_the_query_or_the_default(self, aml, submit, path_version, query_version, ran):
        response = submit(path_version, query_version)
        assert response.status_code == 200
        [run] = aml.runs()
        assert run["runId"] == response.json()["Id"]
        assert (run["pipelineEndpointId"], run["pipelineVersion"]) == ("endpoint-1", ran)

    def test_path_and_query_versions_that_differ_are_400(self, aml, submit):
        error = assert_error_shape(submit("1", "3"), 400)
        assert error["code"] == "UserError" and error["innerError"] == {"code": "BadArgument"}
        assert "'1'" in error["message"] and "'3'" in error["message"]
        assert aml.runs() == []

    @pytest.mark.parametrize(("path_version", "query_version"), [("9", None), (None, "9"), ("9", "9")])
    def test_a_version_the_endpoint_lacks_is_404(self, aml, submit, path_version, query_version):
        error = assert_error_shape(submit(path_version, query_version), 404)
        assert error["code"] == "UserError" and error["innerError"] == {"code": "NotFoundError"}
        assert "endpoint-1" in error["message"] and "'9'" in error["message"]
        assert aml.runs() == []

    def test_an_unknown_endpoint_with_a_path_version_is_404(self, submit):
        error = assert_error_shape(submit("1", endpoint_id="no-such-endpoint"), 404)
        assert "no-such-endpoint" in error["message"]

    def test_the_version_that_ran_is_recorded(self, aml, client, submit):
        entities = {version: submit(version).json() for version in ("1", "3")}
        admin_view = requests.get(f"{aml.base_url}/_emulator/runs", timeout=5).json()
        assert {r["runId"]: r["pipelineVersion"] for r in admin_view} == {
            entities["1"]["Id"]: "1", entities["3"]["Id"]: "3"}
        # Each version is its own published pipeline: run history names it in
        # azureml.pipelineid, as the pipelines service does in PipelineId.
        for version, entity in entities.items():
            properties = client.run(entity["Id"]).json()["properties"]
            assert properties["azureml.pipelineid"] == entity["PipelineId"]
            assert properties["azureml.pipelineEndpointId"] == "endpoint-1"
        assert entities["1"]["PipelineId"] != entities["3"]["PipelineId"]
        assert {r["pipelineVersion"]: r["pipelineId"] for r in aml.runs()} == {
            version: entity["PipelineId"] for version, entity in entities.items()}


def test_published_pipelines_are_listed(aml, client):
    aml.register_pipeline("11111111-2222-3333-4444-555555555555")
    aml.register_pipeline("endpoint-1", kind="endpoint")
    listed = client.session.get(client.url("pipelines", "pipelines"), timeout=5).json()
    assert [p["Id"] for p in listed] == ["11111111-2222-3333-4444-555555555555", "score-pipeline"]
    assert listed[0]["Url"].endswith("/PipelineRuns/PipelineSubmit/11111111-2222-3333-4444-555555555555")
