"""What bench/scale.py reads after a window: worker logs, request counts, CPU, percentiles.

The workers' logs are the dev host's (`[<UTC time>Z] <message>`); the app logs one line
per shard it dispatched and one per slot message it worked, after the work is done, so
their timestamps say when each was finished and their count says when all were.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

UTC = timezone.utc
_STAMP = r"^\[(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\] "
SHARD_LINE = re.compile(_STAMP + r"shard (?P<shard>shard_\d+) \(delivery \d+\): (?P<due>\d+) due schedule\(s\), "
                        r"(?P<claimed>\d+) slot\(s\) claimed, (?P<queued>\d+) queued")
SLOT_LINE = re.compile(_STAMP + r"slot message (?!warmup )\S+ \S+ \(delivery \d+\): (?P<submitted>\d+) submitted, "
                       r"(?P<failed>\d+) failed, (?P<taken>\d+) already taken")
WARMUP_LINE = re.compile(_STAMP + r"message for warmup ")
TROUBLE = re.compile(r"Traceback|failed with an exception|table storage failed|slot queue unavailable")


def _stamp(match: re.Match) -> float:
    return datetime.strptime(match["at"], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


@dataclass
class WorkerLog:
    """One worker's log, read on from where the last read stopped."""

    path: Path
    offset: int = 0
    shards: list[tuple[float, int]] = field(default_factory=list)  # (finished at, slots queued)
    slots: list[tuple[float, int]] = field(default_factory=list)  # (finished at, submitted)
    warmups: int = 0
    trouble: list[str] = field(default_factory=list)

    def read(self) -> None:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += complete
        for line in chunk[:complete].decode("utf-8", errors="replace").splitlines():
            if match := SLOT_LINE.match(line):
                self.slots.append((_stamp(match), int(match["submitted"])))
            elif match := SHARD_LINE.match(line):
                self.shards.append((_stamp(match), int(match["queued"])))
            elif WARMUP_LINE.match(line):
                self.warmups += 1
            elif TROUBLE.search(line):
                self.trouble.append(line[:300])

    def forget(self) -> None:
        """Start counting afresh (after the warm-up)."""
        self.read()
        self.shards, self.slots, self.trouble = [], [], []


def wait_for_work(logs: list[WorkerLog], shard_messages: int, deadline: float) -> bool:
    """Until every shard message was dispatched and every slot it queued was worked."""
    while time.monotonic() < deadline:
        for log in logs:
            log.read()
        shards = [s for log in logs for s in log.shards]
        queued = sum(n for _, n in shards)
        worked = sum(len(log.slots) for log in logs)
        if len(shards) >= shard_messages and worked >= queued:
            return True
        time.sleep(0.05)
    return False


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy, all cores (from /proc/stat), for the share others used."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Snapshot:
    """CPU by role, request counts, the machine's busy time, at one moment."""

    at: float
    cpu: dict[str, float]
    requests: dict[str, int]  # `sent:<port>`, `failed:<port>`
    machine: float


def delta(after: dict, before: dict) -> dict:
    return {key: after.get(key, 0) - before.get(key, 0) for key in set(after) | set(before)}


def parse_rh_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def aml_requests_since(log: list[dict], since: float) -> dict[str, int]:
    """The emulator's request log from `since` on, by kind of request."""
    kinds: dict[str, int] = {}
    for entry in log:
        if parse_rh_time(entry["time"]) < since:
            continue
        path, method = entry["path"], entry["method"]
        if "PipelineSubmit" in path or "PipelineEndpointSubmit" in path:
            kind = "submit"
        elif path.endswith("runs:query"):
            kind = "run query"
        elif method == "GET" and "/runs/" in path:
            kind = "get run"
        else:
            kind = f"{method} other"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds
