"""Structured fields on the engine's per-slot log lines, for queries in Application Insights.

The Functions host's own logging forwards a line's message and level, not the fields of
`extra` (azure-functions-python-worker issues 694, 788, 1327). They reach customDimensions
when the app logs through OpenTelemetry (the worker's PYTHON_ENABLE_OPENTELEMETRY route with
azure-monitor-opentelemetry): every `extra` key with a plain value becomes one dimension.
OpenCensus' AzureLogHandler reads the same fields from `extra["custom_dimensions"]`. Both are
given, with the same keys, so a KQL query reads `customDimensions.scheduleId` either way.
Keys: scheduleId, runKey, amlRunId, status, targetKind, lagSeconds (slot to AML's acceptance).

Because the host's own logging keeps only the message, the same fields also end the
message, as ` slot={json}` (added by a filter on the engine's logger): the README's KQL
parses that, so the queries work without OpenTelemetry. Nothing secret is among them.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from shared.store import RunRecord

MESSAGE_MARK = " slot="


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


class FieldsInMessage(logging.Filter):
    """Appends a line's slot fields to its message, once, as ` slot={json}`."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "custom_dimensions", None)
        if isinstance(fields, dict) and fields and not getattr(record, "slot_fields_in_message", False):
            record.msg = record.getMessage() + MESSAGE_MARK + json.dumps(fields, separators=(",", ":"), default=str)
            record.args = ()
            record.slot_fields_in_message = True
        return True


def install(logger: logging.Logger) -> None:
    if not any(isinstance(f, FieldsInMessage) for f in logger.filters):
        logger.addFilter(FieldsInMessage())


install(logging.getLogger("shared.engine"))
