"""What a queue trigger needs before it polls: host.json options, its queue name, its connection.

All of it follows the Functions host's storage queue extension:

- ``extensions.queues`` in host.json, with the extension's defaults and limits
  (``QueuesOptions``): batchSize 16 (1-32), newBatchThreshold (batchSize / 2) x processors,
  maxPollingInterval 1 minute (not under 100 ms), visibilityTimeout 0, maxDequeueCount 5,
  messageEncoding base64. "Processors" is 1 when ``WEBSITE_SKU`` is ``Dynamic`` (the
  Consumption plan) and the machine's CPU count otherwise (``SkuUtility.ProcessorCount``),
  so Flex Consumption, Premium and a local ``func start`` all multiply by their vCPUs.
- the queue name: ``%SETTING%`` tokens resolved, then lower-cased and checked against
  Azure's queue naming rule (``NormalizeAndValidate`` in the trigger's binding provider);
- the poison queue: ``<queue>-poison``, except for a queue that already ends in
  ``-poison`` or whose poison name would be too long: such a queue has none;
- the connection: blank means ``Storage``; the setting ``AzureWebJobs<name>`` is looked up
  first, then ``<name>`` (``GetWebJobsConnectionStringSection``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.devhost.errors import DevHostError
from devtools.devhost.settings import resolve_setting_tokens

DEFAULT_BATCH_SIZE = 16
MAX_BATCH_SIZE = 32  # the queue service hands out at most 32 messages per request
DEFAULT_MAX_POLLING_SECONDS = 60.0
MIN_POLLING_SECONDS = 0.1
DEFAULT_MAX_DEQUEUE_COUNT = 5
MESSAGE_ENCODINGS = ("base64", "none")
POISON_SUFFIX = "-poison"
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
# .NET TimeSpan text: [-][d.]hh:mm[:ss[.fffffff]]
_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


@dataclass(frozen=True)
class QueueOptions:
    """host.json ``extensions.queues`` as the host applies it (durations in seconds)."""

    batch_size: int = DEFAULT_BATCH_SIZE
    new_batch_threshold: int = DEFAULT_BATCH_SIZE // 2
    max_polling_interval: float = DEFAULT_MAX_POLLING_SECONDS
    visibility_timeout: float = 0.0
    max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    message_encoding: str = "base64"

    @property
    def max_in_flight(self) -> int:
        """Messages one function holds at most: a new batch comes only at the threshold."""
        return self.batch_size + self.new_batch_threshold

    def describe(self) -> str:
        return (
            f"batchSize {self.batch_size}, newBatchThreshold {self.new_batch_threshold}, "
            f"maxPollingInterval {self.max_polling_interval:g}s, "
            f"visibilityTimeout {self.visibility_timeout:g}s, "
            f"maxDequeueCount {self.max_dequeue_count}, messageEncoding {self.message_encoding}"
        )


def host_processor_count(environ: Mapping[str, str] | None = None) -> int:
    """The multiplier of the default newBatchThreshold, as ``SkuUtility.ProcessorCount`` has it."""
    environ = os.environ if environ is None else environ
    if environ.get("WEBSITE_SKU", "").lower() == "dynamic":
        return 1
    try:
        return len(os.sched_getaffinity(0))  # what .NET's Environment.ProcessorCount honours
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_timespan(value: Any, key: str) -> float:
    """A host.json TimeSpan (``"00:00:02"``, ``"1.00:00:00"``) in seconds."""
    where = f"host.json extensions.queues.{key}"
    text = str(value).strip()
    if isinstance(value, (int, float)) or text.isdigit():
        # TimeSpan.Parse reads a bare number as days; nobody means that for a poll interval.
        raise DevHostError(
            f"{where}: {value!r} would be read by the host as {text} days; write a TimeSpan "
            'such as "00:00:02"'
        )
    match = _TIMESPAN.match(text)
    if not match:
        raise DevHostError(f'{where}: {value!r} is not a TimeSpan (write "hh:mm:ss", e.g. "00:01:00")')
    negative, days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise DevHostError(f"{where}: {value!r} is out of range")
    total = (
        int(days or 0) * 86400
        + int(hours) * 3600
        + int(minutes) * 60
        + int(seconds or 0)
        + (float(f"0.{fraction}") if fraction else 0.0)
    )
    return -total if negative else total


def _lookup(section: Any, key: str) -> Any:
    # .NET configuration keys are case-insensitive.
    if not isinstance(section, dict):
        return None
    for name, value in section.items():
        if name.lower() == key.lower():
            return value
    return None


def _integer(value: Any, key: str, low: int, high: int | None = None) -> int:
    where = f"host.json extensions.queues.{key}"
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise DevHostError(f"{where}: {value!r} is not a whole number") from exc
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DevHostError(f"{where}: {number} must be {bound}")
    return number


_OVERRIDE_PREFIX = "azurefunctionsjobhost__extensions__queues__"


def read_queue_options(
    app_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> QueueOptions:
    """``extensions.queues`` from the app's host.json, with the host's defaults and checks."""
    path = Path(app_dir) / "host.json"
    doc: Any = {}
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise DevHostError(f"cannot read host.json: {exc}") from exc
    section = _lookup(_lookup(doc, "extensions"), "queues") or {}
    # As on the host, an app setting `AzureFunctionsJobHost__extensions__queues__<key>`
    # overrides the host.json value (the chaos suite polls faster this way).
    environ = os.environ if environ is None else environ
    merged = {str(key).lower(): value for key, value in section.items()} if isinstance(section, dict) else {}
    merged.update({name[len(_OVERRIDE_PREFIX):].lower(): value for name, value in environ.items()
                   if name.lower().startswith(_OVERRIDE_PREFIX)})
    section = merged

    batch_size = DEFAULT_BATCH_SIZE
    if (value := _lookup(section, "batchSize")) is not None:
        batch_size = _integer(value, "batchSize", 1, MAX_BATCH_SIZE)
    threshold = (batch_size // 2) * host_processor_count(environ)
    if (value := _lookup(section, "newBatchThreshold")) is not None:
        threshold = _integer(value, "newBatchThreshold", 0)
    max_polling = DEFAULT_MAX_POLLING_SECONDS
    if (value := _lookup(section, "maxPollingInterval")) is not None:
        max_polling = parse_timespan(value, "maxPollingInterval")
        if max_polling < MIN_POLLING_SECONDS:
            raise DevHostError(
                "host.json extensions.queues.maxPollingInterval must not be less than 00:00:00.1"
            )
    visibility = 0.0
    if (value := _lookup(section, "visibilityTimeout")) is not None:
        visibility = max(0.0, parse_timespan(value, "visibilityTimeout"))
    max_dequeue = DEFAULT_MAX_DEQUEUE_COUNT
    if (value := _lookup(section, "maxDequeueCount")) is not None:
        max_dequeue = _integer(value, "maxDequeueCount", 1)
    encoding = "base64"
    if (value := _lookup(section, "messageEncoding")) is not None:
        encoding = str(value).strip().lower()
        if encoding not in MESSAGE_ENCODINGS:
            raise DevHostError(
                f"host.json extensions.queues.messageEncoding: {value!r} is not base64 or none"
            )
    return QueueOptions(batch_size, threshold, max_polling, visibility, max_dequeue, encoding)


def resolve_queue_name(raw: str, function_name: str, environ: Mapping[str, str] | None = None) -> str:
    """``%SETTING%`` resolved, lower-cased and validated, as the host binds the trigger."""
    name = resolve_setting_tokens(raw or "", environ, function_name=function_name).lower()
    if not _QUEUE_NAME.match(name):
        raise DevHostError(
            f"Error indexing method 'Functions.{function_name}': {name!r} is not a valid queue "
            "name (3-63 characters: lowercase letters, digits and single hyphens, starting and "
            "ending with a letter or digit)"
        )
    return name


def poison_queue_name(queue_name: str) -> str | None:
    """Where the host moves messages that failed too often; None when the queue has none."""
    if queue_name.endswith(POISON_SUFFIX):
        return None
    candidate = queue_name + POISON_SUFFIX
    return candidate if _QUEUE_NAME.match(candidate) else None


def resolve_connection(
    connection: str | None, function_name: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(setting name, connection string) for a trigger's ``connection``.

    Identity-based connections (``<name>__queueServiceUri``, ``__accountName``) are what
    the app uses in Azure; the dev host has no storage identity to offer, so it asks for a
    connection string instead.
    """
    environ = os.environ if environ is None else environ
    name = (connection or "").strip() or "Storage"
    candidates = (f"AzureWebJobs{name}", name)
    for setting in candidates:
        value = environ.get(setting, "").strip()
        if value:
            _check_has_queue_endpoint(setting, value, function_name)
            return setting, value
    for setting in candidates:
        if any(key.startswith(f"{setting}__") for key in environ):
            raise DevHostError(
                f"Functions.{function_name}: connection '{setting}' is identity-based "
                f"({setting}__...); the dev host needs a connection string in '{setting}' "
                "(the local stack sets one for Azurite)"
            )
    raise DevHostError(
        f"Functions.{function_name}: Storage account connection string '{candidates[0]}' does "
        "not exist. Make sure that it is a defined App Setting."
    )


def _check_has_queue_endpoint(setting: str, value: str, function_name: str) -> None:
    parts = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            parts[key.strip().lower()] = val.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true" or "queueendpoint" in parts:
        return
    # Without QueueEndpoint the storage SDK builds the account's production URL; a string
    # that names other services' endpoints (a tables-only Azurite string) never meant that.
    if any(key.endswith("endpoint") for key in parts) and "endpointsuffix" not in parts:
        raise DevHostError(
            f"Functions.{function_name}: connection '{setting}' names no QueueEndpoint; "
            "give it one (the local stack's AzureWebJobsStorage has both Azurite endpoints)"
        )
