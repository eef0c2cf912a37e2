"""Child process helpers: whole process groups stopped, output pumped through a console filter."""

from __future__ import annotations

import io
import subprocess
import sys
import time

from devtools.processes import process_group_members, pump_output, stop_process_group
from tests.devtools.process_support import alive


def test_stop_process_group_kills_what_ignores_sigterm(tmp_path):
    # A child that ignores SIGTERM and forks a grandchild: both must go.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    members = process_group_members(proc.pid)
    assert len(members) == 2
    started = time.monotonic()
    stop_process_group(proc, timeout=0.5)
    assert time.monotonic() - started < 5
    assert [pid for pid in members if alive(pid)] == []
    proc.stdout.close()


def test_console_filter_hides_lines_from_the_console_but_not_from_the_log(tmp_path, capsys):
    source = io.BytesIO(b"GET /api/schedules/demo/runs 200 5ms\nslot demo: submitted\n")
    log_path = tmp_path / "devhost.log"
    pump_output(source, open(log_path, "wb"), "devhost", lambda line: "/runs 200" not in line)
    assert capsys.readouterr().out == "[devhost] slot demo: submitted\n"
    assert log_path.read_bytes() == b"GET /api/schedules/demo/runs 200 5ms\nslot demo: submitted\n"
