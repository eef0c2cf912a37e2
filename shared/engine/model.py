"""What the engine reports, the errors it raises to its callers, and the tags it puts on AML runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.aml.client import RunState, SubmittedRun

UTC = timezone.utc
RUN_KEY_TAG = "scheduler_run_key"
ATTEMPT_TAG = "scheduler_attempt"
BACKFILL = "backfill"
# A backfilled or retried slot held back by a Forbid policy looks again this much later.
WAIT_FOR_ACTIVE = timedelta(seconds=30)
PRUNE_BATCH = 200
# Schedules whose history the poll prunes per cycle, round-robin over all of them.
PRUNE_SCHEDULES_PER_POLL = 50
MAX_BACKFILL_SLOTS = 500
# A run AML cannot find this long after submission is treated as lost, not as lag.
LOST_RUN_AFTER = timedelta(minutes=15)
# AML run statuses folded into the record's coarser lifecycle.
_STATUS_FROM_AML = {
    "NotStarted": "Queued", "Starting": "Queued", "Provisioning": "Queued", "Preparing": "Queued",
    "Queued": "Queued", "Running": "Running", "Finalizing": "Running", "CancelRequested": "Running",
    "NotResponding": "Running", "Paused": "Running", "Unknown": "Running",
    "Completed": "Completed", "Failed": "Failed", "Canceled": "Canceled", "Cancelled": "Canceled",
}


def status_from_aml(aml_status: str) -> str:
    return _STATUS_FROM_AML.get(aml_status, "Running")


class AmlPort(Protocol):
    def submit_pipeline(self, pipeline_id: str, **kwargs) -> "SubmittedRun": ...
    def submit_pipeline_endpoint(self, endpoint_id: str, **kwargs) -> "SubmittedRun": ...
    def get_run(self, experiment_name: str, run_id: str) -> "RunState": ...
    def cancel_run(self, experiment_name: str, run_id: str) -> None: ...
    def find_runs_by_tags(self, experiment_name: str, tags: dict, *, top: int = 10) -> list["RunState"]: ...
    def portal_url(self, run_id: str) -> str: ...
    # AML v2 (kinds.py says which kind uses what)
    def compute_id(self, name: str) -> str: ...
    def submit_job(self, name: str, properties: dict, *, tag: str, value: str) -> "RunState": ...
    def find_job(self, name: str) -> "RunState | None": ...
    def get_job(self, name: str) -> "RunState": ...
    def cancel_job(self, name: str) -> None: ...
    def invoke_batch(self, endpoint: str, inputs: dict, outputs: dict, *, deployment: str | None,
                     experiment_name: str | None, tags: dict, repeatability_id: str) -> "RunState": ...


class ConcurrencyConflict(Exception):
    """A manual run was refused because the schedule's Forbid policy has a run active."""


class BackfillError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Mergeable:
    def merge(self, other: "_Mergeable") -> None:
        """Add another report's counts (each worker thread keeps its own, merged at the end)."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class TickReport(_Mergeable):
    schedules: int = 0
    claimed: list[str] = field(default_factory=list)
    enqueued: int = 0
    queue_failures: int = 0
    submitted: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    waiting: int = 0
    lost_races: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class PollReport(_Mergeable):
    schedules: int = 0
    checked: int = 0
    changed: int = 0
    finished: int = 0
    timed_out: int = 0
    retrying: int = 0
    requeued: int = 0
    attempted_inline: int = 0
    pruned: int = 0
    # Audit entries older than the retention period, deleted in the same round as run records.
    audit_pruned: int = 0
    # Runs found past their deadline (policy.sla) unfinished this poll: each is told once.
    late: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BackfillResult:
    queued: list[str]
    existing: list[str]


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
