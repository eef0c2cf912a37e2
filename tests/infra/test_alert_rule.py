"""The alert queue and the example Azure Monitor log alert on the app's alert events."""

from __future__ import annotations

import re

from shared.alerts.message import EVENT_PREFIX, AlertMessage
from tests.infra.test_template import app_settings, deploy, one

RULE = "Microsoft.Insights/scheduledQueryRules"


def test_the_alert_queue_and_its_poison_queue_are_created_and_named_in_the_settings():
    resources = deploy(alertQueueName="team-alerts")
    queues = {r.body["name"] for r in resources if r.type.endswith("/queues")}
    assert {"team-alerts", "team-alerts-poison"} <= queues
    settings = app_settings(resources)
    assert settings["ALERT_QUEUE"] == "team-alerts" and settings["ALERT_WEBHOOK_HOSTS"] == ""


def test_the_allow_list_is_a_parameter():
    settings = app_settings(deploy(alertWebhookHosts="*.webhook.office.com,hooks.slack.com"))
    assert settings["ALERT_WEBHOOK_HOSTS"] == "*.webhook.office.com,hooks.slack.com"


def test_no_alert_rule_unless_asked_for():
    assert not [r for r in deploy() if r.type == RULE]


def test_the_example_rule_queries_the_apps_alert_events_in_application_insights():
    rule = one(deploy(deployAlertRule=True), RULE)
    props = rule.body["properties"]
    assert rule.body["kind"] == "LogAlert" and props["enabled"] is True
    assert [str(scope) for scope in props["scopes"]] == ["<appInsights.id>"]
    assert props["actions"]["actionGroups"] == []
    (criterion,) = props["criteria"]["allOf"]
    query = criterion["query"]
    # The query reads what the app writes: the prefix, then the event as JSON, with its keys.
    assert f'startswith "{EVENT_PREFIX}{{"' in query and f"substring(message, {len(EVENT_PREFIX)})" in query
    event = AlertMessage("failed", "s1", "s1-1", "t", "t", "failed").event("queued")
    for key in re.findall(r"alert\.(\w+)", query):
        assert key in event, key
    assert '"failed", "late", "paused"' in query and "recovered" not in query
    assert {d["name"] for d in criterion["dimensions"]} == {"scheduleId", "kind"}
    assert (criterion["operator"], criterion["threshold"], criterion["timeAggregation"]) == ("GreaterThan", 0, "Count")


def test_the_rule_notifies_an_action_group_when_given_one():
    group = "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/oncall"
    rule = one(deploy(deployAlertRule=True, alertRuleActionGroupId=group), RULE)
    assert rule.body["properties"]["actions"]["actionGroups"] == [group]

