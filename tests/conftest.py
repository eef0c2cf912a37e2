"""Shared fixtures: a real Azurite per test session, the emulators in-process."""

from __future__ import annotations

import uuid

import pytest

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import IdentityEmulator
from devtools.stack import free_port, start_azurite, stop_process_group, tables_connection_string, wait_for_port

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
ENDPOINT_ID = "99999999-8888-7777-6666-555555555555"
FAILING_PIPELINE_ID = "22222222-3333-4444-5555-666666666666"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Connection string of an Azurite table service started for this session."""
    port = free_port()
    proc = start_azurite(port, tmp_path_factory.mktemp("azurite") / "azurite.log")
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield tables_connection_string(port)
    finally:
        stop_process_group(proc)


@pytest.fixture
def table_names():
    suffix = uuid.uuid4().hex[:10]
    return f"sched{suffix}", f"runs{suffix}"


@pytest.fixture(scope="session")
def identity_emulator():
    with IdentityEmulator() as emulator:
        yield emulator


@pytest.fixture
def identity_env(identity_emulator, monkeypatch):
    for name, value in identity_emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    return identity_emulator


@pytest.fixture(scope="session")
def aml_emulator_session():
    with AmlEmulator(run_seconds=1.0, cancel_seconds=0.3) as emulator:
        yield emulator


@pytest.fixture
def aml_emulator(aml_emulator_session):
    emulator = aml_emulator_session
    emulator.reset()
    emulator.register_pipeline(PIPELINE_ID)
    emulator.register_pipeline(FAILING_PIPELINE_ID, outcome="Failed")
    emulator.register_pipeline(ENDPOINT_ID, kind="endpoint", versions=["1", "2"])
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def app_env(aml_emulator, identity_env, azurite, table_names):
    """App settings for a runtime wired to Azurite and both emulators."""
    return {
        "AML_SUBSCRIPTION_ID": aml_emulator.subscription_id,
        "AML_RESOURCE_GROUP": aml_emulator.resource_group,
        "AML_WORKSPACE_NAME": aml_emulator.workspace,
        "AML_API_BASE_URL": aml_emulator.base_url,
        "ARM_BASE_URL": aml_emulator.base_url,
        "TABLES_CONNECTION_STRING": azurite,
        "SCHEDULES_TABLE": table_names[0],
        "RUNS_TABLE": table_names[1],
        "AML_HTTP_TIMEOUT_SECONDS": "3",
    }
