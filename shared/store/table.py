"""Schedule and run stores on Azure Table storage (Azurite locally), via azure-data-tables.

Schedules live in one partition (`schedule`), keyed by id: the due-query is one
partition scan. Runs are partitioned by schedule id and keyed by `run_row_key(slot, trigger)`, so
inserting a run record is the claim of its slot and a schedule's history reads newest
first without sorting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from shared.schedules import parse_schedule
from shared.store import (
    ACTIVE_STATUSES,
    PENDING_STATUS,
    AlreadyExists,
    NotFound,
    Page,
    PreconditionFailed,
    RunRecord,
    ScheduleRecord,
    StoreUnavailable,
    InvalidContinuationToken,
    decode_token,
    encode_token,
    run_row_key,
    to_ms,
)

log = logging.getLogger(__name__)
UTC = timezone.utc
SCHEDULE_PARTITION = "schedule"
# Stored strings are capped well below the 64 KiB property limit.
_MAX_TEXT = 16_000


@contextlib.contextmanager
def _mapped_errors(key: str) -> Iterator[None]:
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
        if exc.status_code == 412:
            raise PreconditionFailed(key) from None
        if exc.status_code == 409:
            raise AlreadyExists(key) from None
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


class _Table:
    """A table created on first use, once per process."""

    def __init__(self, service: TableServiceClient, name: str):
        self._service = service
        self._name = name
        self._client: TableClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> TableClient:
        with self._lock:
            if self._client is None:
                with _mapped_errors(self._name):
                    self._client = self._service.create_table_if_not_exists(self._name)
            return self._client


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, tzinfo=UTC)
    raise ValueError(f"expected a datetime, got {type(value).__name__}")


def _drop_none(entity: dict) -> dict:
    return {k: v for k, v in entity.items() if v is not None}


def _page(client: TableClient, query: str, parameters: dict, limit: int, continuation: str | None,
          convert) -> Page:
    token = decode_token(continuation) if continuation else None
    if token is not None and not (set(token) <= {"PartitionKey", "RowKey"}):
        raise InvalidContinuationToken("malformed continuation token")
    with _mapped_errors(query):
        pages = client.query_entities(query, parameters=parameters, results_per_page=limit).by_page(
            continuation_token=token)
        items = [convert(e) for e in next(pages, [])]
        following = pages.continuation_token
    return Page(items, encode_token(following) if following else None)


class TableScheduleStore:
    def __init__(self, service: TableServiceClient, table_name: str):
        self._table = _Table(service, table_name)

    def create(self, record: ScheduleRecord) -> ScheduleRecord:
        with _mapped_errors(record.id):
            meta = self._table.client.create_entity(self._entity(record))
        return self._with_etag(record, meta)

    def get(self, schedule_id: str) -> ScheduleRecord:
        with _mapped_errors(schedule_id):
            entity = self._table.client.get_entity(SCHEDULE_PARTITION, schedule_id)
        return self._record(entity)

    def replace(self, record: ScheduleRecord) -> ScheduleRecord:
        kwargs: dict[str, Any] = {"mode": UpdateMode.REPLACE}
        if record.etag is not None:
            kwargs.update(etag=record.etag, match_condition=MatchConditions.IfNotModified)
        with _mapped_errors(record.id):
            meta = self._table.client.update_entity(self._entity(record), **kwargs)
        return self._with_etag(record, meta)

    def delete(self, schedule_id: str, *, etag: str | None = None) -> None:
        self.get(schedule_id)  # deleting a missing entity is silent in the SDK; callers want 404
        kwargs: dict[str, Any] = {}
        if etag is not None:
            kwargs.update(etag=etag, match_condition=MatchConditions.IfNotModified)
        with _mapped_errors(schedule_id):
            self._table.client.delete_entity(SCHEDULE_PARTITION, schedule_id, **kwargs)

    def list(self, *, limit: int = 50, continuation: str | None = None) -> Page:
        return _page(self._table.client, "PartitionKey eq @pk", {"pk": SCHEDULE_PARTITION}, limit,
                     continuation, self._record)

    def due(self, horizon: datetime) -> list[ScheduleRecord]:
        query = "PartitionKey eq @pk and Enabled eq true and NextFireTime le @horizon"
        with _mapped_errors("due schedules"):
            entities = list(self._table.client.query_entities(
                query, parameters={"pk": SCHEDULE_PARTITION, "horizon": to_ms(horizon)}))
        return [record for record in map(_readable, entities) if record is not None]

    @staticmethod
    def _entity(record: ScheduleRecord) -> dict:
        d = record.definition
        return _drop_none({
            "PartitionKey": SCHEDULE_PARTITION,
            "RowKey": d.id,
            "Description": d.description,
            "Enabled": d.enabled,
            "Trigger": json.dumps(d.trigger.to_dict()),
            "Target": json.dumps(d.target.to_dict()),
            "Policy": json.dumps(d.policy.to_dict()),
            "NextFireTime": to_ms(record.next_fire_time) if record.next_fire_time else None,
            "LastSlot": to_ms(record.last_slot) if record.last_slot else None,
            "CreatedAt": to_ms(record.created_at),
            "UpdatedAt": to_ms(record.updated_at),
            "ResumedAt": to_ms(record.resumed_at) if record.resumed_at else None,
        })

    @staticmethod
    def _record(entity: Any) -> ScheduleRecord:
        definition = parse_schedule({
            "id": entity["RowKey"],
            "description": entity.get("Description", ""),
            "enabled": entity.get("Enabled", True),
            "trigger": json.loads(entity["Trigger"]),
            "target": json.loads(entity["Target"]),
            "policy": json.loads(entity["Policy"]),
        })
        return ScheduleRecord(
            definition=definition,
            next_fire_time=_time(entity.get("NextFireTime")),
            last_slot=_time(entity.get("LastSlot")),
            created_at=_time(entity.get("CreatedAt")),
            updated_at=_time(entity.get("UpdatedAt")),
            etag=entity.metadata.get("etag"),
            resumed_at=_time(entity.get("ResumedAt")),
        )

    @staticmethod
    def _with_etag(record: ScheduleRecord, meta: dict) -> ScheduleRecord:
        stored = TableScheduleStore._record_times(record)
        stored.etag = meta.get("etag")
        return stored

    @staticmethod
    def _record_times(record: ScheduleRecord) -> ScheduleRecord:
        return ScheduleRecord(
            definition=record.definition,
            next_fire_time=to_ms(record.next_fire_time) if record.next_fire_time else None,
            last_slot=to_ms(record.last_slot) if record.last_slot else None,
            created_at=to_ms(record.created_at),
            updated_at=to_ms(record.updated_at),
            resumed_at=to_ms(record.resumed_at) if record.resumed_at else None,
        )


def _readable(entity: Any) -> ScheduleRecord | None:
    """A stored schedule, or None (logged) if it no longer passes validation.

    A record written under older rules (a cron the current parser refuses, say) must not
    take every other due schedule down with it: it is left out, with a warning naming it
    on every tick until someone fixes or deletes it.
    """
    try:
        return TableScheduleStore._record(entity)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("schedule %s is stored in a form this version cannot read and is not run: %s",
                    entity.get("RowKey"), exc)
        return None


_RUN_TIME_FIELDS = {
    "ClaimedAt": "claimed_at", "SubmittedAt": "submitted_at", "FinishedAt": "finished_at",
    "LastSkippedSlot": "last_skipped_slot", "UpdatedAt": "updated_at", "NextAttemptAt": "next_attempt_at",
}
_RUN_TEXT_FIELDS = {
    "Status": "status", "Trigger": "trigger", "Reason": "reason", "ExperimentName": "experiment_name",
    "AmlRunId": "aml_run_id", "AmlStatus": "aml_status", "PortalUrl": "portal_url",
    "ErrorCode": "error_code", "ErrorMessage": "error_message",
}


class TableRunStore:
    def __init__(self, service: TableServiceClient, table_name: str):
        self._table = _Table(service, table_name)

    def claim(self, run: RunRecord) -> RunRecord:
        with _mapped_errors(run.run_key):
            meta = self._table.client.create_entity(self._entity(run))
        return self._stored(run, meta)

    def get(self, schedule_id: str, slot: datetime, trigger: str = "schedule") -> RunRecord:
        with _mapped_errors(f"{schedule_id}/{slot.isoformat()}"):
            entity = self._table.client.get_entity(schedule_id, run_row_key(slot, trigger))
        return self._record(entity)

    def delete(self, run: RunRecord) -> None:
        with _mapped_errors(run.run_key):
            self._table.client.delete_entity(run.schedule_id, run_row_key(run.slot, run.trigger))

    def replace(self, run: RunRecord) -> RunRecord:
        kwargs: dict[str, Any] = {"mode": UpdateMode.REPLACE}
        if run.etag is not None:
            kwargs.update(etag=run.etag, match_condition=MatchConditions.IfNotModified)
        with _mapped_errors(run.run_key):
            meta = self._table.client.update_entity(self._entity(run), **kwargs)
        return self._stored(run, meta)

    def list_runs(self, schedule_id: str, *, status: str | None = None, limit: int = 50,
                  continuation: str | None = None) -> Page:
        query, params = "PartitionKey eq @pk", {"pk": schedule_id}
        if status:
            query, params = query + " and Status eq @status", {**params, "status": status}
        return _page(self._table.client, query, params, limit, continuation, self._record)

    def active_runs(self) -> Iterator[RunRecord]:
        # A cross-partition scan filtered server-side, followed page by page to the end.
        with _mapped_errors("active runs"):
            pages = self._table.client.query_entities("Active eq true", results_per_page=1000).by_page()
            for page in pages:
                entities = list(page)
                yield from (self._record(e) for e in entities)

    def pending_runs(self, now: datetime, *, limit: int = 200) -> list[RunRecord]:
        query = "Pending eq true and NextAttemptAt le @now"
        with _mapped_errors("pending runs"):
            found = [self._record(e) for e in self._table.client.query_entities(
                query, parameters={"now": to_ms(now)}, results_per_page=min(limit, 1000))]
        return sorted(found, key=lambda r: (r.slot, r.schedule_id))[:limit]

    def older_than(self, cutoff: datetime, *, limit: int = 200) -> list[RunRecord]:
        out: list[RunRecord] = []
        with _mapped_errors("old runs"):
            for entity in self._table.client.query_entities("Slot lt @cutoff", parameters={"cutoff": to_ms(cutoff)},
                                                            results_per_page=min(limit, 1000)):
                out.append(self._record(entity))
                if len(out) >= limit:
                    break
        return out

    def active_runs_of(self, schedule_id: str) -> list[RunRecord]:
        with _mapped_errors(schedule_id):
            return [self._record(e) for e in self._table.client.query_entities(
                "PartitionKey eq @pk and Active eq true", parameters={"pk": schedule_id})]

    def has_active(self, schedule_id: str) -> bool:
        with _mapped_errors(schedule_id):
            found = self._table.client.query_entities("PartitionKey eq @pk and Active eq true",
                                                      parameters={"pk": schedule_id}, results_per_page=1)
            return next(iter(found), None) is not None

    @staticmethod
    def _entity(run: RunRecord) -> dict:
        entity: dict[str, Any] = {
            "PartitionKey": run.schedule_id,
            "RowKey": run_row_key(run.slot, run.trigger),
            "Slot": to_ms(run.slot),
            "RunKey": run.run_key,
            "Active": run.status in ACTIVE_STATUSES,
            "Pending": run.status == PENDING_STATUS,
            "PreviousAmlRunIds": json.dumps(run.previous_aml_run_ids) if run.previous_aml_run_ids else None,
            "Attempts": run.attempts,
            "SkippedCount": run.skipped_count,
            "Parameters": json.dumps(run.parameters)[:_MAX_TEXT] if run.parameters is not None else None,
        }
        for column, attr in _RUN_TEXT_FIELDS.items():
            value = getattr(run, attr)
            entity[column] = value[:_MAX_TEXT] if isinstance(value, str) else value
        for column, attr in _RUN_TIME_FIELDS.items():
            value = getattr(run, attr)
            entity[column] = to_ms(value) if value else None
        return _drop_none(entity)

    @staticmethod
    def _record(entity: Any) -> RunRecord:
        kwargs: dict[str, Any] = {attr: entity.get(column) for column, attr in _RUN_TEXT_FIELDS.items()}
        kwargs.update({attr: _time(entity.get(column)) for column, attr in _RUN_TIME_FIELDS.items()})
        parameters = entity.get("Parameters")
        try:
            parsed = json.loads(parameters) if parameters else None
        except ValueError:  # truncated on write; keep the record readable
            parsed = {"_truncated": parameters}
        previous = entity.get("PreviousAmlRunIds")
        return RunRecord(
            schedule_id=entity["PartitionKey"],
            slot=_time(entity["Slot"]),
            previous_aml_run_ids=json.loads(previous) if previous else None,
            attempts=int(entity.get("Attempts", 0)),
            skipped_count=int(entity.get("SkippedCount", 1)),
            parameters=parsed,
            etag=entity.metadata.get("etag"),
            **kwargs,
        )

    @staticmethod
    def _stored(run: RunRecord, meta: dict) -> RunRecord:
        times = {attr: to_ms(getattr(run, attr)) for attr in _RUN_TIME_FIELDS.values() if getattr(run, attr)}
        return run.evolve(slot=to_ms(run.slot), etag=meta.get("etag"), **times)
