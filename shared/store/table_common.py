"""Schedule and run stores on Azure Table storage (Azurite locally), via azure-data-tables.

The key layout (shards, indexes, markers) is described in `shared.store.keys`; the
schedule store is in `table_schedules`, the run store in `table_runs`, the one-off move
from the single-partition layout in `migrate`. This module holds what they share: the
one place table-service exceptions become store errors, the client, transactions.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from shared.store import (
    AlreadyExists,
    InvalidContinuationToken,
    NotFound,
    Page,
    PreconditionFailed,
    StoreUnavailable,
    decode_token,
    encode_token,
)

UTC = timezone.utc
# Stored strings are capped well below the 64 KiB property limit.
MAX_TEXT = 16_000
# Table storage takes at most 100 operations per transaction (Azurite breaks at 101).
MAX_TRANSACTION = 100


@contextlib.contextmanager
def mapped_errors(key: str) -> Iterator[None]:
    """The one place table-service exceptions become store errors."""
    try:
        yield
    except ResourceExistsError:
        raise AlreadyExists(key) from None
    except ResourceModifiedError:
        raise PreconditionFailed(key) from None
    except ResourceNotFoundError:
        raise NotFound(key) from None
    except HttpResponseError as exc:
        # Transactions report the failing operation's status on the whole batch.
        if exc.status_code == 412:
            raise PreconditionFailed(key) from None
        if exc.status_code == 409:
            raise AlreadyExists(key) from None
        if exc.status_code == 404:
            raise NotFound(key) from None
        raise StoreUnavailable(f"table service answered {exc.status_code}: {exc.reason}") from None
    except AzureError as exc:
        raise StoreUnavailable(f"table service unreachable: {type(exc).__name__}") from None


def service_client(*, connection_string: str | None, endpoint: str | None, credential: Any = None,
                   **client_options: Any) -> TableServiceClient:
    """A connection string when one is given (Azurite, shared-key accounts), else the endpoint
    with a token credential: the managed identity in Azure, where shared keys are off."""
    if connection_string:
        return TableServiceClient.from_connection_string(connection_string, **client_options)
    if not endpoint:
        raise ValueError("TABLES_ENDPOINT or TABLES_CONNECTION_STRING is required")
    if credential is None:
        # Without a credential the SDK would send anonymous requests and fail later with a
        # confusing 403 or 404.
        raise ValueError("identity-based table access needs a token credential")
    return TableServiceClient(endpoint=endpoint, credential=credential, **client_options)


class Table:
    """A table created on first use, once per process."""

    def __init__(self, service: TableServiceClient, name: str):
        self._service = service
        self.name = name
        self._client: TableClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> TableClient:
        with self._lock:
            if self._client is None:
                with mapped_errors(self.name):
                    self._client = self._service.create_table_if_not_exists(self.name)
            return self._client

    def query(self, query: str, **parameters: Any) -> list[Any]:
        with mapped_errors(query):
            return list(self.client.query_entities(query, parameters=parameters))

    def query_first(self, query: str, limit: int, *, select: list[str] | None = None, **parameters: Any) -> list[Any]:
        """The first `limit` matches only: one request for up to 1,000 rows, where `query`
        would read the whole range (the pruner's ranges grow with history)."""
        with mapped_errors(query):
            found = self.client.query_entities(query, parameters=parameters, results_per_page=min(limit, 1000),
                                               select=select)
            return list(itertools.islice(found, limit))

    def transact(self, operations: Sequence[tuple], key: str) -> list[dict]:
        """One entity-group transaction (one partition, all or nothing); the etag of each operation.

        A single create, update or upsert goes as that plain request instead: same
        conditions, same answers, and about 8 ms of CPU less per call than building and
        parsing a multipart batch (most slot writes are single-row). Deletes always go as
        a batch, because the SDK's own delete_entity swallows "not found".
        """
        with mapped_errors(key):
            if len(operations) == 1 and operations[0][0] in _SINGLE:
                kind, entity, *options = operations[0]
                return [getattr(self.client, _SINGLE[kind])(entity, **(options[0] if options else {}))]
            return list(self.client.submit_transaction(list(operations)))


_SINGLE = {"create": "create_entity", "update": "update_entity", "upsert": "upsert_entity"}


def if_match(etag: str | None) -> dict:
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}


def update_op(entity: dict, etag: str | None = None) -> tuple:
    return ("update", entity, {"mode": UpdateMode.REPLACE, **if_match(etag)})


def upsert_op(entity: dict) -> tuple:
    return ("upsert", entity, {"mode": UpdateMode.REPLACE})


def delete_op(partition: str, row: str, etag: str | None = None) -> tuple:
    return ("delete", {"PartitionKey": partition, "RowKey": row}, if_match(etag))


def read_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, tzinfo=UTC)
    raise ValueError(f"expected a datetime, got {type(value).__name__}")


def drop_none(entity: dict) -> dict:
    return {k: v for k, v in entity.items() if v is not None}


def page_of(client: TableClient, query: str, parameters: dict, limit: int, continuation: str | None,
            convert) -> Page:
    token = decode_token(continuation) if continuation else None
    if token is not None and not (set(token) <= {"PartitionKey", "RowKey"}):
        raise InvalidContinuationToken("malformed continuation token")
    with mapped_errors(query):
        pages = client.query_entities(query, parameters=parameters, results_per_page=limit).by_page(
            continuation_token=token)
        items = [convert(e) for e in next(pages, [])]
        following = pages.continuation_token
    return Page(items, encode_token(following) if following else None)
