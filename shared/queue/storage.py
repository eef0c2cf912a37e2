"""The slot queue (and the alert queue) on Azure Storage Queues (Azurite locally), via azure-storage-queue.

Messages are base64-encoded, as the Functions host's queue trigger decodes them by
default; a plain-text message would fail to decode in the host and end in the poison
queue.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from shared.queue import QueueUnavailable, ShardMessage, SlotMessage

if TYPE_CHECKING:
    from shared.alerts.message import AlertMessage


def queue_service(*, connection_string: str | None, endpoint: str | None, credential: Any = None,
                  **client_options: Any) -> QueueServiceClient:
    """A connection string when one is given, else the endpoint with the managed identity."""
    if connection_string:
        return QueueServiceClient.from_connection_string(connection_string, **client_options)
    if not endpoint or credential is None:
        raise ValueError("the queue needs a connection string, or an endpoint and a token credential")
    return QueueServiceClient(account_url=endpoint, credential=credential, **client_options)


class StorageSlotQueue:
    def __init__(self, service: QueueServiceClient, name: str):
        self._service = service
        self._name = name
        self._client: QueueClient | None = None
        self._lock = threading.Lock()

    def _queue(self) -> QueueClient:
        with self._lock:
            if self._client is None:
                client = self._service.get_queue_client(self._name, message_encode_policy=TextBase64EncodePolicy())
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass
                self._client = client
            return self._client

    def send(self, message: "SlotMessage | ShardMessage | AlertMessage") -> None:
        try:
            self._queue().send_message(message.encode())
        except AzureError as exc:
            raise QueueUnavailable(f"queue service unreachable: {type(exc).__name__}") from None
