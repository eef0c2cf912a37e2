"""Composition root: builds settings, credential, stores, AML client and engine once per process.

Heavy SDKs are imported inside these functions, so `import function_app` stays cheap
and a trigger pays only for what it uses.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the real types, without importing the SDKs behind them at module load
    from azure.core.credentials import TokenCredential

    from shared.aml.client import AmlClient
    from shared.aml.compute import ComputeClient
    from shared.aml.runs import RunsClient
    from shared.config import Settings
    from shared.engine import Engine
    from shared.queue import SlotQueue
    from shared.store import RunStore, ScheduleStore

_lock = threading.Lock()
_runtime: "Runtime | None" = None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    settings: "Settings"
    credential: "TokenCredential"
    schedules: "ScheduleStore"
    runs: "RunStore"
    aml: "AmlClient"
    engine: "Engine"
    compute: "ComputeClient"  # for the HTTP proxy
    aml_runs: "RunsClient"  # for the HTTP proxy
    queue: "SlotQueue"
    clock: Callable[[], datetime] = utc_now


# azure-core logs every request's headers at INFO; on a Functions host that floods
# Application Insights (and costs money) without adding anything our own logs lack.
_NOISY_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "msal")


def quiet_sdk_loggers() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def build_runtime(settings: "Settings | None" = None) -> Runtime:
    from shared.alerts.listener import AlertListener
    from shared.aml.client import AmlClient
    from shared.aml.transport import AmlTransport
    from shared.config import load_settings
    from shared.engine import Engine, LeasePolicy
    from shared.engine.summaries import SummaryKeeper
    from shared.http_session import process_session, sdk_transport
    from shared.identity import CredentialTokenSource, process_credential
    from shared.queue.storage import StorageSlotQueue, queue_service
    from shared.store.migrate import ensure_layout, move_history
    from shared.store.table import TableIncidentStore, TableRunStore, TableScheduleStore, service_client

    quiet_sdk_loggers()
    settings = settings or load_settings()
    credential = process_credential(settings)
    service = service_client(connection_string=settings.tables_connection_string,
                             endpoint=settings.tables_endpoint, credential=credential, transport=sdk_transport())
    schedules = TableScheduleStore(service, settings.schedules_table)
    runs = TableRunStore(service, settings.runs_table)
    ensure_layout(schedules, runs)
    transport = AmlTransport(CredentialTokenSource(credential), allowed_hosts=settings.allows_host,
                             timeout_seconds=settings.http_timeout_seconds, max_retries=settings.max_retries,
                             session=process_session())
    aml = AmlClient(transport, settings)
    leases = LeasePolicy.for_transport(read_timeout_seconds=transport.read_timeout_seconds,
                                       worst_case_seconds=transport.worst_case_seconds())
    queues = queue_service(connection_string=settings.queues_connection_string, endpoint=settings.queues_endpoint,
                           credential=credential, transport=sdk_transport())
    queue = StorageSlotQueue(queues, settings.slot_queue)
    engine = Engine(schedules, runs, aml, queue, retention=timedelta(days=settings.runs_retention_days),
                    leases=leases, poll_concurrency=settings.poll_concurrency,
                    dispatch_page_size=settings.dispatch_page_size,
                    maintenance=lambda: move_history(schedules, runs))
    # Incidents and their alerts: decided where runs end, posted by the alert queue's trigger.
    engine.outcomes.add(AlertListener(TableIncidentStore(schedules), schedules,
                                      StorageSlotQueue(queues, settings.alert_queue), utc_now))
    # Each schedule's run summary (health, last run, success rate) is kept from the outcomes.
    engine.outcomes.add(SummaryKeeper(schedules))
    from shared.aml.compute import ComputeClient
    from shared.aml.runs import RunsClient

    return Runtime(settings, credential, schedules, runs, aml, engine,
                   compute=ComputeClient(transport, settings), aml_runs=RunsClient(transport, settings), queue=queue)


def get_runtime() -> Runtime:
    """The process-wide runtime; a ConfigError here is retried on the next call."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime
