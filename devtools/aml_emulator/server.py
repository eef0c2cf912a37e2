"""The HTTP server and the path every request takes through it.

A request is read, matched to a route, then (for AML, ARM and inference routes)
faults are applied, the bearer token's audience is checked for the route's plane
(data: the data-plane audiences; arm: the ARM audience; inference: the ML audience
only, refused as the inference gateway refuses) and the workspace in the path is
checked against the emulated one, before the route's handler runs. Every request but
the admin API's is recorded in the request log, without its headers, so tokens never
reach the log.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from devtools.aml_emulator.errors import ApiError, bad_request, not_found
from devtools.aml_emulator.faults import DROPPED, FaultsMixin
from devtools.aml_emulator.routing import Reply, Request, Route, error_reply, match_route
from devtools.aml_emulator.wire_formats import rh_time
from devtools.identity_emulator import decode_token

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024

# Batch endpoint scoring URIs sit behind the inference gateway, which rejects a token
# it does not accept with this plain-text body rather than AML's JSON error (seen in
# azure-ai-ml failing to parse it as JSON, MicrosoftLearning/mslearn-azure-ml#115).
INFERENCE_AUTH_REJECTION = (
    "Microsoft Entra Token denied by policy, please review "
    "https://learn.microsoft.com/en-us/azure/machine-learning/how-to-authenticate-online-endpoint"
)


class InferenceAuthError(Exception):
    """A rejected token on the inference plane, answered as the gateway does."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: ServingMixin) -> None:
        self.emulator = emulator
        super().__init__(address, RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up on a hung request, and injected resets, end in socket
        # errors here; they are expected, so keep them out of stderr.
        log.debug("aml connection from %s ended abnormally", client_address, exc_info=True)


class RequestHandler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK stalls every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: HttpServer

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # Method, path and status only: headers carry bearer tokens.
        path = urllib.parse.urlsplit(self.path).path
        log.debug("aml %s %s -> %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("aml: " + format, *args)

    def _handle(self) -> None:
        self.server.emulator._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

    def send_reply(self, reply: Reply) -> None:
        if reply.body is None:
            data, content_type = b"", None
        elif isinstance(reply.body, str):
            data, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        self.send_response(reply.status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reset_connection(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST, the way a dropped
        # connection looks to the client.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class ServingMixin(FaultsMixin):
    """Lifecycle of the server, the request pipeline, authentication, the request log."""

    _host: str
    _requested_port: int
    _server: HttpServer | None
    _thread: threading.Thread | None
    _routes: Sequence[Route]

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = HttpServer((self._host, self._requested_port), self)
        # A short poll interval keeps stop() fast; shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="aml-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # releases requests parked in a hang or delay fault
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def requests_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._requests]

    # -- request pipeline ------------------------------------------------------------

    def in_flight(self) -> int:
        """AML and ARM requests being handled right now (a delayed or hung one included),
        whether or not their client is still waiting: what the service may yet act on."""
        with self._in_flight_lock:
            return self._in_flight_count

    def _serve(self, handler: RequestHandler) -> None:
        counted = not handler.path.startswith("/_emulator/")
        if counted:
            with self._in_flight_lock:
                self._in_flight_count += 1
        try:
            self._serve_counted(handler)
        finally:
            if counted:
                with self._in_flight_lock:
                    self._in_flight_count -= 1

    def _serve_counted(self, handler: RequestHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        path, query = split.path, split.query
        started = time.time()
        audience: str | None = None
        plane = "admin" if path.startswith("/_emulator/") else "data"
        try:
            body = self._read_body(handler)
            route, params = match_route(self._routes, handler.command, path)
            plane = route.plane
            request = Request(handler.command, path, query, handler.headers, body, params)
            if plane != "admin":
                fault_reply = self._apply_fault(handler, request)
                if fault_reply == DROPPED:
                    self._record(handler.command, path, query, None, None, started)
                    return
                if isinstance(fault_reply, Reply):
                    self._record(handler.command, path, query, fault_reply.status, None, started)
                    handler.send_reply(fault_reply)
                    return
                audience = self._authenticate(request, plane)
                self._check_workspace(params)
            reply = route.handler(self, request)
        except InferenceAuthError as err:
            reply = err.reply
        except ApiError as err:
            reply = error_reply(err)
        except Exception:  # noqa: BLE001 - an emulator bug must still answer
            log.exception("AML emulator handler failed")
            reply = error_reply(ApiError(500, "ServiceError", "The emulator failed to handle the request."))
        if plane != "admin":
            self._record(handler.command, path, query, reply.status, audience, started)
        handler.send_reply(reply)

    @staticmethod
    def _read_body(handler: RequestHandler) -> bytes:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            raise bad_request("Content-Length is not a number.") from None
        if length > MAX_BODY_BYTES:
            # The unread body would be taken for the next request on this connection.
            handler.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", f"Bodies are limited to {MAX_BODY_BYTES} bytes.")
        return handler.rfile.read(length) if length > 0 else b""

    def _record(
        self, method: str, path: str, query: str, status: int | None, audience: str | None, at: float
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "audience": audience,
            "time": rh_time(at),
        }
        with self._lock:
            self._requests.append(entry)

    def _authenticate(self, request: Request, plane: str) -> str:
        expected = {
            "data": self.accepted_data_plane_audiences,
            "arm": (self.arm_audience,),
            "inference": (self.inference_audience,),
        }[plane]
        wanted = ", ".join(expected)

        def reject(code: str, message: str) -> Exception:
            challenge = (
                'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                f'error="invalid_token", error_description="{message}"'
            )
            headers = {"WWW-Authenticate": challenge}
            if plane == "inference":
                return InferenceAuthError(Reply(401, INFERENCE_AUTH_REJECTION, headers))
            return ApiError(401, code, f"{message} Expected audience: {wanted}.", headers=headers)

        header = request.headers.get("Authorization")
        if not header:
            raise reject("AuthenticationFailed", "The request has no Authorization header.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise reject("AuthenticationFailed", "The Authorization header is not a bearer token.")
        try:
            claims = decode_token(token.strip())
        except ValueError:
            raise reject("InvalidAuthenticationToken", "The bearer token could not be decoded.") from None
        audience = claims.get("aud")
        if not isinstance(audience, str) or not audience:
            raise reject("InvalidAuthenticationToken", "The bearer token has no audience.")
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise reject("ExpiredAuthenticationToken", "The bearer token has expired.")
        if audience.rstrip("/") not in {a.rstrip("/") for a in expected}:
            raise reject("InvalidAuthenticationTokenAudience", f"The token audience {audience!r} is not accepted.")
        request.claims = claims
        return audience

    def _check_workspace(self, params: dict[str, str]) -> None:
        if "sub" not in params:
            return
        # Azure resource names compare case-insensitively.
        same = (
            params["sub"].lower() == self.subscription_id.lower()
            and params["rg"].lower() == self.resource_group.lower()
            and params["ws"].lower() == self.workspace.lower()
        )
        if not same:
            raise not_found(
                f"Workspace subscriptions/{params['sub']}/resourceGroups/{params['rg']}/"
                f"workspaces/{params['ws']} was not found."
            )
