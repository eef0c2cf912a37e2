"""The process's one Azure credential.

azure-identity caches tokens per credential object, so the app keeps exactly one for the
life of the worker. `azure.identity` is imported here, lazily, so that importing
`function_app` stays cheap on a cold start.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from shared.config import Settings


class TokenSource(Protocol):
    """What the AML client needs: a bearer token for a scope. Never logged."""

    def token(self, scope: str) -> str: ...


_lock = threading.Lock()
_credential: Any = None


def build_credential(settings: Settings) -> Any:
    """Managed identity when the platform provides one, else the developer chain.

    App Service, Functions and the local identity emulator all announce themselves with
    IDENTITY_ENDPOINT; there we skip DefaultAzureCredential's probing of other sources
    so a misconfiguration fails loudly instead of silently picking a developer login.
    """
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    client_id = settings.managed_identity_client_id
    if os.environ.get("IDENTITY_ENDPOINT"):
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return DefaultAzureCredential(
        managed_identity_client_id=client_id,
        exclude_interactive_browser_credential=True,
    )


def process_credential(settings: Settings) -> Any:
    global _credential
    with _lock:
        if _credential is None:
            _credential = build_credential(settings)
        return _credential


class CredentialTokenSource:
    """Adapts an azure-identity credential; returns only the token string."""

    def __init__(self, credential: Any):
        self._credential = credential

    def token(self, scope: str) -> str:
        # Only `.token` leaves this method: passing the whole AccessToken object on is a
        # known cause of 401s from AML.
        return self._credential.get_token(scope).token
