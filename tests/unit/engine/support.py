"""Drives the engine over memory stores the way the platform would: the tick's and the poll's
queue messages are handed to `Engine.work` at once, as a worker would take them."""

from __future__ import annotations

import threading
from datetime import datetime

from shared.engine import Engine, PollReport, TickReport
from shared.queue import MemoryQueue
from tests.doubles.aml import RecordingAml


class Driven:
    """An Engine whose queue messages are worked as soon as they are sent."""

    def __init__(self, schedules, runs, aml, **options):
        self.queue = MemoryQueue()
        options.setdefault("elapsed", lambda: 0.0)  # no time passes inside a tick: exact times
        self.engine = Engine(schedules, runs, aml, self.queue, **options)

    def deliver(self, now: datetime) -> TickReport:
        report = TickReport()
        while True:
            messages = self.queue.take()
            if not messages:
                return report
            for message in messages:
                report.merge(self.engine.work(message, now))

    def dispatch(self, now: datetime) -> list:
        """Tick and dispatch its shards, no further: the slot messages they sent, not yet worked."""
        self.engine.tick(now)
        for shard_message in self.queue.take():
            self.engine.work(shard_message, now)
        return self.queue.take()

    def tick(self, now: datetime) -> TickReport:
        report = self.engine.tick(now)
        report.merge(self.deliver(now))
        return report

    def poll(self, now: datetime) -> PollReport:
        report = self.engine.poll(now)
        self.deliver(now)
        return report

    def __getattr__(self, name):
        return getattr(self.engine, name)


class GatedAml(RecordingAml):
    """An AML whose pipeline submits wait for `release`; `in_flight` is set once one has started."""

    def __init__(self):
        super().__init__()
        self.release, self.in_flight = threading.Event(), threading.Event()

    def submit_pipeline(self, pipeline_id, **kwargs):
        self.in_flight.set()
        self.release.wait(10)
        return super().submit_pipeline(pipeline_id, **kwargs)
