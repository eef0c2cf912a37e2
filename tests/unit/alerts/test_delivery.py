"""The alert sender against a local webhook receiver: one POST, retried by the queue on 429, 5xx and
timeouts, given up on other 4xx and redirects, the allow-list checked again, the URL never logged."""

import json
import logging
import threading
from datetime import datetime, timezone

import pytest

from devtools.webhook_receiver import WebhookReceiver
from shared.alerts.delivery import DeliveryRetry, WebhookSender, run_alert, run_poison
from shared.alerts.message import EVENT_PREFIX, AlertMessage
from shared.alerts.webhook import WebhookPolicy, parse_allow_list
from shared.http_session import new_session
from shared.schedules import parse_schedule
from shared.store import ScheduleRecord
from shared.store.memory import MemoryScheduleStore

T0 = datetime(2026, 11, 22, 2, 30, tzinfo=timezone.utc)
TOKEN = "T0000B0000SECRETSECRETSECRET"
PATH = f"/services/{TOKEN}"
MESSAGE = AlertMessage("failed", "s1", "s1-20261122T023000000", "2026-11-22T02:31:00Z", "2026-11-22T02:31:00Z",
                       "failed", run_key="s1_20261122T023000Z", slot="2026-11-22T02:30:00Z", status="Failed",
                       error_code="UserError", error_message="score.py failed")
LOCAL = WebhookPolicy(allow_http_loopback=True)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def sender_for(receiver, alerts=None, policy=LOCAL, **options):
    schedules = MemoryScheduleStore()
    doc = {"id": "s1", "trigger": {"cron": "* * * * *"},
           "target": {"kind": "pipeline", "pipelineId": "11111111-2222-3333-4444-555555555555",
                      "experimentName": "e"},
           "alerts": alerts if alerts is not None else {"webhook": receiver.url(PATH)}}
    schedules.create(ScheduleRecord(parse_schedule(doc), None, None, T0, T0))
    options.setdefault("timeout", (1.0, 0.5))
    return WebhookSender(schedules, policy, new_session(), **options), schedules


@pytest.fixture(autouse=True)
def no_url_in_logs(caplog, receiver):
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text and receiver.url(PATH) not in caplog.text


def test_a_message_is_posted_once_as_json_text(receiver):
    sender, _ = sender_for(receiver)
    assert sender.deliver(MESSAGE) == "delivered"
    (got,) = receiver.messages()
    assert got.path == PATH and got.content_type == "application/json"
    assert set(got.body) == {"text"} and "Schedule s1: a run failed" in got.body["text"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried_by_the_queue(receiver, status):
    receiver.respond_with(status)
    sender, _ = sender_for(receiver)
    with pytest.raises(DeliveryRetry) as err:
        sender.deliver(MESSAGE, attempt=2)
    assert TOKEN not in str(err.value) and str(status) in str(err.value)


def test_a_webhook_that_never_answers_is_retried_by_the_queue(receiver):
    receiver.hang()
    sender, _ = sender_for(receiver)
    with pytest.raises(DeliveryRetry) as err:
        sender.deliver(MESSAGE)
    assert "ReadTimeout" in str(err.value) and TOKEN not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__, "requests' message quotes the path"
    receiver.release()


def test_other_client_errors_are_given_up_with_an_excerpt_that_keeps_the_token_out(receiver, caplog):
    receiver.respond_with(404)
    sender, _ = sender_for(receiver)
    assert sender.deliver(MESSAGE) == "refused by the webhook"
    assert "answered 404 (status 404)" in caplog.text


def test_a_redirect_is_not_followed(receiver):
    receiver.respond_with(302, location=receiver.url("/elsewhere"))
    sender, _ = sender_for(receiver)
    assert sender.deliver(MESSAGE) == "redirect refused"
    assert [r.path for r in receiver.messages()] == [PATH]


def test_the_allow_list_is_checked_again_when_sending(receiver):
    narrowed = WebhookPolicy(parse_allow_list("hooks.slack.com"))
    sender, _ = sender_for(receiver, policy=narrowed)
    assert sender.deliver(MESSAGE) == "refused"
    assert receiver.messages() == []


def test_the_schedules_webhook_as_it_is_now_decides(receiver):
    sender, schedules = sender_for(receiver, alerts={"webhook": receiver.url(PATH), "on": ["recovered"]})
    assert sender.deliver(MESSAGE) == "not requested"
    schedules.delete("s1")
    assert sender.deliver(MESSAGE) == "schedule deleted"
    assert receiver.messages() == []


def test_a_hanging_webhook_holds_at_most_the_allowed_posts_and_hands_the_rest_back(receiver):
    receiver.hang()
    sender, _ = sender_for(receiver, concurrency=1, wait_for_send=0.05, timeout=(1.0, 5.0))
    first = threading.Thread(target=lambda: pytest.raises(DeliveryRetry, sender.deliver, MESSAGE))
    first.start()
    receiver.wait_for(lambda got: len(got) == 1)
    with pytest.raises(DeliveryRetry) as err:
        sender.deliver(MESSAGE)
    assert "too many webhook posts" in str(err.value) and len(receiver.messages()) == 1
    receiver.release()
    first.join()


def test_a_message_that_is_not_an_alert_fails_for_the_poison_queue():
    with pytest.raises(ValueError):
        run_alert(b"{\"v\": 1, \"kind\": \"nonsense\"}")


def test_a_poisoned_alert_is_logged_as_a_delivery_failure(caplog):
    run_poison(MESSAGE.encode().encode(), dequeue_count=5)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith(EVENT_PREFIX)]
    event = json.loads(line[len(EVENT_PREFIX):])
    assert event["event"] == "alert_delivery_failed" and event["incidentId"] == MESSAGE.incident_id
