"""What every HTTP function does around its handler: build the area's handlers once, answer errors in one envelope.

The blueprints in `shared.blueprints` declare routes; the handler classes in
`shared.api` serve them. Handlers are built on first use from the process runtime, so
importing a blueprint touches no Azure SDK (cold start on a consumption plan).
"""

from __future__ import annotations

import threading
import weakref
from typing import Callable, Generic, TypeVar

import azure.functions as func

from shared.api.http import handle

T = TypeVar("T")
_every_lazy: "weakref.WeakSet[LazyHandlers]" = weakref.WeakSet()


class LazyHandlers(Generic[T]):
    """An area's handler object, built by `factory` on the first call and kept for the process."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None
        _every_lazy.add(self)

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                # A ConfigError here leaves the slot empty, so the next request tries again
                # once the settings are fixed (no restart needed).
                self._value = self._factory()
            return self._value

    def forget(self) -> None:
        with self._lock:
            self._value = None


def forget_handlers() -> None:
    """Drop every built handler object (tests that rebuild the runtime with other settings)."""
    for lazy in list(_every_lazy):
        lazy.forget()


def respond(serve: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run one request's handler; every failure leaves as the API's error envelope."""
    return handle(serve)
