"""The stand-in for the Python worker's thread pool: its size, its limit, cancelling what waits."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from devtools.devhost.worker_pool import WorkerPool, worker_thread_count
from tests.devtools.devhost_support import wait_for


def test_thread_count_follows_the_setting_else_pythons_default():
    default = worker_thread_count({})
    assert 5 <= default <= 32
    assert worker_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    assert worker_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "0"}) == default
    assert worker_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "many"}) == default


def test_never_more_than_max_workers_at_once_and_pending_work_is_cancelled_on_shutdown():
    pool = WorkerPool(2)
    gate = threading.Event()
    lock = threading.Lock()
    running = []

    def work(number):
        with lock:
            running.append(number)
        gate.wait(30)
        return number

    futures = [pool.submit(work, n) for n in range(5)]
    assert wait_for(lambda: len(running) == 2, 10)
    pool.shutdown(wait=False, cancel_futures=True)
    assert pool.closed
    done, _ = concurrent.futures.wait(futures[2:], timeout=10)  # cancelled work wakes its waiters
    assert len(done) == 3 and all(f.cancelled() for f in futures[2:])
    gate.set()
    assert sorted(f.result(timeout=10) for f in futures[:2]) == sorted(running)
    with pytest.raises(RuntimeError):
        pool.submit(work, 9)


def test_threads_are_daemons_and_an_exception_reaches_the_future():
    pool = WorkerPool(1)

    def boom():
        raise ValueError("from the function")

    future = pool.submit(boom)
    with pytest.raises(ValueError, match="from the function"):
        future.result(timeout=10)
    assert all(thread.daemon for thread in pool._threads)
    pool.shutdown()
