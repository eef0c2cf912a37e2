"""Time inside one tick or poll, and how long a claim is owned.

A tick is handed one logical `now` (the timer's time, or a test's), but its work takes
real time: a lease computed from the tick's start would expire early for claims made
late in a long tick, and a second tick could take them over while they are in flight.
`WorkClock` adds the real time elapsed since the tick began to its logical `now`, so
tests stay deterministic (nothing elapses) and production leases run from the moment
each claim is made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

# How long AML may take to act on a request it received beyond our own timeout, plus
# how long run history may lag before a created run shows in runs:query. Not measured
# by Microsoft in public; two minutes is well above what the AML SDK itself waits for
# run history after a submit. See docs/scheduling.md, "What exactly once means".
AML_SETTLE_ALLOWANCE = timedelta(minutes=2)
LEASE_MARGIN = timedelta(seconds=30)


class WorkClock:
    """The logical start time of a tick plus the real (monotonic) time spent since."""

    def __init__(self, start: datetime, elapsed: Callable[[], float] = time.monotonic):
        self.start = start  # what the tick plans with: the slots owed as of this instant
        self._elapsed = elapsed
        self._t0 = elapsed()

    def now(self) -> datetime:
        """The current time: what claims, leases and outcomes are stamped with."""
        return self.start + timedelta(seconds=self._elapsed() - self._t0)


@dataclass(frozen=True)
class LeasePolicy:
    """How long a claim is owned, derived from what one submit can cost.

    * `submit_budget`: the longest one submit call can take through the transport,
      retries included;
    * `settle`: after our last byte went out, how long until AML has acted on it and run
      history shows the run (our read timeout plus AML_SETTLE_ALLOWANCE);
    * an attempt starts only with at least `submit_budget + settle` of lease left, so by
      the time the lease runs out any run it started is visible to the run-key lookup
      that the next owner does first.
    """

    submit_budget: timedelta = timedelta(minutes=5)
    settle: timedelta = timedelta(seconds=30) + AML_SETTLE_ALLOWANCE

    @property
    def lease(self) -> timedelta:
        return self.submit_budget + self.settle + LEASE_MARGIN

    @property
    def needed_to_start(self) -> timedelta:
        return self.submit_budget + self.settle

    @classmethod
    def for_transport(cls, *, read_timeout_seconds: float, worst_case_seconds: float) -> "LeasePolicy":
        return cls(submit_budget=timedelta(seconds=worst_case_seconds),
                   settle=timedelta(seconds=read_timeout_seconds) + AML_SETTLE_ALLOWANCE)


DEFAULT_LEASES = LeasePolicy()
