"""App settings, read from the environment and validated at first use.

Validation is lazy on purpose: the Functions worker imports `function_app` before any
trigger runs, and a missing setting must surface as a clear error from the trigger
that needs it (and from `GET health`), not as "0 functions loaded".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from shared.alerts.webhook import HOSTS_SETTING, HTTP_LOOPBACK_SETTING, WebhookPolicy, parse_allow_list
from shared.access.mode import mode_problem, parse_mode


class ConfigError(Exception):
    """One or more settings are missing or malformed; `problems` names each setting."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        super().__init__(f"invalid app settings: {listed}")


# Every setting the code reads. The Bicep template and local.settings.sample.json are
# checked against this tuple by a test, so adding a setting here without wiring it
# through infra fails CI.
SETTING_NAMES = (
    "AML_SUBSCRIPTION_ID",
    "AML_RESOURCE_GROUP",
    "AML_WORKSPACE_NAME",
    "AML_REGION",
    "AML_API_BASE_URL",
    "ARM_BASE_URL",
    "ARM_TOKEN_SCOPE",
    "AML_TOKEN_SCOPE",
    "AML_STUDIO_URL",
    "AML_INFERENCE_BASE_URL",
    "AML_BATCH_TOKEN_SCOPE",
    "AML_HTTP_TIMEOUT_SECONDS",
    "AML_MAX_RETRIES",
    "AML_COMPUTE_API_VERSION",
    "AML_V2_API_VERSION",
    "AML_PROXY_ALLOW_DESTRUCTIVE",
    "AML_PROXY_MAX_UPLOAD_MB",
    "AML_PROXY_MAX_WAIT_SECONDS",
    "AZURE_CLIENT_ID",
    "TABLES_CONNECTION_STRING",
    "TABLES_ENDPOINT",
    "SCHEDULES_TABLE",
    "RUNS_TABLE",
    "RUNS_RETENTION_DAYS",
    "TICK_SCHEDULE",
    "POLL_SCHEDULE",
    "SLOT_QUEUE",
    "QUEUES_CONNECTION_STRING",
    "QUEUES_ENDPOINT",
    "POLL_CONCURRENCY",
    "DISPATCH_PAGE_SIZE",
    "API_AUTH_MODE",
    "ALERT_QUEUE",
    HOSTS_SETTING,
)
# Read by the code but for local development only: the template must never set them (a
# test checks), the sample settings file does.
DEV_ONLY_SETTING_NAMES = (
    HTTP_LOOPBACK_SETTING,
)

DEFAULT_ARM_BASE_URL = "https://management.azure.com"
DEFAULT_ARM_SCOPE = "https://management.azure.com/.default"
DEFAULT_STUDIO_URL = "https://ml.azure.com"
# Batch endpoint invocations are the one call AML accepts only with the ml.azure.com audience.
DEFAULT_BATCH_TOKEN_SCOPE = "https://ml.azure.com/.default"
INFERENCE_HOST_SUFFIX = "inference.ml.azure.com"
# A stable Microsoft.MachineLearningServices api-version with the compute operations
# (2025-12-01 is also published; switch with the setting once it is available in your cloud).
DEFAULT_COMPUTE_API_VERSION = "2025-09-01"
# Jobs, batch endpoints and schedules (AML v2), as checked against azure-ai-ml's generated client.
DEFAULT_V2_API_VERSION = "2025-12-01"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# ARM resource group names: letters, digits, underscores, hyphens, periods, parentheses;
# at most 90 characters; no trailing period.
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
# AML workspace names: 3-33 characters, alphanumeric start, then alphanumerics, - or _.
_WORKSPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
_REGION = re.compile(r"^[a-z0-9]{2,40}$")
# `<endpoint>.<region>.inference.ml.azure.com`: endpoint names are 3-32 letters, digits and '-'.
_INFERENCE_HOST = re.compile(r"[a-z][a-z0-9-]{1,31}\.[a-z0-9]{2,40}\.inference\.ml\.azure\.com")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
# Storage queue names: 3-63 lowercase letters, digits and single hyphens, not at either end.
_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
DEFAULT_SLOT_QUEUE = "scheduler-slots"
# 32 keeps a dispatch page's claims (2 operations each) and its cursor moves (3 each) one
# table transaction each, and makes the nightly thousand 32 messages.
DEFAULT_DISPATCH_PAGE_SIZE = 32
DEFAULT_ALERT_QUEUE = "alerts"


@dataclass(frozen=True)
class Settings:
    subscription_id: str
    resource_group: str
    workspace_name: str
    aml_api_base_url: str
    arm_base_url: str
    arm_token_scope: str
    aml_token_scope: str
    studio_url: str
    http_timeout_seconds: float
    max_retries: int
    compute_api_version: str
    allow_destructive: bool
    max_upload_bytes: int
    max_wait_seconds: float
    managed_identity_client_id: str | None
    tables_connection_string: str | None
    tables_endpoint: str | None
    schedules_table: str
    runs_table: str
    runs_retention_days: int
    region: str | None = None
    v2_api_version: str = DEFAULT_V2_API_VERSION
    inference_base_url: str | None = None
    batch_token_scope: str = DEFAULT_BATCH_TOKEN_SCOPE
    slot_queue: str = DEFAULT_SLOT_QUEUE
    queues_connection_string: str | None = None
    queues_endpoint: str | None = None
    poll_concurrency: int = 32
    dispatch_page_size: int = DEFAULT_DISPATCH_PAGE_SIZE
    # functionKey or entra (shared.access.mode, which reads it once at import).
    api_auth_mode: str = "functionKey"
    alert_queue: str = DEFAULT_ALERT_QUEUE
    # Where schedules' alert webhooks may post (ALERT_WEBHOOK_HOSTS and the dev-only http switch).
    webhook_policy: WebhookPolicy = WebhookPolicy()

    @property
    def workspace_path(self) -> str:
        """The ARM path of the workspace, shared by ARM and the AML data-plane services."""
        return (
            f"subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}"
        )

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """The fixed hosts the AML client may call: those configured, never one from a request."""
        return frozenset(urlsplit(u).netloc.lower() for u in (self.aml_api_base_url, self.arm_base_url))

    def allows_host(self, host: str) -> bool:
        """The fixed hosts, and the batch-scoring hosts of this workspace's region (or the
        configured inference base): where a batch endpoint's scoring URI may lead."""
        host = host.lower()
        if host in self.allowed_hosts:
            return True
        if self.inference_base_url:
            return host == urlsplit(self.inference_base_url).netloc.lower()
        return bool(self.region) and _INFERENCE_HOST.fullmatch(host) is not None \
            and host.endswith(f".{self.region}.{INFERENCE_HOST_SUFFIX}")

    def scoring_uri_ok(self, endpoint_name: str, uri: str) -> bool:
        """Whether a scoring URI that ARM gave for `endpoint_name` is one the app may post to."""
        parts = urlsplit(uri)
        if parts.query or parts.fragment or parts.username or parts.password:
            return False
        if self.inference_base_url:
            return uri.startswith(self.inference_base_url + "/")
        expected = f"{endpoint_name.lower()}.{self.region}.{INFERENCE_HOST_SUFFIX}"
        return bool(self.region) and parts.scheme == "https" and parts.netloc.lower() == expected


def _base_url(name: str, value: str, problems: dict[str, str]) -> str:
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        problems[name] = "must be an absolute https URL"
    elif parts.scheme == "http" and not loopback:
        # Plain http is only tolerated for the local emulators; a token must never
        # travel unencrypted to a remote host.
        problems[name] = "must use https (http is allowed for loopback emulators only)"
    elif parts.query or parts.fragment:
        problems[name] = "must not carry a query or fragment"
    return value.rstrip("/")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            problems: dict[str, str], *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        problems[name] = f"must be a {'whole ' if integer else ''}number"
        return default
    if not low <= value <= high:
        problems[name] = f"must be between {low:g} and {high:g}"
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigError naming all the bad ones at once."""
    env = os.environ if env is None else env
    problems: dict[str, str] = {}

    def get(name: str) -> str:
        return env.get(name, "").strip()

    def required(name: str, pattern: re.Pattern[str], rule: str) -> str:
        value = get(name)
        if not value:
            problems[name] = "is required"
        elif not pattern.match(value):
            problems[name] = f"must be {rule}"
        return value

    subscription_id = required("AML_SUBSCRIPTION_ID", _GUID, "a subscription GUID")
    resource_group = required("AML_RESOURCE_GROUP", _RESOURCE_GROUP,
                              "a resource group name (1-90 of letters, digits, - _ . ( ))")
    if resource_group.endswith("."):
        problems["AML_RESOURCE_GROUP"] = "must not end with a period"
    workspace_name = required("AML_WORKSPACE_NAME", _WORKSPACE,
                              "a workspace name (3-33 of letters, digits, - _)")

    api_base = get("AML_API_BASE_URL")
    region = get("AML_REGION")
    if api_base:
        api_base = _base_url("AML_API_BASE_URL", api_base, problems)
    elif region:
        if _REGION.match(region):
            api_base = f"https://{region}.api.azureml.ms"
        else:
            problems["AML_REGION"] = "must be an Azure region name such as westeurope"
    else:
        problems["AML_REGION"] = "is required unless AML_API_BASE_URL is set"

    arm_base = _base_url("ARM_BASE_URL", get("ARM_BASE_URL") or DEFAULT_ARM_BASE_URL, problems)
    arm_scope = get("ARM_TOKEN_SCOPE") or DEFAULT_ARM_SCOPE
    # The pipelines and run-history services accept an ARM token (that is what the AML
    # SDK v1 sends); a deployment can switch to https://ml.azure.com/.default here.
    aml_scope = get("AML_TOKEN_SCOPE") or arm_scope
    for name, scope in (("ARM_TOKEN_SCOPE", arm_scope), ("AML_TOKEN_SCOPE", aml_scope)):
        if not scope.startswith("https://") or not scope.endswith("/.default"):
            problems[name] = "must look like https://<audience>/.default"
    studio = _base_url("AML_STUDIO_URL", get("AML_STUDIO_URL") or DEFAULT_STUDIO_URL, problems)
    inference_base = get("AML_INFERENCE_BASE_URL") or None
    if inference_base:
        inference_base = _base_url("AML_INFERENCE_BASE_URL", inference_base, problems)
    batch_scope = get("AML_BATCH_TOKEN_SCOPE") or DEFAULT_BATCH_TOKEN_SCOPE
    if not batch_scope.startswith("https://") or not batch_scope.endswith("/.default"):
        problems["AML_BATCH_TOKEN_SCOPE"] = "must look like https://<audience>/.default"

    timeout = _number(env, "AML_HTTP_TIMEOUT_SECONDS", 30.0, 1.0, 200.0, problems)
    retries = int(_number(env, "AML_MAX_RETRIES", 4, 0, 10, problems, integer=True))

    compute_api_version = get("AML_COMPUTE_API_VERSION") or DEFAULT_COMPUTE_API_VERSION
    if not _API_VERSION.match(compute_api_version):
        problems["AML_COMPUTE_API_VERSION"] = "must be an ARM api-version such as 2025-09-01"
    v2_api_version = get("AML_V2_API_VERSION") or DEFAULT_V2_API_VERSION
    if not _API_VERSION.match(v2_api_version):
        problems["AML_V2_API_VERSION"] = "must be an ARM api-version such as 2025-12-01"
    allow_raw = (get("AML_PROXY_ALLOW_DESTRUCTIVE") or "true").lower()
    if allow_raw not in ("true", "false"):
        problems["AML_PROXY_ALLOW_DESTRUCTIVE"] = "must be true or false"
    allow_destructive = allow_raw != "false"
    # The Functions front end refuses bodies over 100 MB anyway.
    upload_mb = int(_number(env, "AML_PROXY_MAX_UPLOAD_MB", 20, 1, 100, problems, integer=True))
    # HTTP responses are cut off at 230 s, so a waiting request must give up well before.
    max_wait = _number(env, "AML_PROXY_MAX_WAIT_SECONDS", 60.0, 0.0, 200.0, problems)

    client_id = get("AZURE_CLIENT_ID") or None
    if client_id and not _GUID.match(client_id):
        problems["AZURE_CLIENT_ID"] = "must be the client id (GUID) of the user-assigned identity"

    connection_string = get("TABLES_CONNECTION_STRING") or None
    tables_endpoint = get("TABLES_ENDPOINT") or None
    if connection_string is None and tables_endpoint is None:
        problems["TABLES_CONNECTION_STRING"] = "or TABLES_ENDPOINT is required"
    if tables_endpoint:
        tables_endpoint = _base_url("TABLES_ENDPOINT", tables_endpoint, problems)

    tables = {}
    for name, default in (("SCHEDULES_TABLE", "schedules"), ("RUNS_TABLE", "runs")):
        tables[name] = get(name) or default
        if not _TABLE_NAME.match(tables[name]):
            problems[name] = "must be a table name (3-63 letters and digits, starting with a letter)"
    retention = int(_number(env, "RUNS_RETENTION_DAYS", 90, 1, 3650, problems, integer=True))
    if tables["SCHEDULES_TABLE"].lower() == tables["RUNS_TABLE"].lower():
        problems["RUNS_TABLE"] = "must differ from SCHEDULES_TABLE"

    slot_queue = get("SLOT_QUEUE") or DEFAULT_SLOT_QUEUE
    if not _QUEUE_NAME.match(slot_queue):
        problems["SLOT_QUEUE"] = "must be a queue name (3-63 lowercase letters, digits and single hyphens)"
    queues_connection_string = get("QUEUES_CONNECTION_STRING") or None
    queues_endpoint = get("QUEUES_ENDPOINT") or None
    if queues_connection_string is None and queues_endpoint is None:
        problems["QUEUES_CONNECTION_STRING"] = "or QUEUES_ENDPOINT is required"
    if queues_endpoint:
        queues_endpoint = _base_url("QUEUES_ENDPOINT", queues_endpoint, problems)
    # Schedules the poll checks at once, each mostly waiting on AML; Python runs one thread
    # at a time, so more than a few dozen only adds contention.
    poll_concurrency = int(_number(env, "POLL_CONCURRENCY", 32, 1, 64, problems, integer=True))
    # Due schedules per dispatch message (shared.engine.tick).
    dispatch_page_size = int(_number(env, "DISPATCH_PAGE_SIZE", DEFAULT_DISPATCH_PAGE_SIZE, 1, 100, problems,
                                     integer=True))
    alert_queue = get("ALERT_QUEUE") or DEFAULT_ALERT_QUEUE
    if not _QUEUE_NAME.match(alert_queue):
        problems["ALERT_QUEUE"] = "must be a queue name (3-63 lowercase letters, digits and single hyphens)"
    elif alert_queue in (slot_queue, f"{slot_queue}-poison"):
        problems["ALERT_QUEUE"] = "must differ from SLOT_QUEUE and its poison queue"
    try:
        webhook_rules = parse_allow_list(get(HOSTS_SETTING))
    except ValueError as exc:
        problems[HOSTS_SETTING] = str(exc)
        webhook_rules = ()
    http_loopback = (get(HTTP_LOOPBACK_SETTING) or "false").lower()
    if http_loopback not in ("true", "false"):
        problems[HTTP_LOOPBACK_SETTING] = "must be true or false"

    auth_problem = mode_problem(get("API_AUTH_MODE"))
    if auth_problem:
        problems["API_AUTH_MODE"] = auth_problem

    if problems:
        raise ConfigError(problems)
    return Settings(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        aml_api_base_url=api_base,
        arm_base_url=arm_base,
        arm_token_scope=arm_scope,
        aml_token_scope=aml_scope,
        studio_url=studio,
        http_timeout_seconds=timeout,
        max_retries=retries,
        compute_api_version=compute_api_version,
        v2_api_version=v2_api_version,
        allow_destructive=allow_destructive,
        max_upload_bytes=upload_mb * 1024 * 1024,
        max_wait_seconds=max_wait,
        managed_identity_client_id=client_id,
        tables_connection_string=connection_string,
        tables_endpoint=tables_endpoint,
        schedules_table=tables["SCHEDULES_TABLE"],
        runs_table=tables["RUNS_TABLE"],
        runs_retention_days=retention,
        region=region if region and _REGION.match(region) else None,
        inference_base_url=inference_base,
        batch_token_scope=batch_scope,
        slot_queue=slot_queue,
        queues_connection_string=queues_connection_string,
        queues_endpoint=queues_endpoint,
        poll_concurrency=poll_concurrency,
        dispatch_page_size=dispatch_page_size,
        api_auth_mode=parse_mode(get("API_AUTH_MODE")) or "functionKey",
        alert_queue=alert_queue,
        webhook_policy=WebhookPolicy(webhook_rules, allow_http_loopback=http_loopback == "true"),
    )
