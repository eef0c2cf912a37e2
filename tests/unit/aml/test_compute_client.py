"""ComputeClient's URL discipline: operation ids, nextLink and LRO headers never choose the host.

The transport is replaced by a recorder that answers canned responses (the client, not
the transport, is under test here; both run against the emulator in integration tests).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from shared.aml.compute import ComputeClient, InvalidOperationId
from shared.aml.errors import AmlPermanentError
from shared.config import load_settings

SUB = "00000000-0000-0000-0000-000000000000"
W = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"
OP_PATH = f"/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/westeurope/computeOperationsStatus"
SETTINGS = load_settings({
    "AML_SUBSCRIPTION_ID": SUB, "AML_RESOURCE_GROUP": "rg-ml", "AML_WORKSPACE_NAME": "ws-prod",
    "AML_REGION": "westeurope", "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
})
ARM = "https://management.azure.com"


def response(status=200, body=None, headers=None):
    r = requests.Response()
    r.status_code = status
    r._content = b"" if body is None else json.dumps(body).encode()
    r.headers = CaseInsensitiveDict(headers or {})
    return r


class Recorder:
    """Answers queued responses in order and records what was asked."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        return self.responses.pop(0)


def client(*responses, **kwargs):
    recorder = Recorder(*responses)
    return ComputeClient(recorder, SETTINGS, **kwargs), recorder


def op_id(kind, target):
    return kind + base64.urlsafe_b64encode(target.encode()).decode().rstrip("=")


class TestNextLink:
    def test_pages_are_followed_on_the_configured_host(self):
        link = f"{ARM.upper().replace('HTTPS', 'https')}{W}/computes?api-version=2025-09-01&$skip=2"
        c, rec = client(response(body={"value": [{"name": "a"}], "nextLink": link}),
                        response(body={"value": [{"name": "b"}]}))
        assert [x["name"] for x in c.list()] == ["a", "b"]
        second = urlsplit(rec.calls[1][1])
        assert second.netloc == "management.azure.com" and second.path == f"{W}/computes"

    @pytest.mark.parametrize("link", [
        f"https://evil.example.com{W}/computes?api-version=2025-09-01&$skip=2",
        f"http://management.azure.com{W}/computes?$skip=2",
        f"{ARM}/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.MachineLearningServices"
        f"/workspaces/ws-prod/computes?$skip=2",
        f"{ARM}{W}/computes/../../../x?$skip=2",
        f"{ARM}{W}/computes?$skip=2&redirect=https://evil.example.com",
        f"{ARM}{W}/computes?$skip=2#frag",
        42,
    ])
    def test_a_next_link_elsewhere_is_refused_and_never_called(self, link):
        c, rec = client(response(body={"value": [{"name": "a"}], "nextLink": link}))
        with pytest.raises(AmlPermanentError):
            c.list()
        assert len(rec.calls) == 1

    def test_endless_paging_is_bounded(self):
        link = f"{ARM}{W}/computes?$skip=1"
        c, rec = client(*[response(body={"value": [], "nextLink": link}) for _ in range(60)])
        with pytest.raises(AmlPermanentError):
            c.list()
        assert len(rec.calls) == 50


class TestOperations:
    def test_async_operation_header_becomes_an_id_that_decodes_to_the_same_place(self):
        header = f"{ARM}{OP_PATH}/6d7a?api-version=2025-09-01&service=new"
        c, rec = client(response(201, {"name": "gpu"}, {"Azure-AsyncOperation": header, "Retry-After": "10"}))
        result = c.create_or_update("gpu", {"location": "westeurope"})
        assert result.status == 201 and result.retry_after == 10
        kind, url = c.operation_url(result.operation_id)
        assert kind == "a" and url == header

    def test_location_is_used_for_202_without_async_operation(self):
        location = f"{ARM}{W}/computes/gpu/operationResults/abc?api-version=2025-09-01"
        c, _ = client(response(202, None, {"Location": location}))
        result = c.power("gpu", "restart")
        assert c.operation_url(result.operation_id) == ("l", location)

    @pytest.mark.parametrize("header", [
        f"https://evil.example.com{OP_PATH}/1?api-version=2025-09-01",
        f"{ARM}/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.MachineLearningServices"
        f"/locations/westeurope/computeOperationsStatus/1?api-version=2025-09-01",
        f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/operations/1",
        f"{ARM}{OP_PATH}/1?api-version=2025-09-01&token=secret",
    ])
    def test_an_operation_url_outside_the_allow_list_yields_no_id(self, header):
        c, _ = client(response(201, {"name": "gpu"}, {"Azure-AsyncOperation": header}))
        assert c.create_or_update("gpu", {}).operation_id is None

    @pytest.mark.parametrize("target", [
        f"{OP_PATH}/..%2F..%2Fx?api-version=2025-09-01",
        f"{OP_PATH}/../../../../subscriptions/{SUB}/resourceGroups/rg-ml",
        f"//evil.example.com{OP_PATH}/1",
        f"{OP_PATH}/1?api-version=2025-09-01&api-version=2020-01-01",
        f"{OP_PATH}/1?api-version=latest",
        f"{OP_PATH}/1#x",
        f"{W.replace('ws-prod', 'ws-other')}/computes/gpu",
        f"{W}/computes/gpu/listKeys",
        f"{W}/datastores/workspaceblobstore",
        f"{OP_PATH}/\u0430bc",
        "/",
        "",
    ])
    def test_crafted_ids_are_refused(self, target):
        c, rec = client()
        for kind in ("a", "l"):
            with pytest.raises(InvalidOperationId):
                c.operation_url(op_id(kind, target))
        assert rec.calls == []

    @pytest.mark.parametrize("operation_id", ["", "a", "x" + "A" * 10, "a!!", "a" + "A" * 5000, None, 7])
    def test_malformed_ids_are_refused(self, operation_id):
        c, _ = client()
        with pytest.raises(InvalidOperationId):
            c.operation_url(operation_id)

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(
        lambda b: "a" + base64.urlsafe_b64encode(b).decode().rstrip("="))))
    def test_no_id_ever_leaves_the_configured_host_or_the_allow_list(self, operation_id):
        c, _ = client()
        try:
            _kind, url = c.operation_url(operation_id)
        except InvalidOperationId:
            return
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "management.azure.com")
        assert parts.path.lower().startswith(f"/subscriptions/{SUB}/")
        assert ".." not in parts.path and "%" not in parts.path

    def test_status_and_wait_follow_retry_after_until_done(self):
        header = f"{ARM}{OP_PATH}/6d7a?api-version=2025-09-01"
        sleeps, now = [], [0.0]

        def sleep(seconds):
            sleeps.append(seconds)
            now[0] += seconds

        c, rec = client(response(200, {"status": "InProgress"}, {"Retry-After": "2"}),
                        response(200, {"status": "Running"}),
                        response(200, {"status": "Failed", "error": {"code": "QuotaExceeded", "message": "no"}}),
                        sleep=sleep, clock=lambda: now[0])
        state = c.wait(op_id("a", header.removeprefix(ARM)), timeout_seconds=30)
        assert state.status == "Failed" and state.error["code"] == "QuotaExceeded"
        assert sleeps == [2.0, 1.0] and all(call[1] == header for call in rec.calls)

    def test_wait_gives_up_at_its_bound(self):
        header = f"{ARM}{OP_PATH}/6d7a?api-version=2025-09-01"
        now = [0.0]

        def sleep(seconds):
            now[0] += seconds

        c, rec = client(*[response(200, {"status": "InProgress"}, {"Retry-After": "4"}) for _ in range(10)],
                        sleep=sleep, clock=lambda: now[0])
        state = c.wait(op_id("a", header.removeprefix(ARM)), timeout_seconds=9)
        assert state.status == "InProgress" and not state.done and len(rec.calls) == 4

    def test_location_polling_reads_202_as_running_and_204_as_done(self):
        target = f"{W}/computes/gpu/operationResults/abc?api-version=2025-09-01"
        c, _ = client(response(202, None, {"Retry-After": "1"}), response(204))
        assert c.operation_status(op_id("l", target)).status == "InProgress"
        assert c.operation_status(op_id("l", target)).status == "Succeeded"


def test_names_are_validated_and_encoded_before_any_call():
    c, rec = client()
    for bad in ("../x", "a/b", "a?b", "a#b", "x" * 25, "1abc", "ab-", "\u0430bc", "ab\n"):
        with pytest.raises(ValueError):
            c.get(bad)
    with pytest.raises(ValueError):
        c.delete("gpu", "Purge")
    assert rec.calls == []
