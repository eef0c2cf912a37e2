"""Fixtures for the AML emulator's tests: tokens from the identity emulator, a fresh emulator per test,
an ARM client for the AML v2 routes."""

from __future__ import annotations

import pytest
import requests

from devtools.aml_emulator import AmlEmulator
from devtools.identity_emulator import IdentityEmulator
from tests.devtools.aml_emulator.support import ARM, Arm, Client

RUN_SECONDS = 0.6


@pytest.fixture(scope="module")
def identity():
    with IdentityEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def token(identity):
    response = requests.get(
        identity.endpoint,
        params={"api-version": "2019-08-01", "resource": ARM},
        headers={"X-IDENTITY-HEADER": identity.identity_header},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture
def aml():
    with AmlEmulator(run_seconds=RUN_SECONDS, cancel_seconds=0.5) as running:
        running.register_pipeline("score-pipeline")
        yield running


@pytest.fixture
def client(aml, token):
    return Client(aml, token)


@pytest.fixture
def arm(aml):
    """An ARM client for the AML v2 routes, on a workspace with the cluster cpu-cluster."""
    aml.seed_compute("cpu-cluster")
    return Arm(aml)
