"""A schedule's alerts over the API: the webhook is answered masked, kept when its mask is sent back,
and a host outside ALERT_WEBHOOK_HOSTS is a 400 naming the field, with nothing written."""

import json

import pytest

from shared.alerts.webhook import WebhookPolicy, parse_allow_list
from tests.unit.api.test_schedules_api import Api, schedule_doc

TOKEN = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
SLACK = f"https://hooks.slack.com/services/{TOKEN}"
MASKED = "https://hooks.slack.com/***"


@pytest.fixture
def api():
    return Api(webhooks=WebhookPolicy(parse_allow_list("hooks.slack.com, *.webhook.office.com")))


def stored_webhook(api, schedule_id="nightly"):
    alerts = api.schedules.get(schedule_id).definition.alerts
    return alerts.webhook if alerts else None


def test_the_webhook_is_stored_in_full_and_answered_masked_everywhere(api):
    status, created, _ = api("create", "POST", body=schedule_doc(alerts={"webhook": SLACK, "on": ["failed"]}))
    assert status == 201 and created["alerts"] == {"on": ["failed"], "webhook": MASKED}
    _, got, _ = api("get", "GET", {"id": "nightly"})
    _, listed, _ = api("list", "GET")
    assert got["alerts"]["webhook"] == listed["value"][0]["alerts"]["webhook"] == MASKED
    assert TOKEN not in json.dumps([created, got, listed])
    assert stored_webhook(api) == SLACK


def test_a_schedule_read_with_get_can_be_put_back_as_it_came(api):
    api("create", "POST", body=schedule_doc(alerts={"webhook": SLACK}))
    _, got, _ = api("get", "GET", {"id": "nightly"})
    status, body, _ = api("put", "PUT", {"id": "nightly"}, body={**got, "description": "v2"})
    assert status == 200 and body["description"] == "v2" and body["alerts"]["webhook"] == MASKED
    assert stored_webhook(api) == SLACK


def test_a_merge_patch_of_on_keeps_the_webhook_and_null_removes_the_alerts(api):
    api("create", "POST", body=schedule_doc(alerts={"webhook": SLACK}))
    status, body, _ = api("patch", "PATCH", {"id": "nightly"}, body={"alerts": {"on": ["failed", "recovered"]}})
    assert status == 200 and body["alerts"]["on"] == ["failed", "recovered"] and stored_webhook(api) == SLACK
    status, body, _ = api("patch", "PATCH", {"id": "nightly"}, body={"alerts": None})
    assert status == 200 and body["alerts"] is None and stored_webhook(api) is None


@pytest.mark.parametrize("existing", [None, {"webhook": "https://contoso.webhook.office.com/webhookb2/abc"}])
def test_a_mask_that_is_not_the_stored_webhooks_is_refused(api, existing):
    if existing:
        api("create", "POST", body=schedule_doc(alerts=existing))
    before = api.schedules.get("nightly").etag if existing else None
    status, body, _ = api("put", "PUT", {"id": "nightly"}, body=schedule_doc(alerts={"webhook": MASKED}))
    assert status == 400 and body["error"]["details"][0]["field"] == "alerts.webhook"
    assert "masked" in body["error"]["message"]
    if existing:
        assert api.schedules.get("nightly").etag == before
    else:
        assert api.schedules.list().items == []


@pytest.mark.parametrize("webhook, says", [
    ("https://evil.example.com/hook", "host evil.example.com is not on the allow-list ALERT_WEBHOOK_HOSTS"),
    ("https://hooks.slack.com:8443/services/x", "not on the allow-list"),
    ("https://user:secret@hooks.slack.com/services/x", "credentials"),
    ("http://hooks.slack.com/services/x", "https"),
    ("http://127.0.0.1:8125/hook", "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST"),
])
def test_a_webhook_the_policy_refuses_is_400_naming_the_field_and_nothing_is_written(api, webhook, says):
    for operation, method, route in (("create", "POST", None), ("put", "PUT", {"id": "nightly"})):
        status, body, _ = api(operation, method, route, body=schedule_doc(alerts={"webhook": webhook}))
        assert status == 400, body
        assert body["error"]["details"][0]["field"] == "alerts.webhook" and says in body["error"]["message"]
        assert "secret" not in json.dumps(body)
    assert api.schedules.list().items == []


def test_changing_a_schedule_checks_its_webhook_against_the_allow_list_of_now(api):
    api("create", "POST", body=schedule_doc(alerts={"webhook": SLACK}))
    narrowed = Api(api.schedules, webhooks=WebhookPolicy(parse_allow_list("*.webhook.office.com")))
    status, body, _ = narrowed("patch", "PATCH", {"id": "nightly"}, body={"description": "v2"})
    assert status == 400 and "not on the allow-list" in body["error"]["message"]
    # Enabling and disabling never stand in the way.
    assert narrowed("disable", "POST", {"id": "nightly"})[0] == 200


def test_without_an_allow_list_webhooks_are_refused_naming_the_setting():
    status, body, _ = Api()("create", "POST", body=schedule_doc(alerts={"webhook": SLACK}))
    assert status == 400 and body["error"]["details"][0]["field"] == "alerts.webhook"
    assert "ALERT_WEBHOOK_HOSTS is empty" in body["error"]["message"]
