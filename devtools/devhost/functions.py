"""The app's functions: importing ``function_app``, indexing its ``FunctionApp``, calling them.

Every trigger kind (HTTP, timers, and whatever comes next) invokes a function through
``AppFunction.invoke``, so bindings, the ``context`` argument and ``async def`` handling
behave the same whatever fired the invocation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import BindingDirection

from devtools.devhost.errors import DevHostError


class DiscardingOutput(func.Out):
    """Stands in for output bindings the dev host does not emulate."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class InvocationContext(func.Context):
    """The ``context`` argument a function may declare, as the Python worker fills it."""

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


class AsyncLoop:
    """One event loop thread for ``async def`` functions, like the Python worker's.

    The lock guards only the loop's creation; invocations run concurrently on the loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Any) -> Any:
        return self.submit(coro).result()

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Schedule ``coro`` on the loop without waiting for it."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="devhost-asyncio", daemon=True
                )
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()


@dataclass
class AppFunction:
    """One indexed function: its trigger, its bindings and how to call it."""

    name: str
    trigger: Any
    user_function: Callable[..., Any]
    directory: str
    bindings: list[Any]
    async_loop: AsyncLoop
    accepts_context: bool = False
    http_output: str | None = None
    sinks: tuple[str, ...] = ()
    unsupported_inputs: tuple[str, ...] = ()

    @property
    def trigger_type(self) -> str:
        return str(getattr(self.trigger, "type", "?"))

    @classmethod
    def from_indexed(cls, indexed: Any, directory: str, async_loop: AsyncLoop) -> AppFunction:
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

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    def invoke(self, trigger_value: Any, invocation_id: str) -> Any:
        """Call the user function; for HTTP, return what its HTTP output received."""
        kwargs, sinks = self._arguments(trigger_value, invocation_id)
        result = self.user_function(**kwargs)
        if inspect.isawaitable(result):
            result = self.async_loop.run(_await(result))
        if self.http_output and self.http_output != "$return":
            return sinks[self.http_output].get()
        return result

    def submit(
        self, trigger_value: Any, invocation_id: str, sync_pool: concurrent.futures.Executor
    ) -> concurrent.futures.Future[Any]:
        """Start an invocation the way the Python worker schedules one; return at once.

        ``async def`` functions go to the event loop (they take no pool thread), sync
        ones to ``sync_pool``, the stand-in for the worker's thread pool.
        """
        if self.is_async:
            kwargs, _ = self._arguments(trigger_value, invocation_id)
            return self.async_loop.submit(_await(self.user_function(**kwargs)))
        return sync_pool.submit(self.invoke, trigger_value, invocation_id)

    def _arguments(
        self, trigger_value: Any, invocation_id: str
    ) -> tuple[dict[str, Any], dict[str, DiscardingOutput]]:
        kwargs: dict[str, Any] = {self.trigger.name: trigger_value}
        sinks = {name: DiscardingOutput() for name in self.sinks}
        kwargs.update(sinks)
        if self.accepts_context:
            kwargs["context"] = InvocationContext(invocation_id, self.name, self.directory)
        return kwargs, sinks


async def _await(awaitable: Any) -> Any:
    return await awaitable


def index_app(app_dir: Path, async_loop: AsyncLoop) -> list[AppFunction]:
    """Import ``function_app`` from ``app_dir`` and index its one ``FunctionApp``.

    Leaves the module in ``sys.modules["function_app"]``; the caller restores what was
    there before when it stops.
    """
    app = _find_function_app(_load_app_module(app_dir))
    try:
        indexed = app.get_functions()  # indexing twice raises: exactly once per app
    except Exception as exc:
        raise DevHostError(f"indexing the FunctionApp failed: {exc}") from exc
    return [AppFunction.from_indexed(item, str(app_dir), async_loop) for item in indexed]


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
