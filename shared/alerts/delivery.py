"""The alert queue's consumer: one webhook POST per message, retried by the queue.

* The schedule is read at send time: its webhook now (not when the alert was decided),
  and the host checked again against `ALERT_WEBHOOK_HOSTS` (the list may have narrowed).
* One POST, `{"text": ...}`, a short timeout, redirects not followed (a webhook that
  redirects is a failure: following it would send the alert, and maybe the token in the
  path, somewhere nobody allowed).
* 2xx: delivered. 429, 5xx, timeouts and connection failures raise, so the host delivers
  the message again after host.json's `visibilityTimeout`, up to `maxDequeueCount` times,
  then moves it to `<queue>-poison`, where `run_poison` logs it as an alert delivery
  failure. Other 4xx (a revoked webhook, a malformed body) and redirects are given up at
  once with a log line: sending them again would not change the answer.
* At most a few POSTs at once per process: Python's worker runs sync functions of every
  trigger on one thread pool, so a hanging webhook must not take the threads the slot
  workers and timers need. A message over the limit is handed back to the queue.

The URL is never logged or put in an exception (only its mask); of a refusal's body at
most a short excerpt is logged, with the URL's path and query cut out of it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

from shared.alerts.message import EVENT_PREFIX, AlertMessage, InvalidAlertMessage
from shared.alerts.webhook import WebhookPolicy, mask_webhook

log = logging.getLogger("shared.alerts")
# Connect, read: a webhook answers in well under a second; one that takes longer is retried later.
SEND_TIMEOUT = (3.05, 5.0)
MAX_CONCURRENT_SENDS = 4
# How long a message waits for a free send before going back to the queue.
WAIT_FOR_SEND_SECONDS = 1.0
MAX_LOGGED_BODY = 120
USER_AGENT = "aml-batch-scheduler/1.0 (alerts)"


class DeliveryRetry(Exception):
    """The webhook could not take the message now; raised so that the queue delivers it again."""


class WebhookSender:
    def __init__(self, schedules: Any, policy: WebhookPolicy, session: Any, *,
                 timeout: tuple[float, float] = SEND_TIMEOUT, concurrency: int = MAX_CONCURRENT_SENDS,
                 wait_for_send: float = WAIT_FOR_SEND_SECONDS, console_url: str | None = None):
        self._schedules = schedules
        self._policy = policy
        # Its own session: the AML transport's is for AML hosts only.
        self._session = session
        self._timeout = timeout
        self._sends = threading.BoundedSemaphore(concurrency)
        self._concurrency = concurrency
        self._wait_for_send = wait_for_send
        self._console_url = console_url

    def deliver(self, message: AlertMessage, attempt: int = 1) -> str:
        """Post `message` to its schedule's webhook; returns what happened, raises DeliveryRetry to retry."""
        from shared.store import NotFound, StoreError

        what = f"schedule {message.schedule_id}: alert {message.kind} of incident {message.incident_id}"
        try:
            record = self._schedules.get(message.schedule_id)
        except NotFound:
            log.info("%s not sent: the schedule was deleted", what)
            return "schedule deleted"
        except StoreError as exc:
            log.warning("%s (delivery %d): the schedule could not be read (%s); retried later", what, attempt, exc)
            raise DeliveryRetry("schedule not readable") from None
        spec = record.definition.alerts
        if spec is None or not spec.wants(message.kind):
            log.info("%s not sent: the schedule no longer asks for it", what)
            return "not requested"
        url, shown = spec.webhook, mask_webhook(spec.webhook)
        refusal = self._policy.refusal(url)
        if refusal is not None:
            log.warning("%s not sent to %s: %s", what, shown, refusal)
            return "refused"
        if not self._sends.acquire(timeout=self._wait_for_send):
            log.info("%s (delivery %d): %d webhook posts already under way here; back to the queue", what, attempt,
                     self._concurrency)
            raise DeliveryRetry("too many webhook posts under way")
        try:
            status, excerpt = self._post(url, message.webhook_body(self._console_url), what, shown, attempt)
        finally:
            self._sends.release()
        if 200 <= status < 300:
            log.info("%s delivered to %s (delivery %d)", what, shown, attempt)
            return "delivered"
        if 300 <= status < 400:
            log.error("%s not delivered: %s answered %d, a redirect, which is not followed; fix the webhook URL",
                      what, shown, status)
            return "redirect refused"
        if status == 429 or status >= 500:
            log.warning("%s (delivery %d): %s answered %d; retried later", what, attempt, shown, status)
            raise DeliveryRetry(f"{shown} answered {status}")
        log.error("%s not delivered: %s answered %d (%s); not retried", what, shown, status, excerpt)
        return "refused by the webhook"

    def _post(self, url: str, body: dict, what: str, shown: str, attempt: int) -> tuple[int, str]:
        import requests

        try:
            response = self._session.post(url, json=body, timeout=self._timeout, allow_redirects=False, stream=True,
                                          headers={"User-Agent": USER_AGENT})
        except (requests.Timeout, requests.ConnectionError) as exc:
            # requests' messages quote the URL's path: only the exception's type is kept.
            log.warning("%s (delivery %d): %s failed (%s); retried later", what, attempt, shown, type(exc).__name__)
            raise DeliveryRetry(f"{shown}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            log.error("%s not delivered: the request to %s could not be made (%s)", what, shown, type(exc).__name__)
            return 0, type(exc).__name__
        try:
            head = response.raw.read(MAX_LOGGED_BODY, decode_content=True) if response.status_code >= 300 else b""
        except Exception:  # noqa: BLE001 - the excerpt is a courtesy for the log
            head = b""
        finally:
            response.close()
        return response.status_code, _excerpt(head, url)


def _excerpt(head: bytes, url: str) -> str:
    """The start of a refusal's body, with the URL's path and query (its token) cut out, on one line."""
    text = " ".join(head.decode("utf-8", errors="replace").split())
    parts = urlsplit(url)
    for secret in (parts.query, parts.path):
        if len(secret) >= 8:
            text = text.replace(secret, "***")
    return text[:MAX_LOGGED_BODY] or "no body"


# -- entry points (shared.blueprints.alerts) ---------------------------------------------------

_lock = threading.Lock()
_sender: WebhookSender | None = None


def process_sender() -> WebhookSender:
    global _sender
    with _lock:
        if _sender is None:
            from shared.http_session import new_session
            from shared.runtime import get_runtime

            runtime = get_runtime()
            _sender = WebhookSender(runtime.schedules, runtime.settings.webhook_policy, new_session())
        return _sender


def run_alert(body: bytes, dequeue_count: int = 1) -> None:
    try:
        message = AlertMessage.decode(body)
    except InvalidAlertMessage as exc:
        # Not ours: failing it lets the host move it to the poison queue for inspection.
        raise ValueError(f"not an alert message ({exc})") from None
    process_sender().deliver(message, dequeue_count)


def run_poison(body: bytes, dequeue_count: int = 1) -> None:
    """A message the sender failed on every delivery: logged as an alert delivery failure, once."""
    import json

    try:
        message = AlertMessage.decode(body)
    except InvalidAlertMessage as exc:
        log.error("poison message on the alert queue that is not an alert (%s), dropped after logging", exc)
        return
    event = {**message.event("failed"), "event": "alert_delivery_failed"}
    log.error(EVENT_PREFIX + json.dumps({k: v for k, v in event.items() if v is not None}, separators=(",", ":")),
              extra={"custom_dimensions": event, **event})
