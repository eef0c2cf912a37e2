"""A local incoming-webhook receiver: what `make run` posts its alerts to, and what the tests post to.

It stands in for a Teams or Slack incoming webhook on 127.0.0.1 (plain http, which the
app accepts only with ALERT_WEBHOOK_ALLOW_HTTP_LOCALHOST=true, a development setting).
It records every POST (path and JSON body) and answers 200, or what a test asks for: a
status (`respond_with(503)`), a redirect, or nothing at all (`hang()`, until `release()`),
which is how a webhook that never answers looks to the sender.

    python -m devtools.webhook_receiver --port 8125    # prints each message it receives
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

LOOPBACK = "127.0.0.1"
# A hung request is held at most this long, so no handler thread outlives a test by much.
MAX_HANG_SECONDS = 120.0


@dataclass
class Received:
    path: str
    body: Any  # the JSON body (or the raw text when it is not JSON)
    content_type: str
    status: int | None  # what was answered; None: held without an answer (hang)


class WebhookReceiver:
    def __init__(self, port: int = 0, on_message: Callable[[Received], None] | None = None):
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._status = 200
        self._location: str | None = None
        self._released = threading.Event()
        self._released.set()
        self._on_message = on_message
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass  # the request line holds the webhook's path, which stands for a secret

        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def start(self) -> "WebhookReceiver":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it answers
    def respond_with(self, status: int, location: str | None = None) -> None:
        with self._lock:
            self._status, self._location = status, location

    def hang(self) -> None:
        """Hold every request from now on without answering, until `release()`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    # -- what it got
    def messages(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if predicate(got):
                return got
            time.sleep(0.1)
        raise AssertionError(f"the receiver did not get what was expected within {timeout:g} s; got {len(got)} "
                             f"request(s): {[(r.status, r.body) for r in got]}")

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        hanging = not self._released.is_set()
        with self._lock:
            status, location = self._status, self._location
            received = Received(request.path, body, request.headers.get("Content-Type", ""),
                                None if hanging else status)
            self.received.append(received)
        if self._on_message is not None:
            self._on_message(received)
        if hanging:
            self._released.wait(MAX_HANG_SECONDS)
            request.close_connection = True
            return  # no answer: the sender's timeout ends it
        request.send_response(status)
        if location:
            request.send_header("Location", location)
        payload = b"ok" if status < 300 else f"status {status}".encode()
        request.send_header("Content-Type", "text/plain")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8125)
    args = parser.parse_args()

    def show(received: Received) -> None:
        text = received.body.get("text") if isinstance(received.body, dict) else received.body
        print(f"--- webhook message ---\n{text}\n", flush=True)

    with WebhookReceiver(args.port, on_message=show) as receiver:
        print(f"receiving on {receiver.url('/<any path>')} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
