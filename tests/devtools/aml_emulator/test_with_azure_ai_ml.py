"""A client nobody here wrote: Microsoft's azure-ai-ml drives the emulator's AML v2 routes.

How it is pointed at the emulator: ``MLClient(..., cloud=NAME, cloud_metadata={...})``
registers a cloud whose ``resource_manager`` is the emulator's URL; every ARM client the
SDK builds then uses that base, and over plain http it passes ``enforce_https=False``
itself. The SDK asks its credential for ``{resource_manager}/.default``; the credential
here answers that with an ARM-audience token from the identity emulator (the emulator
stands in for ARM) and asks for any other scope as it is, so the invocation gets an
``https://ml.azure.com`` token (the cloud's ``aml_resource_id``).

The job is a command job with a curated environment reference and a compute name: the
SDK turns the name into an ARM id and sends the reference as it is, so it needs no
workspace, datastore, environment or code routes. The tests run outside a git work tree,
because the SDK adds the tree's git state to a job's properties and a tree that changed
between two PUTs would alter them.
"""

from __future__ import annotations

import logging
import time
import warnings

import pytest
import requests
from azure.core.credentials import AccessToken

# The SDK's own schemas use marshmallow features marshmallow deprecates, when they are
# imported and when they run; nothing here can act on that.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from azure.ai.ml import Input, MLClient, command
pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.Marshmallow4Warning")

from devtools.aml_emulator import AmlEmulator
from tests.devtools.aml_emulator.support import ARM

ENVIRONMENT = "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"


class IdentityEmulatorCredential:
    """A TokenCredential over the identity emulator, with the emulated ARM scope mapped to ARM's audience."""

    def __init__(self, identity, emulated_arm: str) -> None:
        self.identity = identity
        self.emulated_arm = emulated_arm.rstrip("/")

    def get_token(self, *scopes: str, **_options) -> AccessToken:
        resource = scopes[0].removesuffix("/.default").rstrip("/")
        if resource == self.emulated_arm:
            resource = ARM
        answer = requests.get(self.identity.endpoint, params={"api-version": "2019-08-01", "resource": resource},
                              headers={"X-IDENTITY-HEADER": self.identity.identity_header}, timeout=5)
        answer.raise_for_status()
        token = answer.json()
        return AccessToken(token["access_token"], int(token["expires_on"]))


@pytest.fixture
def aml():
    # Jobs run long enough to be canceled while they run; Retry-After 0 lets the
    # SDK's poller use the polling interval the test passes.
    with AmlEmulator(run_seconds=60, cancel_seconds=0.1, retry_after_seconds=0) as running:
        running.seed_compute("cpu-cluster")
        running.seed_batch_endpoint("score-batch", ["blue", "green"], "blue")
        yield running


@pytest.fixture
def ml_client(aml, identity, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    # MLClient records the chosen cloud in the process environment; undo that afterwards.
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD", raising=False)
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)
    metadata = {
        "azure_portal": "https://portal.azure.com/",
        "resource_manager": f"{aml.base_url}/",
        "active_directory": "https://login.microsoftonline.com/",
        "aml_resource_id": "https://ml.azure.com/",
        "storage_endpoint": "core.windows.net",
        "registry_discovery_endpoint": f"{aml.base_url}/",
    }
    return MLClient(IdentityEmulatorCredential(identity, aml.base_url), aml.subscription_id, aml.resource_group,
                    aml.workspace, cloud=f"AmlEmulator{aml.port}", cloud_metadata=metadata,
                    enable_telemetry=False, show_progress=False)


def nightly_job(name: str):
    return command(name=name, command="python score.py", environment=ENVIRONMENT, compute="cpu-cluster",
                   experiment_name="nightly", display_name="nightly scoring")


def test_jobs_are_created_read_listed_and_canceled(aml, ml_client):
    created = ml_client.jobs.create_or_update(nightly_job("slot-1"))
    assert (created.name, created.status) == ("slot-1", "NotStarted")
    sent = aml.jobs()[0]["properties"]
    assert (sent["environmentId"], sent["computeId"]) == (ENVIRONMENT, f"/{aml.workspace_path}/computes/cpu-cluster")

    again = ml_client.jobs.create_or_update(nightly_job("slot-1"))  # the same job again: the same job back
    assert again.name == "slot-1" and len(aml.runs()) == 1

    assert ml_client.jobs.get("slot-1").status in ("NotStarted", "Queued", "Running")
    assert [job.name for job in ml_client.jobs.list()] == ["slot-1"]
    ml_client.jobs.begin_cancel("slot-1", polling_interval=0.05).result()
    assert ml_client.jobs.get("slot-1").status == "Canceled"
    assert {entry["audience"] for entry in aml.requests_log()} == {ARM}


def test_a_failed_job_reads_as_failed(aml, ml_client):
    aml.set_job_outcome("nightly", "Failed", duration_seconds=0)
    ml_client.jobs.create_or_update(nightly_job("slot-2"))
    deadline = time.monotonic() + 5
    while ml_client.jobs.get("slot-2").status != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_batch_endpoint_is_read_and_invoked_through_its_scoring_uri(aml, ml_client):
    endpoint = ml_client.batch_endpoints.get("score-batch")
    assert endpoint.scoring_uri == aml.scoring_uri("score-batch")
    assert endpoint.defaults.deployment_name == "blue"
    batch_job = ml_client.batch_endpoints.invoke(
        endpoint_name="score-batch", deployment_name="green",
        inputs={"input_data": Input(type="uri_folder", path="https://example.invalid/scoring/input/")})
    assert batch_job.status == "NotStarted"
    assert ml_client.jobs.get(batch_job.name).type == "pipeline"
    [invocation] = [run["invocation"] for run in aml.runs() if run["invocation"]]
    assert (invocation["deployment"], invocation["inputData"]["input_data"]["jobInputType"]) == ("green", "UriFolder")
    assert invocation["repeatabilityRequestId"]  # the SDK sends one with every invoke
    scoring = [entry for entry in aml.requests_log() if entry["path"] == "/batch/score-batch/jobs"]
    assert [entry["audience"] for entry in scoring] == ["https://ml.azure.com"]
