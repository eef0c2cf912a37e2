import pytest

from shared.config import ConfigError, load_settings

BASE = {
    "AML_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AML_RESOURCE_GROUP": "rg-ml",
    "AML_WORKSPACE_NAME": "ws-prod",
    "AML_REGION": "westeurope",
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "QUEUES_CONNECTION_STRING": "UseDevelopmentStorage=true",
}


def test_defaults_and_derived_values():
    s = load_settings(BASE)
    assert s.aml_api_base_url == "https://westeurope.api.azureml.ms"
    assert s.arm_base_url == "https://management.azure.com"
    assert s.arm_token_scope == s.aml_token_scope == "https://management.azure.com/.default"
    assert s.allowed_hosts == {"westeurope.api.azureml.ms", "management.azure.com"}
    assert s.workspace_path.endswith("resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-prod")
    assert (s.schedules_table, s.runs_table, s.max_retries) == ("schedules", "runs", 4)


@pytest.mark.parametrize("raw, mode", [(None, "functionKey"), ("", "functionKey"), ("Entra", "entra"),
                                       ("functionkey", "functionKey")])
def test_api_auth_mode(raw, mode):
    env = BASE if raw is None else {**BASE, "API_AUTH_MODE": raw}
    assert load_settings(env).api_auth_mode == mode


def test_an_unknown_api_auth_mode_is_a_problem():
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, "API_AUTH_MODE": "aad"})
    assert err.value.problems == {"API_AUTH_MODE": "must be functionKey or entra"}


def test_every_problem_is_named_at_once():
    with pytest.raises(ConfigError) as err:
        load_settings({"AML_SUBSCRIPTION_ID": "nope", "AML_MAX_RETRIES": "many"})
    assert {"AML_SUBSCRIPTION_ID", "AML_RESOURCE_GROUP", "AML_WORKSPACE_NAME", "AML_REGION",
            "TABLES_CONNECTION_STRING", "QUEUES_CONNECTION_STRING", "AML_MAX_RETRIES"} <= set(err.value.problems)
    assert "AML_SUBSCRIPTION_ID" in str(err.value)


@pytest.mark.parametrize("name, value", [
    ("AML_API_BASE_URL", "http://aml.example.com"),  # plain http off loopback would leak tokens
    ("AML_API_BASE_URL", "https://x.example.com/?a=1"),
    ("ARM_BASE_URL", "ftp://management.azure.com"),
    ("ARM_TOKEN_SCOPE", "https://management.azure.com"),
    ("AZURE_CLIENT_ID", "not-a-guid"),
    ("RUNS_TABLE", "schedules"),
    ("SCHEDULES_TABLE", "bad-name"),
    ("AML_HTTP_TIMEOUT_SECONDS", "0"),
    ("AML_WORKSPACE_NAME", "a/b"),
    ("AML_RESOURCE_GROUP", "rg."),
    ("SLOT_QUEUE", "Slots"),
    ("SLOT_QUEUE", "a--b"),
    ("QUEUES_ENDPOINT", "http://acct.queue.core.windows.net"),
    ("POLL_CONCURRENCY", "500"),
    ("DISPATCH_PAGE_SIZE", "0"),
    ("DISPATCH_PAGE_SIZE", "101"),
    ("DISPATCH_PAGE_SIZE", "8.5"),
])
def test_rejects_bad_values(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, name: value})
    assert name in err.value.problems


def test_loopback_http_is_allowed_for_emulators_and_identity_based_tables():
    s = load_settings({**BASE, "AML_API_BASE_URL": "http://127.0.0.1:8082/", "ARM_BASE_URL": "http://127.0.0.1:8082",
                       "TABLES_CONNECTION_STRING": "", "TABLES_ENDPOINT": "https://acct.table.core.windows.net"})
    assert s.aml_api_base_url == "http://127.0.0.1:8082"
    assert s.allowed_hosts == {"127.0.0.1:8082"}
    assert s.tables_connection_string is None and s.tables_endpoint == "https://acct.table.core.windows.net"


def test_proxy_defaults():
    s = load_settings(BASE)
    assert s.compute_api_version == "2025-09-01"
    assert s.allow_destructive is True
    assert s.max_upload_bytes == 20 * 1024 * 1024
    assert s.max_wait_seconds == 60


def test_proxy_values_are_read():
    s = load_settings({**BASE, "AML_COMPUTE_API_VERSION": "2025-12-01", "AML_PROXY_ALLOW_DESTRUCTIVE": "FALSE",
                       "AML_PROXY_MAX_UPLOAD_MB": "5", "AML_PROXY_MAX_WAIT_SECONDS": "0"})
    assert (s.compute_api_version, s.allow_destructive, s.max_upload_bytes, s.max_wait_seconds) == (
        "2025-12-01", False, 5 * 1024 * 1024, 0)


@pytest.mark.parametrize("name, value", [
    ("AML_COMPUTE_API_VERSION", "latest"),
    ("AML_COMPUTE_API_VERSION", "2025-09-01&x=1"),
    ("AML_PROXY_ALLOW_DESTRUCTIVE", "yes"),
    ("AML_PROXY_MAX_UPLOAD_MB", "0"),
    ("AML_PROXY_MAX_UPLOAD_MB", "101"),
    ("AML_PROXY_MAX_WAIT_SECONDS", "230"),
])
def test_rejects_bad_proxy_values(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, name: value})
    assert name in err.value.problems


def test_queue_defaults_and_identity_based_queue():
    s = load_settings({**BASE, "QUEUES_CONNECTION_STRING": "", "QUEUES_ENDPOINT": "https://acct.queue.core.windows.net/"})
    assert (s.slot_queue, s.queues_connection_string, s.queues_endpoint) == (
        "scheduler-slots", None, "https://acct.queue.core.windows.net")
    assert s.poll_concurrency == 32


def test_alert_defaults_refuse_every_webhook():
    s = load_settings(BASE)
    assert s.alert_queue == "alerts"
    assert s.webhook_policy.rules == () and s.webhook_policy.allow_http_loopback is False
    assert "ALERT_WEBHOOK_HOSTS is empty" in s.webhook_policy.refusal("https://hooks.slack.com/services/x")


def test_alert_settings_are_read():
    s = load_settings({**BASE, "ALERT_QUEUE": "team-alerts", "ALERT_WEBHOOK_HOSTS": "hooks.slack.com, *.webhook.office.com",
                       "ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST": "TRUE"})
    assert s.alert_queue == "team-alerts" and len(s.webhook_policy.rules) == 2
    assert s.webhook_policy.refusal("https://contoso.webhook.office.com/webhookb2/x") is None
    assert s.webhook_policy.refusal("http://127.0.0.1:8125/hook") is None


@pytest.mark.parametrize("name, value", [
    ("ALERT_QUEUE", "Alerts"),
    ("ALERT_QUEUE", "scheduler-slots"),
    ("ALERT_QUEUE", "scheduler-slots-poison"),
    ("ALERT_WEBHOOK_HOSTS", "*.com"),
    ("ALERT_WEBHOOK_HOSTS", "https://hooks.slack.com/services"),
    ("ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST", "yes"),
])
def test_rejects_bad_alert_values(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, name: value})
    assert name in err.value.problems and value not in err.value.problems[name]
