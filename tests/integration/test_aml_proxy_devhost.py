"""Proxy behaviour that needs a dev host of its own: short AML timeouts, small pages, wait bounds.

The app is served in-process by the dev host (no timers), gets its tokens from the identity
emulator through the real managed-identity credential and talks to an AML emulator that
nothing else uses (see the proxy_host fixture).
"""

from __future__ import annotations

import time

import pytest

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"

pytestmark = pytest.mark.azurite


@pytest.fixture
def host(proxy_host):
    proxy_host.aml.clear_faults()
    yield proxy_host
    proxy_host.aml.clear_faults()


def test_a_hanging_aml_is_a_504_and_a_lost_submit_is_flagged(host):
    host.aml.add_fault(method="POST", path_contains="PipelineSubmit", delay_seconds=4)
    started = time.monotonic()
    status, body, _ = host.client("POST", f"pipelines/{PIPELINE_ID}/submit", {"experimentName": "timeouts"})
    assert status == 504 and body["error"]["code"] == "AmlTimeout"
    assert body["error"]["details"][0]["mayHaveExecuted"] is True
    assert time.monotonic() - started < 3.5  # one 2 s attempt: a submit is never repeated after a timeout


def test_waiting_stops_at_its_bound_and_leaves_an_operation_to_poll(host):
    host.aml.operation_seconds = 4
    try:
        status, body, headers = host.client(
            "PUT", "computes/slow-cluster?wait=true",
            {"computeType": "AmlCompute", "location": "westeurope", "vmSize": "STANDARD_DS3_V2",
             "scaleSettings": {"maxNodeCount": 1}})
        assert status == 202 and body["operation"]["status"] == "InProgress"
        assert headers["Location"] == body["operation"]["href"]
        status, op, _ = host.client("GET", body["operation"]["href"].removeprefix("/api/"))
        assert status == 200 and op["status"] == "InProgress"
    finally:
        host.aml.operation_seconds = 0.3


def test_restart_is_followed_through_its_location_url(host):
    host.aml.seed_compute("ci-restart", "ComputeInstance")
    status, body, _ = host.client("POST", "computes/ci-restart/restart")
    assert status == 202 and body["operation"]["id"].startswith("l")
    deadline = time.monotonic() + 5
    while True:
        status, op, _ = host.client("GET", body["operation"]["href"].removeprefix("/api/"))
        assert status == 200
        if op["status"] != "InProgress" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert op["status"] == "Succeeded"


def test_run_lists_page_with_continuation_tokens(host):
    experiment = "paging_experiment"
    submitted = [host.client("POST", f"pipelines/{PIPELINE_ID}/submit", {"experimentName": experiment})[1]["runId"]
                 for _ in range(4)]
    status, first, _ = host.client("GET", f"experiments/{experiment}/runs")
    assert status == 200 and len(first["value"]) == 3 and first["continuationToken"]
    status, second, _ = host.client("GET", f"experiments/{experiment}/runs",
                                    params={"continuationToken": first["continuationToken"]})
    assert status == 200 and second["continuationToken"] is None
    listed = [r["runId"] for r in first["value"] + second["value"]]
    assert sorted(listed) == sorted(submitted) and listed[0] == submitted[-1]  # newest first
    status, body, _ = host.client("GET", f"experiments/{experiment}/runs", params={"continuationToken": "junk"})
    assert status == 400 and body["error"]["details"][0]["field"] == "continuationToken"


def test_tokens_come_from_the_managed_identity_with_the_right_audience(host):
    host.aml.seed_compute("aud-check")
    assert host.client("GET", "computes/aud-check")[0] == 200
    assert host.client("GET", "experiments/none_such")[0] == 404
    audiences = {r["audience"] for r in host.aml.requests_log() if r["audience"]}
    assert audiences == {"https://management.azure.com"}
