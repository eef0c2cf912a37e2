from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import uuid

import pytest

from devtools.stack import LocalStack
from tests.e2e.support import EmulatorAdmin

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
FAILING_PIPELINE_ID = "22222222-3333-4444-5555-666666666666"


class Client:
    def __init__(self, base: str):
        self.base = base

    def __call__(self, method: str, path: str, body=None, raw: bytes | None = None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"{self.base}/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, _decoded(response.headers, response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decoded(exc.headers, exc.read())


def _decoded(headers, payload: bytes):
    """JSON answers parsed; anything else (the console's page and assets) as it came."""
    if not payload:
        return None
    return json.loads(payload) if headers.get_content_type().endswith("json") else payload


@pytest.fixture(scope="session")
def entra_stack(tmp_path_factory):
    """The local stack with the app in entra mode and the dev host playing Easy Auth; each request
    signs in (or not) with the dev host's X-Dev-Principal header."""
    local = LocalStack(REPO_ROOT, fixed_ports=False, log_dir=tmp_path_factory.mktemp("entra-stack-logs"),
                       run_seconds=2, pipelines=[PIPELINE_ID], extra_env={"API_AUTH_MODE": "entra"})
    with local:
        yield local


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole local stack on free ports, timers firing every two seconds."""
    local = LocalStack(
        REPO_ROOT,
        fixed_ports=False,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        run_seconds=2,
        pipelines=[PIPELINE_ID, f"{FAILING_PIPELINE_ID}:Failed"],
        # A short AML timeout lets the proxy's 504 path be exercised through this stack.
        extra_env={"TICK_SCHEDULE": "*/2 * * * * *", "POLL_SCHEDULE": "*/2 * * * * *",
                   "AML_HTTP_TIMEOUT_SECONDS": "3",
                   # Alerts go to receivers the tests run on 127.0.0.1 (plain http, development only);
                   # ALERT_WEBHOOK_HOSTS stays empty, so every other webhook is refused.
                   "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST": "true"},
    )
    with local:
        yield local


@pytest.fixture
def api(stack):
    return Client(stack.dev_host_url)


@pytest.fixture
def emulator_admin(stack):
    return EmulatorAdmin(stack.aml_url)


@pytest.fixture
def proxy(stack, http_client):
    """The app through the stack's dev host: (status, JSON, headers) per call."""
    return http_client(stack.dev_host_url)


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:6]
