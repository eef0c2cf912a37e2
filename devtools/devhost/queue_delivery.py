"""One dequeued message, from dispatch to deleted, released or poisoned.

Mirrors the storage extension's ``QueueListener.ProcessMessageAsync`` and
``QueueProcessor``:

- a message dequeued more than maxDequeueCount times goes to the poison queue without
  an invocation; so does one that is not valid base64 when messageEncoding is base64
  (the extension's ``MessageDecodingFailed`` handler), copied as it was;
- while the function runs, the message's invisibility is renewed every half lease (the
  host dequeues with 10 minutes and renews at 5; a failed renewal is retried sooner);
- success deletes the message; failure makes it visible again after visibilityTimeout,
  or moves it to ``<queue>-poison`` (same body, created if missing) once its dequeue count
  reaches maxDequeueCount; a queue with no poison queue (a ``-poison`` queue itself)
  leaves a failed message invisible until its lease runs out, so it cannot spin;
- losing the message (pop receipt changed, message or queue gone) is not an error.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
# The worker's own class (the one azure.functions exports has no dequeue count or times).
from azure.functions.queue import QueueMessage as TriggerQueueMessage

if TYPE_CHECKING:
    from devtools.devhost.queues import QueuePoller

log = logging.getLogger("devhost")

# What .NET's Convert.FromBase64String skips; anything else outside the alphabet fails.
_BASE64_WHITESPACE = re.compile(r"[ \t\r\n]")


def decode_body(text: str | None, encoding: str) -> bytes | None:
    """The message body the function gets; None when base64 text does not decode."""
    text = text or ""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(_BASE64_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_lost_message(exc: HttpResponseError) -> bool:
    # Someone else holds the message now, or it (or its queue) is gone: nothing left to do.
    code = (getattr(exc, "error_code", None) or "").lower()
    return isinstance(exc, ResourceNotFoundError) or code in (
        "popreceiptmismatch",
        "messagenotfound",
        "queuenotfound",
        "queuebeingdeleted",
        "queuedisabled",
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class MessageDelivery:
    """Runs on a thread of its own, one per in-flight message, as the host's task per message."""

    def __init__(self, poller: QueuePoller, message: Any) -> None:
        self.poller = poller
        self.message = message
        self.pop_receipt: str = message.pop_receipt

    @property
    def _name(self) -> str:
        return self.poller.function.name

    def run(self) -> None:
        try:
            self._deliver()
        except Exception:  # noqa: BLE001 - one message must not take the listener down
            log.exception("Functions.%s: handling message %s failed", self._name, self.message.id)
        finally:
            self.poller.delivery_finished(self)

    # -- the steps

    def _deliver(self) -> None:
        poller, message = self.poller, self.message
        options = poller.options
        if poller.kind.stopping:
            self._release(0.0)  # fetched while stopping: back to the queue, uninvoked
            return
        if message.dequeue_count > options.max_dequeue_count:
            # Already past the limit (a crash mid-invocation, say): poisoned without a call.
            self._poison()
            return
        body = decode_body(message.content, options.message_encoding)
        if body is None:
            log.warning(
                "Functions.%s: message %s on '%s' is not valid base64 (host.json messageEncoding "
                "is base64; send with TextBase64EncodePolicy); the host does not invoke the "
                "function with it",
                self._name, message.id, poller.queue_name,
            )
            self._poison()
            return
        trigger_value = TriggerQueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        invocation_id = str(uuid.uuid4())
        log.info(
            "Executing 'Functions.%s' (Reason='New queue message detected on '%s'.', Id=%s)",
            self._name, poller.queue_name, invocation_id,
        )
        log.info(
            "Trigger Details: MessageId: %s, DequeueCount: %d, InsertedOn: %s",
            message.id, message.dequeue_count,
            message.inserted_on.isoformat() if message.inserted_on else "?",
        )
        started = time.perf_counter()
        try:
            future = poller.function.submit(trigger_value, invocation_id, poller.kind.worker_pool)
        except RuntimeError:  # the worker pool closed: the dev host is stopping
            future = concurrent.futures.Future()
            future.cancel()
        outcome, error = self._wait_renewing(future)
        millis = round((time.perf_counter() - started) * 1000)
        if error is not None:
            log.error(
                "Executed 'Functions.%s' failed with an exception", self._name, exc_info=error
            )
        # The Id ties the two lines together: queue invocations of one function overlap.
        log.info(
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            self._name, outcome, invocation_id, millis,
        )
        if poller.kind.abandoned:
            return  # stop() gave up on this invocation; its lease will lapse
        if outcome == "Succeeded":
            self._delete()
        elif outcome == "Cancelled":
            # Never started (the dev host is stopping): visible again at once.
            self._release(0.0)
        elif poller.poison_client is None:
            pass  # no poison queue: leave it invisible, as the host does
        elif message.dequeue_count >= options.max_dequeue_count:
            self._poison()
        else:
            self._release(options.visibility_timeout)

    def _wait_renewing(self, future: concurrent.futures.Future) -> tuple[str, BaseException | None]:
        kind = self.poller.kind
        interval = kind.lease_seconds / 2
        next_renewal = time.monotonic() + interval
        renewing = True
        while True:
            timeout = max(0.0, next_renewal - time.monotonic()) if renewing else None
            concurrent.futures.wait([future], timeout=timeout)
            if future.done():
                break
            if kind.abandoned:
                renewing = False
                continue
            renewed = self._renew()
            if renewed is None:
                renewing = False  # ownership lost: renewing again cannot help
            else:
                wait = interval if renewed else max(kind.min_renewal_seconds, interval / 2)
                next_renewal = time.monotonic() + wait
        if future.cancelled():
            return "Cancelled", None
        error = future.exception()
        return ("Failed", error) if error is not None else ("Succeeded", None)

    # -- talking to the queue

    def _renew(self) -> bool | None:
        """True when renewed, False to retry sooner, None when the message is no longer ours."""
        try:
            receipt = self.poller.queue_client.update_message(
                self.message.id, self.pop_receipt, visibility_timeout=int(self.poller.kind.lease_seconds)
            )
        except HttpResponseError as exc:
            if _is_lost_message(exc):
                return None
            log.warning("Functions.%s: renewing message %s failed: %s", self._name, self.message.id, _short(exc))
            return False
        except AzureError as exc:
            log.warning("Functions.%s: renewing message %s failed: %s", self._name, self.message.id, _short(exc))
            return False
        self.pop_receipt = receipt.pop_receipt
        return True

    def _delete(self) -> None:
        try:
            self.poller.queue_client.delete_message(self.message.id, self.pop_receipt)
        except HttpResponseError as exc:
            if not _is_lost_message(exc):
                self._settle_failed("delete", exc)
        except AzureError as exc:
            self._settle_failed("delete", exc)

    def _release(self, visibility_timeout: float) -> None:
        try:
            self.poller.queue_client.update_message(
                self.message.id, self.pop_receipt, visibility_timeout=int(round(visibility_timeout))
            )
        except HttpResponseError as exc:
            if not _is_lost_message(exc):
                self._settle_failed("release", exc)
        except AzureError as exc:
            self._settle_failed("release", exc)

    def _poison(self) -> None:
        poller = self.poller
        poison = poller.poison_client
        if poison is None:
            return  # a poison queue's own message: left invisible, as the host does
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            poller.options.max_dequeue_count, poison.queue_name,
        )
        try:
            try:
                poison.send_message(self.message.content)
            except ResourceNotFoundError:
                try:
                    poison.create_queue()
                except ResourceExistsError:
                    pass
                poison.send_message(self.message.content)
        except AzureError as exc:
            self._settle_failed("move to the poison queue", exc)
            return
        poller.kind.notify(poller.service_url, poison.queue_name)
        self._delete()

    def _settle_failed(self, action: str, exc: BaseException) -> None:
        log.warning(
            "Functions.%s: could not %s message %s (%s); it reappears when its visibility "
            "timeout ends",
            self._name, action, self.message.id, _short(exc),
        )
