"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import requests

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@contoso"


class EmulatorAdmin:
    """The AML emulator's admin API in the stack."""

    def __init__(self, base: str):
        self.base = f"{base}/_emulator"

    def __call__(self, method, path, body=None):
        response = requests.request(method, f"{self.base}/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **fault):
        return self("POST", "faults", fault)

    def requests_for(self, marker):
        return [r for r in self("GET", "requests") if marker in r["path"]]
