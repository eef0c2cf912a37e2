"""Queue triggers: one poller per function, fetching in batches like the host's QueueListener.

Each ``queueTrigger`` function gets a ``QueuePoller`` thread. It fetches up to batchSize
messages with a 10-minute visibility timeout, hands each to a ``MessageDelivery`` (see
queue_delivery.py) and fetches again as soon as no more than newBatchThreshold messages
are in flight, so a function never holds more than batchSize + newBatchThreshold. An
empty queue (or a missing one, or an unreachable service) is polled again after a
randomized exponential backoff from 100 ms up to maxPollingInterval; finding messages
resets it (``RandomizedExponentialBackoffStrategy``). Moving a message to a poison queue
wakes that queue's poller at once, as the host's shared queue watcher does.

Sync functions run on one shared ``WorkerPool`` sized like the Python worker's; ``async
def`` functions on the dev host's event loop.

The host does not create a trigger's queue: it polls until the queue exists (and the poison
queue is created with its first message). The dev host does the same, but says once that
it is waiting, where the host stays silent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.queue import QueueClient, QueueServiceClient

from devtools.devhost.errors import DevHostError
from devtools.devhost.functions import AppFunction
from devtools.devhost.queue_delivery import MessageDelivery
from devtools.devhost.queue_options import (
    MIN_POLLING_SECONDS,
    POISON_SUFFIX,
    QueueOptions,
    poison_queue_name,
    read_queue_options,
    resolve_connection,
    resolve_queue_name,
)
from devtools.devhost.triggers import TriggerKind
from devtools.devhost.worker_pool import WorkerPool, worker_thread_count

log = logging.getLogger("devhost")

# The host dequeues for 10 minutes and renews at half of that while the function runs;
# a failed renewal is retried sooner, but not more often than once a minute.
LEASE_SECONDS = 600.0
MIN_RENEWAL_SECONDS = 60.0
# Bounds one storage request, so a dead service cannot hold a poller (or stop()) for long.
CONNECTION_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
# The storage SDK logs every request at INFO; a poller would flood the console with them.
_QUIET_HTTP_LOG = logging.getLogger("devhost.queues.http")
_QUIET_HTTP_LOG.setLevel(logging.WARNING)


class PollingBackoff:
    """Randomized exponential backoff between empty polls, reset when messages were found."""

    RANDOMIZATION = 0.2

    def __init__(self, maximum: float, minimum: float = MIN_POLLING_SECONDS) -> None:
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.current = minimum
        self._exponent = 0

    def next_delay(self, found_messages: bool) -> float:
        if found_messages:
            self.current, self._exponent = self.minimum, 1
        elif self.current != self.maximum:
            delay = self.minimum
            if self._exponent > 0:
                factor = random.uniform(1 - self.RANDOMIZATION, 1 + self.RANDOMIZATION)
                delay += factor * 2 ** (self._exponent - 1) * self.minimum
            if delay < self.maximum:
                self.current = delay
                self._exponent += 1
            else:
                self.current = self.maximum
        return self.current


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _service_client(connection_string: str, pool_size: int) -> QueueServiceClient:
    session = requests.Session()
    # One connection per in-flight message (each settles on its own) plus the poller's.
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=min(pool_size, 100))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    transport = RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=CONNECTION_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    # No retries inside the SDK: the poller's backoff is the retry, as in the host.
    return QueueServiceClient.from_connection_string(
        connection_string, transport=transport, retry_total=0, logger=_QUIET_HTTP_LOG
    )


class QueuePoller(threading.Thread):
    """Fetches one function's messages and keeps at most batchSize + newBatchThreshold in flight."""

    def __init__(
        self,
        kind: QueueTriggers,
        function: AppFunction,
        queue_name: str,
        connection_string: str,
    ) -> None:
        super().__init__(name=f"queue-{function.name}", daemon=True)
        self.kind = kind
        self.function = function
        self.queue_name = queue_name
        self.options: QueueOptions = kind.options
        service = _service_client(connection_string, self.options.max_in_flight + 2)
        self.service_url = service.url
        self.queue_client: QueueClient = service.get_queue_client(queue_name)
        poison_name = poison_queue_name(queue_name)
        self.poison_client: QueueClient | None = (
            service.get_queue_client(poison_name) if poison_name else None
        )
        self.wake = threading.Event()
        self._backoff = PollingBackoff(self.options.max_polling_interval)
        self._found_since_last_delay = False
        self._queue_exists = False
        self._in_flight: set[MessageDelivery] = set()
        self._in_flight_changed = threading.Condition()
        self._problem: str | None = None  # what is wrong right now, logged once until it clears

    # -- the loop

    def run(self) -> None:
        try:
            while not self.kind.stopping:
                if not self._wait_for_room():
                    return
                batch = self._fetch()
                if batch:
                    self._found_since_last_delay = True
                    for message in batch:
                        self._dispatch(message)
                    continue
                delay = self._backoff.next_delay(self._found_since_last_delay)
                self._found_since_last_delay = False
                self.wake.wait(delay)
                self.wake.clear()
        except Exception:  # noqa: BLE001 - a dead poller must at least say why
            log.exception("Queue listener for Functions.%s stopped unexpectedly", self.function.name)

    def _wait_for_room(self) -> bool:
        threshold = self.options.new_batch_threshold
        with self._in_flight_changed:
            while len(self._in_flight) > threshold and not self.kind.stopping:
                self._in_flight_changed.wait()
        return not self.kind.stopping

    def _fetch(self) -> list[Any] | None:
        try:
            if not self._queue_exists:
                # As the host: ask whether the queue exists until it does, rather than
                # failing a receive on every poll.
                self.queue_client.get_queue_properties()
                self._queue_exists = True
            pages = self.queue_client.receive_messages(
                messages_per_page=self.options.batch_size,
                visibility_timeout=int(self.kind.lease_seconds),
            ).by_page()
            batch = list(next(pages, []))
        except ResourceNotFoundError:
            self._service_answered()
            self._queue_exists = False
            if self.queue_name.endswith(POISON_SUFFIX):
                why = "it is created when the first message is moved there"
            else:
                why = "the host does not create a trigger's queue: the app or the deployment does"
            self._report(
                "missing", f"queue '{self.queue_name}' does not exist; polling until it does ({why})"
            )
            return None
        except HttpResponseError as exc:
            self._service_answered()
            self._queue_exists = False
            self._report(f"http-{exc.status_code}", f"polling '{self.queue_name}' failed: {_short(exc)}")
            return None
        except AzureError as exc:
            self._report(
                "unreachable",
                f"queue service at {self.service_url} unreachable ({_short(exc)}); retrying "
                f"with backoff up to {self.options.max_polling_interval:g}s",
            )
            return None
        self._clear_problem()
        return batch

    def _report(self, problem: str, message: str) -> None:
        if self._problem != problem:
            self._problem = problem
            log.warning("Functions.%s: %s", self.function.name, message)

    def _service_answered(self) -> None:
        # Any answer, even "no such queue", ends an outage.
        if self._problem == "unreachable":
            log.info(
                "Functions.%s: queue service at %s reachable again", self.function.name,
                self.service_url,
            )
            self._problem = None

    def _clear_problem(self) -> None:
        self._service_answered()
        if self._problem == "missing":
            log.info("Functions.%s: queue '%s' exists now", self.function.name, self.queue_name)
        elif self._problem is not None:
            log.info("Functions.%s: polling '%s' works again", self.function.name, self.queue_name)
        self._problem = None

    # -- in-flight bookkeeping

    def _dispatch(self, message: Any) -> None:
        delivery = MessageDelivery(self, message)
        with self._in_flight_changed:
            self._in_flight.add(delivery)
        threading.Thread(
            target=delivery.run, name=f"queue-{self.function.name}-{message.id[:8]}", daemon=True
        ).start()

    def delivery_finished(self, delivery: MessageDelivery) -> None:
        with self._in_flight_changed:
            self._in_flight.discard(delivery)
            self._in_flight_changed.notify_all()

    def in_flight(self) -> int:
        with self._in_flight_changed:
            return len(self._in_flight)

    def wait_until_idle(self, deadline: float) -> bool:
        with self._in_flight_changed:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._in_flight_changed.wait(remaining)
        return True

    def stop_waiting(self) -> None:
        self.wake.set()
        with self._in_flight_changed:
            self._in_flight_changed.notify_all()


class QueueTriggers(TriggerKind):
    """Every ``queueTrigger`` function of the app, one ``QueuePoller`` each."""

    trigger_type = "queueTrigger"

    def __init__(self, app_dir: str, *, enabled: bool = True) -> None:
        super().__init__(enabled=enabled)
        self.app_dir = app_dir
        self.queues: dict[str, str] = {}  # function name -> resolved queue name
        self.connections: dict[str, str] = {}  # function name -> connection setting name
        self.options: QueueOptions = QueueOptions()
        self._options_read = False
        self.pollers: list[QueuePoller] = []
        self.worker_pool: WorkerPool | None = None
        # Set before start() to shorten the host's 10-minute lease (tests do).
        self.lease_seconds = LEASE_SECONDS
        self.min_renewal_seconds = MIN_RENEWAL_SECONDS
        self.stopping = False
        self.abandoned = False  # stop() is over: late invocations leave their message alone

    def add(self, function: AppFunction) -> None:
        if not self._options_read:
            # Read with the first queue function: the host refuses a bad host.json at start-up.
            self.options = read_queue_options(self.app_dir)
            self._options_read = True
        trigger = function.trigger
        queue_name = resolve_queue_name(trigger.queue_name, function.name)
        self.queues[function.name] = queue_name
        if not self.enabled:
            return  # the connection matters only to pollers, which will not run
        setting, connection_string = resolve_connection(
            getattr(trigger, "connection", None), function.name
        )
        self.connections[function.name] = setting
        try:
            poller = QueuePoller(self, function, queue_name, connection_string)
        except ValueError:
            # The SDK's message may quote the string, account key included: name the setting only.
            raise DevHostError(
                f"Functions.{function.name}: connection '{setting}' is not a storage "
                "connection string"
            ) from None
        self.pollers.append(poller)

    def listing(self) -> list[str]:
        state = "" if self.enabled else " (queues disabled)"
        lines = []
        for name, queue_name in sorted(self.queues.items()):
            via = f", connection {self.connections[name]}" if name in self.connections else ""
            lines.append(f"{name}: queueTrigger, queue '{queue_name}'{via}{state}")
        return lines

    def start(self, stop_event: threading.Event) -> None:
        if not self.pollers:
            return
        self.worker_pool = WorkerPool(worker_thread_count())
        log.info("Queue triggers: %s; %d worker threads", self.options.describe(),
                 self.worker_pool.max_workers)
        for poller in self.pollers:
            poller.start()

    def notify(self, service_url: str, queue_name: str) -> None:
        """A message was just added to ``queue_name``: its pollers look now, not after backoff."""
        for poller in self.pollers:
            if poller.service_url == service_url and poller.queue_name == queue_name:
                poller.wake.set()

    def stop(self, deadline: float) -> None:
        """Stop fetching, let running invocations finish until ``deadline``, return the rest.

        Messages whose invocation had not started are made visible again at once; those
        still running at the deadline keep their lease and reappear when it lapses.
        """
        self.stopping = True
        if self.worker_pool is not None:
            # First, so no waiting invocation starts from here on: those are cancelled.
            self.worker_pool.shutdown(wait=False, cancel_futures=True)
        for poller in self.pollers:
            poller.stop_waiting()
        for poller in self.pollers:
            poller.join(max(0.0, deadline - time.monotonic()))
        for poller in self.pollers:
            if not poller.wait_until_idle(deadline):
                log.warning(
                    "Functions.%s: %d invocation(s) still running at the stop deadline; their "
                    "messages reappear when the visibility timeout ends",
                    poller.function.name, poller.in_flight(),
                )
        self.abandoned = True
