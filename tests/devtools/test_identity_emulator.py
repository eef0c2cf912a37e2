"""The identity emulator must satisfy the real azure-identity client, not a mock of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential

from devtools.identity_emulator import DEFAULT_CLIENT_ID, IdentityEmulator, decode_token, encode_token

REPO_ROOT = Path(__file__).resolve().parents[2]
ARM_SCOPE = "https://management.azure.com/.default"

# Variables that would make azure-identity pick another managed-identity flavour.
_OTHER_MI_VARIABLES = (
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)


@pytest.fixture
def emulator():
    with IdentityEmulator() as running:
        yield running


@pytest.fixture
def app_service_env(emulator, monkeypatch):
    for name in _OTHER_MI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    return emulator


def _token_request(emulator: IdentityEmulator, *, headers=None, **params) -> requests.Response:
    return requests.get(emulator.endpoint, params=params, headers=headers or {}, timeout=5)


class TestWithAzureIdentity:
    def test_managed_identity_credential_gets_an_arm_token(self, app_service_env):
        credential = ManagedIdentityCredential()
        before = int(time.time())

        token = credential.get_token(ARM_SCOPE)

        claims = decode_token(token.token)
        assert claims["aud"] == "https://management.azure.com"
        assert claims["tid"] == app_service_env.tenant_id
        assert claims["oid"] == app_service_env.principal_id
        assert token.expires_on > before
        assert app_service_env.issued == {"https://management.azure.com": 1}

    def test_tokens_are_cached_by_the_credential(self, app_service_env):
        credential = ManagedIdentityCredential()
        first = credential.get_token(ARM_SCOPE)
        second = credential.get_token(ARM_SCOPE)
        assert first.token == second.token
        assert app_service_env.issued == {"https://management.azure.com": 1}

    def test_each_resource_gets_its_own_audience(self, app_service_env):
        credential = ManagedIdentityCredential()
        ml = credential.get_token("https://ml.azure.com/.default")
        assert decode_token(ml.token)["aud"] == "https://ml.azure.com"

    def test_wrong_identity_header_is_an_authentication_failure(self, app_service_env, monkeypatch):
        monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
        with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)):
            ManagedIdentityCredential().get_token(ARM_SCOPE)
        assert app_service_env.issued == {}


class TestProtocol:
    def test_token_response_shape(self, emulator):
        response = _token_request(
            emulator,
            headers={"X-IDENTITY-HEADER": emulator.identity_header},
            **{"api-version": "2019-08-01", "resource": "https://ml.azure.com"},
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
        assert body["token_type"] == "Bearer"
        assert body["resource"] == "https://ml.azure.com"
        assert body["client_id"] == DEFAULT_CLIENT_ID
        assert body["expires_on"].isdigit()
        assert int(body["expires_on"]) > time.time()
        claims = decode_token(body["access_token"])
        assert claims["iss"] == f"https://sts.windows.net/{emulator.tenant_id}/"
        assert claims["appid"] == DEFAULT_CLIENT_ID
        assert claims["nbf"] <= claims["iat"] < claims["exp"] == int(body["expires_on"])

    def test_user_assigned_client_id_is_echoed(self, emulator):
        body = _token_request(
            emulator,
            headers={"X-IDENTITY-HEADER": emulator.identity_header},
            **{"api-version": "2019-08-01", "resource": "https://ml.azure.com", "client_id": "abc"},
        ).json()
        assert body["client_id"] == "abc"
        assert decode_token(body["access_token"])["appid"] == "abc"

    def test_token_is_unsigned_jwt_shape(self, emulator):
        token = emulator.token_for("https://management.azure.com")
        header, payload, signature = token.split(".")
        assert "=" not in header + payload
        assert signature == "emulator"

    @pytest.mark.parametrize("headers", [{}, {"X-IDENTITY-HEADER": "wrong"}])
    def test_missing_or_wrong_header_is_401(self, emulator, headers):
        response = _token_request(
            emulator, headers=headers, **{"api-version": "2019-08-01", "resource": "https://ml.azure.com"}
        )
        assert response.status_code == 401
        assert response.json()["statusCode"] == 401
        assert emulator.issued == {}

    @pytest.mark.parametrize(
        "params",
        [
            {"api-version": "2019-08-01"},
            {"resource": "https://ml.azure.com"},
            {"api-version": "2017-09-01", "resource": "https://ml.azure.com"},
        ],
    )
    def test_missing_resource_or_api_version_is_400(self, emulator, params):
        response = _token_request(emulator, headers={"X-IDENTITY-HEADER": emulator.identity_header}, **params)
        assert response.status_code == 400
        assert "message" in response.json()

    def test_healthz(self, emulator):
        response = requests.get(f"{emulator.base_url}/healthz", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_env_names_the_endpoint_and_secret(self, emulator):
        env = emulator.env()
        assert env["IDENTITY_ENDPOINT"] == f"http://127.0.0.1:{emulator.port}/msi/token"
        assert env["IDENTITY_HEADER"] == emulator.identity_header
        assert len(emulator.identity_header) >= 16


class TestDecodeToken:
    def test_round_trip(self):
        assert decode_token(encode_token({"aud": "x", "n": 1})) == {"aud": "x", "n": 1}

    @pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.!!!.c", "a.bnVsbA.c"])
    def test_rejects_non_tokens(self, garbage):
        with pytest.raises(ValueError):
            decode_token(garbage)


def test_cli_serves_and_exits_cleanly_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.identity_emulator", "--port", "0", "--identity-header", "s3cret"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("identity emulator listening on http://127.0.0.1:")
        endpoint = line.rsplit(" ", 1)[1]
        response = requests.get(
            endpoint,
            params={"api-version": "2019-08-01", "resource": "https://ml.azure.com"},
            headers={"X-IDENTITY-HEADER": "s3cret"},
            timeout=5,
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert response.json()["access_token"] not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
