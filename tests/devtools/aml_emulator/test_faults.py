"""Injected faults: answers, delays, hangs, dropped connections, and Retry-After in whole seconds."""

from __future__ import annotations

import time

import pytest
import requests

from tests.devtools.aml_emulator.support import Client, assert_error_shape


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


class TestRetryAfter:
    """Retry-After is always a whole number of seconds, as the real service sends it:
    generated clients fail to parse "0.2"."""

    @pytest.mark.parametrize(("retry_after", "header"), [(0, "0"), (0.2, "1"), (1, "1"), (2, "2"), (2.5, "3")])
    def test_fault_retry_after_is_rounded_up_to_whole_seconds(self, aml, client, retry_after, header):
        aml.add_fault(status=429, retry_after=retry_after)
        throttled = client.submit()
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == header

    def test_admin_api_fault_with_a_fraction_goes_out_whole(self, aml, client):
        added = requests.post(f"{aml.base_url}/_emulator/faults", json={"status": 503, "retryAfter": 0.2},
                              timeout=5).json()
        # The fault keeps the value it was given; only the wire is whole seconds.
        assert added["retryAfter"] == 0.2
        throttled = client.submit()
        assert throttled.status_code == 503 and throttled.headers["Retry-After"] == "1"

    def test_no_retry_after_unless_asked(self, aml, client):
        aml.add_fault(status=503)
        assert "Retry-After" not in client.submit().headers


def test_in_flight_counts_a_delayed_submit_until_the_service_has_acted(aml, client):
    import threading

    aml.add_fault(method="POST", path_contains="PipelineSubmit", delaySeconds=0.5)
    # The client gives up long before the emulator acts on the request.
    caller = threading.Thread(target=lambda: _ignore_timeout(client))
    caller.start()
    deadline = time.monotonic() + 5
    while aml.in_flight() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert aml.in_flight() == 1 and aml.runs() == []
    while aml.in_flight() and time.monotonic() < deadline:
        time.sleep(0.01)
    caller.join(5)
    assert aml.in_flight() == 0 and len(aml.runs()) == 1  # acted on although nobody waited


def _ignore_timeout(client):
    try:
        client.session.post(client.url("pipelines", "PipelineRuns/PipelineSubmit/score-pipeline"),
                            json={"ExperimentName": "batch_scoring"}, timeout=0.1)
    except requests.Timeout:
        pass
