"""The alert queue's message and the webhook body: what Teams and Slack incoming webhooks both take."""

import json

import pytest

from shared.alerts.message import AlertMessage, InvalidAlertMessage

FAILED = AlertMessage(
    kind="failed", schedule_id="nightly", incident_id="nightly-20261122T023000000", at="2026-11-22T02:41:00Z",
    opened_at="2026-11-22T02:41:00Z", cause="failed", run_key="nightly_20261122T023000Z",
    slot="2026-11-22T02:30:00Z", status="Failed", target_kind="job", aml_run_id="nightly_20261122T023000Z",
    portal_url="https://ml.azure.com/runs/nightly_20261122T023000Z?wsid=/subscriptions/x",
    error_code="UserError", error_message="score.py: <no orders> for " + "x" * 400)


def test_the_body_is_one_text_field_with_title_and_details():
    body = FAILED.webhook_body()
    assert set(body) == {"text"}
    lines = body["text"].split("\n")
    assert lines[0].endswith("Schedule nightly: a run failed")
    assert "Status: Failed" in lines and "Slot: 2026-11-22T02:30:00Z" in lines
    assert "Run key: nightly_20261122T023000Z" in lines
    assert any(line.startswith("AML run: nightly_20261122T023000Z (https://ml.azure.com/runs/") for line in lines)
    assert lines[-1] == "Incident nightly-20261122T023000000, opened 2026-11-22T02:41:00Z"
    assert not any(line.startswith("Console:") for line in lines), "no console link without a public base URL"


def test_the_error_is_trimmed_and_slack_control_characters_escaped():
    error = next(line for line in FAILED.webhook_body()["text"].split("\n") if line.startswith("Error:"))
    assert error.startswith("Error: UserError: score.py: &lt;no orders&gt; for xxx")
    assert len(error) < 330 and error.endswith("\u2026")


def test_a_recovery_says_what_it_ends():
    recovered = AlertMessage("recovered", "nightly", "nightly-1", "2026-11-22T03:00:00Z", "2026-11-22T02:41:00Z",
                             "failed", run_key="nightly_20261122T030000Z", status="Completed")
    text = recovered.webhook_body(console_url="https://scheduler.example.com/api/console")["text"]
    assert text.split("\n")[0].endswith("Schedule nightly recovered")
    assert "Incident nightly-1: failed since 2026-11-22T02:41:00Z, closed 2026-11-22T03:00:00Z" in text
    assert text.endswith("Console: https://scheduler.example.com/api/console")


def test_a_message_survives_the_queue_and_carries_no_webhook():
    text = FAILED.encode()
    assert AlertMessage.decode(text.encode()) == FAILED
    doc = json.loads(text)
    assert doc["v"] == 1 and doc["scheduleId"] == "nightly" and "webhook" not in text.lower()


@pytest.mark.parametrize("text", [
    "not json", "[]", json.dumps({"v": 2, "kind": "failed"}),
    json.dumps({"v": 1, "kind": "exploded", "scheduleId": "s"}),
    json.dumps({"v": 1, "kind": "failed", "scheduleId": "Bad/Id", "incidentId": "i", "at": "t", "openedAt": "t",
                "cause": "failed"}),
    json.dumps({"v": 1, "kind": "failed", "scheduleId": "s", "incidentId": "i", "at": "t", "openedAt": "t"}),
    json.dumps({"v": 1, "kind": "failed", "scheduleId": "s", "incidentId": 7, "at": "t", "openedAt": "t",
                "cause": "failed"}),
    "x" * 9000,
])
def test_anything_else_on_the_queue_is_refused(text):
    with pytest.raises(InvalidAlertMessage):
        AlertMessage.decode(text)
