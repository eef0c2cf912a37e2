"""Structured fields on the engine's per-slot log lines, for queries in Application Insights.

The Functions host's own logging forwards a line's message and level, not the fields of
`extra` (azure-functions-python-worker issues 694, 788, 1327). They reach customDimensions
when the app logs through OpenTelemetry (the worker's PYTHON_ENABLE_OPENTELEMETRY route with
azure-monitor-opentelemetry): every `extra` key with a plain value becomes one dimension.
OpenCensus' AzureLogHandler reads the same fields from `extra["custom_dimensions"]`. Both are
given, with the same keys, so a KQL query reads `customDimensions.scheduleId` either way.
Keys: scheduleId, runKey, amlRunId, status, targetKind, lagSeconds (slot to AML's acceptance).
"""

from __future__ import annotations

from datetime import datetime

from shared.store import RunRecord


def slot_fields(run: RunRecord, *, status: str | None = None, lag_from: datetime | None = None,
                **more: object) -> dict:
    """`extra` for a log line about `run`: each field flat, and all of them as custom_dimensions.
    `lag_from`: the instant AML accepted the run (lagSeconds is measured from the slot)."""
    fields = {"scheduleId": run.schedule_id, "runKey": run.run_key, "amlRunId": run.aml_run_id,
              "status": status or run.status, "targetKind": run.target_kind or "pipeline",
              "lagSeconds": round((lag_from - run.slot).total_seconds(), 3) if lag_from else None, **more}
    # OpenTelemetry drops (with a warning) attributes whose value is None.
    fields = {key: value for key, value in fields.items() if value is not None}
    return {"custom_dimensions": dict(fields), **fields}
