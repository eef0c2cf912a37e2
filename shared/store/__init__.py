"""Schedule and run stores: records, the port contract, and its errors.

Contract (checked by tests/contract on the memory store and on Azurite):
* `create`/`claim` insert and raise AlreadyExists if the key is taken. Claiming a run
  record is how a tick takes a slot: exactly one caller wins.
* `replace` with a record carrying an etag succeeds only if the stored etag still
  matches (else PreconditionFailed); it returns the record with its new etag.
* Datetimes go in and come out tz-aware UTC, at millisecond precision.
* Runs of a schedule list newest slot first; continuation tokens are opaque strings and
  a malformed one raises InvalidContinuationToken (a ValueError).
* `claim_many(runs)` claims several at once (each result the stored run or the error for
  it); `in_flight(schedule_id)` and `all_in_flight()` return pending and active records
  from an index, never by scanning history; `older_than(schedule_id, cutoff)` returns a
  schedule's records whose slot is before the cutoff.
* The schedule store keeps a due index beside the records, in shards, one row per enabled
  schedule keyed by when it is due (`shared.store.keys.due_row_key`): `due_keys(horizon,
  shard, limit)` lists a shard's keys due by `horizon`, in order; `due(horizon, shard)`
  returns those schedules (read from the index, which may hold an entry too many, never
  one too few), only those keyed in (`after`, `through`] when given (a dispatch page);
  and `advance(records)` moves their cursors unless they changed since they were read.
* Audit entries (`shared.store.audit`): `create`, `replace` and `delete` take an optional
  `audit` entry written with the change or not at all; `append_audit` writes one alone
  (a run started by hand); `audit_page(schedule_id)` lists a schedule's entries newest
  first, also after the schedule is deleted; `prune_audit(schedule_id, cutoff)` deletes
  up to `limit` entries from before the cutoff and says how many.
* Each schedule has a summary (shared.store.summary) in a row of its own: `create` starts it
  empty, `delete` removes it, `get_summary` reads it (None when none was written: schedules
  from before summaries), `put_summary` writes it (If-Match on its etag, an insert without
  one), and `list(summaries=True)` returns each record with its summary's view attached
  (SummaryView, None without a summary), read by key ranges beside the page, never one read
  per schedule.
* Runs that end are indexed by when they finished, with their final state, across all
  schedules: `list_finished` pages them newest first (status, from/to on finishedAt), and
  `prune_finished(cutoff)` removes entries of runs that finished before the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterator, Protocol, Sequence

from shared.schedules import ScheduleDefinition, iso
from shared.store.audit import AuditEntry
from shared.store.keys import finished_key
from shared.store.summary import LateRun, RunOutcome, ScheduleSummary, SummaryView  # noqa: F401 - re-exported

UTC = timezone.utc

ACTIVE_STATUSES = frozenset({"Submitted", "Queued", "Running"})
# Who holds a Claimed record whose message waits on the queue for any worker.
QUEUED = "queue"
# A Claimed record is work owned by a tick (until `next_attempt_at`, its lease) or waiting
# for its next attempt (a retry, a backfill queued behind a Forbid policy).
PENDING_STATUS = "Claimed"
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled", "SubmitFailed", "Skipped", "TimedOut"})
# Upper bound for slot keys' reverse ordering; far beyond any plausible slot (year 5138).
_REVERSE_EPOCH = 10**11


class StoreError(Exception):
    pass


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class PreconditionFailed(StoreError):
    """The record changed since it was read (ETag mismatch)."""


class InvalidContinuationToken(ValueError):
    """A continuation token that this app did not issue."""


class StoreUnavailable(StoreError):
    """The table service could not be reached or failed; nothing is known to be written."""


def to_ms(value: datetime) -> datetime:
    """tz-aware UTC rounded down to milliseconds, the precision tables keep."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: they would be read back as local time")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# Manual runs get their own key space: "run now" at 02:30:00 must not collide with, or
# be mistaken for, the scheduled 02:30:00 slot. Backfill shares the scheduled key space,
# which is what makes it idempotent with slots that already ran.
MANUAL = "manual"
_KEY_SUFFIX = {MANUAL: "-manual"}


def slot_key(slot: datetime, trigger: str = "schedule") -> str:
    """`20261122T013000Z`; a slot with milliseconds (only manual runs have them) adds `.123`."""
    utc = slot.astimezone(UTC)
    fraction = f".{utc.microsecond // 1000:03d}" if utc.microsecond // 1000 else ""
    return utc.strftime("%Y%m%dT%H%M%S") + fraction + "Z" + _KEY_SUFFIX.get(trigger, "")


def run_row_key(slot: datetime, trigger: str = "schedule") -> str:
    """Row key of a slot's run record: newest slot sorts first, slot readable after '_'."""
    seconds = int(slot.astimezone(UTC).timestamp())
    return f"{_REVERSE_EPOCH - seconds:011d}_{slot_key(slot, trigger)}"


def finished_index_key(run: "RunRecord") -> str:
    """Where a final run sits in the finished index: by when it finished, newest first. Records
    without finished_at (written before it was kept) fall back to their last update."""
    finished = run.finished_at or run.updated_at or run.claimed_at or run.slot
    return finished_key(to_ms(finished), f"{run.schedule_id}|{run_row_key(run.slot, run.trigger)}")


def run_key(schedule_id: str, slot: datetime, trigger: str = "schedule") -> str:
    """Names a slot's AML run (tag `scheduler_run_key`), so a crash can be reconciled."""
    return f"{schedule_id}_{slot_key(slot, trigger)}"


@dataclass
class ScheduleRecord:
    definition: ScheduleDefinition
    next_fire_time: datetime | None
    last_slot: datetime | None
    created_at: datetime
    updated_at: datetime
    etag: str | None = None
    # When the schedule was last re-enabled: owed slots before it were missed because the
    # schedule was disabled, which is what their Skipped records should say.
    resumed_at: datetime | None = None
    # Slots in a row that AML refused outright, and why the schedule was paused for it
    # (policy.pauseAfterFailures); cleared when the schedule is enabled again.
    failure_streak: int = 0
    paused_reason: str | None = None
    paused_at: datetime | None = None
    # Who created the schedule, and who last changed it, through the API: {id, name}.
    created_by: dict | None = None
    updated_by: dict | None = None
    # Where the store found the record (its due-index entry, for a cursor move); opaque.
    handle: Any = field(default=None, compare=False, repr=False)
    # What its run summary shows, when the store was asked for it (list(summaries=True)).
    summary: "SummaryView | None" = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.definition.id

    def to_api(self) -> dict:
        doc = self.definition.to_dict()
        # A webhook URL carries its token: the API shows it masked (a PUT of this document keeps it).
        doc["alerts"] = self.definition.alerts.to_api() if self.definition.alerts else None
        doc.update(nextFireTime=iso(self.next_fire_time), lastSlot=iso(self.last_slot),
                   createdAt=iso(self.created_at), updatedAt=iso(self.updated_at), etag=self.etag,
                   consecutiveFailures=self.failure_streak, pausedReason=self.paused_reason,
                   pausedAt=iso(self.paused_at), createdBy=self.created_by, updatedBy=self.updated_by)
        return doc


@dataclass
class RunRecord:
    schedule_id: str
    slot: datetime
    status: str
    trigger: str = "schedule"
    reason: str | None = None
    attempts: int = 0
    experiment_name: str | None = None
    aml_run_id: str | None = None
    aml_status: str | None = None
    portal_url: str | None = None
    claimed_at: datetime | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict | None = None
    skipped_count: int = 1
    last_skipped_slot: datetime | None = None
    next_attempt_at: datetime | None = None
    previous_aml_run_ids: list | None = None
    updated_at: datetime | None = None
    # When a queue worker took the slot, and who holds its lease: QUEUED (the claim waits
    # on the queue for any worker) or the process working on it.
    dequeued_at: datetime | None = None
    owner: str | None = None
    # The schedule's policy, copied at the claim, so the poll needs no schedule reads.
    run_timeout_minutes: int | None = None
    retry: dict | None = None
    # The target's kind when the slot was claimed: which AML API tracks its run (v2 jobs by
    # name on ARM, v1 runs in run history). None on records from before v2 targets: v1.
    target_kind: str | None = None
    # Who asked for a run started by hand (run now, backfill): {id, name}.
    requested_by: dict | None = None
    # The deadline (policy.sla, set at the claim) and when the poll found the run past it
    # unfinished (once per run: that is when run_late is told).
    complete_by: datetime | None = None
    late_at: datetime | None = None
    etag: str | None = field(default=None, compare=False)
    # The status as the store holds it (the store keeps its indexes from it); set by the store.
    stored_status: str | None = field(default=None, compare=False)

    @property
    def slot_key(self) -> str:
        return slot_key(self.slot, self.trigger)

    @property
    def run_key(self) -> str:
        return run_key(self.schedule_id, self.slot, self.trigger)

    @property
    def pending(self) -> bool:
        return self.status == PENDING_STATUS

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def evolve(self, **changes) -> "RunRecord":
        return replace(self, **changes)

    def to_api(self) -> dict:
        doc = {
            "scheduleId": self.schedule_id, "slot": iso(self.slot), "slotKey": self.slot_key,
            "runKey": self.run_key, "status": self.status, "reason": self.reason, "trigger": self.trigger,
            "attempts": self.attempts, "experimentName": self.experiment_name, "amlRunId": self.aml_run_id,
            "amlStatus": self.aml_status, "portalUrl": self.portal_url, "claimedAt": iso(self.claimed_at),
            "submittedAt": iso(self.submitted_at), "finishedAt": iso(self.finished_at),
            "error": ({"code": self.error_code, "message": self.error_message}
                      if self.error_code or self.error_message else None),
            "parameters": self.parameters,
            "nextAttemptAt": iso(self.next_attempt_at) if self.pending else None,
            "dequeuedAt": iso(self.dequeued_at), "completeBy": iso(self.complete_by), "lateAt": iso(self.late_at),
        }
        if self.target_kind in ("job", "batchEndpoint"):
            doc["targetKind"] = self.target_kind
            doc["amlJobName"] = self.aml_run_id
        if self.requested_by is not None:
            doc["requestedBy"] = self.requested_by
        if self.previous_aml_run_ids:
            doc["previousAmlRunIds"] = list(self.previous_aml_run_ids)
        if self.skipped_count > 1:
            doc["skippedCount"] = self.skipped_count
            doc["lastSkippedSlot"] = iso(self.last_skipped_slot)
        return doc


@dataclass(frozen=True)
class Page:
    items: Sequence
    continuation: str | None


# Status groups a run listing can ask for by one name.
STATUS_GROUPS = {
    "failed": frozenset({"Failed", "SubmitFailed", "TimedOut"}),
    "active": ACTIVE_STATUSES,
    "finished": TERMINAL_STATUSES,
}


def status_set(status: "str | frozenset[str] | None") -> frozenset[str] | None:
    """A listing's status filter as a set (one status, a group's name, or a set)."""
    if status is None:
        return None
    if isinstance(status, str):
        return STATUS_GROUPS.get(status, frozenset({status}))
    return frozenset(status)


class ScheduleStore(Protocol):
    def create(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord: ...
    def get(self, schedule_id: str) -> ScheduleRecord: ...
    def replace(self, record: ScheduleRecord, *, audit: AuditEntry | None = None) -> ScheduleRecord: ...
    def delete(self, schedule_id: str, *, etag: str | None = None, audit: AuditEntry | None = None) -> None: ...
    def list(self, *, limit: int = 50, continuation: str | None = None, summaries: bool = False) -> Page: ...
    def get_summary(self, schedule_id: str) -> ScheduleSummary | None: ...
    def put_summary(self, summary: ScheduleSummary) -> ScheduleSummary: ...
    def due_keys(self, horizon: datetime, shard: str, limit: int) -> list[str]: ...
    def due(self, horizon: datetime, shard: str | None = None, *, after: str | None = None,
            through: str | None = None) -> list[ScheduleRecord]: ...
    def advance(self, records: Sequence[ScheduleRecord]) -> dict[str, StoreError | None]: ...
    def history_page(self, position: str | None, limit: int) -> tuple[list[str], str | None]: ...
    def forget_history(self, schedule_id: str) -> None: ...
    def get_meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...
    def append_audit(self, entry: AuditEntry) -> None: ...
    def audit_page(self, schedule_id: str, *, limit: int = 50, continuation: str | None = None) -> Page: ...
    def prune_audit(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> int: ...


class RunStore(Protocol):
    def claim(self, run: RunRecord) -> RunRecord: ...
    def claim_many(self, runs: Sequence[RunRecord]) -> list["RunRecord | StoreError"]: ...
    def get(self, schedule_id: str, slot: datetime, trigger: str = "schedule") -> RunRecord: ...
    def replace(self, run: RunRecord) -> RunRecord: ...
    def delete(self, run: RunRecord) -> None: ...
    def list_runs(self, schedule_id: str, *, status: "str | frozenset[str] | None" = None, limit: int = 50,
                  continuation: str | None = None) -> Page: ...
    def in_flight(self, schedule_id: str) -> list[RunRecord]: ...
    def all_in_flight(self) -> Iterator[RunRecord]: ...
    def has_active(self, schedule_id: str) -> bool: ...
    def active_runs_of(self, schedule_id: str) -> list[RunRecord]: ...
    def older_than(self, schedule_id: str, cutoff: datetime, *, limit: int = 200) -> list[RunRecord]: ...
    def records_around(self, schedule_id: str, first: datetime, last: datetime) -> list[RunRecord]: ...
    def list_finished(self, *, status: "frozenset[str] | None" = None, start: datetime | None = None,
                      end: datetime | None = None, limit: int = 50, continuation: str | None = None) -> Page: ...
    def prune_finished(self, cutoff: datetime, *, limit: int = 100) -> int: ...


def encode_token(state: dict) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict:
    """Inverse of encode_token; ValueError for anything that is not one of our tokens."""
    import base64
    import binascii
    import json

    if not isinstance(token, str) or len(token) > 2048:
        raise InvalidContinuationToken("malformed continuation token")
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidContinuationToken("malformed continuation token") from None
    if not isinstance(state, dict):
        raise InvalidContinuationToken("malformed continuation token")
    return state
