"""Alerts through the dev host: a failing schedule posts one message per incident and one on recovery
to a webhook receiver on 127.0.0.1; a webhook off the allow-list is refused at save and never called;
a webhook that never answers holds up no slot, and its message arrives once it answers again.

The stack allows plain http to 127.0.0.1 (ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST=true, development
only) and no other host (ALERT_WEBHOOK_HOSTS is empty). Each receiver path holds a token that
stands for a webhook's secret: the log scan fails the run if any log holds it.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime

import pytest

from devtools.webhook_receiver import WebhookReceiver
from tests.conftest import register_secret
from tests.e2e.test_v2_scheduler_e2e import job_schedule

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def secret_path(name: str) -> str:
    return f"/hooks/{name}/{register_secret(secrets.token_urlsafe(24))}"


def with_alerts(schedule: dict, webhook: str, **alerts) -> dict:
    return {**schedule, "alerts": {"webhook": webhook, **alerts}}


def runs_of(api, schedule_id):
    code, body = api("GET", f"schedules/{schedule_id}/runs?limit=200")
    assert code == 200, body
    return body["value"]


def wait_for_runs(api, schedule_id, predicate, what, timeout=90):
    deadline = time.monotonic() + timeout
    runs = []
    while time.monotonic() < deadline:
        runs = runs_of(api, schedule_id)
        if predicate(runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"{schedule_id}: no {what} within {timeout}s; saw {[r['status'] for r in runs]}")


def texts(received):
    return [r.body["text"] for r in received]


def incident_of(text: str) -> str:
    return re.search(r"Incident (\S+?)[,:]", text).group(1)


def test_a_failing_schedule_sends_one_message_per_incident_and_one_on_recovery(api, emulator_admin, receiver):
    emulator_admin("PUT", "job-outcomes/e2e_alerts_fail",
                   {"status": "Failed", "error": {"code": "UserError", "message": "score.py: no orders"}})
    path = secret_path("fail")
    schedule = with_alerts(job_schedule("e2e-alerts-fail", "e2e_alerts_fail"), receiver.url(path))
    code, created = api("POST", "schedules", schedule)
    assert code == 201, created
    assert created["alerts"]["webhook"] == f"{receiver.url('')}/***"

    wait_for_runs(api, "e2e-alerts-fail", lambda runs: sum(r["status"] == "Failed" for r in runs) >= 3, "3 failures")
    (failed,) = receiver.wait_for(lambda got: len(got) >= 1)
    assert failed.path == path and failed.status == 200 and failed.content_type == "application/json"
    assert "Schedule e2e-alerts-fail: a run failed" in failed.body["text"]
    assert "Error: UserError: score.py: no orders" in failed.body["text"]

    emulator_admin("DELETE", "job-outcomes/e2e_alerts_fail")  # AML's jobs succeed again
    wait_for_runs(api, "e2e-alerts-fail", lambda runs: sum(r["status"] == "Completed" for r in runs) >= 1,
                  "completed run")
    received = receiver.wait_for(lambda got: len(got) >= 2)
    assert "Schedule e2e-alerts-fail recovered" in received[1].body["text"]
    assert incident_of(received[1].body["text"]) == incident_of(failed.body["text"])

    # More completed runs close nothing more.
    wait_for_runs(api, "e2e-alerts-fail", lambda runs: sum(r["status"] == "Completed" for r in runs) >= 4,
                  "4 completed runs")
    api("POST", "schedules/e2e-alerts-fail/disable")
    failures = sum(r["status"] == "Failed" for r in runs_of(api, "e2e-alerts-fail"))
    assert failures >= 3 and len(receiver.messages()) == 2, texts(receiver.messages())
    code, read = api("GET", "schedules/e2e-alerts-fail")
    assert code == 200 and path not in json.dumps(read)


@pytest.mark.parametrize("webhook, says", [
    ("https://hooks.slack.com/services/T0/B0/X", "ALERT_WEBHOOK_HOSTS is empty"),
    ("https://127.0.0.1:{port}/hook", "ALERT_WEBHOOK_HOSTS is empty"),
    ("http://127.0.0.2:{port}/hook", "must use https"),
    ("http://user:secret@127.0.0.1:{port}/hook", "credentials"),
])
def test_a_webhook_off_the_allow_list_is_refused_at_save_and_never_called(api, receiver, webhook, says):
    schedule = with_alerts(job_schedule("e2e-alerts-refused", "e2e_alerts_refused"),
                           webhook.format(port=receiver.port))
    code, body = api("POST", "schedules", schedule)
    assert code == 400, body
    assert body["error"]["details"][0]["field"] == "alerts.webhook" and says in body["error"]["message"]
    assert "secret" not in json.dumps(body)
    assert api("GET", "schedules/e2e-alerts-refused")[0] == 404
    assert receiver.messages() == []


def test_a_hanging_webhook_holds_up_no_slot_and_its_message_arrives_when_it_answers(api, emulator_admin, receiver):
    emulator_admin("PUT", "job-outcomes/e2e_alerts_hang",
                   {"status": "Failed", "error": {"code": "UserError", "message": "score.py: no orders"}})
    receiver.hang()
    path = secret_path("hang")
    code, created = api("POST", "schedules",
                        with_alerts(job_schedule("e2e-alerts-hang", "e2e_alerts_hang"), receiver.url(path)))
    assert code == 201, created
    (hung,) = receiver.wait_for(lambda got: len(got) >= 1)
    assert hung.status is None, "the receiver holds the POST without an answer"
    first_alerted = max(r["slot"] for r in runs_of(api, "e2e-alerts-hang"))

    # While the sender waits on the webhook (and then on the queue's retry), the tick and the
    # workers go on: every slot after the hang began is claimed and submitted to AML.
    runs = wait_for_runs(api, "e2e-alerts-hang",
                         lambda runs: sum(r["slot"] > first_alerted and r["amlRunId"] is not None for r in runs) >= 5,
                         "5 submitted slots after the webhook hung")
    later = sorted((r for r in runs if r["slot"] > first_alerted), key=lambda r: r["slot"])
    assert all(r["status"] != "Skipped" for r in later), [(r["slot"], r["status"], r["reason"]) for r in later]
    slots = [datetime.fromisoformat(r["slot"].replace("Z", "+00:00")) for r in later]
    assert all((b - a).total_seconds() == 2 for a, b in zip(slots, slots[1:])), "no slot was missed"
    assert all(r.status is None for r in receiver.messages()), "nothing was answered yet"

    # The webhook answers again: the queue's next delivery of the same message gets through, once.
    receiver.release()
    received = receiver.wait_for(lambda got: any(r.status == 200 for r in got), timeout=120)
    api("POST", "schedules/e2e-alerts-hang/disable")
    delivered = [r for r in received if r.status == 200]
    assert len(delivered) == 1 and {r.path for r in received} == {path}
    assert incident_of(delivered[0].body["text"]) == incident_of(hung.body["text"])
    assert "Schedule e2e-alerts-hang: a run failed" in delivered[0].body["text"]
