"""What a queue worker does, for integration tests that drive the engine themselves:
take the slot messages from the runtime's real queue (Azurite) and work each one."""

from __future__ import annotations

from datetime import datetime

from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from shared.engine import TickReport
from shared.queue import decode_message


def slot_queue(runtime) -> QueueClient:
    settings = runtime.settings
    return QueueClient.from_connection_string(settings.queues_connection_string, settings.slot_queue,
                                              message_decode_policy=TextBase64DecodePolicy())


def drain(runtime, now: datetime, engine=None) -> TickReport:
    """Work every message on the slot queue (and those the work sends) at `now`."""
    engine = engine or runtime.engine
    queue = slot_queue(runtime)
    report = TickReport()
    while True:
        messages = list(queue.receive_messages(messages_per_page=32, visibility_timeout=60, max_messages=32))
        if not messages:
            return report
        for message in messages:
            report.merge(engine.work(decode_message(message.content), now))
            queue.delete_message(message)


class Driven:
    """An engine on the runtime's real stores and queue whose messages are worked right away;
    `still=True` stops time inside each call, so expected times are exact."""

    def __init__(self, runtime, *, still: bool = True, **options):
        from shared.engine import Engine

        if still:
            options.setdefault("elapsed", lambda: 0.0)
        options.setdefault("leases", runtime.engine.leases)
        self.runtime = runtime
        self.engine = Engine(options.pop("schedules", runtime.schedules), options.pop("runs", runtime.runs),
                             options.pop("aml", runtime.aml), runtime.queue, **options)

    def tick(self, now: datetime) -> TickReport:
        report = self.engine.tick(now)
        report.merge(drain(self.runtime, now, self.engine))
        return report

    def poll(self, now: datetime):
        report = self.engine.poll(now)
        drain(self.runtime, now, self.engine)
        return report

    def __getattr__(self, name):
        return getattr(self.engine, name)
