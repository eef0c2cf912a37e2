"""What the chaos suite verifies after each round, from the tables and from AML's own view.

* duplicates: a run key with more than one AML run (a slot submitted twice);
* orphans: an AML run carrying a run key whose record does not know it (AML ran a slot
  the history says did not run);
* holes: an owed slot (from the schedule's first slot to its cursor) with no record,
  its own or a skip summary's; doubles: a slot covered by two records;
* stuck: a record still pending (Claimed) or active after recovery.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.engine import RUN_KEY_TAG
from shared.scheduling.triggers import Trigger
from shared.store import RunRecord


@dataclass
class RoundSchedule:
    id: str
    first_slot: datetime
    trigger: Trigger
    deleted: bool = False


@dataclass
class Verdict:
    slots: int = 0
    fired: int = 0
    skipped: int = 0
    aml_runs: int = 0
    duplicates: int = 0
    orphans: int = 0
    holes: int = 0
    doubles: int = 0
    stuck: int = 0
    problems: list[str] = field(default_factory=list)


def all_records(runs, schedule_id: str) -> list[RunRecord]:
    records, token = [], None
    while True:
        page = runs.list_runs(schedule_id, limit=500, continuation=token)
        records.extend(page.items)
        token = page.continuation
        if not token:
            return records


def verify(runtime, schedules: list[RoundSchedule], aml_runs: list[dict]) -> Verdict:
    verdict = Verdict()
    ids = {s.id for s in schedules}
    mine = [r for r in aml_runs if r["tags"].get("scheduler_schedule_id") in ids]
    verdict.aml_runs = len(mine)
    per_key = Counter(r["tags"][RUN_KEY_TAG] for r in mine)
    for key, count in per_key.items():
        if count > 1:
            verdict.duplicates += 1
            verdict.problems.append(f"{key}: {count} AML runs")
    known_run_ids: set[str] = set()
    for schedule in schedules:
        records = all_records(runtime.runs, schedule.id)
        for record in records:
            known_run_ids.update(filter(None, [record.aml_run_id, *(record.previous_aml_run_ids or [])]))
            if record.pending or record.active:
                verdict.stuck += 1
                verdict.problems.append(f"{record.run_key}: still {record.status} ({record.reason})")
        _check_coverage(runtime, schedule, records, verdict)
    for run in mine:
        if run["runId"] not in known_run_ids:
            verdict.orphans += 1
            verdict.problems.append(f"{run['tags'][RUN_KEY_TAG]}: AML run {run['runId']} has no record")
    return verdict


def _check_coverage(runtime, schedule: RoundSchedule, records: list[RunRecord], verdict: Verdict) -> None:
    covered: Counter = Counter()
    for record in records:
        if record.trigger == "manual":
            continue
        slot = record.slot
        covered[slot] += 1
        for _ in range(record.skipped_count - 1):
            slot = schedule.trigger.next_after(slot)
            covered[slot] += 1
        if record.status == "Skipped":
            verdict.skipped += record.skipped_count
        else:
            verdict.fired += 1
    for slot, count in covered.items():
        if count > 1:
            verdict.doubles += 1
            verdict.problems.append(f"{schedule.id} {slot.isoformat()}: {count} records")
    if schedule.deleted:
        verdict.slots += len(covered)
        return
    cursor = runtime.schedules.get(schedule.id).next_fire_time
    owed = list(schedule.trigger.fire_times(schedule.first_slot - timedelta(microseconds=1), limit=100_000))
    owed = [s for s in owed if cursor is None or s < cursor]
    verdict.slots += len(owed)
    for slot in owed:
        if covered[slot] == 0:
            verdict.holes += 1
            verdict.problems.append(f"{schedule.id} {slot.isoformat()}: no record")
