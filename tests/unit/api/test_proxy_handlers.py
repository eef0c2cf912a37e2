"""Proxy handlers with the real clients and transport against the in-process AML emulator.

Tokens are minted locally in the identity emulator's format (the managed-identity path
itself is covered by the integration and e2e tests), so these run in milliseconds.
Every rejected request is checked to have sent nothing to AML.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import stat
import time
import zipfile

import azure.functions as func
import pytest
from urllib3 import encode_multipart_formdata

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import encode_token
from shared.access.guard import acting_as
from shared.access.principal import FUNCTION_KEY_CALLER, Principal
from shared.aml.client import AmlClient
from shared.aml.compute import ComputeClient
from shared.aml.runs import RunsClient
from shared.aml.transport import AmlTransport
from shared.api.compute import ComputeHandlers
from shared.api.http import handle
from shared.api.pipelines import PipelineHandlers
from shared.api.runs import RunHandlers
from shared.config import load_settings

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
ENDPOINT_ID = "99999999-8888-7777-6666-555555555555"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host"
PASSWORD = "Sup3r-Secret-Passw0rd"


class MintedTokens:
    def token(self, scope: str) -> str:
        return encode_token({"aud": scope.removesuffix("/.default"), "exp": int(time.time()) + 3600,
                             "oid": "00000000-0000-0000-0000-00000000000a", "tid": "00000000-0000-0000-0000-00000000000b"})


@pytest.fixture(scope="module")
def emulator():
    # Retry-After: 0 (whole seconds, as on the wire) lets operations be polled again at once.
    with AmlEmulator(run_seconds=0.5, cancel_seconds=0.2, operation_seconds=0.05, retry_after_seconds=0) as running:
        yield running


@pytest.fixture
def aml(emulator):
    emulator.reset()
    emulator.register_pipeline(PIPELINE_ID)
    emulator.register_pipeline(ENDPOINT_ID, kind="endpoint", versions=["1", "2"])
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def settings(aml):
    return load_settings({
        "AML_SUBSCRIPTION_ID": aml.subscription_id, "AML_RESOURCE_GROUP": aml.resource_group,
        "AML_WORKSPACE_NAME": aml.workspace, "AML_API_BASE_URL": aml.base_url, "ARM_BASE_URL": aml.base_url,
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "AML_PROXY_MAX_UPLOAD_MB": "1",
        "QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "AML_PROXY_MAX_WAIT_SECONDS": "3", "AML_MAX_RETRIES": "1",
    })


class Proxy:
    def __init__(self, settings):
        transport = AmlTransport(MintedTokens(), allowed_hosts=settings.allowed_hosts, timeout_seconds=2,
                                 max_retries=1, backoff_base_seconds=0.01)
        self.aml_client = AmlClient(transport, settings)
        self.groups = {
            "compute": ComputeHandlers(ComputeClient(transport, settings), settings),
            "runs": RunHandlers(RunsClient(transport, settings), self.aml_client, settings),
            "pipelines": PipelineHandlers(self.aml_client, RunsClient(transport, settings)),
        }

    def __call__(self, group, operation, method="GET", route=None, body=None, *, raw=None, params=None,
                 headers=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        req = func.HttpRequest(method, "http://localhost/api/x", headers={"Content-Type": content_type,
                                                                          **(headers or {})},
                               params=params or {}, route_params=route or {}, body=data)
        resp = handle(lambda: getattr(self.groups[group], operation)(req))
        payload = json.loads(resp.get_body()) if resp.get_body() else None
        return resp.status_code, payload, resp.headers


@pytest.fixture
def proxy(settings):
    return Proxy(settings)


def cluster(**overrides):
    doc = {"computeType": "AmlCompute", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
           "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT5M"}}
    doc.update(overrides)
    return doc


def zip_bytes(entries=(("train.py", b"print('hi')"),), symlink=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def multipart(definition=b'{"configuration": {"script": "train.py", "target": "cpu-cluster"}}', project=None,
              **extra):
    fields = {"runDefinitionFile": ("definition.json", definition, "application/json"),
              "projectZipFile": ("project.zip", zip_bytes() if project is None else project, "application/zip")}
    fields = {k: v for k, v in {**fields, **extra}.items() if v is not None}
    body, content_type = encode_multipart_formdata(fields)
    return body, content_type


# -- computes ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    cluster(adminUserName="azureuser", adminUserPassword=PASSWORD),
    cluster(nested={"deeper": [{"AdminUserPassword": PASSWORD}]}),
    {"computeType": "ComputeInstance", "properties": {"adminUserPassword": PASSWORD}},
])
def test_a_password_anywhere_is_refused_without_echo_or_aml_call(proxy, aml, body):
    status, payload, _ = proxy("compute", "put", "PUT", {"name": "cpu-cluster"}, body)
    assert status == 400 and payload["error"]["code"] == "PasswordNotAccepted"
    assert PASSWORD not in json.dumps(payload)
    assert aml.requests_log() == []


@pytest.mark.parametrize("name, body, field", [
    ("cpu-cluster", cluster(colour="red"), "colour"),
    ("cpu-cluster", cluster(location=None), "location"),
    ("cpu-cluster", cluster(vmSize="big; rm -rf"), "vmSize"),
    ("a-very-long-cluster-name", cluster(), "name"),
    ("ci-1", {**cluster(), "computeType": "ComputeInstance", "scaleSettings": None}, "scaleSettings"),
    ("ci-1", {"computeType": "ComputeInstance", "location": "westeurope", "vmSize": "STANDARD_DS3_V2"}, "name"),
    ("cpu-cluster", cluster(scaleSettings={"minNodeCount": 5, "maxNodeCount": 2}), "scaleSettings.minNodeCount"),
    ("cpu-cluster", cluster(scaleSettings={"maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "5 minutes"}),
     "scaleSettings.nodeIdleTimeBeforeScaleDown"),
    ("cpu-cluster", cluster(scaleSettings={"maxNodeCount": True}), "scaleSettings.maxNodeCount"),
    ("cpu-cluster", cluster(subnetId="https://evil.example.com/subnet"), "subnetId"),
    ("cpu-cluster", cluster(adminUserName="azureuser", adminUserSshPublicKey="not a key"), "adminUserSshPublicKey"),
    ("cpu-cluster", cluster(vmPriority="Spot"), "vmPriority"),
    ("cpu-cluster", {**cluster(), "computeType": "Databricks"}, "computeType"),
])
def test_bad_compute_definitions_name_the_field_and_send_nothing(proxy, aml, name, body, field):
    status, payload, _ = proxy("compute", "put", "PUT", {"name": name}, body)
    assert status == 400, payload
    assert payload["error"]["details"][0]["field"] == field
    assert aml.requests_log() == []


def test_cluster_with_ssh_key_is_created_and_the_operation_polled(proxy, aml):
    body = cluster(adminUserName="azureuser", adminUserSshPublicKey=SSH_KEY, remoteLoginPortPublicAccess="Disabled",
                   subnetId=f"/subscriptions/{aml.subscription_id}/resourceGroups/rg-net/providers/"
                            "Microsoft.Network/virtualNetworks/vnet1/subnets/aml", tags={"team": "ml"})
    status, payload, headers = proxy("compute", "put", "PUT", {"name": "cpu-cluster"}, body)
    assert status == 202 and payload["compute"]["provisioningState"] == "Creating"
    assert headers["Location"] == payload["operation"]["href"] and headers["Retry-After"]
    time.sleep(0.1)
    status, op, _ = proxy("compute", "operation", route={"id": payload["operation"]["id"]})
    assert (status, op["status"]) == (200, "Succeeded")
    status, got, _ = proxy("compute", "get", route={"name": "cpu-cluster"}, params={"raw": "true"})
    assert got["subnetId"].endswith("/subnets/aml") and got["scaleSettings"]["maxNodeCount"] == 4
    assert "userAccountCredentials" not in json.dumps(got["raw"])


def test_compute_instance_with_wait_returns_the_finished_compute(proxy):
    body = {"computeType": "ComputeInstance", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
            "sshPublicAccess": "Enabled", "sshPublicKey": SSH_KEY, "applicationSharingPolicy": "Personal",
            "assignedUserObjectId": "00000000-0000-0000-0000-00000000000a",
            "assignedUserTenantId": "00000000-0000-0000-0000-00000000000b"}
    status, payload, _ = proxy("compute", "put", "PUT", {"name": "ci-dev"}, body, params={"wait": "true"})
    assert status == 201 and payload["provisioningState"] == "Succeeded" and payload["state"] == "Running"


def test_patch_scale_settings(proxy, aml):
    aml.seed_compute("cpu-cluster")
    status, payload, _ = proxy("compute", "patch", "PATCH", {"name": "cpu-cluster"},
                               {"scaleSettings": {"minNodeCount": 1, "maxNodeCount": 8}}, params={"wait": "true"})
    assert status == 200 and payload["scaleSettings"]["maxNodeCount"] == 8 and payload["currentNodeCount"] == 1
    for body in ({"scaleSettings": {"minNodeCount": 1}}, {"vmSize": "X"}, {}):
        assert proxy("compute", "patch", "PATCH", {"name": "cpu-cluster"}, body)[0] == 400


def test_delete_needs_an_explicit_action(proxy, aml):
    aml.seed_compute("cpu-cluster")
    status, payload, _ = proxy("compute", "delete", "DELETE", {"name": "cpu-cluster"})
    assert status == 400 and payload["error"]["details"][0]["field"] == "action"
    assert aml.requests_log() == []


def test_destructive_operations_can_be_switched_off(settings, aml, caplog):
    proxy = Proxy(dataclasses.replace(settings, allow_destructive=False))
    aml.seed_compute("cpu-cluster")
    caplog.set_level(logging.INFO, logger="shared.api.audit")
    # A name header is only a claim: the caller is the one the access check established.
    headers = {"X-MS-CLIENT-PRINCIPAL-NAME": "mallory@contoso.com"}
    with acting_as(Principal("8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", "alice@contoso.com", frozenset(), "entra")):
        status, payload, _ = proxy("compute", "delete", "DELETE", {"name": "cpu-cluster"},
                                   params={"action": "Delete"}, headers=headers)
        assert status == 403 and payload["error"]["code"] == "OperationDisabled"
        status, _, _ = proxy("runs", "cancel", "POST", {"name": "exp", "runId": "run-1"}, headers=headers)
    assert status == 403
    assert aml.requests_log() == []
    refusals = [r.getMessage() for r in caplog.records if r.name == "shared.api.audit"]
    assert len(refusals) == 2 and all("requested by alice@contoso.com" in m for m in refusals)
    assert not any("mallory" in m for m in refusals)


def test_destructive_operations_are_audited_with_the_caller(proxy, aml, caplog):
    aml.seed_compute("cpu-cluster")
    caplog.set_level(logging.INFO, logger="shared.api.audit")
    with acting_as(FUNCTION_KEY_CALLER):
        status, _, _ = proxy("compute", "delete", "DELETE", {"name": "cpu-cluster"}, params={"action": "Detach"},
                             headers={"X-MS-CLIENT-PRINCIPAL-NAME": "bob@contoso.com"})
    assert status == 202
    assert any("compute detach of compute cpu-cluster requested by function key" in r.getMessage()
               for r in caplog.records)
    assert [r["query"] for r in aml.requests_log() if r["method"] == "DELETE"] == [
        "api-version=2025-09-01&underlyingResourceAction=Detach"]


def test_aml_errors_keep_amls_status_and_code(proxy, aml):
    status, payload, _ = proxy("compute", "get", route={"name": "nowhere"})
    assert status == 404 and payload["error"]["details"][0]["amlCode"] == "ResourceNotFound"
    aml.seed_compute("ci-dev", "ComputeInstance")
    status, payload, _ = proxy("compute", "start", "POST", {"name": "ci-dev"})
    assert status == 409 and payload["error"]["details"][0]["amlStatus"] == 409
    # A Retry-After beyond the transport's patience is handed back to the caller at once.
    aml.add_fault(method="GET", path_contains="/computes/ci-dev", status=429, retry_after=45, times=5)
    status, payload, headers = proxy("compute", "get", route={"name": "ci-dev"})
    assert status == 502 and payload["error"]["details"][0]["amlStatus"] == 429 and headers["Retry-After"] == "45"


def aml_posts(aml):
    return [r["path"] for r in aml.requests_log() if r["method"] == "POST"]


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_power_actions_on_a_cluster_are_a_400_before_any_aml_write(proxy, aml, action):
    aml.seed_compute("cpu-cluster", "AmlCompute")
    status, payload, _ = proxy("compute", action, "POST", {"name": "cpu-cluster"})
    assert status == 400 and payload["error"]["details"][0]["field"] == "name"
    assert "compute instances only" in payload["error"]["message"]
    assert aml_posts(aml) == []


def test_amls_refusal_of_the_callers_input_is_a_400_with_amls_status_and_code(proxy, aml):
    aml.seed_compute("ci-dev", "ComputeInstance")
    status, payload, _ = proxy("compute", "nodes", route={"name": "ci-dev"})
    assert status == 400 and payload["error"]["code"] == "AmlRejectedRequest"
    assert payload["error"]["details"][0]["amlStatus"] == 400


@pytest.mark.parametrize("aml_status", [401, 403])
def test_aml_refusing_the_apps_own_identity_stays_a_502_naming_the_role(proxy, aml, aml_status):
    aml.add_fault(method="GET", path_contains="/computes/ci-dev", status=aml_status, code="AuthorizationFailed")
    status, payload, _ = proxy("compute", "get", route={"name": "ci-dev"})
    assert status == 502 and payload["error"]["code"] == "AmlAccessDenied"
    assert "role" in payload["error"]["message"] and payload["error"]["details"][0]["amlStatus"] == aml_status


@pytest.mark.parametrize("token", ["junk!", "r" + "A" * 6000, "x" + "QUJD", "r", "r%%%"])
def test_a_continuation_token_this_api_did_not_issue_is_a_400_before_aml(proxy, aml, token):
    status, payload, _ = proxy("runs", "list", route={"name": "exp"}, params={"continuationToken": token})
    assert status == 400 and payload["error"]["details"][0]["field"] == "continuationToken"
    assert aml.requests_log() == []


@pytest.fixture
def small_pages(aml):
    aml.query_page_size = 3
    yield aml
    aml.query_page_size = 100


def test_run_pages_follow_the_tokens_this_api_issues(proxy, small_pages):
    started = {submit(proxy, *multipart())[1]["runId"] for _ in range(7)}
    seen, token = [], None
    for _ in range(10):
        params = {"continuationToken": token} if token else {}
        status, page, _ = proxy("runs", "list", route={"name": "exp"}, params=params)
        assert status == 200
        seen += [r["runId"] for r in page["value"]]
        token = page["continuationToken"]
        if token is None:
            break
    assert set(seen) == started and len(seen) == len(started)
    assert len([r for r in small_pages.requests_log() if r["path"].endswith("/runs:query")]) == 3


def test_a_token_of_ours_that_aml_refuses_is_a_400_with_amls_status(proxy, aml):
    import base64

    forged = "r" + base64.urlsafe_b64encode(b"not-amls-token").decode().rstrip("=")
    status, payload, _ = proxy("runs", "list", route={"name": "exp"}, params={"continuationToken": forged})
    assert status == 400 and payload["error"]["details"][0]["amlStatus"] == 400


def finished_run(proxy, aml):
    run_id = submit(proxy, *multipart())[1]["runId"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, run, _ = proxy("runs", "get", route={"name": "exp", "runId": run_id})
        if run["status"] in ("Completed", "Failed", "Canceled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never finished")


def test_cancelling_a_finished_run_is_a_409_with_its_final_status_and_no_cancel_sent(proxy, aml):
    run = finished_run(proxy, aml)
    status, payload, _ = proxy("runs", "cancel", "POST", {"name": "exp", "runId": run["runId"]})
    assert status == 409 and payload["error"]["code"] == "RunAlreadyFinished"
    assert payload["error"]["details"][0]["status"] == run["status"]
    assert not [p for p in aml_posts(aml) if p.endswith("/cancel")]


def test_a_failed_operation_under_wait_is_a_502_with_amls_code(proxy, aml):
    aml.seed_compute("ci-dev", "ComputeInstance", operation_outcome="Failed")
    status, payload, _ = proxy("compute", "stop", "POST", {"name": "ci-dev"}, params={"wait": "true"})
    assert status == 502 and payload["error"]["code"] == "AmlOperationFailed"
    assert payload["error"]["details"][0]["amlCode"] == "ComputeOperationFailed"


@pytest.mark.parametrize("params", [{"raw": "yes"}, {"wait": "1"}, {"raw": ""}, {"wait": "True"}])
def test_flags_are_strict(proxy, aml, params):
    assert proxy("compute", "start", "POST", route={"name": "ci-dev"}, params=params)[0] == 400
    assert aml.requests_log() == []


@pytest.mark.parametrize("operation_id", ["", "nope", "a" + "x" * 3000, "aaHR0cHM6Ly9ldmlsLmV4YW1wbGUuY29tLw"])
def test_bad_operation_ids_are_400_before_any_call(proxy, aml, operation_id):
    status, payload, _ = proxy("compute", "operation", route={"id": operation_id})
    assert status == 400 and payload["error"]["details"][0]["field"] == "id"
    assert aml.requests_log() == []


# -- runs -------------------------------------------------------------------------------

def submit(proxy, body, content_type, params=None):
    return proxy("runs", "submit", "POST", {"name": "exp"}, raw=body, content_type=content_type, params=params)


def test_run_upload_is_started_with_a_studio_link(proxy, aml):
    status, payload, headers = submit(proxy, *multipart(), params={"runId": "exp_run_1"})
    assert status == 201 and payload["runId"] == "exp_run_1"
    assert payload["portalUrl"].startswith("https://ml.azure.com/runs/exp_run_1?wsid=/subscriptions/")
    assert headers["Location"] == "/api/experiments/exp/runs/exp_run_1"
    status, run, _ = proxy("runs", "get", route={"name": "exp", "runId": "exp_run_1"}, params={"details": "true"})
    assert status == 200 and run["target"] == "cpu-cluster" and run["details"]["target"] == "cpu-cluster"


@pytest.mark.parametrize("upload, field", [
    (multipart(definition=b"{not json"), "runDefinitionFile"),
    (multipart(definition=b"[1, 2]"), "runDefinitionFile"),
    (multipart(definition=json.dumps({"environment": {"adminUserPassword": PASSWORD}}).encode()),
     "runDefinitionFile.environment.adminUserPassword"),
    (multipart(project=b"PK\x03\x04 not really a zip"), "projectZipFile"),
    (multipart(project=zip_bytes([("/etc/cron.d/evil", b"x")])), "projectZipFile"),
    (multipart(project=zip_bytes([("src/../../escape.py", b"x")])), "projectZipFile"),
    (multipart(project=zip_bytes([("..\\escape.py", b"x")])), "projectZipFile"),
    (multipart(project=zip_bytes([("C:/windows/evil.py", b"x")])), "projectZipFile"),
    (multipart(project=zip_bytes(symlink="link")), "projectZipFile"),
    (multipart(projectZipFile=None), "projectZipFile"),
    (multipart(extra=("x.txt", b"x")), "extra"),
])
def test_bad_uploads_are_refused_before_aml(proxy, aml, upload, field):
    status, payload, _ = submit(proxy, *upload)
    assert status == 400, payload
    assert payload["error"]["details"][0]["field"] == field
    assert PASSWORD not in json.dumps(payload)
    assert aml.requests_log() == []


def test_a_zip_with_a_corrupt_entry_is_refused(proxy, aml):
    data = bytearray(zip_bytes([("train.py", b"print('hello world')" * 50)]))
    data[60] ^= 0xFF  # inside the deflated data of the only entry
    status, payload, _ = submit(proxy, *multipart(project=bytes(data)))
    assert status == 400 and "corrupt" in payload["error"]["message"]
    assert aml.requests_log() == []


def test_upload_size_and_type_limits(proxy, aml):
    big, content_type = multipart(project=b"x" * (1024 * 1024 + 1))
    assert submit(proxy, big, content_type)[0] == 413
    assert submit(proxy, b'{"a": 1}', "application/json")[0] == 415
    assert submit(proxy, *multipart(), params={"runId": "../x"})[0] == 400
    assert aml.requests_log() == []


def test_list_filters_by_status_and_rejects_unknown_ones(proxy, aml):
    run_id = submit(proxy, *multipart())[1]["runId"]
    status, page, _ = proxy("runs", "list", route={"name": "exp"}, params={"status": "NotStarted", "raw": "true"})
    assert status == 200 and [r["runId"] for r in page["value"]] == [run_id] and page["value"][0]["raw"]["runId"]
    assert proxy("runs", "list", route={"name": "exp"}, params={"status": "Done"})[0] == 400


def test_experiments_get_and_create(proxy):
    assert proxy("runs", "experiment_get", route={"name": "fresh"})[0] == 404
    status, created, _ = proxy("runs", "experiment_create", "POST", {"name": "fresh"})
    assert status == 200 and created["name"] == "fresh" and created["experimentId"]
    assert proxy("runs", "experiment_create", "POST", {"name": "fresh"}, {"x": 1})[0] == 400


# -- pipelines --------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({}, "experimentName"),
    ({"experimentName": "e/x"}, "experimentName"),
    ({"experimentName": "exp", "colour": 1}, "colour"),
    ({"experimentName": "exp", "parameterAssignments": {"a": {"nested": 1}}}, "parameterAssignments.a"),
    ({"experimentName": "exp", "parameterAssignments": {"a": float("nan")}}, "parameterAssignments.a"),
    ({"experimentName": "exp", "dataPathAssignments": {"d": {"DataStoreName": "s"}}}, "dataPathAssignments.d"),
    ({"experimentName": "exp", "pipelineVersion": "1"}, "pipelineVersion"),
])
def test_bad_pipeline_submits_send_nothing(proxy, aml, body, field):
    status, payload, _ = proxy("pipelines", "submit", "POST", {"pipelineId": PIPELINE_ID}, body)
    assert status == 400 and payload["error"]["details"][0]["field"] == field
    assert aml.requests_log() == []


def test_pipeline_and_endpoint_submits(proxy, aml):
    body = {"experimentName": "scoring", "parameterAssignments": {"batch": 50, "day": "2026-11-22"},
            "dataPathAssignments": {"input": {"DataStoreName": "workspaceblobstore", "RelativePath": "in/x.csv"}},
            "tags": {"team": "ml"}}
    status, payload, _ = proxy("pipelines", "submit", "POST", {"pipelineId": PIPELINE_ID}, body)
    assert status == 201 and payload["pipelineId"] == PIPELINE_ID
    status, payload, _ = proxy("pipelines", "submit_endpoint", "POST", {"id": ENDPOINT_ID},
                               {**body, "pipelineVersion": "2"}, params={"raw": "true"})
    assert status == 201 and payload["pipelineVersion"] == "2" and payload["raw"]["Id"] == payload["runId"]
    runs = {r["runId"]: r for r in aml.runs()}
    assert runs[payload["runId"]]["pipelineVersion"] == "2"
    assert runs[payload["runId"]]["dataPathAssignments"]["input"]["RelativePath"] == "in/x.csv"
