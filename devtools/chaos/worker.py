"""A scheduler instance for the chaos suite: one process, killed and replaced at will.

It is the app as the platform runs it: the dev host, in this process, runs the app's
queue-triggered workers on the slot queue (timers off), and the harness drives the tick
and the poll over stdin, one JSON command per line, answered with one line on stdout:

    {"op": "tick" | "poll", "now": "<ISO-8601>"}   run it at that time
    {"op": "busy", "now": ...}                      how many queue messages are being worked

The time is the harness's logical clock: each command also sets this process's clock
(the app's `runtime.clock`, which the queue workers use) to it, moving on in real time
from there. That is how the suite jumps past leases and outages without waiting for them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class OffsetClock:
    """Real time shifted to the harness's logical time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def set(self, logical_now: datetime) -> None:
        with self._lock:
            self._offset = logical_now - datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s %(message)s")
    from devtools.devhost import DevHost
    from devtools.stack import free_port
    from shared.runtime import get_runtime

    clock = OffsetClock()
    runtime = get_runtime()
    runtime.clock = clock
    host = DevHost(REPO_ROOT, port=free_port(), timers=False, queues=True).start()
    pollers = host.trigger_kinds["queueTrigger"].pollers
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        now = datetime.fromisoformat(command["now"])
        clock.set(now)
        if command["op"] == "tick":
            answer = dataclasses.asdict(runtime.engine.tick(now))
        elif command["op"] == "poll":
            answer = dataclasses.asdict(runtime.engine.poll(now))
        elif command["op"] == "busy":
            answer = {"busy": sum(p.in_flight() for p in pollers)}
        else:
            break
        print(json.dumps({"ok": True, "report": answer}), flush=True)
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
