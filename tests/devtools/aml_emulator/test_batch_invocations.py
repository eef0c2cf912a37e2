"""Batch endpoint invocation: audience, deployment choice, body spellings, repeatability, outcomes."""

from __future__ import annotations

import pytest
import requests

from tests.devtools.aml_emulator.support import ARM, ML, assert_error_shape, compute_id, minted_token

PASCAL_BODY = {"properties": {
    "InputData": {"input_data": {"JobInputType": "UriFolder", "Uri": "azureml://datastores/blob/paths/in/"},
                  "threshold": {"JobInputType": "Literal", "Value": "0.5"}},
    "OutputData": {"score": {"JobOutputType": "UriFolder", "Uri": "azureml://datastores/blob/paths/out/"}},
}}
CAMEL_BODY = {"properties": {
    "inputData": {"input_data": {"jobInputType": "UriFolder", "uri": "https://example.invalid/in/"}},
    "properties": {"experimentName": "nightly-scores"},
}}


@pytest.fixture
def endpoint(aml):
    aml.seed_batch_endpoint("score-batch", ["blue", "green"], "blue", compute="cpu-cluster")
    return aml.scoring_uri("score-batch")


def invoke(url, body=PASCAL_BODY, audience=ML, **headers):
    headers = {"Authorization": f"Bearer {minted_token(audience)}", **headers}
    return requests.post(url, json=body, headers=headers, timeout=5)


def invocations(aml):
    return [r["invocation"] for r in requests.get(f"{aml.base_url}/_emulator/runs", timeout=5).json()]


def test_an_invocation_creates_a_pipeline_job_the_jobs_get_polls(aml, arm, endpoint):
    answer = invoke(endpoint)
    assert answer.status_code == 200
    batch_job = answer.json()
    name = batch_job["name"]
    assert name.startswith("batchjob-") and batch_job["properties"]["status"] == "NotStarted"
    # The answer echoes the inputs in camelCase, whichever spelling came in.
    assert batch_job["properties"]["inputData"]["threshold"] == {"jobInputType": "Literal", "value": "0.5"}
    job = arm.get("jobs", name).json()["properties"]
    assert (job["jobType"], job["experimentName"], job["computeId"]) == (
        "Pipeline", "score-batch", compute_id(aml, "cpu-cluster"))
    assert job["inputs"]["input_data"] == {"jobInputType": "uri_folder", "uri": "azureml://datastores/blob/paths/in/"}
    assert job["outputs"]["score"]["jobOutputType"] == "uri_folder"
    assert arm.wait_for_job(name, {"Completed"})[0]["properties"]["status"] == "Completed"
    [record] = invocations(aml)
    assert (record["endpoint"], record["deployment"], record["repeatabilityRequestId"], record["repeats"]) == (
        "score-batch", "blue", None, 0)


def test_the_camel_case_body_azure_ai_ml_sends_is_taken_too(aml, arm, endpoint):
    name = invoke(endpoint, CAMEL_BODY).json()["name"]
    assert arm.get("jobs", name).json()["properties"]["experimentName"] == "nightly-scores"
    assert invocations(aml)[0]["inputData"]["input_data"]["uri"] == "https://example.invalid/in/"


def test_the_deployment_header_chooses_the_deployment(aml, endpoint):
    assert invoke(endpoint, **{"azureml-model-deployment": "green"}).status_code == 200
    assert invocations(aml)[0]["deployment"] == "green"
    error = assert_error_shape(invoke(endpoint, **{"azureml-model-deployment": "red"}), 404)
    assert error["code"] == "UserError" and "red" in error["message"]
    assert_error_shape(invoke(endpoint.replace("score-batch", "nope")), 404)
    assert len(aml.runs()) == 1


def test_an_arm_token_is_refused_as_the_inference_gateway_refuses_it(aml, endpoint):
    refused = invoke(endpoint, audience=ARM)
    assert refused.status_code == 401 and refused.headers["Content-Type"].startswith("text/plain")
    assert refused.text.startswith("Microsoft Entra Token denied by policy")
    assert "Bearer" in refused.headers["WWW-Authenticate"]
    assert requests.post(endpoint, json=PASCAL_BODY, timeout=5).status_code == 401
    assert aml.runs() == []
    assert aml.requests_log()[-1]["status"] == 401


def test_a_repeated_request_id_answers_the_first_answer_and_creates_nothing(aml, endpoint):
    first = invoke(endpoint, **{"repeatability_request-id": "7f1c"})
    again = invoke(endpoint, **{"repeatability_request-id": "7f1c"})
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    other = invoke(endpoint, **{"repeatability_request-id": "8a2d"})
    assert other.json()["name"] != first.json()["name"]
    assert sorted((r["repeatabilityRequestId"], r["repeats"]) for r in invocations(aml)) == [("7f1c", 1), ("8a2d", 0)]


def test_a_request_id_outside_the_window_is_a_new_invocation(aml, endpoint):
    requests.patch(f"{aml.base_url}/_emulator/settings", json={"repeatabilityWindowSeconds": 0}, timeout=5)
    first = invoke(endpoint, **{"repeatability_request-id": "7f1c"}).json()["name"]
    assert invoke(endpoint, **{"repeatability_request-id": "7f1c"}).json()["name"] != first


def test_without_a_request_id_every_invocation_is_a_job(aml, endpoint):
    invoke(endpoint)
    invoke(endpoint)
    assert len(aml.runs()) == 2


def test_the_endpoint_outcome_fails_its_jobs_unless_an_experiment_outcome_says_otherwise(aml, arm):
    aml.seed_batch_endpoint("flaky", outcome="Failed", error={"code": "UserError", "message": "no files"})
    failed = invoke(aml.scoring_uri("flaky")).json()["name"]
    assert arm.wait_for_job(failed, {"Completed", "Failed"})[0]["properties"]["status"] == "Failed"
    assert next(r for r in aml.runs() if r["runId"] == failed)["status"] == "Failed"
    aml.set_job_outcome("flaky", "Completed")
    fixed = invoke(aml.scoring_uri("flaky")).json()["name"]
    assert arm.wait_for_job(fixed, {"Completed", "Failed"})[0]["properties"]["status"] == "Completed"


def test_a_job_name_in_the_body_names_the_job_once(aml, endpoint):
    body = {"properties": {**PASCAL_BODY["properties"], "name": "slot-2026-11-22"}}
    assert invoke(endpoint, body).json()["name"] == "slot-2026-11-22"
    assert_error_shape(invoke(endpoint, body), 409)


@pytest.mark.parametrize("body", [
    {},
    {"properties": {"InputData": {"x": {"JobInputType": "Literal"}}}},
    {"properties": {"InputData": {"x": {"JobInputType": "UriFolder"}}}},
    {"properties": {"InputData": {"x": {"JobInputType": "Dataset", "Uri": "u"}}}},
    {"properties": {"OutputData": {"o": {"JobOutputType": "Literal", "Value": 1}}}},
    {"properties": {"properties": {"experimentName": "bad name!"}}},
])
def test_a_body_the_service_would_refuse_is_a_400(aml, endpoint, body):
    assert_error_shape(invoke(endpoint, body), 400)
    assert aml.runs() == []


def test_the_invocations_tags_are_the_jobs_tags(aml, arm, endpoint):
    body = {"properties": {**CAMEL_BODY["properties"], "tags": {"scheduler_run_key": "s1_20261122T100000Z"}}}
    answer = invoke(endpoint, body).json()
    assert answer["properties"]["tags"] == {"scheduler_run_key": "s1_20261122T100000Z"}
    assert arm.get("jobs", answer["name"]).json()["properties"]["tags"] == {"scheduler_run_key": "s1_20261122T100000Z"}
    assert invoke(endpoint, {"properties": {"tags": {"n": 1}}}).status_code == 400
