"""AML v2 batch endpoint proxy handlers (endpoints, deployments, invoke) with the real clients
and transport, against the AML emulator; and the v2 answers against their documented schemas.

As in tests/unit/api/test_proxy_handlers.py: tokens are minted locally, every rejected
request is checked to have sent nothing to AML, and nothing of the code under test is replaced.
"""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shared.aml.transport import HostNotAllowed
from tests.unit.api.v2_proxy.support import invocations, invoke, put_job, transport_for, wait_for_status


# -- batch endpoints --------------------------------------------------------------------

def test_batch_endpoints_and_deployments_are_read_in_this_apis_shape(proxy, aml):
    aml.seed_batch_endpoint("other-ep", ["red"], compute="cpu-cluster", description="second")
    aml.seed_batch_endpoint("third-ep", ["x1y"], compute="cpu-cluster")
    try:
        status, listed, _ = proxy("batch", "list")
        assert status == 200 and [e["name"] for e in listed["value"]] == ["other-ep", "score-batch", "third-ep"]
        status, endpoint, _ = proxy("batch", "get", route={"name": "score-batch"}, params={"raw": "true"})
    finally:
        aml.remove_batch_endpoint("other-ep")
        aml.remove_batch_endpoint("third-ep")
    assert status == 200
    assert {k: v for k, v in endpoint.items() if k != "raw"} == {
        "name": "score-batch", "description": None, "scoringUri": f"{aml.base_url}/batch/score-batch/jobs",
        "defaultDeployment": "blue", "authMode": "AADToken", "provisioningState": "Succeeded"}
    assert endpoint["raw"]["type"].endswith("/batchEndpoints")
    status, deployments, _ = proxy("batch", "deployments", route={"name": "score-batch"})
    assert status == 200 and deployments["endpointName"] == "score-batch"
    assert deployments["defaultDeployment"] == "blue"
    assert [(d["name"], d["isDefault"]) for d in deployments["value"]] == [("blue", True), ("green", False)]
    assert deployments["value"][0]["compute"].endswith("/computes/cpu-cluster")
    assert deployments["value"][0]["instanceCount"] == 1 and deployments["value"][0]["model"] is None
    for operation in ("get", "deployments"):
        status, payload, _ = proxy("batch", operation, route={"name": "no-such-ep"})
        assert status == 404 and payload["error"]["details"][0]["amlStatus"] == 404


def test_invoke_with_the_default_deployment_and_a_repeatability_id_made_here(proxy, aml):
    body = {"inputs": {"input_data": {"type": "uri_folder", "uri": "azureml://datastores/ws/paths/in/"},
                       "day": {"type": "literal", "value": 20261122}},
            "outputs": {"score": {"type": "uri_folder", "uri": "azureml://datastores/ws/paths/out/"}},
            "experimentName": "adhoc_scoring"}
    status, started, headers = invoke(proxy, body)
    assert status == 201, started
    assert str(uuid.UUID(started["repeatabilityRequestId"])) == started["repeatabilityRequestId"]
    assert headers["Location"] == f"/api/jobs/{started['jobName']}"
    assert started["portalUrl"].startswith(f"https://ml.azure.com/runs/{started['jobName']}?wsid=")
    [sent] = invocations(aml)
    assert (sent["deployment"], sent["repeatabilityRequestId"]) == ("blue", started["repeatabilityRequestId"])
    assert sent["inputData"]["day"] == {"jobInputType": "Literal", "value": "20261122"}
    assert sent["outputData"]["score"]["uri"] == "azureml://datastores/ws/paths/out/"
    status, job, _ = proxy("jobs", "get", route={"name": started["jobName"]})
    assert status == 200 and job["experimentName"] == "adhoc_scoring"
    # No body at all: the endpoint's defaults.
    status, bare, _ = invoke(proxy, raw=b"")
    assert status == 201 and bare["jobName"] != started["jobName"]


def test_invoke_repeated_with_the_same_id_starts_one_job(proxy, aml):
    request_id = str(uuid.uuid4())
    answers = [invoke(proxy, {"deployment": "green"}, headers={"Repeatability-Request-ID": request_id})
               for _ in range(2)]
    assert [a[0] for a in answers] == [201, 201]
    assert answers[0][1]["jobName"] == answers[1][1]["jobName"]
    assert all(a[1]["repeatabilityRequestId"] == request_id for a in answers)
    [sent] = invocations(aml)
    assert (sent["deployment"], sent["repeats"]) == ("green", 1)


@pytest.mark.parametrize("body, headers, field", [
    ({"colour": "red"}, {}, "colour"),
    ({"endpointName": "other"}, {}, "endpointName"),
    ({"deployment": "b"}, {}, "deployment"),
    ({"experimentName": "a/b"}, {}, "experimentName"),
    ({"inputs": []}, {}, "inputs"),
    ({"inputs": {"x": {"type": "mltable", "uri": "azureml://x"}}}, {}, "inputs.x.type"),
    ({"inputs": {"x": {"type": "literal", "value": True}}}, {}, "inputs.x.value"),
    ({"inputs": {"bad-name": {"type": "literal", "value": 1}}}, {}, "inputs.bad-name"),
    ({"outputs": {"o": {"type": "literal", "value": 1}}}, {}, "outputs.o.type"),
    ({"inputs": {"day": {"type": "literal", "value": "{{slot_local:%Y-%m-%d}}"}}}, {}, "inputs.day.value"),
    ({"outputs": {"o": {"type": "uri_folder", "uri": "azureml://out/{{run_key}}/"}}}, {}, "outputs.o.uri"),
    ({}, {"Repeatability-Request-ID": "not-a-uuid"}, "Repeatability-Request-ID"),
    ({}, {"Repeatability-Request-ID": ""}, "Repeatability-Request-ID"),
])
def test_bad_invocations_name_the_field_and_send_nothing(proxy, aml, body, headers, field):
    status, payload, _ = invoke(proxy, body, headers=headers)
    assert status == 400, payload
    assert payload["error"]["details"][0]["field"] == field
    assert aml.requests_log() == []


@pytest.mark.parametrize("name", ["ab", "1abc", "a_b", "x" * 33, "a.b"])
def test_bad_endpoint_names_are_400_naming_the_field(proxy, aml, name):
    for operation in ("get", "deployments", "invoke"):
        status, payload, _ = proxy("batch", operation, "POST" if operation == "invoke" else "GET", {"name": name})
        assert status == 400 and payload["error"]["details"][0]["field"] == "name"
    assert aml.requests_log() == []


def test_unknown_endpoints_and_deployments_are_404_and_a_missing_default_a_400(proxy, aml):
    status, payload, _ = invoke(proxy, name="no-such-ep")
    assert status == 404 and payload["error"]["details"][0]["amlStatus"] == 404
    status, payload, _ = invoke(proxy, {"deployment": "purple"})
    assert status == 404 and payload["error"]["details"][0]["field"] == "deployment"
    aml.seed_batch_endpoint("empty-ep", [], compute="cpu-cluster")
    try:
        status, payload, _ = invoke(proxy, name="empty-ep")
    finally:
        aml.remove_batch_endpoint("empty-ep")
    assert status == 400 and payload["error"]["details"][0]["field"] == "deployment"
    assert [r for r in aml.requests_log() if r["method"] == "POST"] == []


class _Trap(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.seen.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def trap():
    """A listener on another port of the loopback host: where a forged scoring URI would lead."""
    _Trap.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Trap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Trap.seen
    server.shutdown()
    server.server_close()


def test_a_scoring_uri_on_another_host_is_refused_and_nothing_is_sent_there(proxy, aml, settings, trap):
    base, seen = trap
    aml._inference_base_url = base  # ARM now answers with a scoring URI on the trap's host
    status, payload, _ = invoke(proxy, {"deployment": "blue"}, headers={"Repeatability-Request-ID": str(uuid.uuid4())})
    assert status == 502, payload
    assert payload["error"]["details"][0]["amlCode"] == "ScoringUriNotAllowed"
    assert seen == [] and invocations(aml) == []
    # The transport's own host rule refuses it too, before any token is fetched or sent.
    with pytest.raises(HostNotAllowed):
        transport_for(settings).request("POST", f"{base}/batch/score-batch/jobs", scope=settings.batch_token_scope,
                                        json={})
    assert seen == []


# -- the answers are what the OpenAPI document says -----------------------------------------

def test_answers_and_examples_match_the_documented_schemas(proxy, aml):
    from shared.api.openapi_v2 import INVOKE_EXAMPLE, JOB_EXAMPLE
    from tests.unit.api.test_openapi import validator

    def check(schema, doc):
        assert [e.message for e in validator(schema).iter_errors(doc)] == [], (schema, doc)

    check("JobRequest", JOB_EXAMPLE)
    check("InvokeRequest", INVOKE_EXAMPLE)
    aml.set_job_outcome(JOB_EXAMPLE["experimentName"], "Completed", duration_seconds=30)  # until cancelled
    try:
        status, created, _ = put_job(proxy, "doc-job", JOB_EXAMPLE, params={"raw": "true"})
    finally:
        aml.clear_job_outcome(JOB_EXAMPLE["experimentName"])
    assert status == 201
    check("Job", created)
    check("Job", proxy("jobs", "get", route={"name": "doc-job"})[1])
    check("JobPage", proxy("jobs", "list", params={"raw": "true"})[1])
    check("BatchEndpointList", proxy("batch", "list", params={"raw": "true"})[1])
    check("BatchEndpoint", proxy("batch", "get", route={"name": "score-batch"})[1])
    check("BatchDeploymentList",
          proxy("batch", "deployments", route={"name": "score-batch"}, params={"raw": "true"})[1])
    status, started, _ = invoke(proxy, INVOKE_EXAMPLE)
    assert status == 201
    check("Invocation", started)
    status, cancelled, _ = proxy("jobs", "cancel", "POST", {"name": "doc-job"})
    assert status == 202
    check("JobCancelAccepted", cancelled)
    wait_for_status(proxy, "doc-job", {"Canceled"})
    status, refused, _ = proxy("jobs", "cancel", "POST", {"name": "doc-job"})
    assert status == 409
    check("Error", refused)
