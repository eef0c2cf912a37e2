"""Every setting the code reads is set by the template and by the sample settings file, and
neither sets one the code does not read.

Everything is derived from shared.config.SETTING_NAMES, so a setting added there fails
this test until infra/main.bicep (var schedulerSettings) and local.settings.sample.json
carry it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import DEV_ONLY_SETTING_NAMES, SETTING_NAMES
from tests.infra.bicep import Evaluator, parse_file, refs

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "infra" / "main.bicep"
SAMPLE = ROOT / "local.settings.sample.json"
REQUIRED = {"amlResourceGroup": "rg-ml", "amlWorkspaceName": "mlw-scoring"}
PLANS = ("FlexConsumption", "Consumption", "Premium")

# Read by the Functions host or set by the platform, never by shared.config:
# FUNCTIONS_* and AzureWebJobs* configure the host, PYTHON_* the Python worker,
# APPLICATIONINSIGHTS_* its telemetry,
# WEBSITE_* the App Service platform; IDENTITY_* is injected by App Service (the sample
# file points it at the local identity emulator).
HOST_ONLY_PREFIXES = ("FUNCTIONS_", "PYTHON_", "AzureWebJobs", "APPLICATIONINSIGHTS_", "WEBSITE_", "IDENTITY_")
# The platform sets these itself; a template that set them would break managed identity.
PLATFORM_INJECTED_PREFIXES = ("IDENTITY_", "MSI_")
# Read by App Service Authentication (Easy Auth): the identity it signs users in with.
EASY_AUTH_SETTINGS = {"OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"}
# The template's settings differ with Easy Auth: off, on, and on with browser sign-in.
ENTRA = {"enableEntraAuth": True, "entraClientId": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
         "entraSignInWithManagedIdentity": True}
VARIANTS = [(plan, {}) for plan in PLANS] + [(plan, ENTRA) for plan in PLANS]
VARIANT_IDS = [f"{plan}-{'entra' if extra else 'keys'}" for plan, extra in VARIANTS]


def host_only(name: str) -> bool:
    return name.startswith(HOST_ONLY_PREFIXES) or name in EASY_AUTH_SETTINGS


def template_settings(plan: str, extra: dict | None = None) -> dict:
    resources = Evaluator(MAIN, {**REQUIRED, "hostingPlan": plan, **(extra or {})}).resources()
    [config] = [r for r in resources if r.type == "Microsoft.Web/sites/config" and r.body["name"] == "appsettings"]
    return config.body["properties"]


def sample_settings() -> dict:
    return json.loads(SAMPLE.read_text())["Values"]


def test_the_code_reads_no_host_only_setting():
    assert not [n for n in SETTING_NAMES if host_only(n)], "shared.config should not read host settings"


@pytest.mark.parametrize("plan, extra", VARIANTS, ids=VARIANT_IDS)
def test_template_sets_every_setting_the_code_reads(plan, extra):
    settings = template_settings(plan, extra)
    missing = sorted(set(SETTING_NAMES) - set(settings))
    assert not missing, f"add {missing} to var schedulerSettings in infra/main.bicep (from a parameter)"


@pytest.mark.parametrize("plan, extra", VARIANTS, ids=VARIANT_IDS)
def test_template_sets_nothing_the_code_does_not_read(plan, extra):
    settings = template_settings(plan, extra)
    extra = sorted(n for n in set(settings) - set(SETTING_NAMES) if not host_only(n))
    assert not extra, f"infra/main.bicep sets {extra}, which shared.config.SETTING_NAMES does not list"
    assert not [n for n in settings if n.startswith(PLATFORM_INJECTED_PREFIXES)]


def test_sample_file_sets_every_setting_the_code_reads():
    missing = sorted(set(SETTING_NAMES) - set(sample_settings()))
    assert not missing, f"add {missing} to local.settings.sample.json with a safe local value"


def test_sample_file_sets_nothing_the_code_does_not_read():
    read = set(SETTING_NAMES) | set(DEV_ONLY_SETTING_NAMES)
    extra = sorted(n for n in set(sample_settings()) - read if not host_only(n))
    assert not extra, f"local.settings.sample.json sets {extra}, which shared.config.SETTING_NAMES does not list"


@pytest.mark.parametrize("plan", PLANS)
def test_development_only_settings_are_in_the_sample_file_and_never_in_the_template(plan):
    """Plain-http webhooks to loopback are for a laptop: a deployment must not be able to turn them on."""
    assert set(DEV_ONLY_SETTING_NAMES) <= set(sample_settings())
    assert not set(DEV_ONLY_SETTING_NAMES) & set(template_settings(plan))
    assert not set(DEV_ONLY_SETTING_NAMES) & set(SETTING_NAMES)
    assert all(sample_settings()[name] == "false" for name in DEV_ONLY_SETTING_NAMES)


def test_every_code_setting_in_the_template_comes_from_a_parameter_or_a_resource():
    """No hard-coded values: each is a parameter, or derived from a resource the template makes.

    The only literal allowed is the empty string, for a setting deliberately left unset.
    """
    decls = {d.name: d for d in parse_file(MAIN)}
    params = {n for n, d in decls.items() if d.kind == "param"}
    resources = {n for n, d in decls.items() if d.kind in ("resource", "module")}
    settings_var = decls["schedulerSettings"].value
    assert settings_var.kind == "obj"
    for key, expr in settings_var.a:
        if expr.kind == "lit":
            assert expr.a == "", f"{key} is hard-coded in infra/main.bicep; make it a parameter"
            continue
        sources = refs(expr)
        assert sources & (params | resources), f"{key} is set from neither a parameter nor a resource"


# Stand-ins for what only a deployment knows (the workspace region, the identity's client
# id, the storage account's table endpoint).
DEPLOY_TIME = {
    "AML_REGION": "westeurope",
    "AZURE_CLIENT_ID": "12345678-1234-1234-1234-123456789abc",
    "TABLES_ENDPOINT": "https://amlsched0123456789a.table.core.windows.net/",
    "QUEUES_ENDPOINT": "https://amlsched0123456789a.queue.core.windows.net/",
}


def concrete(settings: dict) -> dict:
    return {**{k: v for k, v in settings.items() if isinstance(v, str)}, **DEPLOY_TIME}


@pytest.mark.parametrize("extra", [{}, ENTRA], ids=["keys", "entra"])
def test_template_values_pass_the_codes_own_validation(extra):
    from shared.config import load_settings

    loaded = load_settings(concrete(template_settings("FlexConsumption", extra)))
    assert loaded.api_auth_mode == ("entra" if extra else "functionKey")
    assert loaded.tables_connection_string is None and loaded.tables_endpoint.startswith("https://")
    assert loaded.arm_token_scope == "https://management.azure.com/.default"
    assert loaded.aml_api_base_url == "https://westeurope.api.azureml.ms"


def test_template_defaults_are_the_codes_defaults():
    """A deployment with default parameters behaves like the code's own defaults."""
    from dataclasses import asdict

    from shared.config import load_settings

    deployed = concrete(template_settings("FlexConsumption"))
    minimal = {name: deployed[name] for name in ("AML_SUBSCRIPTION_ID", "AML_RESOURCE_GROUP", "AML_WORKSPACE_NAME")}
    assert asdict(load_settings(deployed)) == asdict(load_settings({**minimal, **DEPLOY_TIME}))
