"""The Bicep template, checked without Azure and without a Bicep compiler (see bicep.py).

Every file is parsed by pycep-parser (an independent grammar) and by tests/infra/bicep.py,
which then evaluates the template per hosting plan, the way ARM would, so the assertions
below are about what a deployment would create, not about text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pycep import BicepParser

from tests.infra.bicep import BicepSyntaxError, Deferred, Evaluator, ResourceRef, parse_file, refs

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = INFRA / "main.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
REQUIRED = {"amlResourceGroup": "rg-ml", "amlWorkspaceName": "mlw-scoring"}
PLANS = ("FlexConsumption", "Consumption", "Premium")

# Resource types and api-versions the template may use, each checked to exist as a stable
# version in Azure/azure-rest-api-specs (specification/<rp>/resource-manager/<namespace>/stable/<version>).
VERIFIED_API_VERSIONS = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.Storage/storageAccounts/fileServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/fileServices/shares": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices/tables": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices/queues": "2023-05-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.Insights/components": "2020-02-02",
    # stable/2023-12-01/scheduledQueryRule_API.json (createOrUpdateScheduledQueryRuleResourceGroup example).
    "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
    "Microsoft.MachineLearningServices/workspaces": "2024-10-01",
    # 2024-04-01 carries functionAppConfig (its examples include a Flex Consumption python 3.11 app).
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.Web/sites/config": "2024-04-01",
}

# Built-in role definition ids, from the role JSON in Microsoft's "Azure built-in roles"
# pages (MicrosoftDocs/azure-docs, articles/role-based-access-control/built-in-roles/
# storage.md, ai-machine-learning.md, monitor.md).
ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "AzureML Compute Operator": "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
ROLE_NAMES = {guid: name for name, guid in ROLES.items()}

# Settings the Flex Consumption plan rejects or ignores (runtime goes in functionAppConfig).
FLEX_FORBIDDEN = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
                  "SCM_DO_BUILD_DURING_DEPLOYMENT", "WEBSITE_TIME_ZONE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
                  "WEBSITE_CONTENTSHARE", "AzureWebJobsStorage"}


def deploy(**params):
    return Evaluator(MAIN, {**REQUIRED, **params}).resources()


def one(resources, resource_type):
    found = [r for r in resources if r.type == resource_type]
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def site_config(resources, name: str):
    found = [r for r in resources if r.type == "Microsoft.Web/sites/config" and r.body["name"] == name]
    assert len(found) <= 1, f"{name} is configured {len(found)} times"
    return found[0] if found else None


def app_settings(resources) -> dict:
    return site_config(resources, "appsettings").body["properties"]


def role_grants(resources) -> set[tuple[str, str, str]]:
    """(role name, target resource symbol, principal) for every role assignment."""
    grants = set()
    for r in resources:
        if r.type != "Microsoft.Authorization/roleAssignments":
            continue
        props = r.body["properties"]
        guid = props["roleDefinitionId"].rsplit("/", 1)[1]
        assert props["roleDefinitionId"].endswith(f"/providers/Microsoft.Authorization/roleDefinitions/{guid}")
        assert props["principalType"] == "ServicePrincipal"
        scope = r.body["scope"]
        assert isinstance(scope, ResourceRef), "every assignment is scoped to one resource, never a group"
        grants.add((ROLE_NAMES.get(guid, guid), scope.symbol, str(props["principalId"])))
    return grants


IDENTITY = "<identity.properties.principalId>"


# ------------------------------------------------------------------ syntax


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_file_parses_with_an_independent_bicep_grammar(path):
    parsed = BicepParser().parse(file_path=path)
    ours = parse_file(path)
    assert set(parsed.get("resources", {})) == {d.name for d in ours if d.kind == "resource"}
    assert set(parsed.get("parameters", {})) == {d.name for d in ours if d.kind == "param"}


@pytest.mark.parametrize("old, new", [
    ("resource plan 'Microsoft.Web", "resource plan Microsoft.Web"),
    ("  kind: 'StorageV2'\n", "  kind: 'StorageV2\n"),
    ("var isFlex = hostingPlan == 'FlexConsumption'", "var isFlex = hostingPlan == "),
])
def test_both_readers_reject_broken_bicep(tmp_path, old, new):
    broken = tmp_path / "broken.bicep"
    text = MAIN.read_text()
    assert old in text
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(Exception):
        BicepParser().parse(file_path=broken)
    with pytest.raises(BicepSyntaxError):
        parse_file(broken)


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_resource_type_and_api_version_is_verified(path):
    for decl in parse_file(path):
        if decl.kind == "resource":
            assert VERIFIED_API_VERSIONS.get(decl.resource_type) == decl.api_version, (
                f"{path.name}: {decl.type} is not in the verified allow-list; check it against "
                "azure-rest-api-specs and add it")


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.name)
def test_every_parameter_is_described_and_used(path):
    decls = parse_file(path)
    used = set().union(*(refs(d.value) for d in decls if d.kind != "param"))
    used |= set().union(*(refs(d.value) for d in decls if d.kind == "param" and d.value is not None))
    for decl in decls:
        if decl.kind == "param":
            assert "description" in decl.decorators, f"{path.name}: param {decl.name} has no @description"
            assert decl.name in used, f"{path.name}: param {decl.name} is never used"


def test_every_role_guid_in_the_templates_is_a_verified_built_in_role():
    import re

    text = "\n".join(p.read_text() for p in BICEP_FILES)
    guids = set(re.findall(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", text))
    assert guids and guids <= set(ROLES.values()), guids - set(ROLES.values())


def test_example_parameters_file_matches_the_template():
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    params = {d.name: d for d in parse_file(MAIN) if d.kind == "param"}
    assert set(example) <= set(params), set(example) - set(params)
    required = {name for name, d in params.items() if d.value is None}
    assert required <= set(example), f"the example misses required parameters {required - set(example)}"
    deploy(**{k: v["value"] for k, v in example.items()})


# ------------------------------------------------------------------ identity and roles


@pytest.mark.parametrize("plan", PLANS)
def test_identity_gets_exactly_the_documented_roles(plan):
    grants = role_grants(deploy(hostingPlan=plan))
    assert grants == {
        ("Storage Blob Data Owner", "storage", IDENTITY),
        ("Storage Queue Data Contributor", "storage", IDENTITY),
        ("Storage Table Data Contributor", "storage", IDENTITY),
        ("Monitoring Metrics Publisher", "appInsights", IDENTITY),
        ("AzureML Data Scientist", "workspace", IDENTITY),
    }


def test_compute_operator_only_when_compute_writes_are_enabled():
    grants = role_grants(deploy(enableComputeWrites=True))
    assert ("AzureML Compute Operator", "workspace", IDENTITY) in grants
    assert not any(g[0] == "AzureML Compute Operator" for g in role_grants(deploy()))


def test_workspace_roles_land_on_the_existing_workspace_in_its_own_group():
    resources = deploy(amlSubscriptionId="11111111-2222-3333-4444-555555555555")
    workspace = one(resources, "Microsoft.MachineLearningServices/workspaces")
    assert workspace.existing and workspace.body["name"] == "mlw-scoring"
    assert workspace.scope == "11111111-2222-3333-4444-555555555555/rg-ml"
    for r in resources:
        if r.type == "Microsoft.Authorization/roleAssignments" and r.body["scope"].symbol == "workspace":
            assert r.scope == workspace.scope


def test_the_app_runs_as_the_user_assigned_identity_only():
    site = one(deploy(), "Microsoft.Web/sites")
    assert site.body["identity"]["type"] == "UserAssigned"
    assert list(site.body["identity"]["userAssignedIdentities"]) == ["<identity.id>"]


# ------------------------------------------------------------------ storage and secrets


def test_flex_default_has_no_shared_key_anywhere():
    resources = deploy()
    storage = one(resources, "Microsoft.Storage/storageAccounts")
    assert storage.body["properties"]["allowSharedKeyAccess"] is False
    assert storage.body["properties"]["allowBlobPublicAccess"] is False
    assert storage.body["properties"]["minimumTlsVersion"] == "TLS1_2"
    everything = json.dumps([r.body for r in resources], default=str)
    assert "listKeys" not in everything and "AccountKey" not in everything
    settings = app_settings(resources)
    assert FLEX_FORBIDDEN.isdisjoint(settings), FLEX_FORBIDDEN & set(settings)
    assert settings["AzureWebJobsStorage__accountName"] == storage.body["name"]
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert str(settings["AzureWebJobsStorage__clientId"]) == "<identity.properties.clientId>"


def test_flex_function_app_config():
    resources = deploy()
    site = one(resources, "Microsoft.Web/sites")
    config = site.body["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    container = one(resources, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert str(storage["value"]) == f"<<storage.properties.primaryEndpoints.blob>{container.body['name']}>"
    assert storage["authentication"] == {"type": "UserAssignedIdentity",
                                         "userAssignedIdentityResourceId": Deferred("identity.id")}
    assert site.body["kind"] == "functionapp,linux"
    plan = one(resources, "Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan.body["properties"]["reserved"]


@pytest.mark.parametrize("plan", ["Consumption", "Premium"])
def test_plans_with_a_content_share_turn_shared_keys_on_and_say_why(plan):
    resources = deploy(hostingPlan=plan)
    storage = one(resources, "Microsoft.Storage/storageAccounts")
    assert storage.body["properties"]["allowSharedKeyAccess"] is True
    settings = app_settings(resources)
    assert "listKeys" in str(settings["WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"])
    share = one(resources, "Microsoft.Storage/storageAccounts/fileServices/shares")
    assert settings["WEBSITE_CONTENTSHARE"] == share.body["name"]
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python" and settings["FUNCTIONS_EXTENSION_VERSION"] == "~4"
    site = one(resources, "Microsoft.Web/sites")
    assert site.body["properties"]["functionAppConfig"] is None
    assert site.body["properties"]["siteConfig"]["linuxFxVersion"] == "Python|3.11"
    assert not [r for r in resources if r.type.endswith("/containers")]
    # The app's own tables stay identity-based on every plan.
    assert settings["TABLES_CONNECTION_STRING"] == ""
    assert "table" in str(settings["TABLES_ENDPOINT"])


def test_premium_host_storage_uses_the_identity_consumption_cannot():
    premium = app_settings(deploy(hostingPlan="Premium"))
    assert premium["AzureWebJobsStorage__credential"] == "managedidentity" and "AzureWebJobsStorage" not in premium
    consumption = app_settings(deploy(hostingPlan="Consumption"))
    assert "listKeys" in str(consumption["AzureWebJobsStorage"])
    assert not any(k.startswith("AzureWebJobsStorage__") for k in consumption)


@pytest.mark.parametrize("plan", PLANS)
def test_application_insights_takes_entra_tokens_only(plan):
    resources = deploy(hostingPlan=plan)
    insights = one(resources, "Microsoft.Insights/components")
    assert insights.body["properties"]["DisableLocalAuth"] is True
    settings = app_settings(resources)
    assert "APPINSIGHTS_INSTRUMENTATIONKEY" not in settings
    assert str(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]) == (
        "<ClientId=<identity.properties.clientId>;Authorization=AAD>")


def test_tables_for_schedules_and_runs_are_created_with_the_configured_names():
    resources = deploy(schedulesTableName="sched", runsTableName="history")
    tables = {r.body["name"] for r in resources if r.type.endswith("/tables")}
    assert tables == {"sched", "history"}
    settings = app_settings(resources)
    assert (settings["SCHEDULES_TABLE"], settings["RUNS_TABLE"]) == ("sched", "history")


# ------------------------------------------------------------------ networking and naming


def test_vnet_integration_routes_all_traffic_through_the_subnet():
    subnet = "/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"
    site = one(deploy(integrationSubnetId=subnet), "Microsoft.Web/sites")
    assert site.body["properties"]["virtualNetworkSubnetId"] == subnet
    assert site.body["properties"]["vnetRouteAllEnabled"] is True
    plain = one(deploy(), "Microsoft.Web/sites")
    assert plain.body["properties"]["virtualNetworkSubnetId"] is None
    premium = one(deploy(hostingPlan="Premium", integrationSubnetId=subnet), "Microsoft.Web/sites")
    assert premium.body["properties"]["vnetContentShareEnabled"] is True


@pytest.mark.parametrize("prefix", ["amlsched", "ml-ops", "abc", "abcdefghijk"])
def test_generated_names_are_valid(prefix):
    import re

    resources = deploy(namePrefix=prefix)
    storage = one(resources, "Microsoft.Storage/storageAccounts").body["name"]
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage), storage
    site = one(resources, "Microsoft.Web/sites").body["name"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,58}[a-z0-9]", site), site
    again = deploy(namePrefix=prefix)
    assert one(again, "Microsoft.Web/sites").body["name"] == site, "names are deterministic per resource group"


def test_explicit_app_name_wins():
    assert one(deploy(functionAppName="my-scheduler"), "Microsoft.Web/sites").body["name"] == "my-scheduler"


def test_parameter_decorators_are_enforced():
    with pytest.raises(ValueError):
        deploy(hostingPlan="Dedicated")
    with pytest.raises(ValueError):
        deploy(flexMaximumInstanceCount=5)
    with pytest.raises(ValueError):
        deploy(namePrefix="a-prefix-that-is-too-long")


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_python_version_is_a_choice_that_reaches_the_runtime(plan, version):
    site = one(deploy(hostingPlan=plan, pythonVersion=version), "Microsoft.Web/sites").body["properties"]
    if plan == "FlexConsumption":
        assert site["functionAppConfig"]["runtime"] == {"name": "python", "version": version}
    else:
        assert site["siteConfig"]["linuxFxVersion"] == f"Python|{version}"


def test_python_versions_outside_the_supported_three_are_refused():
    for version in ("3.9", "3.14"):
        with pytest.raises(ValueError):
            deploy(pythonVersion=version)


# ------------------------------------------------------------------ who may call the API

ENTRA_CLIENT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
TENANT = "00000000-0000-0000-0000-00000000bbbb"  # the evaluator's deployment tenant


def test_without_entra_auth_the_api_takes_function_keys_and_easy_auth_stays_off():
    resources = deploy()
    assert site_config(resources, "authsettingsV2") is None
    settings = app_settings(resources)
    assert settings["API_AUTH_MODE"] == "functionKey" and "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID" not in settings


@pytest.mark.parametrize("plan", PLANS)
def test_entra_auth_puts_easy_auth_in_front_and_validates_tokens_without_a_secret(plan):
    resources = deploy(hostingPlan=plan, enableEntraAuth=True, entraClientId=ENTRA_CLIENT_ID)
    auth = site_config(resources, "authsettingsV2").body
    # On the app the template creates: the module refers to it by name, in the same group.
    sites = {r.existing: r for r in resources if r.type == "Microsoft.Web/sites"}
    assert sites[True].body["name"] == sites[False].body["name"] and sites[True].scope == sites[False].scope
    assert str(auth["parent"]) == "ResourceRef(functionApp)" and sites[True].file == "easy-auth.bicep"
    props = auth["properties"]
    assert props["platform"]["enabled"] is True and props["httpSettings"]["requireHttps"] is True
    assert props["globalValidation"] == {"requireAuthentication": True, "unauthenticatedClientAction": "Return401",
                                         "excludedPaths": ["/api/health"]}
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"] == {"clientId": ENTRA_CLIENT_ID, "clientSecretSettingName": None,
                                   "openIdIssuer": f"https://login.microsoftonline.com/{TENANT}/v2.0"}
    assert aad["validation"]["allowedAudiences"] == [f"api://{ENTRA_CLIENT_ID}", ENTRA_CLIENT_ID]
    settings = app_settings(resources)
    assert settings["API_AUTH_MODE"] == "entra"
    assert not [k for k in settings if "SECRET" in k.upper()], "Easy Auth needs no client secret here"
    # The app's own settings are complete before Easy Auth starts sending principals.
    module = next(d for d in parse_file(MAIN) if d.kind == "module" and d.name == "easyAuth")
    assert "settings" in refs(module.value)


def test_entra_auth_takes_another_tenant_and_explicit_audiences():
    tenant = "11111111-2222-3333-4444-555555555555"
    auth = site_config(deploy(enableEntraAuth=True, entraClientId=ENTRA_CLIENT_ID, entraTenantId=tenant,
                              entraAllowedAudiences=["api://scheduler"]), "authsettingsV2").body["properties"]
    aad = auth["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"]["openIdIssuer"] == f"https://login.microsoftonline.com/{tenant}/v2.0"
    assert aad["validation"]["allowedAudiences"] == ["api://scheduler"]


def test_browser_sign_in_uses_the_managed_identity_as_a_federated_credential_not_a_secret():
    resources = deploy(enableEntraAuth=True, entraClientId=ENTRA_CLIENT_ID, entraSignInWithManagedIdentity=True)
    registration = site_config(resources, "authsettingsV2").body["properties"]["identityProviders"][
        "azureActiveDirectory"]["registration"]
    assert registration["clientSecretSettingName"] == "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
    settings = app_settings(resources)
    assert str(settings["OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"]) == "<identity.properties.clientId>"
    # Without Easy Auth the switch does nothing.
    assert "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID" not in app_settings(deploy(entraSignInWithManagedIdentity=True))
