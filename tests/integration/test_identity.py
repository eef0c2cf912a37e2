"""The real azure-identity credential code path, through the identity emulator."""

import pytest
from azure.identity import ManagedIdentityCredential

from devtools.identity_emulator import decode_token
from shared.config import load_settings
from shared.identity import CredentialTokenSource, build_credential


def test_managed_identity_is_chosen_and_tokens_are_cached_per_scope(app_env, identity_env):
    credential = build_credential(load_settings(app_env))
    assert isinstance(credential, ManagedIdentityCredential)
    source = CredentialTokenSource(credential)
    issued_before = dict(identity_env.issued)
    first = source.token("https://management.azure.com/.default")
    again = source.token("https://management.azure.com/.default")
    ml = source.token("https://ml.azure.com/.default")
    assert first == again
    assert decode_token(first)["aud"] == "https://management.azure.com"
    assert decode_token(ml)["aud"] == "https://ml.azure.com"
    assert identity_env.issued.get("https://management.azure.com", 0) - issued_before.get("https://management.azure.com", 0) == 1


def test_user_assigned_identity_client_id_is_sent(app_env, identity_env):
    client_id = "12345678-1234-1234-1234-123456789abc"
    credential = build_credential(load_settings({**app_env, "AZURE_CLIENT_ID": client_id}))
    token = credential.get_token("https://management.azure.com/.default").token
    assert decode_token(token)["appid"] == client_id


def test_wrong_identity_header_fails_loudly(identity_env, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    with pytest.raises(Exception) as err:
        ManagedIdentityCredential().get_token("https://management.azure.com/.default")
    assert "token" in str(err.value).lower() or "identity" in str(err.value).lower()
