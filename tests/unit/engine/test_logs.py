"""The engine's per-slot log lines carry their fields twice: as `extra` (for OpenTelemetry) and at
the end of the message (for the host's own logging, which keeps only the message)."""

import json
import logging
from datetime import timedelta

from shared.aml.errors import AmlNotFoundError
from shared.engine.logs import MESSAGE_MARK
from tests.unit.engine.test_v2_targets import BATCH, JOB, T0, make


def slot_lines(caplog):
    return [(r, json.loads(r.getMessage().rsplit(MESSAGE_MARK, 1)[1]))
            for r in caplog.records if MESSAGE_MARK in r.getMessage()]


def test_a_submitted_slot_logs_its_ids_and_lag_in_the_message_and_in_extra(caplog):
    caplog.set_level(logging.INFO, logger="shared.engine")
    engine, _, runs, _ = make(JOB)
    engine.tick(T0 + timedelta(seconds=3))
    run = runs.get("s1", T0)
    [(record, fields)] = [(r, f) for r, f in slot_lines(caplog) if f["status"] == "Submitted"]
    assert fields == {"scheduleId": "s1", "runKey": run.run_key, "amlRunId": run.aml_run_id, "status": "Submitted",
                      "targetKind": "job", "lagSeconds": 3.0}
    assert record.scheduleId == "s1" and record.custom_dimensions == fields
    assert record.getMessage().count(MESSAGE_MARK) == 1, "the fields are added once, however often it is formatted"


def test_a_refused_slot_logs_its_error_code(caplog):
    caplog.set_level(logging.INFO, logger="shared.engine")
    engine, _, _, aml = make(BATCH)
    aml.fail_with = AmlNotFoundError("Batch endpoint score-batch was not found.", status=404, code="UserError")
    engine.tick(T0 + timedelta(seconds=1))
    refused = [f for _, f in slot_lines(caplog) if f["status"] == "SubmitFailed"]
    assert refused and refused[-1]["errorCode"] == "UserError" and refused[-1]["targetKind"] == "batchEndpoint"
