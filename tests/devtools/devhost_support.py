"""What the dev host tests share: the fixture app, a host serving it, HTTP and raw-socket calls."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.devhost import DevHost

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Guards against a hang, not a speed requirement: no answer at all is the failure.
SOCKET_TIMEOUT = 60


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def fixture_host(
    tick_file: Path | None = None,
    *,
    timers: bool = True,
    queues: bool = False,
    env: dict[str, str] | None = None,
    configure: Callable[[DevHost], None] | None = None,
    stop_timeout: float | None = None,
) -> Iterator[DevHost]:
    """The fixture app on a free port, with the environment the tests expect around it.

    Queue pollers run only when asked for (``queues=True``, with ``AzureWebJobsStorage``
    in ``env``): the fixture's own settings point at Azurite's fixed ports, which a
    developer's `make run` may be using. ``configure`` sees the host before it starts.
    """
    saved = dict(os.environ)
    if tick_file is not None:
        os.environ["FIXTURE_TICK_FILE"] = str(tick_file)
    os.environ["FIXTURE_GREETING"] = "from-env"
    os.environ.update(env or {})
    dev = DevHost(FIXTURE_APP, port=0, timers=timers, queues=queues)
    if configure is not None:
        configure(dev)
    try:
        dev.start()
        try:
            yield dev
        finally:
            if stop_timeout is None:
                dev.stop()
            else:
                dev.stop(stop_timeout)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def app_copy(tmp_path, settings=None, source=None):
    app = tmp_path / "app"
    app.mkdir()
    if source is None:
        shutil.copy(FIXTURE_APP / "function_app.py", app / "function_app.py")
    else:
        (app / "function_app.py").write_text(source)
    shutil.copy(FIXTURE_APP / "local.settings.sample.json", app / "local.settings.sample.json")
    if settings is not None:
        (app / "local.settings.json").write_text(json.dumps({"Values": settings}))
    return app


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer from a raw socket, framed by its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a whole answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the body")
        body += chunk
    return int(status_line.split(" ", 2)[1]), headers, body


def raw_exchange(port: int, request_head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request exactly as written (any method token, any target) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(request_head.encode("latin-1") + body)
        return read_answer(sock)
