"""The seam for triggers other than HTTP: each kind runs its own functions in the background.

HTTP functions are served by the request pipeline; every other trigger type the dev
host supports is a ``TriggerKind``. Timers are one (``timers.TimerTriggers``), queues
another (``queues.QueueTriggers``: it resolves its connection setting in ``add``, starts
one poller per function and a worker pool in ``start``, and drains them in ``stop``).
Adding a kind to ``DevHost.trigger_kinds`` is all the wiring it needs.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar

from devtools.devhost.functions import AppFunction


class TriggerKind(ABC):
    """Runs every function of one trigger type (the binding's ``type``, e.g. ``timerTrigger``).

    The lifecycle is fixed by ``DevHost``: ``add`` for each indexed function of this type
    during start-up (raise ``DevHostError`` for anything the real host would refuse to
    index), then ``start`` once if the kind is enabled, then ``stop`` once.
    """

    trigger_type: ClassVar[str]

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    @abstractmethod
    def add(self, function: AppFunction) -> None:
        """Take on one function at start-up, validating its trigger's configuration."""

    @abstractmethod
    def listing(self) -> list[str]:
        """Lines for the start-up function list, one per function."""

    @abstractmethod
    def start(self, stop_event: threading.Event) -> None:
        """Begin running the functions; return at once. ``stop_event`` is set on stop."""

    @abstractmethod
    def stop(self, deadline: float) -> None:
        """Wait for running invocations until ``deadline`` (``time.monotonic()``), then return.

        ``stop_event`` is already set when this is called.
        """
