"""The AML emulator (module-scoped, reset for each test), the settings that point the app at
it, and the v2 proxy handlers under test."""

from __future__ import annotations

import pytest

from devtools.aml_emulator import AmlEmulator
from shared.config import load_settings
from tests.unit.api.v2_proxy.support import Proxy


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


@pytest.fixture
def proxy(settings):
    return Proxy(settings)
