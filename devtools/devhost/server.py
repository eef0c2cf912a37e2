"""The HTTP server: connections, request parsing and response writing around the pipeline.

Built so that a local load test measures the app rather than the dev host:
- a listen backlog of ``DEFAULT_LISTEN_BACKLOG`` instead of socketserver's 5, which
  makes a burst of new connections wait out 1 s SYN retries or see resets;
- HTTP/1.1 keep-alive, and each answer written with one ``send`` (head and body
  together, TCP_NODELAY on), so a kept-alive client never waits for a delayed ACK;
- one daemon thread per connection; the only lock a request takes guards a counter
  and is never held while the function runs.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devtools.devhost.pipeline import (
    HTTP_TOKEN,
    HttpAnswer,
    HttpPipeline,
    IncomingRequest,
    RequestBodyTooLarge,
    RequestBodyUnreadable,
    json_error,
)

log = logging.getLogger("devhost")

# The hosted runtime refuses bodies over 100 MB; refusing here too keeps surprises local.
MAX_BODY_BYTES = 100 * 1024 * 1024
# Linux caps this at net.core.somaxconn (4096 on current kernels, 128 on old ones).
DEFAULT_LISTEN_BACKLOG = 1024
# Idle keep-alive connections must not hold handler threads forever.
IDLE_CONNECTION_SECONDS = 120


def _printable(text: str, limit: int = 300) -> str:
    # Request paths go into the log verbatim otherwise, control characters included.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


class _BodyReader:
    """Reads a request body once, on demand, so an unrouted request need not pay for it."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        self._result: bytes | None = None
        self._failure: Exception | None = None

    def __call__(self) -> bytes:
        if self._result is None and self._failure is None:
            try:
                self._result = self._read()
            except (RequestBodyTooLarge, RequestBodyUnreadable) as exc:
                self._failure = exc
            except (ValueError, OSError) as exc:
                self._failure = RequestBodyUnreadable(str(exc))
        if self._failure is not None:
            raise self._failure
        assert self._result is not None
        return self._result

    def _read(self) -> bytes:
        headers, rfile = self._handler.headers, self._handler.rfile
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size_line = rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise RequestBodyTooLarge(MAX_BODY_BYTES)
                chunks.append(rfile.read(size))
                rfile.readline(65537)
        length = int(headers.get("Content-Length") or 0)
        if length < 0:
            raise RequestBodyUnreadable("negative Content-Length")
        if length > MAX_BODY_BYTES:
            raise RequestBodyTooLarge(MAX_BODY_BYTES)
        return rfile.read(length) if length else b""


class RequestHandler(BaseHTTPRequestHandler):
    """One connection: parses each request, runs it through the pipeline, writes the answer."""

    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "DevHost"
    timeout = IDLE_CONNECTION_SECONDS

    server: DevHostHTTPServer

    def __getattr__(self, name: str) -> Any:
        # The base class answers 501 to any method without a do_<METHOD>; the host
        # routes every method token instead (404, 405 or the function), TRACE included.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def handle(self) -> None:
        if self.server.track_connection(self.connection):
            try:
                super().handle()
            finally:
                self.server.forget_connection(self.connection)

    def _dispatch(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        status = 500
        self.server.request_started()
        try:
            answer = self._answer()
            status = answer.status
            self._write(answer)
        finally:
            millis = round((time.perf_counter() - started) * 1000)
            log.info("%s %s %d %dms", _printable(self.command), _printable(path), status, millis)
            self.server.request_finished()

    def _answer(self) -> HttpAnswer:
        if HTTP_TOKEN.fullmatch(self.command) is None:
            answer = json_error(400, "BadRequest", "The request method is not a valid token.")
            answer.close_connection = True
            return answer
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        request = IncomingRequest(
            method=self.command.upper(),
            target=self.path,
            headers=list(self.headers.items()),
            host=host,
            read_body=_BodyReader(self),
        )
        return self.server.pipeline.handle(request)

    def _write(self, answer: HttpAnswer) -> None:
        if answer.close_connection:
            self.close_connection = True
        phrase = self.responses.get(answer.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {answer.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        lines.extend(f"{name}: {value}" for name, value in answer.headers)
        lines.append(f"Content-Length: {len(answer.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = b"" if self.command.upper() == "HEAD" else answer.body
        # One send for head and body: two small writes are two segments, and a client
        # that delays its ACK would hold up the second on a kept-alive connection.
        self.wfile.write(head + body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # _dispatch logs each request without its query string (it can hold keys).
        pass

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        # The base class would echo the raw request line, query string included.
        code = args[0] if args and isinstance(args[0], int) else "?"
        log.warning("Rejected a malformed request (HTTP %s)", code)


class DevHostHTTPServer(ThreadingHTTPServer):
    """Accepts connections on daemon threads and counts requests in flight for a clean stop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        pipeline: HttpPipeline,
        *,
        backlog: int = DEFAULT_LISTEN_BACKLOG,
    ) -> None:
        # Read by server_activate() inside the base constructor, so it is set first.
        self.request_queue_size = backlog
        self.pipeline = pipeline
        self._in_flight = 0
        self._idle = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer would look up the host's FQDN here, a DNS round trip that can stall
        # start-up for seconds on a badly configured resolver; nothing uses the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the client went away; nothing to tell anyone
        log.exception("Error while serving a request")

    # -- requests in flight

    def request_started(self) -> None:
        with self._idle:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # -- open connections, so stop() can end kept-alive ones

    def track_connection(self, connection: socket.socket) -> bool:
        """Remember an open connection; False once the server is closing (serve nothing)."""
        with self._connections_lock:
            if self._closing:
                return False
            self._connections.add(connection)
            return True

    def forget_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """End every open connection; idle keep-alive readers wake up and their threads exit."""
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
