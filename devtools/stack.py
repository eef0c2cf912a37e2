"""Run the local stack (Azurite, identity emulator, AML emulator, dev host) as child processes.

Used by the demo (``make run``) and the end-to-end tests::

    with LocalStack(app_dir, fixed_ports=False) as stack:
        requests.get(f"{stack.dev_host_url}/health")

Every child gets its own session, so stopping signals whole process groups and
nothing is left behind even when a child forks (Azurite's node, a shell wrapper).
Only the dev host sees the app settings; the emulators get a minimal environment.
The dev host does not override variables that are already set, so the settings
passed here beat those in the app's local.settings file.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
    "tables_connection_string",
    "wait_for_http",
    "wait_for_port",
]

LOOPBACK = "127.0.0.1"  # not "localhost": the tables SDK treats that as Cosmos on odd ports
REPO_ROOT = Path(__file__).resolve().parent.parent
FIXED_PORTS = {"azurite": 10002, "identity": 8081, "aml": 8082, "devhost": 7071}
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
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


class StackError(RuntimeError):
    """A stack process could not be started or did not become ready."""


# --------------------------------------------------------------------------- helpers


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    # Holding every socket until all are chosen keeps the ports distinct.
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, timeout: float, *, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until ``host:port`` accepts a TCP connection.

    Raises ``TimeoutError`` when it does not within ``timeout`` seconds, and
    ``StackError`` at once if ``proc`` (the process meant to listen) exits meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process exited with code {proc.returncode} before listening")
        if _port_accepts(host, port):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout:g}s")
        time.sleep(0.05)


def wait_for_http(
    url: str, timeout: float, *, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until ``GET url`` answers 200 (same failure rules as ``wait_for_port``)."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while True:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:g}s ({last_error})")
        time.sleep(0.05)


def tables_connection_string(port: int, host: str = LOOPBACK) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT_NAME};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT_NAME};"
    )


def _minimal_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in _MINIMAL_ENV_KEYS if key in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def find_azurite(start_dir: str | os.PathLike[str] = REPO_ROOT) -> Path:
    """``node_modules/.bin/azurite-table`` in ``start_dir`` or the nearest folder above it."""
    start = Path(start_dir).resolve()
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / ".bin" / "azurite-table"
        if candidate.exists():
            return candidate
    raise StackError(
        f"Azurite is not installed (no node_modules/.bin/azurite-table in {start} or above); "
        "run `make setup`"
    )


def azurite_command(port: int, *, app_dir: str | os.PathLike[str] = REPO_ROOT) -> list[str]:
    return [
        str(find_azurite(app_dir)),
        "--tableHost",
        LOOPBACK,
        "--tablePort",
        str(port),
        "--silent",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]


def _spawn(
    command: list[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    stream_prefix: str | None = None,
    console_filter: Callable[[str], bool] | None = None,
) -> tuple[subprocess.Popen[bytes], threading.Thread | None]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child or the pump
    pump = None
    try:
        proc = subprocess.Popen(
            command,
            cwd=str(cwd),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream_prefix is not None else log_file,
            stderr=subprocess.STDOUT,
            # Own session: stop() signals the whole group, and a Ctrl-C in the
            # terminal reaches only us, so shutdown happens in our order.
            start_new_session=True,
        )
    except OSError as exc:
        log_file.close()
        raise StackError(f"cannot start {command[0]}: {exc}") from exc
    if stream_prefix is None:
        log_file.close()
    else:
        assert proc.stdout is not None
        pump = threading.Thread(
            target=_pump,
            args=(proc.stdout, log_file, stream_prefix, console_filter),
            name=f"stack-log-{stream_prefix}",
            daemon=True,
        )
        pump.start()
    return proc, pump


def _pump(source: IO[bytes], log_file: IO[bytes], prefix: str,
          console_filter: Callable[[str], bool] | None = None) -> None:
    # Keeps the log file complete (error tails read it) while echoing to our stdout the
    # lines the filter lets through.
    with source, log_file:
        for line in iter(source.readline, b""):
            log_file.write(line)
            log_file.flush()
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            if console_filter is not None and not console_filter(text):
                continue
            try:
                sys.stdout.write(f"[{prefix}] {text}\n")
                sys.stdout.flush()
            except (OSError, ValueError):
                pass


def start_azurite(
    port: int,
    log_path: str | os.PathLike[str],
    *,
    app_dir: str | os.PathLike[str] = REPO_ROOT,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start Azurite's table service in its own process group; returns at once."""
    command = azurite_command(port, app_dir=app_dir)
    proc, _ = _spawn(
        command, log_path=Path(log_path), env=env or _minimal_env(), cwd=Path(app_dir)
    )
    return proc


def _group_alive(pgid: int) -> bool:
    if Path("/proc").is_dir():
        # Zombies count as gone: they are dead, just not yet reaped by init.
        return bool(process_group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (Linux /proc; elsewhere just the leader)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return [pgid] if _group_alive(pgid) else []
    members = []
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields follow the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return sorted(members)


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process's group, wait up to ``timeout``, then SIGKILL what is left."""
    pgid = proc.pid  # start_new_session made the child its group's leader
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    # The leader may be gone while a child it forked still runs.
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None or _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        kill_deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < kill_deadline:
            time.sleep(0.05)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# ----------------------------------------------------------------------------- stack


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    pump: threading.Thread | None


class LocalStack:
    """Azurite + identity emulator + AML emulator + dev host, started in that order.

    ``start()`` (or ``with``) waits for each to be ready before starting the next and
    stops everything if one fails. ``stop()`` is idempotent, runs at interpreter exit
    and on SIGTERM/SIGINT (after which the previous handlers are restored and the
    signal is passed on to them).
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
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        if fixed_ports:
            self.ports = dict(FIXED_PORTS)
        else:
            self.ports = dict(zip(FIXED_PORTS, _free_ports(len(FIXED_PORTS))))
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
    def tables_connection_string(self) -> str:
        return tables_connection_string(self.ports["azurite"])

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
            "AzureWebJobsStorage": self.tables_connection_string,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "ARM_BASE_URL": self.aml_url,
            "AML_API_BASE_URL": self.aml_url,
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
                busy = [f"{n} {p}" for n, p in self.ports.items() if _port_accepts(LOOPBACK, p)]
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
        self._launch(
            "azurite",
            azurite_command(ports["azurite"], app_dir=self.app_dir),
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
        self._launch(
            "aml", aml_command, env=_minimal_env(), cwd=REPO_ROOT,
            health_url=self.health_urls["aml"],
        )
        self._launch(
            "devhost",
            [python, "-m", "devtools.devhost", "--app-dir", str(self.app_dir),
             "--port", str(ports["devhost"])],
            env=self.env,
            cwd=self.app_dir,
        )

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
        proc, pump = _spawn(
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
                f"last lines of {log_path}:\n{_tail(log_path)}"
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
