"""Shared fixtures: a real Azurite per test session, the emulators in-process."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import settings as hypothesis_settings

from devtools.aml_emulator import AmlEmulator
from devtools.aml_emulator.local_seeds import seed_local_workspace
from devtools.identity_emulator import IdentityEmulator
from devtools.stack import (
    AZURITE_ACCOUNT_KEY,
    free_port,
    start_azurite,
    stop_process_group,
    storage_connection_string,
    tables_connection_string,
    wait_for_port,
)

PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
ENDPOINT_ID = "99999999-8888-7777-6666-555555555555"
FAILING_PIPELINE_ID = "22222222-3333-4444-5555-666666666666"
REPO_ROOT = Path(__file__).resolve().parents[1]

# In CI every run draws the same examples (a red build must mean a change broke something,
# not that this run drew an unlucky case); locally each run explores new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def azurite_services(tmp_path_factory):
    """Azurite's table and queue services, started for this session (ports and connection strings)."""
    log_dir = tmp_path_factory.mktemp("azurite")
    table_port, queue_port = free_port(), free_port()
    procs = []
    try:
        procs.append(start_azurite(table_port, log_dir / "azurite.log"))
        procs.append(start_azurite(queue_port, log_dir / "azurite-queue.log", service="queue"))
        for port, proc in zip((table_port, queue_port), procs):
            wait_for_port("127.0.0.1", port, 30, proc=proc)
        yield SimpleNamespace(
            table_port=table_port,
            queue_port=queue_port,
            tables_connection_string=tables_connection_string(table_port),
            storage_connection_string=storage_connection_string(table_port, queue_port),
        )
    finally:
        for proc in procs:
            stop_process_group(proc)


@pytest.fixture(scope="session")
def azurite(azurite_services):
    """Connection string of the session's Azurite table service (tables only)."""
    return azurite_services.tables_connection_string


@pytest.fixture(scope="session")
def azurite_storage(azurite_services):
    """Connection string naming both the session's Azurite tables and queues, as AzureWebJobsStorage does."""
    return azurite_services.storage_connection_string


@pytest.fixture
def table_names():
    suffix = uuid.uuid4().hex[:10]
    return f"sched{suffix}", f"runs{suffix}"


@pytest.fixture(scope="session")
def identity_emulator():
    with IdentityEmulator() as emulator:
        yield emulator


@pytest.fixture
def identity_env(identity_emulator, monkeypatch):
    for name, value in identity_emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    return identity_emulator


@pytest.fixture(scope="session")
def aml_emulator_session():
    with AmlEmulator(run_seconds=1.0, cancel_seconds=0.3) as emulator:
        yield emulator


@pytest.fixture
def aml_emulator(aml_emulator_session):
    emulator = aml_emulator_session
    emulator.reset()
    emulator.register_pipeline(PIPELINE_ID)
    emulator.register_pipeline(FAILING_PIPELINE_ID, outcome="Failed")
    emulator.register_pipeline(ENDPOINT_ID, kind="endpoint", versions=["1", "2"])
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def app_env(aml_emulator, identity_env, azurite, azurite_storage, table_names):
    """App settings for a runtime wired to Azurite (tables and a queue of its own) and both emulators."""
    return {
        "QUEUES_CONNECTION_STRING": azurite_storage,
        "SLOT_QUEUE": "slots-" + table_names[0].removeprefix("sched"),
        "AML_SUBSCRIPTION_ID": aml_emulator.subscription_id,
        "AML_RESOURCE_GROUP": aml_emulator.resource_group,
        "AML_WORKSPACE_NAME": aml_emulator.workspace,
        "AML_API_BASE_URL": aml_emulator.base_url,
        "AML_INFERENCE_BASE_URL": aml_emulator.base_url,
        "ARM_BASE_URL": aml_emulator.base_url,
        "TABLES_CONNECTION_STRING": azurite,
        "SCHEDULES_TABLE": table_names[0],
        "RUNS_TABLE": table_names[1],
        "AML_HTTP_TIMEOUT_SECONDS": "3",
    }


# -- the app served in-process by the dev host, against its own AML emulator ------------------

class HttpClient:
    """Calls the app over HTTP; answers (status, parsed JSON or None, headers)."""

    def __init__(self, base: str):
        import requests

        self.base = base.rstrip("/")
        self.session = requests.Session()

    def __call__(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers=None,
                 files=None, params=None, timeout: float = 30):
        # Connections are kept alive, as a real client's are: the dev host answers each request
        # in one send, so no answer waits out a delayed ACK.
        kwargs = {"headers": dict(headers or {}), "params": params, "timeout": timeout}
        if files is not None:
            kwargs["files"] = files
        elif raw is not None:
            kwargs["data"] = raw
            kwargs["headers"].setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        response = self.session.request(method, f"{self.base}/{path}", **kwargs)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = response.text
        return response.status_code, payload, response.headers


@pytest.fixture(scope="session")
def http_client():
    """The HttpClient class, for tests that talk to a dev host of their own choosing."""
    return HttpClient


@pytest.fixture(scope="module")
def proxy_host(identity_emulator, azurite, azurite_storage):
    """function_app served by an in-process dev host (no timers, no queues), wired to a fresh AML emulator.

    The app's process-wide singletons (runtime, handlers, credential) are reset around
    the module, so the app is built from exactly these settings.
    """
    import shared.api.routing
    import shared.identity
    import shared.runtime
    from devtools.devhost import DevHost

    suffix = uuid.uuid4().hex[:10]
    emulator = AmlEmulator(run_seconds=1.0, cancel_seconds=0.3, operation_seconds=0.3, compute_page_size=2,
                           query_page_size=3).start()
    emulator.register_pipeline(PIPELINE_ID)
    emulator.register_pipeline(ENDPOINT_ID, kind="endpoint", versions=["1", "2"])
    # The local stack's AML v2 workspace (compute cpu-cluster, batch endpoint score-batch), which
    # the OpenAPI document's examples name.
    seed_local_workspace(emulator)
    settings = {
        **identity_emulator.env(),
        "AML_SUBSCRIPTION_ID": emulator.subscription_id,
        "AML_RESOURCE_GROUP": emulator.resource_group,
        "AML_WORKSPACE_NAME": emulator.workspace,
        "AML_API_BASE_URL": emulator.base_url,
        "AML_INFERENCE_BASE_URL": emulator.base_url,
        "ARM_BASE_URL": emulator.base_url,
        "TABLES_CONNECTION_STRING": azurite,
        "QUEUES_CONNECTION_STRING": azurite_storage,
        "SLOT_QUEUE": f"slots-{suffix}",
        "SCHEDULES_TABLE": f"sched{suffix}",
        "RUNS_TABLE": f"runs{suffix}",
        "AML_HTTP_TIMEOUT_SECONDS": "2",
        "AML_MAX_RETRIES": "2",
        "AML_PROXY_MAX_WAIT_SECONDS": "2",
        "AML_PROXY_MAX_UPLOAD_MB": "1",
    }

    def forget_singletons():
        shared.runtime._runtime = None
        shared.identity._credential = None
        shared.api.routing.forget_handlers()

    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "AML_PROXY_ALLOW_DESTRUCTIVE"):
            patch.delenv(name, raising=False)
        forget_singletons()
        host = DevHost(REPO_ROOT, port=free_port(), timers=False, queues=False)
        host.start()
        try:
            yield SimpleNamespace(url=host.base_url, aml=emulator, settings=settings,
                                  client=HttpClient(host.base_url))
        finally:
            host.stop()
            emulator.stop()
            forget_singletons()


# -- what a request wrote: tables and AML --------------------------------------------------------

# AML answers these POSTs without changing anything (run queries, node lists), so they are reads.
AML_READ_ONLY_POSTS = ("/runs:query", "/listNodes")


def written_state(host) -> dict:
    """Every entity of the app's two tables (keys and ETags) and every AML write that may have acted.

    Two snapshots taken around a request are equal exactly when it wrote nothing.
    """
    from azure.core.exceptions import ResourceNotFoundError
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(host.settings["TABLES_CONNECTION_STRING"])
    tables = {}
    for setting in ("SCHEDULES_TABLE", "RUNS_TABLE"):
        client = service.get_table_client(host.settings[setting])
        try:
            tables[setting] = sorted((e["PartitionKey"], e["RowKey"], e.metadata["etag"])
                                     for e in client.list_entities(select=["PartitionKey", "RowKey"]))
        except ResourceNotFoundError:  # created on the app's first write
            tables[setting] = []
    # A write AML refused with a 4xx changed nothing there; one it accepted, or whose answer was
    # lost or a 5xx, may have.
    aml_writes = [(r["method"], r["path"], r["query"]) for r in host.aml.requests_log()
                  if r["method"] != "GET" and not r["path"].endswith(AML_READ_ONLY_POSTS)
                  and not (r["status"] is not None and 400 <= r["status"] < 500)]
    return {"tables": tables, "amlWrites": aml_writes}


# -- no credential in any log the suite produces --------------------------------------------
#
# Every log record of the test process goes to a file, the stacks' process logs are found
# under the session's temporary directory (or registered when a LocalStack fixture is set
# up elsewhere), and at the end all of them are scanned; a finding fails the run.

_LOG_SCAN: dict = {"dirs": set(), "files": set(), "secrets": {AZURITE_ACCOUNT_KEY}, "findings": []}


def register_secret(value: str) -> str:
    """A value no log of this run may hold (a test's webhook token, say); returned for convenience."""
    _LOG_SCAN["secrets"].add(value)
    return value


@pytest.fixture(scope="session", autouse=True)
def _capture_every_log_record(tmp_path_factory):
    basetemp = tmp_path_factory.getbasetemp()
    path = basetemp / "captured-records.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    _LOG_SCAN["dirs"].add(basetemp)
    _LOG_SCAN["files"].add(path)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(previous_level)


class _SecretRegistry:
    """Learns the secrets and log files of stacks and emulators as their fixtures are set up.

    Registered as a plugin rather than written as a conftest hook: the setup hook of a
    session-scoped fixture runs on the session node, which sees only root-level conftests.
    """

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        outcome = yield
        try:
            value = outcome.get_result()
        except BaseException:  # a failed fixture has nothing to register
            return
        header = getattr(value, "identity_header", None)
        if isinstance(header, str):
            _LOG_SCAN["secrets"].add(header)
        log_paths = getattr(value, "log_paths", None)
        if isinstance(log_paths, dict):
            _LOG_SCAN["files"].update(Path(p) for p in log_paths.values())


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("log-secret-registry"):
        config.pluginmanager.register(_SecretRegistry(), "log-secret-registry")


def pytest_sessionfinish(session, exitstatus):
    from devtools.secret_scan import scan_files

    files = set(_LOG_SCAN["files"])
    for folder in _LOG_SCAN["dirs"]:
        files.update(Path(folder).rglob("*.log"))
    _LOG_SCAN["findings"] = scan_files(sorted(files), _LOG_SCAN["secrets"])
    _LOG_SCAN["scanned"] = len(files)
    if _LOG_SCAN["findings"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Lines a test module wants at the end of the run (the contract run's figures), in order.
RUN_SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in RUN_SUMMARY:
        terminalreporter.write_line(line)
    findings = _LOG_SCAN["findings"]
    if findings:
        terminalreporter.section("credentials found in logs", sep="=", red=True)
        for finding in findings[:50]:
            terminalreporter.write_line(str(finding))
        terminalreporter.write_line(f"{len(findings)} finding(s); the run fails")
    elif _LOG_SCAN.get("scanned"):
        terminalreporter.write_line(f"log scan: no credentials in {_LOG_SCAN['scanned']} log file(s)")
