"""Child processes of the local stack: free ports, readiness, own sessions, whole-group stops.

Every child is started in a session of its own (``spawn_in_own_session``), so
``stop_process_group`` can signal everything it forked, and nothing is left behind when
a child forks (Azurite's node, a shell wrapper). ``devtools.stack`` builds the stack
from these pieces.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

LOOPBACK = "127.0.0.1"  # not "localhost": the tables SDK treats that as Cosmos on odd ports
STOP_TIMEOUT = 10.0


class StackError(RuntimeError):
    """A stack process could not be started or did not become ready."""


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
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


def port_accepts(host: str, port: int) -> bool:
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
        if port_accepts(host, port):
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


def spawn_in_own_session(
    command: list[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    stream_prefix: str | None = None,
    console_filter: Callable[[str], bool] | None = None,
) -> tuple[subprocess.Popen[bytes], threading.Thread | None]:
    """Start ``command`` as the leader of a new session, its output to ``log_path``.

    With ``stream_prefix`` the output also goes through ``pump_output`` to our stdout
    (the returned thread); without it the child writes to the log file itself.
    """
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
            target=pump_output,
            args=(proc.stdout, log_file, stream_prefix, console_filter),
            name=f"stack-log-{stream_prefix}",
            daemon=True,
        )
        pump.start()
    return proc, pump


def pump_output(source: IO[bytes], log_file: IO[bytes], prefix: str,
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


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
