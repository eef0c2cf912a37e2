"""The Python worker's thread pool for sync functions, as the dev host's queue triggers use it.

The worker runs every sync invocation on one thread pool. Its size is the app setting
``PYTHON_THREADPOOL_THREAD_COUNT``; unset (or not a whole number of at least 1), the
worker sets no limit of its own on Python 3.9 and later, so the pool gets Python's
default, ``min(32, CPUs + 4)`` (azure-functions-python-worker, dispatcher
``_get_sync_tp_max_workers``). Invocations beyond that wait for a free thread.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits,
so one hung function would keep the dev host's process alive after ``stop()``; the
threads here are daemons instead, and otherwise behave the same (created on demand up
to the limit, pending work cancellable on shutdown).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("devhost")

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def worker_thread_count(environ: Mapping[str, str] | None = None) -> int:
    """How many sync invocations the worker runs at once."""
    environ = os.environ if environ is None else environ
    raw = environ.get(THREAD_COUNT_SETTING, "").strip()
    if raw:
        try:
            count = int(raw)
        except ValueError:
            log.warning("%s must be an integer; using the default", THREAD_COUNT_SETTING)
        else:
            if count >= 1:
                return count
            log.warning("%s must be at least 1; using the default", THREAD_COUNT_SETTING)
    return min(32, (os.cpu_count() or 1) + 4)


_Work = tuple[concurrent.futures.Future, Callable[..., Any], tuple, dict]


class WorkerPool(concurrent.futures.Executor):
    """A fixed-size pool of daemon threads running submitted calls in order of submission."""

    def __init__(self, max_workers: int, name: str = "devhost-worker") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._name = name
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Counts threads waiting for work, so a submission starts a thread only when none is idle.
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once ``shutdown`` began: no new work is taken, pending work may be cancelled."""
        with self._lock:
            return self._closed

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            future: concurrent.futures.Future = concurrent.futures.Future()
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - the caller reads it from the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not None and item[0].cancel():
                    # cancel() alone does not wake concurrent.futures.wait(); this does.
                    item[0].set_running_or_notify_cancel()
        for _ in threads:
            self._work.put(None)
        if wait:
            for thread in threads:
                thread.join()
