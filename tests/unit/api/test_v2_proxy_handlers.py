"""AML v2 proxy handlers (jobs, batch endpoints) with the real clients and transport, against the AML emulator.

As in test_proxy_handlers: tokens are minted locally, every rejected request is checked to
have sent nothing to AML, and nothing of the code under test is replaced.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import azure.functions as func
import pytest

from devtools.aml_emulator import AmlEmulator
from shared.access.guard import acting_as
from shared.access.principal import Principal
from shared.aml.client import AmlClient
from shared.aml.transport import AmlTransport, HostNotAllowed
from shared.api.batch import BatchHandlers
from shared.api.http import handle
from shared.api.jobs import JobHandlers
from shared.config import load_settings
from tests.unit.api.test_proxy_handlers import MintedTokens

COMMAND_JOB = {"jobType": "Command", "experimentName": "proxy_v2", "command": "python score.py --day ${{inputs.day}}",
               "environmentId": "azureml:scoring-env:1", "computeId": "cpu-cluster",
               "inputs": {"day": {"jobInputType": "literal", "value": "2026-11-22"}}, "tags": {"team": "ml"}}


@pytest.fixture(scope="module")
def emulator():
    with AmlEmulator(run_seconds=0.5, cancel_seconds=0.2, retry_after_seconds=0, arm_page_size=2) as running:
        yield running


@pytest.fixture
def aml(emulator):
    emulator.reset()
    emulator.seed_compute("cpu-cluster")
    emulator.seed_batch_endpoint("score-batch", ["blue", "green"], "blue", compute="cpu-cluster")
    yield emulator
    emulator.clear_faults()
    emulator._inference_base_url = None


@pytest.fixture
def settings(aml):
    return load_settings({
        "AML_SUBSCRIPTION_ID": aml.subscription_id, "AML_RESOURCE_GROUP": aml.resource_group,
        "AML_WORKSPACE_NAME": aml.workspace, "AML_API_BASE_URL": aml.base_url, "ARM_BASE_URL": aml.base_url,
        "AML_INFERENCE_BASE_URL": aml.base_url,
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "AML_MAX_RETRIES": "1",
    })


def transport_for(settings):
    return AmlTransport(MintedTokens(), allowed_hosts=settings.allows_host, timeout_seconds=2, max_retries=1,
                        backoff_base_seconds=0.01)


class Proxy:
    def __init__(self, settings):
        client = AmlClient(transport_for(settings), settings)
        self.groups = {"jobs": JobHandlers(client, settings), "batch": BatchHandlers(client, settings)}

    def __call__(self, group, operation, method="GET", route=None, body=None, *, raw=None, params=None,
                 headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        req = func.HttpRequest(method, "http://localhost/api/x", headers={"Content-Type": "application/json",
                                                                          **(headers or {})},
                               params=params or {}, route_params=route or {}, body=data)
        resp = handle(lambda: getattr(self.groups[group], operation)(req))
        payload = json.loads(resp.get_body()) if resp.get_body() else None
        return resp.status_code, payload, resp.headers


@pytest.fixture
def proxy(settings):
    return Proxy(settings)


def put_job(proxy, name, body=COMMAND_JOB, **kwargs):
    return proxy("jobs", "put", "PUT", {"name": name}, body, **kwargs)


def emulator_job(aml, name):
    return next(j for j in aml.jobs() if j["name"] == name)


def wait_for_status(proxy, name, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job, _ = proxy("jobs", "get", route={"name": name})
        assert status == 200, job
        if job["status"] in wanted:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {name} never reached {wanted}")


# -- create ------------------------------------------------------------------------------

def test_put_creates_the_job_with_arm_compute_ids_and_answers_its_view(proxy, aml):
    status, job, headers = put_job(proxy, "score-1", params={"raw": "true"})
    assert status == 201 and headers["Location"] == "/api/jobs/score-1"
    compute_id = f"/{aml.workspace_path}/computes/cpu-cluster"
    assert {k: job[k] for k in ("name", "jobType", "displayName", "experimentName", "computeId", "tags")} == {
        "name": "score-1", "jobType": "Command", "displayName": "score-1", "experimentName": "proxy_v2",
        "computeId": compute_id, "tags": {"team": "ml"}}
    assert job["status"] == "NotStarted" and job["createdAt"].endswith("Z")
    # The studio link is built from the name, not taken from the job's services.
    assert job["portalUrl"].startswith("https://ml.azure.com/runs/score-1?wsid=/subscriptions/")
    assert job["raw"]["properties"]["services"]["Studio"]["endpoint"] != job["portalUrl"]
    sent = emulator_job(aml, "score-1")["properties"]
    assert sent["computeId"] == compute_id and sent["command"] == COMMAND_JOB["command"]  # ${{...}} is AML's own
    # The same job again: AML answers with the job it has.
    status, again, headers = put_job(proxy, "score-1")
    assert status == 200 and again["name"] == "score-1" and "Location" not in headers and "raw" not in again


def test_every_compute_reference_of_a_pipeline_job_is_sent_as_an_arm_id(proxy, aml):
    arm_id = f"/{aml.workspace_path}/computes/cpu-cluster"
    body = {"jobType": "Pipeline", "settings": {"default_compute": "azureml:cpu-cluster"},
            "jobs": {"prep": {"type": "command", "computeId": "cpu-cluster"}, "score": {"type": "command"}}}
    status, job, _ = put_job(proxy, "pipe_1", body)
    assert status == 201 and job["jobType"] == "Pipeline" and job["experimentName"] == "Default"
    sent = emulator_job(aml, "pipe_1")["properties"]
    assert sent["settings"]["default_compute"] == arm_id and sent["jobs"]["prep"]["computeId"] == arm_id


@pytest.mark.parametrize("body, field", [
    ({"experimentName": "x"}, "jobType"),
    ({**COMMAND_JOB, "jobType": "Sweep"}, "jobType"),
    ({**COMMAND_JOB, "status": "Completed"}, "status"),
    ({**COMMAND_JOB, "computeId": "a/b"}, "computeId"),
    ({**COMMAND_JOB, "computeId": "https://evil.example.com/computes/x"}, "computeId"),
    ({"jobType": "Pipeline", "jobs": {"s": {"computeId": "x"}}}, "jobs.s.computeId"),
    ({"jobType": "Pipeline", "settings": {"default_compute": 5}}, "settings.default_compute"),
    ({**COMMAND_JOB, "settings": None}, "settings"),
    ({**COMMAND_JOB, "tags": {"team": 1}}, "tags"),
    ({**COMMAND_JOB, "tags": {"scheduler_run_key": "nightly-20261122T013000Z"}}, "tags.scheduler_run_key"),
    ({**COMMAND_JOB, "experimentName": "a b"}, "experimentName"),
    ({**COMMAND_JOB, "displayName": "x" * 1025}, "displayName"),
    ({**COMMAND_JOB, "displayName": "scores for {{slot:%Y-%m-%d}}"}, "displayName"),
    ({**COMMAND_JOB, "inputs": {"day": {"jobInputType": "literal", "value": "{{slot}}"}}}, "inputs.day.value"),
    ({**COMMAND_JOB, "inputs": {"days": {"jobInputType": "literal", "value": ["{{ nope }}"]}}}, "inputs.days.value[0]"),
    ({**COMMAND_JOB, "description": "d" * 1000, "command": "x" * 33_000}, "body"),
    ([COMMAND_JOB], "body"),
])
def test_bad_job_definitions_name_the_field_and_send_nothing(proxy, aml, body, field):
    status, payload, _ = put_job(proxy, "bad-job", body)
    assert status == 400, payload
    assert payload["error"]["details"][0]["field"] == field
    assert aml.requests_log() == []


def test_placeholders_are_refused_with_the_reason(proxy, aml):
    status, payload, _ = put_job(proxy, "p", {**COMMAND_JOB, "displayName": "run {{schedule_id}}"})
    assert status == 400 and "filled per slot by schedules only" in payload["error"]["message"]


@pytest.mark.parametrize("name", ["a.b", "-lead", "x" * 256, "a:b", "\u0430dmin", "a b"])
def test_bad_job_names_are_400_naming_the_field(proxy, aml, name):
    for operation, method in (("get", "GET"), ("put", "PUT"), ("cancel", "POST")):
        status, payload, _ = proxy("jobs", operation, method, {"name": name}, COMMAND_JOB)
        assert status == 400 and payload["error"]["details"][0]["field"] == "name", (operation, payload)
    assert aml.requests_log() == []


def test_amls_refusal_of_a_job_is_a_400_with_amls_status(proxy, aml):
    body = {key: value for key, value in COMMAND_JOB.items() if key != "environmentId"}
    status, payload, _ = put_job(proxy, "no-env", body)
    assert status == 400 and payload["error"]["code"] == "AmlRejectedRequest"
    assert payload["error"]["details"][0]["amlStatus"] == 400
    status, payload, _ = put_job(proxy, "no-compute", {**COMMAND_JOB, "computeId": "gpu-cluster"})
    assert status == 400 and "gpu-cluster" in payload["error"]["message"]


# -- read --------------------------------------------------------------------------------

def test_get_unknown_job_is_a_404_with_amls_status(proxy, aml):
    status, payload, _ = proxy("jobs", "get", route={"name": "nowhere"})
    assert status == 404 and payload["error"]["details"][0]["amlStatus"] == 404


def test_a_failed_job_shows_its_error_from_run_history(proxy, aml):
    aml.set_job_outcome("doomed", "Failed", error={"code": "UserError", "message": "score.py exited with 1"},
                       duration_seconds=0.1)
    try:
        assert put_job(proxy, "doomed-1", {**COMMAND_JOB, "experimentName": "doomed"})[0] == 201
        job = wait_for_status(proxy, "doomed-1", {"Failed"})
    finally:
        aml.clear_job_outcome("doomed")
    assert job["error"] == {"code": "UserError", "message": "score.py exited with 1"}
    status, completed, _ = put_job(proxy, "fine-1")
    assert wait_for_status(proxy, "fine-1", {"Completed"})["error"] is None


# -- list ---------------------------------------------------------------------------------

def list_all(proxy, **params):
    seen, token, pages = [], None, 0
    while True:
        query = {**params, **({"continuationToken": token} if token else {})}
        status, page, _ = proxy("jobs", "list", params=query)
        assert status == 200, page
        seen += page["value"]
        pages += 1
        token = page["continuationToken"]
        if token is None:
            return seen, pages


def test_lists_page_through_arm_with_the_tag_filter_kept_by_the_token(proxy, aml):
    for i in range(5):
        assert put_job(proxy, f"tagged-{i}", {**COMMAND_JOB, "tags": {"batch7": "x"}})[0] == 201
    assert put_job(proxy, "untagged", {**COMMAND_JOB, "tags": {}})[0] == 201
    jobs, pages = list_all(proxy, tag="batch7")
    assert [j["name"] for j in jobs] == [f"tagged-{i}" for i in reversed(range(5))]  # newest first
    assert pages == 3  # ARM pages of two
    assert all("raw" not in j and "error" not in j for j in jobs)
    # Later pages keep the first page's filters, whether or not they are sent again.
    status, first, _ = proxy("jobs", "list", params={"tag": "batch7"})
    status, second, _ = proxy("jobs", "list", params={"continuationToken": first["continuationToken"]})
    assert [j["name"] for j in second["value"]] == ["tagged-2", "tagged-1"]
    status, payload, _ = proxy("jobs", "list", params={"tag": "other", "continuationToken": first["continuationToken"]})
    assert status == 400 and payload["error"]["details"][0]["field"] == "tag"
    lists = [r for r in aml.requests_log() if r["method"] == "GET" and r["path"].endswith("/jobs")]
    assert all("tag=batch7" in r["query"] for r in lists)


def test_the_status_filter_is_applied_to_each_page(proxy, aml):
    for i in range(3):
        assert put_job(proxy, f"s-{i}", {**COMMAND_JOB, "tags": {"sbatch": "x"}})[0] == 201
    wait_for_status(proxy, "s-2", {"Completed"})
    assert put_job(proxy, "s-new", {**COMMAND_JOB, "tags": {"sbatch": "x"}})[0] == 201
    jobs, pages = list_all(proxy, tag="sbatch", status="Completed", raw="true")
    assert sorted(j["name"] for j in jobs) == ["s-0", "s-1", "s-2"] and pages == 2
    assert all(j["raw"]["properties"]["status"] == "Completed" for j in jobs)
    status, page, _ = proxy("jobs", "list", params={"tag": "sbatch", "status": "Completed"})
    assert [j["name"] for j in page["value"]] == ["s-2"] and page["continuationToken"]  # s-new was dropped


@pytest.mark.parametrize("params, field", [
    ({"jobType": "Batch"}, "jobType"), ({"status": "Done"}, "status"), ({"listViewType": "Some"}, "listViewType"),
    ({"tag": "a=b"}, "tag"), ({"tag": ""}, "tag"), ({"raw": "yes"}, "raw"),
    ({"continuationToken": "not a token!"}, "continuationToken"),
    ({"continuationToken": base64.urlsafe_b64encode(b'{"t": "x"}').decode().rstrip("=")}, "continuationToken"),
    ({"continuationToken": base64.urlsafe_b64encode(
        b'{"t": "JHNraXA9Mg", "f": {"status": "Bogus"}}').decode().rstrip("=")}, "continuationToken"),
    # A token of our shape carrying a next page this API could not have been given by ARM.
    ({"continuationToken": base64.urlsafe_b64encode(json.dumps(
        {"t": base64.urlsafe_b64encode(b"url=https://evil.example.com/").decode(), "f": {}}).encode()).decode()},
     "continuationToken"),
])
def test_bad_list_requests_are_400_before_arm(proxy, aml, params, field):
    status, payload, _ = proxy("jobs", "list", params=params)
    assert status == 400 and payload["error"]["details"][0]["field"] == field, payload
    assert aml.requests_log() == []


# -- cancel -------------------------------------------------------------------------------

def cancels(aml):
    return [r for r in aml.requests_log() if r["method"] == "POST" and r["path"].endswith("/cancel")]


def test_cancel_is_accepted_then_a_finished_job_is_a_409_and_no_cancel_is_sent(proxy, aml, caplog):
    aml.set_job_outcome("slow", "Completed", duration_seconds=30)
    try:
        assert put_job(proxy, "long-1", {**COMMAND_JOB, "experimentName": "slow"})[0] == 201
    finally:
        aml.clear_job_outcome("slow")
    caplog.set_level(logging.INFO, logger="shared.api.audit")
    with acting_as(Principal("5b5450db-eb26-4c1a-981c-ba1d25f0483d", "ops@contoso.com", frozenset(), "entra")):
        status, payload, headers = proxy("jobs", "cancel", "POST", {"name": "long-1"})
    assert (status, payload) == (202, {"name": "long-1", "status": "CancelRequested"})
    assert headers["Location"] == "/api/jobs/long-1"
    assert any("job cancel of job long-1 requested by ops@contoso.com" in r.getMessage() for r in caplog.records)
    assert wait_for_status(proxy, "long-1", {"Canceled"})["status"] == "Canceled"
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "long-1"})
    assert status == 409 and payload["error"]["code"] == "JobAlreadyFinished"
    assert payload["error"]["details"][0]["status"] == "Canceled"
    assert len(cancels(aml)) == 1


def test_a_job_that_ends_while_its_cancel_is_on_the_way_is_a_409(proxy, aml):
    aml.set_job_outcome("quick", "Completed", duration_seconds=0.3)
    try:
        assert put_job(proxy, "quick-1", {**COMMAND_JOB, "experimentName": "quick"})[0] == 201
    finally:
        aml.clear_job_outcome("quick")
    aml.add_fault(method="POST", path_contains="/jobs/quick-1/cancel", delay_seconds=0.8)
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "quick-1"})
    assert status == 409 and payload["error"]["details"][0]["status"] == "Completed"
    assert [r["status"] for r in cancels(aml)] == [400]  # AML's refusal, answered as the conflict it is


def test_cancel_of_an_unknown_job_is_a_404_and_can_be_switched_off(proxy, settings, aml):
    status, payload, _ = proxy("jobs", "cancel", "POST", {"name": "nowhere"})
    assert status == 404 and cancels(aml) == []
    locked = Proxy(dataclasses.replace(settings, allow_destructive=False))
    before = len(aml.requests_log())
    status, payload, _ = locked("jobs", "cancel", "POST", {"name": "nowhere"})
    assert status == 403 and payload["error"]["code"] == "OperationDisabled"
    assert len(aml.requests_log()) == before


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


def invocations(aml):
    return [r["invocation"] for r in aml.runs() if r.get("invocation")]


def invoke(proxy, body=None, *, name="score-batch", headers=None, raw=None):
    return proxy("batch", "invoke", "POST", {"name": name}, body, headers=headers, raw=raw)


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
