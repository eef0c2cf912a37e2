"""The chaos suite's stack: Azurite tables and queues behind cuttable proxies, the emulators, the settings.

The scheduler instances reach storage only through the proxies, so the harness can take
tables or queues away from them mid-tick; the harness itself goes straight to Azurite,
for edits, message tricks and the checks.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from devtools.aml_emulator import AmlEmulator
from devtools.chaos.proxy import CuttableProxy
from devtools.identity_emulator import IdentityEmulator
from devtools.stack import (
    free_port,
    start_azurite,
    stop_process_group,
    storage_connection_string,
    tables_connection_string,
    wait_for_port,
)

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
COMPUTE = "cpu-cluster"
BATCH_ENDPOINT = "chaos-batch"


class ChaosStack:
    def __init__(self, log_dir: Path, rng: random.Random):
        self.log_dir = log_dir
        self._rng = rng

    def __enter__(self) -> "ChaosStack":
        table_port, queue_port = free_port(), free_port()
        self._azurite = [start_azurite(table_port, self.log_dir / "azurite-table.log"),
                         start_azurite(queue_port, self.log_dir / "azurite-queue.log", service="queue")]
        wait_for_port("127.0.0.1", table_port, 30)
        wait_for_port("127.0.0.1", queue_port, 30)
        self.tables_proxy = CuttableProxy(table_port).start()
        self.queues_proxy = CuttableProxy(queue_port).start()
        self.identity = IdentityEmulator().start()
        self.aml = AmlEmulator(run_seconds=0.3, cancel_seconds=0.1, retry_after_seconds=1).start()
        self.aml.register_pipeline(PIPELINE_ID)
        self.aml.seed_compute(COMPUTE)
        self.aml.seed_batch_endpoint(BATCH_ENDPOINT, deployments=("blue",), compute=COMPUTE)
        suffix = f"{self._rng.randrange(16**8):08x}"
        self.slot_queue = f"chaos-{suffix}"
        settings = {
            "AML_SUBSCRIPTION_ID": self.aml.subscription_id, "AML_RESOURCE_GROUP": self.aml.resource_group,
            "AML_WORKSPACE_NAME": self.aml.workspace, "AML_API_BASE_URL": self.aml.base_url,
            "AML_INFERENCE_BASE_URL": self.aml.base_url,
            "ARM_BASE_URL": self.aml.base_url, "SCHEDULES_TABLE": f"chaossched{suffix}",
            "RUNS_TABLE": f"chaosruns{suffix}", "AML_HTTP_TIMEOUT_SECONDS": "1", "AML_MAX_RETRIES": "2",
            "SLOT_QUEUE": self.slot_queue, **self.identity.env(),
            # A round's few schedules would never fill a page of the default size: one due
            # row a page puts page boundaries in the way of every disturbance.
            "DISPATCH_PAGE_SIZE": "1",
        }
        through_proxies = storage_connection_string(self.tables_proxy.port, self.queues_proxy.port)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AML_", "IDENTITY_", "MSI_"))}
        self.worker_env = {
            **base_env, **settings,
            "TABLES_CONNECTION_STRING": tables_connection_string(self.tables_proxy.port),
            "QUEUES_CONNECTION_STRING": through_proxies, "AzureWebJobsStorage": through_proxies,
            # The host's own knobs, as app settings override host.json: look at the queue
            # often, and hand a failed message back soon, so rounds take seconds.
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.2",
            "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
        }
        from shared.config import load_settings
        from shared.runtime import build_runtime

        self.direct_storage = storage_connection_string(table_port, queue_port)
        self.runtime = build_runtime(load_settings({
            **settings, "TABLES_CONNECTION_STRING": tables_connection_string(table_port),
            "QUEUES_CONNECTION_STRING": self.direct_storage}))
        return self

    def queue(self, name: str | None = None):
        """The slot queue (or another, such as its poison queue), straight to Azurite, base64 like the host."""
        from azure.storage.queue import QueueClient, TextBase64EncodePolicy

        client = QueueClient.from_connection_string(self.direct_storage, name or self.slot_queue,
                                                    message_encode_policy=TextBase64EncodePolicy())
        try:
            client.create_queue()
        except Exception:  # noqa: BLE001 - it exists
            pass
        return client

    def __exit__(self, *exc_info) -> None:
        self.aml.stop()
        self.identity.stop()
        self.tables_proxy.stop()
        self.queues_proxy.stop()
        for process in self._azurite:
            stop_process_group(process)
