"""The AML client and transport against the AML emulator, tokens from the identity emulator."""

from __future__ import annotations

import time

import pytest
from azure.identity import ManagedIdentityCredential

from shared.aml.client import AmlClient
from shared.aml.errors import AmlAuthError, AmlNotFoundError, AmlTimeoutError, AmlTransientError, InvalidAmlName
from shared.aml.transport import AmlTransport, HostNotAllowed
from shared.config import load_settings
from shared.identity import CredentialTokenSource

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
ENDPOINT_ID = "99999999-8888-7777-6666-555555555555"


class Sleeps(list):
    """Records the back-off delays the transport asks for, and waits them for real."""

    def __call__(self, seconds):
        self.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def settings(app_env):
    return load_settings(app_env)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(settings, sleeps):
    transport = AmlTransport(CredentialTokenSource(ManagedIdentityCredential()), allowed_hosts=settings.allowed_hosts,
                             timeout_seconds=1.0, max_retries=3, backoff_base_seconds=0.05, sleep=sleeps)
    return AmlClient(transport, settings)


def wait_for_status(client, experiment, run_id, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get_run(experiment, run_id)
        if state.status == wanted:
            return state
        time.sleep(0.1)
    raise AssertionError(f"run never reached {wanted}; last {state.status}")


def test_submit_published_pipeline_and_follow_it_to_completed(client, aml_emulator):
    submitted = client.submit_pipeline(PIPELINE_ID, experiment_name="batch_scoring",
                                       parameter_assignments={"param_batch_size": 50},
                                       tags={"scheduler_run_key": "s1_20261122T013000Z"})
    assert submitted.run_id
    run = next(r for r in aml_emulator.runs() if r["runId"] == submitted.run_id)
    assert run["parameterAssignments"] == {"param_batch_size": 50}
    assert run["tags"]["scheduler_run_key"] == "s1_20261122T013000Z"
    state = wait_for_status(client, "batch_scoring", submitted.run_id, "Completed")
    assert state.terminal and state.end_time


def test_pipeline_endpoint_with_version(client, aml_emulator):
    submitted = client.submit_pipeline_endpoint(ENDPOINT_ID, experiment_name="exp", pipeline_version="2")
    assert client.get_run("exp", submitted.run_id).status
    with pytest.raises(AmlNotFoundError):
        client.submit_pipeline_endpoint(ENDPOINT_ID, experiment_name="exp", pipeline_version="9")


def test_failed_run_carries_amls_error(client):
    submitted = client.submit_pipeline("22222222-3333-4444-5555-666666666666", experiment_name="exp")
    state = wait_for_status(client, "exp", submitted.run_id, "Failed")
    assert state.error_code and state.error_message


def test_unknown_pipeline_is_permanent_404(client, sleeps):
    with pytest.raises(AmlNotFoundError) as err:
        client.submit_pipeline("00000000-0000-0000-0000-0000000000ff", experiment_name="exp")
    assert err.value.status == 404 and not err.value.retryable and sleeps == []


def test_429_with_retry_after_then_success(client, aml_emulator, sleeps):
    # Retry-After is whole seconds on the wire, as from the real service.
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=429, times=2, retry_after=1)
    submitted = client.submit_pipeline(PIPELINE_ID, experiment_name="exp")
    assert submitted.run_id
    assert sleeps == [1.0, 1.0]
    assert len(aml_emulator.runs()) == 1


def test_503_then_success_uses_exponential_backoff(client, aml_emulator, sleeps):
    aml_emulator.add_fault(method="GET", path_contains="/runs/", status=503, times=2)
    submitted = client.submit_pipeline(PIPELINE_ID, experiment_name="exp")
    assert client.get_run("exp", submitted.run_id).run_id == submitted.run_id
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2


def test_500_on_submit_is_not_repeated_because_the_run_may_exist(client, aml_emulator, sleeps):
    aml_emulator.add_fault(method="POST", path_contains="PipelineSubmit", status=500, times=1)
    with pytest.raises(AmlTransientError) as err:
        client.submit_pipeline(PIPELINE_ID, experiment_name="exp")
    assert err.value.uncertain and err.value.status == 500 and sleeps == []


def test_retries_are_bounded(client, aml_emulator, sleeps):
    aml_emulator.add_fault(method="GET", status=503, times=10)
    with pytest.raises(AmlTransientError) as err:
        client.get_run("exp", "nope")
    assert err.value.status == 503 and len(sleeps) == 3


def test_hanging_service_times_out(client, aml_emulator):
    aml_emulator.add_fault(method="GET", status=None, delay_seconds=3, times=4)
    with pytest.raises(AmlTimeoutError):
        client.get_run("exp", "whatever")


def test_cancel(client):
    submitted = client.submit_pipeline(PIPELINE_ID, experiment_name="exp")
    client.cancel_run("exp", submitted.run_id)
    assert wait_for_status(client, "exp", submitted.run_id, "Canceled").terminal


def test_wrong_audience_is_an_auth_error(settings, aml_emulator):
    transport = AmlTransport(CredentialTokenSource(ManagedIdentityCredential()), allowed_hosts=settings.allowed_hosts,
                             max_retries=0)
    wrong = AmlClient(transport, settings.__class__(**{**settings.__dict__,
                                                       "aml_token_scope": "https://storage.azure.com/.default"}))
    with pytest.raises(AmlAuthError) as err:
        wrong.submit_pipeline(PIPELINE_ID, experiment_name="exp")
    assert err.value.status == 401


def test_invalid_names_never_reach_the_wire(client, aml_emulator):
    before = len(aml_emulator.requests_log())
    for bad in ("../x", "a/b", "a?b", "a#b"):
        with pytest.raises(InvalidAmlName):
            client.get_run(bad, "run")
        with pytest.raises(InvalidAmlName):
            client.get_run("exp", bad)
    assert len(aml_emulator.requests_log()) == before


def test_host_allow_list(settings):
    transport = AmlTransport(CredentialTokenSource(ManagedIdentityCredential()), allowed_hosts=settings.allowed_hosts)
    with pytest.raises(HostNotAllowed):
        transport.request("GET", "https://evil.example.com/x", scope=settings.aml_token_scope)


def test_portal_url(client):
    url = client.portal_url("abc-123")
    assert url.startswith("https://ml.azure.com/runs/abc-123?wsid=/subscriptions/")
