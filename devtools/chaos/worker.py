"""A scheduler instance for the chaos suite: one process, killed and replaced at will.

Reads one JSON command per line on stdin and answers one line on stdout:
`{"op": "tick", "now": "<ISO-8601>"}` or `{"op": "poll", "now": ...}`. The time is the
harness's logical clock, which is how the suite jumps past leases and outages without
waiting for them. Settings come from the environment, as in a Functions worker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from datetime import datetime


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    from shared.runtime import build_runtime

    runtime = build_runtime()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        now = datetime.fromisoformat(command["now"])
        if command["op"] == "tick":
            report = runtime.engine.tick(now)
        elif command["op"] == "poll":
            report = runtime.engine.poll(now)
        else:
            break
        print(json.dumps({"ok": True, "report": dataclasses.asdict(report)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
