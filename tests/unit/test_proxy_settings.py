import pytest

from shared.config import SETTING_NAMES, ConfigError, load_settings

BASE = {
    "AML_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AML_RESOURCE_GROUP": "rg-ml",
    "AML_WORKSPACE_NAME": "ws-prod",
    "AML_REGION": "westeurope",
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
}
PROXY_SETTINGS = ("AML_COMPUTE_API_VERSION", "AML_PROXY_ALLOW_DESTRUCTIVE", "AML_PROXY_MAX_UPLOAD_MB",
                  "AML_PROXY_MAX_WAIT_SECONDS")


def test_defaults():
    s = load_settings(BASE)
    assert s.compute_api_version == "2025-09-01"
    assert s.allow_destructive is True
    assert s.max_upload_bytes == 20 * 1024 * 1024
    assert s.max_wait_seconds == 60


def test_values_are_read():
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
def test_rejects_bad_values(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, name: value})
    assert name in err.value.problems


def test_the_new_settings_are_declared():
    assert set(PROXY_SETTINGS) <= set(SETTING_NAMES)
