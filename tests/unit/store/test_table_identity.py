"""Identity-based table access, as deployed (shared-key access off, TABLES_ENDPOINT set).

Azurite takes bearer tokens only over TLS, so these tests stop each request at the
transport and look at what would have gone over the wire.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpTransport

from devtools.stack import tables_connection_string
from shared.config import load_settings
from shared.store.table import service_client

ENDPOINT = "https://stscheduler.table.core.windows.net"
QUEUE_ENDPOINT = "https://stscheduler.queue.core.windows.net"
STORAGE_SCOPE = "https://storage.azure.com/.default"


class RecordingCredential:
    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **_):
        self.scopes.extend(scopes)
        return AccessToken("identity-token", int(time.time()) + 3600)


class StopAtTransport(HttpTransport):
    """Records each request and fails it, so nothing leaves the machine."""

    def __init__(self):
        self.requests = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        raise ServiceRequestError("stopped at the transport")

    def open(self):
        pass

    def close(self):
        pass

    def __exit__(self, *args):
        pass


def test_endpoint_and_credential_send_a_bearer_token_for_storage():
    credential, transport = RecordingCredential(), StopAtTransport()
    client = service_client(connection_string=None, endpoint=ENDPOINT, credential=credential,
                            transport=transport, retry_total=0)
    with pytest.raises(ServiceRequestError):
        client.get_table_client("schedules").get_entity("schedule", "nightly")
    [request] = transport.requests
    assert request.url.startswith(f"{ENDPOINT}/schedules(")
    assert request.headers["Authorization"] == "Bearer identity-token"
    assert credential.scopes == [STORAGE_SCOPE]
    assert "SharedKey" not in str(request.headers)


def test_connection_string_wins_and_needs_no_credential():
    transport = StopAtTransport()
    client = service_client(connection_string=tables_connection_string(10002), endpoint=ENDPOINT,
                            credential=None, transport=transport, retry_total=0)
    with pytest.raises(ServiceRequestError):
        client.get_table_client("schedules").get_entity("schedule", "nightly")
    [request] = transport.requests
    assert request.url.startswith("http://127.0.0.1:10002/devstoreaccount1/")
    assert request.headers["Authorization"].startswith("SharedKey")


def test_endpoint_without_a_credential_is_refused_up_front():
    with pytest.raises(ValueError, match="credential"):
        service_client(connection_string=None, endpoint=ENDPOINT, credential=None)
    with pytest.raises(ValueError, match="TABLES_ENDPOINT"):
        service_client(connection_string=None, endpoint=None, credential=RecordingCredential())


def test_runtime_hands_the_process_credential_to_the_tables(monkeypatch):
    import shared.identity
    import shared.runtime
    import shared.store.table

    settings = load_settings({
        "AML_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AML_RESOURCE_GROUP": "rg-ml",
        "AML_WORKSPACE_NAME": "mlw-scoring",
        "AML_REGION": "westeurope",
        "TABLES_ENDPOINT": ENDPOINT + "/",
        "QUEUES_ENDPOINT": QUEUE_ENDPOINT,
    })
    credential = RecordingCredential()
    seen, queue_seen = {}, {}

    def fake_service_client(**kwargs):
        seen.update(kwargs)
        return SimpleNamespace()

    def fake_queue_service(**kwargs):
        queue_seen.update(kwargs)
        return SimpleNamespace()

    import shared.http_session
    import shared.queue.storage

    monkeypatch.setattr(shared.identity, "process_credential", lambda _settings: credential)
    monkeypatch.setattr(shared.store.table, "service_client", fake_service_client)
    monkeypatch.setattr(shared.queue.storage, "queue_service", fake_queue_service)
    import shared.store.migrate

    # The layout check reads the tables; here there are none behind the recording client.
    monkeypatch.setattr(shared.store.migrate, "ensure_layout", lambda schedules, runs: None)
    runtime = shared.runtime.build_runtime(settings)
    transport = seen.pop("transport")
    assert seen == {"connection_string": None, "endpoint": ENDPOINT, "credential": credential}
    # Every SDK client shares the process's one session, which reads no environment per call.
    assert transport.session is shared.http_session.process_session() and not transport.session.trust_env
    # The slot queue is reached with the same identity: no key anywhere.
    assert queue_seen.pop("transport").session is transport.session
    assert queue_seen == {"connection_string": None, "endpoint": QUEUE_ENDPOINT, "credential": credential}
    assert runtime.credential is credential
