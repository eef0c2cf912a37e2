"""A small stand-in for the Azure Functions host, for local runs and tests.

Azure Functions Core Tools (``func start``) cannot be installed everywhere, so this
module plays the host's part for a Python v2-model app: it reads the app's settings,
imports ``function_app``, indexes the single ``FunctionApp``, serves its HTTP functions
and fires its timers on their NCRONTAB schedules (in UTC, as the hosted timer does).

    python -m devtools.devhost [--app-dir DIR] [--host 127.0.0.1] [--port 7071] [--no-timers]

Settings: ``local.settings.json`` in the app dir, else ``local.settings.sample.json``.
Its ``Values`` go into the environment *without* replacing variables that are already
set, so whoever launches the dev host (the local stack, a test) has the last word.
``Host.LocalHttpPort`` is the port when ``--port`` is not given.

Things that behave like the real host:
- route templates (``{name}``, ``{name?}`` last, ``{*name}`` catch-all, ``{name:int}``
  style constraints, ``{name=default}``), literal segments compared case-insensitively,
  more specific templates tried first, ``extensions.http.routePrefix`` from host.json;
- ``%2F`` in a path segment: the path is split on ``/`` first, then each segment is
  percent-decoded *except* ``%2F``, which stays in the value as written. That is what
  Kestrel, the server inside the Functions host, does, so ``func start`` hands the
  function ``a%2Fb`` for ``items/a%2Fb``. Deployed on App Service the front end decodes
  ``%2F`` before the host sees the request, so the same URL is routed as two segments
  (a 404 for ``items/{id}``; azure-functions-host#9290). Do not rely on ``%2F`` in
  route values: validate them and reject ``%``.
- ``%SETTING%`` in a timer schedule is resolved from the environment; an unresolved
  one stops start-up, naming the setting;
- a timer never overlaps itself: if an invocation overruns, the occurrences that
  passed meanwhile collapse into one immediate invocation with ``past_due=True``;
- an exception in a function is logged with its traceback and answered with a 500
  whose body says nothing about the exception.

Differences to know about:
- Function keys are NOT enforced: every route answers whatever its auth level, which
  is also what Core Tools does locally. Test key handling against a deployed app.
- A route that matches but does not allow the method answers 405 (with ``Allow``);
  the deployed host treats it as no match at all (404).
- Only HTTP and timer triggers run; other triggers are listed and ignored. Output
  bindings other than the HTTP response receive a sink that discards what is set;
  input bindings are not supplied.
- ``async def`` functions run on one event loop thread shared by all invocations, as
  in the Python worker; sync functions run on the request or timer thread.

``DevHost`` is the programmatic face (tests run it in-process); ``main`` is the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from azure.functions.decorators.core import BindingDirection
from azure.functions.timer import TimerRequest
from cronsim import CronSim, CronSimError

__all__ = [
    "DevHost",
    "DevHostError",
    "RouteTemplate",
    "Settings",
    "TimerRunner",
    "apply_settings",
    "decode_segment",
    "load_settings",
    "main",
    "read_route_prefix",
    "resolve_setting_tokens",
]

log = logging.getLogger("devhost")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
DEFAULT_ROUTE_PREFIX = "api"
SETTINGS_FILE = "local.settings.json"
SAMPLE_SETTINGS_FILE = "local.settings.sample.json"
# The hosted runtime refuses bodies over 100 MB; refusing here too keeps surprises local.
MAX_BODY_BYTES = 100 * 1024 * 1024
# Scheduler jitter and GC pauses should not flag an invocation as past due.
PAST_DUE_TOLERANCE = timedelta(seconds=3)
STOP_TIMEOUT_SECONDS = 10.0
# Bounded waits let a timer notice a wall-clock jump (laptop sleep) within a second.
_TIMER_WAIT_SLICE = 1.0
_SETTING_TOKEN = re.compile(r"%([^%\s]+)%")


class DevHostError(Exception):
    """The app or its configuration keeps the dev host from starting."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What the dev host took from the app's settings file."""

    path: Path | None
    values: dict[str, str]
    local_http_port: int | None


def load_settings(app_dir: str | os.PathLike[str]) -> Settings:
    """Read ``local.settings.json`` (or the sample when there is none) from ``app_dir``."""
    app_dir = Path(app_dir)
    for name in (SETTINGS_FILE, SAMPLE_SETTINGS_FILE):
        path = app_dir / name
        if path.is_file():
            break
    else:
        return Settings(path=None, values={}, local_http_port=None)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DevHostError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(doc, dict):
        raise DevHostError(f"{path.name} must hold a JSON object")
    if doc.get("IsEncrypted"):
        raise DevHostError(f"{path.name} is encrypted; the dev host reads plain settings only")
    raw_values = doc.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise DevHostError(f"{path.name}: 'Values' must be an object")
    values: dict[str, str] = {}
    for key, value in raw_values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            raise DevHostError(f"{path.name}: setting {key!r} must be a string")
        else:
            values[key] = str(value)
    port = (doc.get("Host") or {}).get("LocalHttpPort")
    try:
        local_http_port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise DevHostError(f"{path.name}: Host.LocalHttpPort must be a number") from exc
    return Settings(path=path, values=values, local_http_port=local_http_port)


def apply_settings(
    values: Mapping[str, str], environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Copy settings into the environment, keeping variables already set.

    Returns the names that were added, so a caller can take them back out.
    """
    environ = os.environ if environ is None else environ
    added = []
    for key, value in values.items():
        if key not in environ:
            environ[key] = value
            added.append(key)
    return added


def read_route_prefix(app_dir: str | os.PathLike[str]) -> str:
    """``extensions.http.routePrefix`` from host.json, without slashes ('' = no prefix)."""
    path = Path(app_dir) / "host.json"
    if not path.is_file():
        return DEFAULT_ROUTE_PREFIX
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DevHostError(f"cannot read host.json: {exc}") from exc
    prefix = ((doc.get("extensions") or {}).get("http") or {}).get("routePrefix")
    if prefix is None:
        return DEFAULT_ROUTE_PREFIX
    return str(prefix).strip("/")


def resolve_setting_tokens(
    value: str, environ: Mapping[str, str] | None = None, *, function_name: str = "?"
) -> str:
    """Replace ``%NAME%`` tokens with app settings, failing like the host on a missing one."""
    environ = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise DevHostError(
                f"Error indexing method 'Functions.{function_name}': '%{name}%' does not "
                f"resolve to a value (app setting {name} is not set)"
            )
        return environ[name]

    return _SETTING_TOKEN.sub(substitute, value)


# ---------------------------------------------------------------------------- routing


def decode_segment(raw: str) -> str:
    """Percent-decode one path segment, keeping ``%2F`` as written (Kestrel's rule)."""
    pieces = re.split(r"(%2[fF])", raw)
    return "".join(p if i % 2 else unquote(p, errors="replace") for i, p in enumerate(pieces))


def split_path(raw_path: str) -> list[str]:
    """Raw request path to raw segments; one trailing slash is tolerated like the host."""
    path = raw_path.lstrip("/")
    if path.endswith("/"):
        path = path[:-1]
    return path.split("/") if path else []


def _int_between(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return low <= int(value) <= high
        except ValueError:
            return False

    return check


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity")


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _constraint(spec: str) -> Callable[[str], bool]:
    name, _, arg = spec.partition("(")
    name = name.strip().lower()
    args = [a.strip() for a in arg[:-1].split(",")] if arg.endswith(")") else []
    simple: dict[str, Callable[[str], bool]] = {
        "int": _int_between(-(2**31), 2**31 - 1),
        "long": _int_between(-(2**63), 2**63 - 1),
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_float,
    }
    try:
        if name in simple and not args:
            return simple[name]
        if name == "regex" and arg.endswith(")"):
            pattern = re.compile(arg[:-1], re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        if name == "minlength" and len(args) == 1:
            n = int(args[0])
            return lambda v: len(v) >= n
        if name == "maxlength" and len(args) == 1:
            n = int(args[0])
            return lambda v: len(v) <= n
        if name == "length" and len(args) in (1, 2):
            lo, hi = int(args[0]), int(args[-1])
            return lambda v: lo <= len(v) <= hi
        if name == "min" and len(args) == 1:
            return _int_between(int(args[0]), 2**63 - 1)
        if name == "max" and len(args) == 1:
            return _int_between(-(2**63), int(args[0]))
        if name == "range" and len(args) == 2:
            return _int_between(int(args[0]), int(args[1]))
    except (ValueError, re.error) as exc:
        raise DevHostError(f"bad route constraint {spec!r}: {exc}") from exc
    raise DevHostError(f"unsupported route constraint {spec!r}")


def _split_outside_parens(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class _Param:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    checks: tuple[Callable[[str], bool], ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


def _parse_param(body: str, template: str) -> _Param:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.rstrip("?")
    default = None
    head, *rest = _split_outside_parens(body, "=")
    if rest:
        default = "=".join(rest)
    name, *constraints = _split_outside_parens(head, ":")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise DevHostError(f"route {template!r}: bad parameter name {name!r}")
    return _Param(
        name=name,
        optional=optional or default is not None,
        catch_all=catch_all,
        default=default,
        checks=tuple(_constraint(c) for c in constraints if c.strip()),
    )


def _parse_segment(text: str, template: str) -> list[str | _Param]:
    parts: list[str | _Param] = []
    i, literal = 0, []
    while i < len(text):
        ch = text[i]
        if ch == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif ch == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif ch == "{":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise DevHostError(f"route {template!r}: unbalanced '{{'")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_param(text[i + 1 : j - 1], template))
            i = j
        elif ch == "}":
            raise DevHostError(f"route {template!r}: unbalanced '}}'")
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


class RouteTemplate:
    """One HTTP function's route, matched against raw (still percent-encoded) paths."""

    def __init__(self, template: str) -> None:
        self.template = template
        text = template.strip()
        if text.startswith("~/"):
            text = text[2:]
        text = text.strip("/")
        raw_segments = text.split("/") if text else []
        self._segments: list[list[str | _Param]] = []
        self._complex: dict[int, re.Pattern[str]] = {}
        ranks = []
        for index, raw in enumerate(raw_segments):
            parts = _parse_segment(raw, template)
            if not parts:
                raise DevHostError(f"route {template!r}: empty segment")
            last = index == len(raw_segments) - 1
            params = [p for p in parts if isinstance(p, _Param)]
            if len(parts) > 1:
                if any(p.catch_all or p.optional for p in params):
                    raise DevHostError(
                        f"route {template!r}: optional and catch-all parameters must fill a segment"
                    )
                regex = "".join(
                    f"(?P<{p.name}>.+?)" if isinstance(p, _Param) else re.escape(p) for p in parts
                )
                self._complex[index] = re.compile(regex + r"\Z", re.IGNORECASE | re.DOTALL)
                ranks.append(2)
            elif params:
                param = params[0]
                if (param.catch_all or param.optional) and not last:
                    raise DevHostError(
                        f"route {template!r}: {{{param.name}}} may only be the last segment"
                    )
                ranks.append(5 if param.catch_all else 3 if param.checks else 4)
            else:
                ranks.append(1)
            self._segments.append(parts)
        self.precedence = tuple(ranks)
        self.parameters = [
            p.name for parts in self._segments for p in parts if isinstance(p, _Param)
        ]

    def __repr__(self) -> str:
        return f"RouteTemplate({self.template!r})"

    def match_path(self, raw_path: str) -> dict[str, str] | None:
        """Route values for a raw path relative to the prefix, or None."""
        return self.match(split_path(raw_path))

    def match(self, raw_segments: list[str]) -> dict[str, str] | None:
        values: dict[str, str] = {}
        n = len(self._segments)
        for index, parts in enumerate(self._segments):
            param = parts[0] if len(parts) == 1 and isinstance(parts[0], _Param) else None
            if param is not None and param.catch_all:
                rest = raw_segments[index:]
                if rest:
                    value = "/".join(decode_segment(s) for s in rest)
                    if not param.accepts(value):
                        return None
                    values[param.name] = value
                elif param.default is not None:
                    values[param.name] = param.default
                return values
            if index >= len(raw_segments):
                if param is not None and param.optional and index == n - 1:
                    if param.default is not None:
                        values[param.name] = param.default
                    return values
                return None
            segment = decode_segment(raw_segments[index])
            if index in self._complex:
                found = self._complex[index].match(segment)
                if found is None:
                    return None
                for part in parts:
                    if isinstance(part, _Param):
                        if not part.accepts(found.group(part.name)):
                            return None
                        values[part.name] = found.group(part.name)
            elif param is not None:
                if segment == "" or not param.accepts(segment):
                    return None
                values[param.name] = segment
            elif segment.casefold() != str(parts[0]).casefold():
                return None
        return values if len(raw_segments) == n else None


# -------------------------------------------------------------------------- functions


class _Sink(func.Out):
    """Stands in for output bindings the dev host does not emulate."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _Context(func.Context):
    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class _AsyncLoop:
    """One event loop thread for ``async def`` functions, like the Python worker's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Any) -> Any:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="devhost-asyncio", daemon=True
                )
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()


@dataclass
class _Function:
    name: str
    trigger: Any
    user_function: Callable[..., Any]
    directory: str
    bindings: list[Any]
    async_loop: _AsyncLoop
    accepts_context: bool = False
    http_output: str | None = None
    sinks: tuple[str, ...] = ()
    unsupported_inputs: tuple[str, ...] = ()

    @classmethod
    def from_indexed(cls, indexed: Any, directory: str, async_loop: _AsyncLoop) -> _Function:
        trigger = indexed.get_trigger()
        user_function = indexed.get_user_function()
        try:
            parameters = inspect.signature(user_function).parameters
        except (TypeError, ValueError):
            parameters = {}
        http_output, sinks, inputs = None, [], []
        for binding in indexed.get_bindings():
            if binding is trigger:
                continue
            # Indexed bindings carry the direction as a plain int, not the enum.
            if getattr(binding.direction, "value", binding.direction) == BindingDirection.OUT.value:
                if binding.type == "http":
                    http_output = binding.name
                if binding.name != "$return":
                    sinks.append(binding.name)
            else:
                inputs.append(binding.name)
        return cls(
            name=indexed.get_function_name(),
            trigger=trigger,
            user_function=user_function,
            directory=directory,
            bindings=list(indexed.get_bindings()),
            async_loop=async_loop,
            accepts_context="context" in parameters and trigger.name != "context",
            http_output=http_output,
            sinks=tuple(sinks),
            unsupported_inputs=tuple(inputs),
        )

    def invoke(self, trigger_value: Any, invocation_id: str) -> Any:
        """Call the user function; for HTTP, return what its HTTP output received."""
        kwargs: dict[str, Any] = {self.trigger.name: trigger_value}
        sinks = {name: _Sink() for name in self.sinks}
        kwargs.update(sinks)
        if self.accepts_context:
            kwargs["context"] = _Context(invocation_id, self.name, self.directory)
        result = self.user_function(**kwargs)
        if inspect.isawaitable(result):
            result = self.async_loop.run(_await(result))
        if self.http_output and self.http_output != "$return":
            return sinks[self.http_output].get()
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _method_names(methods: Iterable[Any] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    return frozenset(str(getattr(m, "value", m)).upper() for m in methods)


@dataclass
class _HttpRoute:
    function: _Function
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


# ----------------------------------------------------------------------------- timers


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _next_occurrence(schedule: str, after: datetime) -> datetime:
    # CronSim yields instants strictly after the whole second of ``after``.
    return next(CronSim(schedule, after.astimezone(timezone.utc)))


def validate_schedule(schedule: str, function_name: str = "?") -> str:
    """Check an NCRONTAB expression (6 fields, seconds first; 5 accepted)."""
    fields = schedule.split()
    if re.fullmatch(r"\d+(\.\d+)?:\d{2}:\d{2}", schedule.strip()):
        raise DevHostError(
            f"Functions.{function_name}: TimeSpan schedule {schedule!r} is not supported by "
            "the dev host (nor on Consumption plans); use an NCRONTAB expression"
        )
    if len(fields) not in (5, 6):
        raise DevHostError(
            f"Functions.{function_name}: {schedule!r} is not a valid NCRONTAB expression "
            "(6 fields, seconds first)"
        )
    try:
        _next_occurrence(schedule, _utcnow())
    except CronSimError as exc:
        raise DevHostError(f"Functions.{function_name}: bad schedule {schedule!r}: {exc}") from exc
    except StopIteration as exc:
        raise DevHostError(f"Functions.{function_name}: schedule {schedule!r} never fires") from exc
    return schedule


class TimerRunner(threading.Thread):
    """Fires one timer function on its schedule; never overlaps itself.

    Exceptions from the function are logged and the schedule carries on.
    """

    def __init__(
        self,
        function: _Function,
        schedule: str,
        *,
        run_on_startup: bool = False,
        stop_event: threading.Event | None = None,
        clock: Callable[[], datetime] = _utcnow,
        past_due_tolerance: timedelta = PAST_DUE_TOLERANCE,
    ) -> None:
        super().__init__(name=f"timer-{function.name}", daemon=True)
        self.function = function
        self.schedule = schedule
        self.run_on_startup = run_on_startup
        self.stop_event = stop_event or threading.Event()
        self._clock = clock
        self._tolerance = past_due_tolerance
        self._last: datetime | None = None

    def run(self) -> None:
        try:
            self._loop()
        except Exception:  # noqa: BLE001 - a dead timer thread must at least say why
            log.exception("Timer for Functions.%s stopped unexpectedly", self.function.name)

    def _loop(self) -> None:
        now = self._clock()
        due = _next_occurrence(self.schedule, now)
        if self.run_on_startup and not self.stop_event.is_set():
            self._fire(now, past_due=False, following=due)
        while not self.stop_event.is_set():
            now = self._clock()
            if due > now:
                if not self._sleep_until(due):
                    return
                now = self._clock()
                past_due = now - due > self._tolerance
            else:
                # An occurrence passed while the previous invocation ran: fire once
                # for all of them, the way the host's singleton timer catches up.
                past_due = True
            following = _next_occurrence(self.schedule, max(due, now))
            self._fire(now, past_due=past_due, following=following)
            due = following

    def _sleep_until(self, due: datetime) -> bool:
        while True:
            remaining = (due - self._clock()).total_seconds()
            if remaining <= 0:
                return True
            if self.stop_event.wait(min(remaining, _TIMER_WAIT_SLICE)):
                return False

    def _fire(self, fired_at: datetime, *, past_due: bool, following: datetime) -> None:
        name = self.function.name
        invocation_id = str(uuid.uuid4())
        status = {
            "Last": (self._last or fired_at).isoformat(),
            "Next": following.isoformat(),
            "LastUpdated": fired_at.isoformat(),
        }
        request = TimerRequest(
            past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True}
        )
        log.info(
            "Executing 'Functions.%s' (Reason='Timer fired at %s', Id=%s)",
            name,
            fired_at.isoformat(),
            invocation_id,
        )
        started = time.perf_counter()
        outcome = "Succeeded"
        try:
            self.function.invoke(request, invocation_id)
        except Exception:  # noqa: BLE001 - a failing timer must not kill its thread
            outcome = "Failed"
            log.exception("Executed 'Functions.%s' failed with an exception", name)
        millis = round((time.perf_counter() - started) * 1000)
        log.info("Executed 'Functions.%s' (%s, Duration=%dms)", name, outcome, millis)
        self._last = fired_at


# ------------------------------------------------------------------------------- http


def _json_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json; charset=utf-8"}, body


def _printable(text: str, limit: int = 300) -> str:
    # Request paths go into the log verbatim otherwise, control characters included.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without this, Nagle plus delayed ACK
    # stalls every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "DevHost"
    # Idle keep-alive connections must not hold handler threads forever.
    timeout = 120

    server: _Server

    def _dispatch(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        status = 500
        devhost = self.server.devhost
        devhost._request_started()
        try:
            status = devhost._serve(self)
        finally:
            millis = round((time.perf_counter() - started) * 1000)
            log.info("%s %s %d %dms", self.command, _printable(path), status, millis)
            devhost._request_finished()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # _dispatch logs each request without its query string (it can hold keys).
        pass

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        # The base class would echo the raw request line, query string included.
        code = args[0] if args and isinstance(args[0], int) else "?"
        log.warning("Rejected a malformed request (HTTP %s)", code)

    def read_body(self) -> bytes | None:
        """The request body, or None when it is over the limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def send(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    devhost: DevHost

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the client went away; nothing to tell anyone
        log.exception("Error while serving a request")


# ---------------------------------------------------------------------------- the host


def _load_app_module(app_dir: Path) -> Any:
    path = app_dir / "function_app.py"
    if not path.is_file():
        raise DevHostError(f"no function_app.py in {app_dir}")
    spec = importlib.util.spec_from_file_location("function_app", path)
    if spec is None or spec.loader is None:
        raise DevHostError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise DevHostError(f"importing function_app failed: {exc!r}") from exc
    return module


def _find_function_app(module: Any) -> func.FunctionApp:
    apps: dict[int, tuple[str, func.FunctionApp]] = {}
    for name, value in vars(module).items():
        if isinstance(value, func.FunctionApp):
            apps.setdefault(id(value), (name, value))
    if not apps:
        raise DevHostError("function_app.py defines no module-level azure.functions.FunctionApp")
    if len(apps) > 1:
        names = ", ".join(sorted(name for name, _ in apps.values()))
        raise DevHostError(
            f"function_app.py defines several FunctionApp instances ({names}); the host needs one"
        )
    return next(iter(apps.values()))[1]


class DevHost:
    """Serve a Functions app's HTTP functions and fire its timers, in this process.

    ``start()`` reads settings into ``os.environ`` (keeping what is set), imports the
    app, binds the port and starts the timers; ``stop()`` waits for running timer
    invocations (up to 10 s), closes the server and takes back the process-wide
    changes ``start()`` made (added environment variables, the ``sys.path`` entry, the
    ``function_app`` module), so tests can run several hosts one after another.
    """

    def __init__(
        self,
        app_dir: str | os.PathLike[str] = ".",
        host: str = DEFAULT_HOST,
        port: int | None = None,
        timers: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.host = host
        self.requested_port = port
        self.timers_enabled = timers
        self.settings: Settings | None = None
        self.route_prefix = DEFAULT_ROUTE_PREFIX
        self.routes: list[_HttpRoute] = []
        self.timers: dict[str, str] = {}  # function name -> resolved schedule
        self.other_functions: dict[str, str] = {}  # function name -> trigger type
        self._functions: list[_Function] = []
        self._timer_specs: list[tuple[_Function, str, bool]] = []
        self._runners: list[TimerRunner] = []
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._server_thread: threading.Thread | None = None
        self._async_loop = _AsyncLoop()
        self._added_env: list[str] = []
        self._added_sys_path: str | None = None
        self._saved_module: Any = None
        self._module_swapped = False
        self._started = False
        self._used = False
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition()

    # -- public surface

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the dev host is not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/api`` (the route prefix from host.json)."""
        return f"{self.root_url}/{self.route_prefix}" if self.route_prefix else self.root_url

    def start(self) -> DevHost:
        with self._lock:
            if self._started:
                return self
            if self._used:
                raise RuntimeError("a DevHost runs once; create a new one to start again")
            self._used = True
            try:
                self._prepare()
                self._bind()
            except BaseException:
                self._undo_process_changes()
                raise
            self._started = True
        assert self._server is not None
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            # The poll interval bounds how long stop() waits for the server loop.
            kwargs={"poll_interval": 0.1},
            name="devhost-http",
            daemon=True,
        )
        self._server_thread.start()
        if self.timers_enabled:
            for function, schedule, on_startup in self._timer_specs:
                runner = TimerRunner(
                    function, schedule, run_on_startup=on_startup, stop_event=self._stop_event
                )
                self._runners.append(runner)
                runner.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        self._stop_event.set()
        deadline = time.monotonic() + timeout
        for runner in self._runners:
            runner.join(max(0.0, deadline - time.monotonic()))
            if runner.is_alive():
                log.warning(
                    "Functions.%s is still running after %.0fs; leaving it behind",
                    runner.function.name,
                    timeout,
                )
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            # Requests already being served get to finish within the same budget.
            with self._idle:
                self._idle.wait_for(
                    lambda: self._in_flight == 0, max(0.0, deadline - time.monotonic())
                )
        self._async_loop.close()
        self._undo_process_changes()

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def listing(self) -> list[str]:
        """The start-up function list, in the spirit of ``func start``."""
        lines = []
        for route in sorted(self.routes, key=lambda r: r.function.name):
            methods = ",".join(sorted(route.methods)) if route.methods is not None else "ALL"
            path = "/".join(p for p in (self.route_prefix, route.template.template.strip("/")) if p)
            lines.append(f"{route.function.name}: [{methods}] {self.root_url}/{path}")
        for name, schedule in sorted(self.timers.items()):
            state = "" if self.timers_enabled else " (timers disabled)"
            lines.append(f"{name}: timerTrigger, schedule '{schedule}' (UTC){state}")
        for name, kind in sorted(self.other_functions.items()):
            lines.append(f"{name}: {kind} (not run by the dev host)")
        return lines

    # -- start-up

    def _prepare(self) -> None:
        self.settings = load_settings(self.app_dir)
        if self.settings.path is not None:
            log.info("Using app settings from %s", self.settings.path.name)
        else:
            log.info("No %s or %s; using the environment only", SETTINGS_FILE, SAMPLE_SETTINGS_FILE)
        self._added_env = apply_settings(self.settings.values)
        self.route_prefix = read_route_prefix(self.app_dir)

        app_path = str(self.app_dir)
        if app_path not in sys.path:
            sys.path.insert(0, app_path)
            self._added_sys_path = app_path
        self._saved_module = sys.modules.get("function_app")
        self._module_swapped = True
        module = _load_app_module(self.app_dir)
        app = _find_function_app(module)
        try:
            indexed = app.get_functions()  # indexing twice raises: exactly once per app
        except Exception as exc:
            raise DevHostError(f"indexing the FunctionApp failed: {exc}") from exc

        for item in indexed:
            function = _Function.from_indexed(item, app_path, self._async_loop)
            self._functions.append(function)
            kind = getattr(function.trigger, "type", "?")
            if function.unsupported_inputs:
                log.warning(
                    "Functions.%s: input bindings %s are not supplied by the dev host",
                    function.name,
                    ", ".join(function.unsupported_inputs),
                )
            if kind == "httpTrigger":
                self.routes.append(
                    _HttpRoute(
                        function=function,
                        template=RouteTemplate(function.trigger.route or function.name),
                        methods=_method_names(function.trigger.methods),
                    )
                )
            elif kind == "timerTrigger":
                schedule = resolve_setting_tokens(
                    function.trigger.schedule, function_name=function.name
                )
                validate_schedule(schedule, function.name)
                self.timers[function.name] = schedule
                self._timer_specs.append(
                    (function, schedule, bool(function.trigger.run_on_startup))
                )
            else:
                self.other_functions[function.name] = kind
        # Stable sort: among equally specific templates the first defined wins.
        self.routes.sort(key=lambda r: r.template.precedence)

    def _bind(self) -> None:
        port = self.requested_port
        if port is None:
            port = (self.settings.local_http_port if self.settings else None) or DEFAULT_PORT
        try:
            server = _Server((self.host, port), _Handler)
        except OSError as exc:
            reason = exc.strerror or exc
            raise DevHostError(f"cannot listen on {self.host}:{port}: {reason}") from exc
        server.devhost = self
        self._server = server

    def _undo_process_changes(self) -> None:
        for key in self._added_env:
            os.environ.pop(key, None)
        self._added_env = []
        if self._added_sys_path is not None:
            try:
                sys.path.remove(self._added_sys_path)
            except ValueError:
                pass
            self._added_sys_path = None
        if self._module_swapped:
            if self._saved_module is None:
                sys.modules.pop("function_app", None)
            else:
                sys.modules["function_app"] = self._saved_module
            self._module_swapped = False
            self._saved_module = None

    # -- requests

    def _request_started(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _request_finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _serve(self, handler: _Handler) -> int:
        method = handler.command.upper()
        split = urlsplit(handler.path)
        segments = split_path(split.path)
        prefix = self.route_prefix.split("/") if self.route_prefix else []
        head = [decode_segment(s).casefold() for s in segments[: len(prefix)]]
        if head != [p.casefold() for p in prefix]:
            return self._reply_error(handler, 404, "NotFound", "No function matches this path.")
        segments = segments[len(prefix) :]

        allowed: set[str] = set()
        for route in self.routes:
            values = route.template.match(segments)
            if values is None:
                continue
            if not route.allows(method):
                allowed.update(route.methods or ())
                continue
            return self._invoke_http(handler, route, values, split.query)
        if allowed:
            status, headers, body = _json_error(
                405, "MethodNotAllowed", f"{method} is not allowed on this route."
            )
            headers["Allow"] = ", ".join(sorted(allowed))
            self._drain(handler)
            handler.send(status, headers.items(), body)
            return status
        return self._reply_error(handler, 404, "NotFound", "No function matches this path.")

    def _drain(self, handler: _Handler) -> None:
        # An unread body would be parsed as the next request on a kept-alive connection.
        try:
            if handler.read_body() is None:
                handler.close_connection = True
        except (ValueError, OSError):
            handler.close_connection = True

    def _reply_error(self, handler: _Handler, status: int, code: str, message: str) -> int:
        self._drain(handler)
        status, headers, body = _json_error(status, code, message)
        handler.send(status, headers.items(), body)
        return status

    def _invoke_http(
        self, handler: _Handler, route: _HttpRoute, route_values: dict[str, str], query: str
    ) -> int:
        try:
            body = handler.read_body()
        except (ValueError, OSError):
            handler.close_connection = True
            status, headers, payload = _json_error(400, "BadRequest", "Unreadable request body.")
            handler.send(status, headers.items(), payload)
            return status
        if body is None:
            handler.close_connection = True
            status, headers, payload = _json_error(
                413, "PayloadTooLarge", f"Request bodies are limited to {MAX_BODY_BYTES} bytes."
            )
            handler.send(status, headers.items(), payload)
            return status

        headers: dict[str, str] = {}
        for key, value in handler.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params.setdefault(key, value)
        host_header = handler.headers.get("Host") or f"{self.host}:{self.port}"
        request = func.HttpRequest(
            handler.command.upper(),
            f"http://{host_header}{handler.path}",
            headers=headers,
            params=params,
            route_params=route_values,
            body=body,
        )
        function = route.function
        invocation_id = str(uuid.uuid4())
        try:
            result = function.invoke(request, invocation_id)
            status, out_headers, payload = self._to_http(result)
        except Exception:  # noqa: BLE001 - the client sees a 500, the log sees why
            log.exception("Executed 'Functions.%s' (Failed, Id=%s)", function.name, invocation_id)
            status, err_headers, payload = _json_error(
                500, "InternalServerError", "The function failed; see the dev host log."
            )
            out_headers = list(err_headers.items())
        handler.send(status, out_headers, payload)
        return status

    @staticmethod
    def _to_http(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        if isinstance(result, str):
            result = func.HttpResponse(result)
        if not isinstance(result, func.HttpResponse):
            kind = type(result).__name__
            raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {kind}")
        headers = [(k, v) for k, v in result.headers.items() if k.lower() not in _HOP_BY_HOP]
        if not any(k.lower() == "content-type" for k, _ in headers):
            mimetype = result.mimetype
            # The Python worker adds the charset to text types only.
            content_type = mimetype
            if mimetype.startswith("text/"):
                content_type = f"{mimetype}; charset={result.charset}"
            headers.append(("Content-Type", content_type))
        return int(result.status_code), headers, result.get_body() or b""


# -------------------------------------------------------------------------------- cli


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.devhost",
        description="Serve an Azure Functions (Python v2) app locally: HTTP functions and timers.",
    )
    parser.add_argument("--app-dir", default=".", help="folder holding function_app.py")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument(
        "--port", type=int, default=None, help="default: Host.LocalHttpPort, else 7071"
    )
    parser.add_argument("--no-timers", action="store_true", help="serve HTTP only")
    args = parser.parse_args(argv)
    _configure_logging()

    shutdown = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        shutdown.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    host = DevHost(args.app_dir, host=args.host, port=args.port, timers=not args.no_timers)
    try:
        host.start()
    except DevHostError as exc:
        log.error("Dev host cannot start: %s", exc)
        return 1
    print("\nFunctions:\n", flush=True)
    for line in host.listing():
        print(f"    {line}", flush=True)
    print(f"\nDev host listening on {host.base_url}", flush=True)
    while not shutdown.wait(3600):
        pass
    log.info("Shutting down")
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
