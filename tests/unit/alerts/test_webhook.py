"""The webhook's shape, its mask, and the host allow-list (ALERT_WEBHOOK_HOSTS)."""

import pytest

from shared.alerts.webhook import (
    ALERT_KINDS,
    WebhookPolicy,
    is_masked,
    mask_webhook,
    parse_alerts,
    parse_allow_list,
)
from shared.scheduling import ScheduleError

SLACK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS = "https://contoso.webhook.office.com/webhookb2/1234@5678/IncomingWebhook/abcd/ef01"
FLOW = "https://prod-27.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SIG"


def policy(hosts, http_loopback=False):
    return WebhookPolicy(parse_allow_list(hosts), allow_http_loopback=http_loopback)


class TestAllowList:
    @pytest.mark.parametrize("url", [SLACK, "https://HOOKS.Slack.COM/services/x", "https://hooks.slack.com./services/x",
                                     "https://hooks.slack.com:443/services/x"])
    def test_an_exact_host_matches_in_any_case_with_or_without_the_default_port(self, url):
        assert policy("hooks.slack.com").refusal(url) is None

    @pytest.mark.parametrize("url", ["https://hooks.slack.com.evil.com/x", "https://evilhooks.slack.com/x",
                                     "https://slack.com/x", "https://evil.com/hooks.slack.com/x",
                                     "https://evil.com/?u=https://hooks.slack.com/"])
    def test_other_hosts_do_not_match_an_exact_entry(self, url):
        assert "not on the allow-list ALERT_WEBHOOK_HOSTS" in policy("hooks.slack.com").refusal(url)

    def test_a_wildcard_matches_hosts_below_its_suffix_at_any_depth_but_not_the_suffix(self):
        rules = policy("*.webhook.office.com, *.logic.azure.com")
        assert rules.refusal(TEAMS) is None and rules.refusal(FLOW) is None
        assert rules.refusal("https://a.b.webhook.office.com/x") is None
        assert rules.refusal("https://webhook.office.com/x") is not None
        assert rules.refusal("https://xwebhook.office.com/x") is not None

    def test_internationalised_names_compare_by_their_ascii_form(self):
        rules = policy("bücher.example")
        assert rules.refusal("https://xn--bcher-kva.example/hook") is None
        assert rules.refusal("https://BÜCHER.example/hook") is None
        # A look-alike (Cyrillic 'о' twice) is another host.
        assert policy("hooks.slack.com").refusal("https://h\u043e\u043eks.slack.com/x") is not None

    def test_a_port_other_than_443_must_be_named_by_the_entry(self):
        assert policy("hooks.example.com").refusal("https://hooks.example.com:8443/x") is not None
        assert policy("hooks.example.com:8443").refusal("https://hooks.example.com:8443/x") is None
        assert policy("hooks.example.com:8443").refusal("https://hooks.example.com/x") is not None
        assert policy("*.example.com:8443").refusal("https://a.example.com:8443/x") is None

    @pytest.mark.parametrize("url", ["https://user:pass@hooks.slack.com/x", "https://hooks.slack.com@evil.com/x",
                                     "https://token@hooks.slack.com/x"])
    def test_credentials_in_the_url_are_refused(self, url):
        assert "credentials" in policy("hooks.slack.com, evil.com").refusal(url)

    def test_an_empty_allow_list_refuses_every_webhook_naming_the_setting(self):
        assert "ALERT_WEBHOOK_HOSTS is empty" in WebhookPolicy().refusal(SLACK)

    def test_plain_http_only_to_loopback_and_only_with_the_development_switch(self):
        assert "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST" in policy("127.0.0.1").refusal("http://127.0.0.1:8125/hook")
        assert policy("", http_loopback=True).refusal("http://127.0.0.1:8125/hook") is None
        assert policy("", http_loopback=True).refusal("http://[::1]:8125/hook") is None
        assert "https" in policy("", http_loopback=True).refusal("http://hooks.slack.com/x")
        assert "https" in policy("", http_loopback=True).refusal("http://localhost:8125/x")

    @pytest.mark.parametrize("text, problem", [
        ("https://hooks.slack.com", "not a URL"),
        ("*.", "not a valid host"),
        ("*.org", "at least two labels"),
        ("hooks.*.com", "may only stand first"),
        ("hooks.slack.com:0", "port"),
        ("hooks.slack.com:https", "port"),
        ("a b.com", "not a valid host"),
    ])
    def test_bad_entries_are_named_by_position_without_echoing_them(self, text, problem):
        with pytest.raises(ValueError) as err:
            parse_allow_list("hooks.example.org, " + text)
        assert problem in str(err.value) and "entry 2" in str(err.value) and text not in str(err.value)

    def test_blank_entries_are_ignored(self):
        assert parse_allow_list(" , hooks.slack.com ,,") == parse_allow_list("hooks.slack.com")
        assert parse_allow_list("") == ()


class TestShape:
    @pytest.mark.parametrize("url, problem", [
        ("ftp://hooks.slack.com/x", "absolute https URL"),
        ("hooks.slack.com/x", "absolute https URL"),
        ("http://hooks.slack.com/x", "must use https"),
        ("https://hooks.slack.com/x#frag", "fragment"),
        ("https://hooks.slack.com/a b", "spaces"),
        ("https://hooks.slack.com/a\tb", "spaces"),
        ("https://hooks.slack.com\\@evil.com/", "backslashes"),
        ("https://hooks.slack.com:99999/x", "port"),
        ("https:///x", "absolute https URL"),
        ("https://" + "a" * 64 + ".com/x", "not a valid domain name"),
        ("https://hooks.slack.com/" + "x" * 2048, "at most 2048"),
    ])
    def test_malformed_webhooks_are_refused_without_quoting_them(self, url, problem):
        with pytest.raises(ScheduleError) as err:
            parse_alerts({"webhook": url})
        assert err.value.field == "alerts.webhook" and problem in err.value.message
        assert url not in err.value.message

    def test_on_defaults_to_every_event_and_keeps_a_canonical_order(self):
        assert parse_alerts({"webhook": SLACK}).on == ALERT_KINDS
        assert parse_alerts({"webhook": SLACK, "on": ["recovered", "failed"]}).on == ("failed", "recovered")
        assert parse_alerts({"webhook": SLACK, "on": []}).on == ()
        assert parse_alerts(None) is None

    @pytest.mark.parametrize("doc, field", [
        ({"on": ["failed"]}, "alerts.webhook"),
        ({"webhook": SLACK, "on": ["exploded"]}, "alerts.on"),
        ({"webhook": SLACK, "on": ["failed", "failed"]}, "alerts.on"),
        ({"webhook": SLACK, "on": "failed"}, "alerts.on"),
        ({"webhook": SLACK, "channel": "#ops"}, "alerts.channel"),
        ({"webhook": 42}, "alerts.webhook"),
        ("https://hooks.slack.com/x", "alerts"),
    ])
    def test_a_bad_definition_names_its_field(self, doc, field):
        with pytest.raises(ScheduleError) as err:
            parse_alerts(doc)
        assert err.value.field == field


class TestMask:
    @pytest.mark.parametrize("url, masked", [
        (SLACK, "https://hooks.slack.com/***"),
        (TEAMS, "https://contoso.webhook.office.com/***"),
        (FLOW, "https://prod-27.westeurope.logic.azure.com:443/***"),
        ("http://[::1]:8125/hook?token=x", "http://[::1]:8125/***"),
    ])
    def test_only_scheme_host_and_port_show(self, url, masked):
        assert mask_webhook(url) == masked and is_masked(masked) and not is_masked(url)

    def test_the_api_answers_the_mask_and_stores_the_url(self):
        spec = parse_alerts({"webhook": SLACK, "on": ["failed"]})
        assert spec.to_api() == {"on": ["failed"], "webhook": "https://hooks.slack.com/***"}
        assert spec.to_dict()["webhook"] == SLACK
