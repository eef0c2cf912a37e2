"""What the store contract tests share: the records they write."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.audit import AuditEntry

UTC = timezone.utc
T0 = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
PIPELINE = "11111111-2222-3333-4444-555555555555"


ALICE = {"id": "8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", "name": "alice@contoso.com"}


def audit(schedule_id="s1", action="update", at=T0, **extra):
    return AuditEntry(schedule_id, at, action, ALICE, **extra)


def history(schedules, schedule_id="s1"):
    return [(e.action, e.at) for e in schedules.audit_page(schedule_id).items]


def schedule(schedule_id="s1", enabled=True, next_fire=T0):
    definition = parse_schedule({"id": schedule_id, "enabled": enabled, "trigger": {"cron": "* * * * *"},
                                 "target": {"kind": "pipeline", "pipelineId": PIPELINE, "experimentName": "e"}})
    return ScheduleRecord(definition, next_fire, None, T0, T0)
