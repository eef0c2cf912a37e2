"""Run the local stack (Azurite, identity emulator, AML emulator, dev host) as child processes.

Used by the demo (``make run``) and the end-to-end tests::

    with LocalStack(app_dir, fixed_ports=False) as stack:
        requests.get(f"{stack.dev_host_url}/health")

Every child gets its own session, so stopping signals whole process groups and
nothing is left behind even when a child forks (Azurite's node, a shell wrapper).
Only the dev host sees the app settings; the emulators get a minimal environment.
The dev host does not override variables that are already set, so the settings
passed here beat those in the app's local.settings file.

Azurite runs as two processes from the same npm package: its table service and its
queue service (``azurite-table``, ``azurite-queue``), both in memory on loopback.
``AzureWebJobsStorage`` names both endpoints, so the dev host's queue triggers and the
app reach the same emulator; ``TABLES_CONNECTION_STRING`` names the tables only.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The process helpers live in devtools.processes; they stay importable from here.
from devtools.processes import (
    LOOPBACK,
    STOP_TIMEOUT,
    StackError,
    free_ports,
    port_accepts,
    spawn_in_own_session,
    log_tail,
    free_port,
    process_group_members,
    stop_process_group,
    wait_for_http,
    wait_for_port,
)

__all__ = [
    "AZURITE_ACCOUNT_KEY",
    "AZURITE_ACCOUNT_NAME",
    "FIXED_PORTS",
    "LocalStack",
    "StackError",
    "azurite_command",
    "find_azurite",
    "free_port",
    "process_group_members",
    "start_azurite",
    "stop_process_group",
    "storage_connection_string",
    "tables_connection_string",
    "wait_for_http",
    "wait_for_port",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Child name -> port for `make run`; Azurite's own defaults for its two services.
FIXED_PORTS = {"azurite": 10002, "azurite-queue": 10001, "identity": 8081, "aml": 8082, "devhost": 7071}
# Which Azurite service each Azurite child runs (the npm package ships one binary per service).
AZURITE_SERVICES = {"azurite": "table", "azurite-queue": "queue"}
READY_TIMEOUT = 30.0
# Azurite's documented development account; it opens nothing but a local emulator.
AZURITE_ACCOUNT_NAME = "devstoreaccount1"
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
LOCAL_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "rg-local"
LOCAL_WORKSPACE_NAME = "ws-local"
IDENTITY_HEALTH_PATH = "/healthz"
AML_HEALTH_PATH = "/_emulator/healthz"
_MINIMAL_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def tables_connection_string(port: int, host: str = LOOPBACK) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT_NAME};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT_NAME};"
    )


def storage_connection_string(table_port: int, queue_port: int, host: str = LOOPBACK) -> str:
    """One connection string for both Azurite services, as ``AzureWebJobsStorage`` holds it.

    Every endpoint is named: a connection string without ``QueueEndpoint`` makes the
    storage SDKs build the production URL (``https://devstoreaccount1.queue.core...``).
    """
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT_NAME};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{table_port}/{AZURITE_ACCOUNT_NAME};"
        f"QueueEndpoint=http://{host}:{queue_port}/{AZURITE_ACCOUNT_NAME}"
    )


def _minimal_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in _MINIMAL_ENV_KEYS if key in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def find_azurite(start_dir: str | os.PathLike[str] = REPO_ROOT, service: str = "table") -> Path:
    """``node_modules/.bin/azurite-<service>`` in ``start_dir`` or the nearest folder above it."""
    start = Path(start_dir).resolve()
    binary = f"azurite-{service}"
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / ".bin" / binary
        if candidate.exists():
            return candidate
    raise StackError(
        f"Azurite is not installed (no node_modules/.bin/{binary} in {start} or above); "
        "run `make setup`"
    )


def azurite_command(
    port: int, *, app_dir: str | os.PathLike[str] = REPO_ROOT, service: str = "table"
) -> list[str]:
    """Azurite's ``service`` ("table" or "queue") on loopback, in memory, quiet."""
    if service not in ("table", "queue"):
        raise ValueError(f"unknown Azurite service {service!r}")
    return [
        str(find_azurite(app_dir, service)),
        f"--{service}Host",
        LOOPBACK,
        f"--{service}Port",
        str(port),
        "--silent",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]


def start_azurite(
    port: int,
    log_path: str | os.PathLike[str],
    *,
    app_dir: str | os.PathLike[str] = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    service: str = "table",
) -> subprocess.Popen[bytes]:
    """Start one Azurite service (tables by default) in its own process group; returns at once."""
    command = azurite_command(port, app_dir=app_dir, service=service)
    proc, _ = spawn_in_own_session(
        command, log_path=Path(log_path), env=env or _minimal_env(), cwd=Path(app_dir)
    )
    return proc


# ----------------------------------------------------------------------------- stack


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    pump: threading.Thread | None


class LocalStack:
    """Azurite (tables, queues) + identity emulator + AML emulator + dev host, in that order.

    ``start()`` (or ``with``) waits for each to be ready before starting the next and
    stops everything if one fails. ``stop()`` is idempotent, runs at interpreter exit
    and on SIGTERM/SIGINT (after which the previous handlers are restored and the
    signal is passed on to them).

    ``queues=False`` starts no Azurite queue service and runs the dev host with
    ``--no-queues``; ``AzureWebJobsStorage`` then names the tables only.

    The AML emulator's workspace holds the AML v2 resources the app can use locally
    (``devtools.aml_emulator.local_seeds``: compute cpu-cluster, batch endpoint
    score-batch with default deployment blue, schedule nightly-batch-score to import);
    ``aml_seeds=False`` leaves it empty.
    """

    def __init__(
        self,
        app_dir: str | os.PathLike[str] = REPO_ROOT,
        *,
        fixed_ports: bool = True,
        log_dir: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        run_seconds: float | None = None,
        pipelines: Iterable[str | tuple[str, str]] = (),
        stream: bool | Iterable[str] = False,
        console_filter: Callable[[str], bool] | None = None,
        ready_timeout: float = READY_TIMEOUT,
        stop_timeout: float = STOP_TIMEOUT,
        queues: bool = True,
        aml_seeds: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.queues = queues
        self.aml_seeds = aml_seeds
        if fixed_ports:
            self.ports = dict(FIXED_PORTS)
        else:
            self.ports = dict(zip(FIXED_PORTS, free_ports(len(FIXED_PORTS))))
        self.fixed_ports = fixed_ports
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.extra_env = dict(extra_env or {})
        self.run_seconds = run_seconds
        self.pipelines = [p if isinstance(p, str) else ":".join(p) for p in pipelines]
        if isinstance(stream, bool):
            self._streamed = set(FIXED_PORTS) if stream else set()
        else:
            self._streamed = set(stream)
        # Which streamed lines reach the console; the log files always get every line.
        self.console_filter = console_filter
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.identity_header = secrets.token_urlsafe(32)
        self._children: list[_Child] = []
        self._log_paths: dict[str, Path] = {}
        self.started_pids: dict[str, int] = {}  # leader pid of every child ever started
        self._lock = threading.RLock()
        self._previous_handlers: dict[int, Any] = {}
        self._env: dict[str, str] | None = None

    # -- addresses and settings

    @property
    def azurite_port(self) -> int:
        return self.ports["azurite"]

    @property
    def queue_port(self) -> int:
        return self.ports["azurite-queue"]

    @property
    def tables_connection_string(self) -> str:
        return tables_connection_string(self.ports["azurite"])

    @property
    def storage_connection_string(self) -> str:
        """``AzureWebJobsStorage``: both Azurite endpoints (the tables only without queues)."""
        if not self.queues:
            return self.tables_connection_string
        return storage_connection_string(self.ports["azurite"], self.ports["azurite-queue"])

    @property
    def identity_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['identity']}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.identity_url}/msi/token"

    @property
    def aml_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['aml']}"

    @property
    def dev_host_root(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['devhost']}"

    @property
    def dev_host_url(self) -> str:
        prefix = _route_prefix(self.app_dir)
        return f"{self.dev_host_root}/{prefix}" if prefix else self.dev_host_root

    @property
    def health_urls(self) -> dict[str, str]:
        return {
            "identity": self.identity_url + IDENTITY_HEALTH_PATH,
            "aml": self.aml_url + AML_HEALTH_PATH,
        }

    @property
    def app_settings(self) -> dict[str, str]:
        """The settings the stack gives the app (they beat the local.settings file)."""
        settings = {
            "TABLES_CONNECTION_STRING": self.tables_connection_string,
            "AzureWebJobsStorage": self.storage_connection_string,
            # The app sends slot messages to the queue the host's trigger reads.
            "QUEUES_CONNECTION_STRING": self.storage_connection_string,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "ARM_BASE_URL": self.aml_url,
            "AML_API_BASE_URL": self.aml_url,
            # The emulator serves batch scoring URIs itself.
            "AML_INFERENCE_BASE_URL": self.aml_url,
            "AML_SUBSCRIPTION_ID": LOCAL_SUBSCRIPTION_ID,
            "AML_RESOURCE_GROUP": LOCAL_RESOURCE_GROUP,
            "AML_WORKSPACE_NAME": LOCAL_WORKSPACE_NAME,
        }
        settings.update(self.extra_env)
        return settings

    @property
    def env(self) -> dict[str, str]:
        """The environment handed to the dev host process."""
        if self._env is None:
            env = dict(os.environ)
            env.update(self.app_settings)
            # The dev host runs in the app dir; devtools lives in the repo.
            pythonpath = [str(REPO_ROOT)]
            if os.environ.get("PYTHONPATH"):
                pythonpath.append(os.environ["PYTHONPATH"])
            env["PYTHONPATH"] = os.pathsep.join(pythonpath)
            env["PYTHONUNBUFFERED"] = "1"
            self._env = env
        return dict(self._env)

    @property
    def log_paths(self) -> dict[str, Path]:
        return dict(self._log_paths)

    def pids(self) -> dict[str, list[int]]:
        """Every live pid in each child's process group, by child name."""
        with self._lock:
            return {c.name: process_group_members(c.proc.pid) for c in self._children}

    # -- lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with self._lock:
            if self._children:
                return self
            if self.log_dir is None:
                self.log_dir = Path(tempfile.mkdtemp(prefix="localstack-logs-"))
            if self.fixed_ports:
                busy = [f"{n} {p}" for n, p in self.ports.items() if port_accepts(LOOPBACK, p)]
                if busy:
                    raise StackError(
                        f"ports already in use: {', '.join(busy)}; is another stack or "
                        "`func start` running? Stop it or use fixed_ports=False"
                    )
            atexit.register(self.stop)
            self._install_signal_handlers()
            try:
                self._start_all()
            except BaseException:
                self.stop()
                raise
        return self

    def _start_all(self) -> None:
        ports = self.ports
        python = sys.executable
        for name, service in AZURITE_SERVICES.items():
            if service == "queue" and not self.queues:
                continue
            self._launch(
                name,
                azurite_command(ports[name], app_dir=self.app_dir, service=service),
                env=_minimal_env(),
                cwd=self.app_dir,
            )
        self._launch(
            "identity",
            [python, "-m", "devtools.identity_emulator", "--host", LOOPBACK, "--port", str(ports["identity"])],
            # Through the environment, not argv, so the secret does not show in `ps`.
            env={**_minimal_env(), "IDENTITY_HEADER": self.identity_header},
            cwd=REPO_ROOT,
            health_url=self.health_urls["identity"],
        )
        aml_command = [python, "-m", "devtools.aml_emulator", "--host", LOOPBACK,
                       "--port", str(ports["aml"])]
        if self.run_seconds is not None:
            aml_command += ["--run-seconds", f"{self.run_seconds:g}"]
        for pipeline in self.pipelines:
            aml_command += ["--pipeline", pipeline]
        if self.aml_seeds:
            aml_command.append("--local-seeds")
        self._launch(
            "aml", aml_command, env=_minimal_env(), cwd=REPO_ROOT,
            health_url=self.health_urls["aml"],
        )
        devhost_command = [python, "-m", "devtools.devhost", "--app-dir", str(self.app_dir),
                           "--port", str(ports["devhost"])]
        if not self.queues:
            devhost_command.append("--no-queues")
        self._launch("devhost", devhost_command, env=self.env, cwd=self.app_dir)

    def _launch(
        self,
        name: str,
        command: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        health_url: str | None = None,
    ) -> None:
        assert self.log_dir is not None
        log_path = self.log_dir / f"{name}.log"
        self._log_paths[name] = log_path
        proc, pump = spawn_in_own_session(
            command,
            log_path=log_path,
            env=env,
            cwd=cwd,
            stream_prefix=name if name in self._streamed else None,
            console_filter=self.console_filter,
        )
        self._children.append(_Child(name, proc, log_path, pump))
        self.started_pids[name] = proc.pid
        deadline = time.monotonic() + self.ready_timeout
        try:
            wait_for_port(LOOPBACK, self.ports[name], self.ready_timeout, proc=proc)
            if health_url is not None:
                wait_for_http(health_url, max(0.5, deadline - time.monotonic()), proc=proc)
        except (TimeoutError, StackError) as exc:
            raise StackError(
                f"{name} did not become ready: {exc}\n"
                f"command: {' '.join(command)}\n"
                f"last lines of {log_path}:\n{log_tail(log_path)}"
            ) from None

    def stop(self) -> None:
        with self._lock:
            children, self._children = self._children, []
            for child in reversed(children):
                stop_process_group(child.proc, self.stop_timeout)
                if child.pump is not None:
                    child.pump.join(timeout=2)
            atexit.unregister(self.stop)
            self._restore_signal_handlers()

    # -- signals

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        self.stop()
        # Hand the signal on, so the program ends the way it would have without us.
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


def _route_prefix(app_dir: Path) -> str:
    # Same rule as the dev host; read here so the launcher needs no Functions library.
    try:
        doc = json.loads((app_dir / "host.json").read_text(encoding="utf-8-sig"))
        prefix = doc["extensions"]["http"]["routePrefix"]
    except (OSError, ValueError, KeyError, TypeError):
        return "api"
    return "api" if prefix is None else str(prefix).strip("/")
