"""Scheduler instances as separate processes, each a `devtools.chaos.worker`, killed with SIGKILL at will."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]


class Instance:
    """One worker process and the answers it writes, read on a thread of their own."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path):
        self.name = name
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.chaos.worker"], cwd=REPO_ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.busy = False

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._answers.put(json.loads(line))
        self._answers.put(None)  # the process is gone

    def wait_ready(self, timeout: float = 60) -> None:
        answer = self._answers.get(timeout=timeout)
        if not answer or not answer.get("ready"):
            raise RuntimeError(f"chaos instance {self.name} did not start; see its log")

    def send(self, op: str, now: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"op": op, "now": now}) + "\n")
        self._proc.stdin.flush()
        self.busy = True

    def answer(self, timeout: float) -> dict | None:
        """The answer to the last command, or None if the process died before giving one."""
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            return None
        self.busy = False
        return answer

    def alive(self) -> bool:
        return self._proc.poll() is None

    def kill(self) -> None:
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait(10)
        self.busy = False

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._log.close()
