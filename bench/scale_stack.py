"""The processes of bench/scale.py, and what is read from them: CPU, memory, request counts.

Every process the bench starts is the leader of a session of its own (as the local
stack starts its children), so stopping one signals everything it forked. They are
registered with a role (tick, workers, Azurite, emulator) and stopped in reverse order
when a scenario ends, when the bench exits, and on Ctrl-C or SIGTERM.

CPU time is utime + stime from /proc/<pid>/stat of every member of a process group,
so it counts all threads; the bench process (the tick, the poll) reads its own.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import secrets
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from devtools.processes import (
    LOOPBACK,
    process_group_members,
    spawn_in_own_session,
    stop_process_group,
    wait_for_http,
    wait_for_port,
)
from devtools.stack import (
    free_port,
    start_azurite,
    storage_connection_string,
    tables_connection_string,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().parent / "scale_probe.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_SECONDS = 60.0
# The Python worker's pool size the brief for the app sets (FUNCTIONS_WORKER_PROCESS_COUNT aside).
WORKER_THREADS = 32


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, all its threads; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    return cpu_seconds(os.getpid())


def peak_memory_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Child:
    name: str
    role: str
    proc: Popen
    log_path: Path

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in process_group_members(self.proc.pid))


class Processes:
    """Every child the bench started, by role; stops them all at exit and on signals."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[Child] = []
        atexit.register(self.stop_all)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        # Unwinds the scenario (its finally blocks stop what it started), then exits. The
        # seeding processes go first: a process pool would wait for their work to end.
        signal.signal(signum, signal.SIG_IGN)
        for seeder in multiprocessing.active_children():
            seeder.terminate()
        self.stop_all()
        raise SystemExit(128 + signum)

    def start(self, name: str, role: str, command: list[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        proc, _ = spawn_in_own_session(command, log_path=log_path, env=env, cwd=REPO_ROOT)
        child = Child(name, role, proc, log_path)
        self.children.append(child)
        return child

    def adopt(self, name: str, role: str, proc: Popen, log_path: Path) -> Child:
        child = Child(name, role, proc, log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        stop_process_group(child.proc, timeout=10)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for child in self.children:
            totals[child.role] = totals.get(child.role, 0.0) + child.cpu()
        return totals


def _minimal_env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {**env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT), **extra}


class Identity:
    """The managed-identity emulator, one for the whole bench: the app's credential is
    made once per process, so its endpoint must not move between scenarios."""

    def __init__(self, processes: Processes):
        self.port = free_port()
        self.header = secrets.token_urlsafe(24)
        command = [sys.executable, "-m", "devtools.identity_emulator", "--host", LOOPBACK, "--port", str(self.port)]
        self.child = processes.start("identity", "identity", command, _minimal_env(IDENTITY_HEADER=self.header))
        wait_for_http(f"http://{LOOPBACK}:{self.port}/healthz", READY_SECONDS, proc=self.child.proc)

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"http://{LOOPBACK}:{self.port}/msi/token", "IDENTITY_HEADER": self.header}


class Aml:
    """The AML emulator in a process of its own, driven through its admin API."""

    def __init__(self, processes: Processes, label: str, pipeline_id: str, run_seconds: float):
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        command = [sys.executable, "-m", "devtools.aml_emulator", "--host", LOOPBACK, "--port", str(self.port),
                   "--pipeline", pipeline_id, "--run-seconds", f"{run_seconds:g}"]
        self.child = processes.start(f"{label}-aml-emulator", "AML emulator", command, _minimal_env())
        wait_for_http(f"{self.url}/_emulator/healthz", READY_SECONDS, proc=self.child.proc)

    def _admin(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self._admin("POST", "reset")

    def delay(self, method: str, path_contains: str, seconds: float) -> None:
        """Every matching request waits `seconds` before it is served: AML's latency."""
        self._admin("POST", "faults", {"method": method, "pathContains": path_contains,
                                       "delaySeconds": seconds, "times": 10**9})

    def runs(self) -> list[dict]:
        return self._admin("GET", "runs")

    def requests_log(self) -> list[dict]:
        return self._admin("GET", "requests")


@dataclass
class Storage:
    """Azurite's table and queue services, in processes of their own."""

    processes: Processes
    label: str  # names this stack's logs: stacks of several scenarios may run side by side
    table_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        log_dir = self.processes.log_dir
        for name, port, service in ((f"{self.label}-azurite-table", self.table_port, "table"),
                                    (f"{self.label}-azurite-queue", self.queue_port, "queue")):
            proc = start_azurite(port, log_dir / f"{name}.log", service=service)
            self.processes.adopt(name, f"Azurite {service}s", proc, log_dir / f"{name}.log")
            wait_for_port(LOOPBACK, port, READY_SECONDS, proc=proc)

    @property
    def tables(self) -> str:
        return tables_connection_string(self.table_port)

    @property
    def both(self) -> str:
        return storage_connection_string(self.table_port, self.queue_port)


def app_settings(storage: Storage, aml: Aml, identity: Identity, *, runs_table: str, queue: str) -> dict[str, str]:
    return {
        "AML_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000", "AML_RESOURCE_GROUP": "rg-local",
        "AML_WORKSPACE_NAME": "ws-local", "AML_API_BASE_URL": aml.url, "ARM_BASE_URL": aml.url,
        "TABLES_CONNECTION_STRING": storage.tables, "QUEUES_CONNECTION_STRING": storage.both,
        "AzureWebJobsStorage": storage.both, "SLOT_QUEUE": queue, "SCHEDULES_TABLE": "schedules",
        "RUNS_TABLE": runs_table, "FUNCTIONS_WORKER_RUNTIME": "python", **identity.env(),
    }


class Worker:
    """A queue worker: the dev host (timers off) with the request counter, in a process of its own."""

    def __init__(self, processes: Processes, name: str, settings: dict[str, str]):
        self.port = free_port()
        self.counts_path = processes.log_dir / f"{name}.counts.json"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AML_", "IDENTITY_", "MSI_"))}
        env = {**inherited, **settings, "PYTHON_THREADPOOL_THREAD_COUNT": str(WORKER_THREADS),
               "BENCH_COUNTS_FILE": str(self.counts_path), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)}
        command = [sys.executable, str(PROBE), "--app-dir", str(REPO_ROOT), "--port", str(self.port), "--no-timers"]
        self.child = processes.start(name, "workers", command, env)
        self._seq = 0

    def wait_ready(self) -> None:
        wait_for_port(LOOPBACK, self.port, READY_SECONDS, proc=self.child.proc)

    @property
    def pid(self) -> int:
        return self.child.proc.pid

    def request_counts(self) -> dict[str, int]:
        """Its requests so far, `sent:<port>` and `failed:<port>` (it writes them when signalled)."""
        self._seq += 1
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                doc = json.loads(self.counts_path.read_text(encoding="utf-8"))
                if doc["seq"] >= self._seq:
                    self._seq = doc["seq"]
                    return doc["counts"]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
        raise RuntimeError(f"worker {self.child.name} did not report its request counts")
