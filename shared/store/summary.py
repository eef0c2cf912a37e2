"""A schedule's run summary: what its finished runs add up to, kept in a row of its own.

The run records stay the truth. The summary is derived from them by a listener
(shared.engine.summaries) and read by every listing of schedules, so that a page of
schedules shows each one's health without reading any run: it is stored beside the
schedule (same partition, its own row), never in the schedule's row, whose ETag guards
the tick's cursor moves. This module holds the records and their JSON form only; the
rules that fold a run in and judge health are in shared.summaries.

A list of schedules needs only what the health rules read (SummaryView): the row keeps it
in a column of its own beside the full summary, so a page of schedules reads and parses a
few hundred bytes per schedule instead of the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

UTC = timezone.utc


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class RunOutcome:
    """One finished run, as the summary remembers it. `late`: it finished after its deadline."""

    run_key: str
    slot: datetime
    status: str
    finished_at: datetime | None = None
    aml_run_id: str | None = None
    late: bool = False

    def to_doc(self) -> dict:
        return {"k": self.run_key, "s": _iso(self.slot), "st": self.status, "f": _iso(self.finished_at),
                "a": self.aml_run_id, "l": self.late}

    @classmethod
    def from_doc(cls, doc: dict) -> "RunOutcome":
        return cls(doc["k"], _time(doc["s"]), doc["st"], _time(doc.get("f")), doc.get("a"), bool(doc.get("l")))


@dataclass(frozen=True)
class LateRun:
    """A run past its deadline that has not finished (yet)."""

    run_key: str
    slot: datetime
    complete_by: datetime | None = None
    late_at: datetime | None = None

    def to_doc(self) -> dict:
        return {"k": self.run_key, "s": _iso(self.slot), "c": _iso(self.complete_by), "t": _iso(self.late_at)}

    @classmethod
    def from_doc(cls, doc: dict) -> "LateRun":
        return cls(doc["k"], _time(doc["s"]), _time(doc.get("c")), _time(doc.get("t")))


@dataclass(frozen=True)
class SummaryView:
    """What a schedule answer shows of its summary, and all the health rules need."""

    last_run: RunOutcome | None = None
    recent_runs: int = 0
    completed: int = 0
    failed_in_a_row: int = 0
    # A run is past its deadline and has not finished.
    late: bool = False

    def to_doc(self) -> dict:
        return {"last": self.last_run.to_doc() if self.last_run else None, "n": self.recent_runs, "ok": self.completed,
                "f": self.failed_in_a_row, "late": self.late}

    @classmethod
    def from_doc(cls, doc: dict) -> "SummaryView":
        last = doc.get("last")
        return cls(RunOutcome.from_doc(last) if last else None, int(doc.get("n", 0)), int(doc.get("ok", 0)),
                   int(doc.get("f", 0)), bool(doc.get("late")))


@dataclass
class ScheduleSummary:
    schedule_id: str
    # The last finished outcomes, newest slot first (a bounded window): recent[0] is the last run.
    recent: list[RunOutcome] = field(default_factory=list)
    # Finished runs in the failed group in a row, newest first; may reach past the window.
    failed_in_a_row: int = 0
    late: list[LateRun] = field(default_factory=list)
    etag: str | None = field(default=None, compare=False)

    @property
    def last_run(self) -> RunOutcome | None:
        return self.recent[0] if self.recent else None

    def view(self) -> SummaryView:
        return SummaryView(self.last_run, len(self.recent), sum(1 for o in self.recent if o.status == "Completed"),
                           self.failed_in_a_row, bool(self.late))

    def to_doc(self) -> dict:
        return {"v": 1, "recent": [o.to_doc() for o in self.recent], "failedInARow": self.failed_in_a_row,
                "late": [r.to_doc() for r in self.late]}

    @classmethod
    def from_doc(cls, schedule_id: str, doc: dict, etag: str | None = None) -> "ScheduleSummary":
        return cls(schedule_id, [RunOutcome.from_doc(o) for o in doc.get("recent", [])],
                   int(doc.get("failedInARow", 0)), [LateRun.from_doc(r) for r in doc.get("late", [])], etag)
