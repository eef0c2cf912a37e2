"""Loopback emulator of the App Service managed-identity endpoint.

It speaks the protocol that ``azure.identity.ManagedIdentityCredential`` uses when
``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are set, so the real credential code
path runs locally and in tests:

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id=C]
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

    200 {"access_token", "expires_on": "<epoch seconds>", "resource", "token_type", "client_id"}

Tokens are unsigned JWT-shaped strings; ``decode_token`` reads their claims so the
AML emulator can check the audience. Nothing here is a security boundary.

Run standalone::

    python -m devtools.identity_emulator --host 127.0.0.1 --port 8081 --identity-header SECRET
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["IdentityEmulator", "decode_token", "encode_token", "DEFAULT_CLIENT_ID", "TOKEN_PATH"]

log = logging.getLogger(__name__)

TOKEN_PATH = "/msi/token"
HEALTH_PATH = "/healthz"
SUPPORTED_API_VERSIONS = frozenset({"2019-08-01"})
DEFAULT_CLIENT_ID = "00000000-0000-0000-0000-0000000000c1"
_SIGNATURE = "emulator"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def encode_token(claims: dict[str, Any]) -> str:
    """Build an unsigned JWT-shaped token carrying ``claims``."""
    header = {"alg": "none", "typ": "JWT"}
    return ".".join(
        (
            _b64url(json.dumps(header, separators=(",", ":")).encode()),
            _b64url(json.dumps(claims, separators=(",", ":")).encode()),
            _SIGNATURE,
        )
    )


def decode_token(token: str) -> dict[str, Any]:
    """Return the payload claims of a JWT-shaped token without verifying anything.

    Raises ``ValueError`` when the token does not have three parts or its payload is
    not a base64url JSON object.
    """
    if not isinstance(token, str):
        raise ValueError("token must be a string")
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        raise ValueError("token is not JWT-shaped")
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("token payload is not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise ValueError("token payload is not a JSON object")
    return claims


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: IdentityEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("identity connection from %s ended abnormally", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; without this, Nagle plus delayed ACK
    # stalls every kept-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # The query carries only the resource and client id, but keep the line to
        # method, path and status so nothing credential-like can ever reach a log.
        path = urllib.parse.urlsplit(self.path).path
        log.debug("identity %s %s -> %s", self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("identity: " + format, *args)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        # App Service answers errors as {"statusCode", "message"}; MSAL reads exactly these.
        self._send_json(status, {"statusCode": status, "message": message})

    def _drain_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._drain_body()
        split = urllib.parse.urlsplit(self.path)
        if split.path == HEALTH_PATH:
            self._send_json(200, {"status": "ok"})
            return
        if split.path != TOKEN_PATH:
            self._error(404, f"no route for {split.path}")
            return
        presented = self.headers.get("X-IDENTITY-HEADER")
        if presented is None or not hmac.compare_digest(
            presented.encode(), self.server.emulator.identity_header.encode()
        ):
            self._error(401, "missing or wrong X-IDENTITY-HEADER")
            return
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        api_version = (query.get("api-version") or [""])[0]
        resource = (query.get("resource") or [""])[0]
        client_id = (query.get("client_id") or [""])[0] or None
        if not api_version:
            self._error(400, "api-version is required")
            return
        if api_version not in SUPPORTED_API_VERSIONS:
            self._error(400, f"unsupported api-version {api_version!r}")
            return
        if not resource:
            self._error(400, "resource is required")
            return
        self._send_json(200, self.server.emulator._issue(resource, client_id))

    def _method_not_allowed(self) -> None:
        self._drain_body()
        self._error(405, f"{self.command} is not supported")

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed  # noqa: N815


class IdentityEmulator:
    """App Service managed-identity endpoint on loopback, for the real azure-identity client."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        identity_header: str | None = None,
        tenant_id: str = "00000000-0000-0000-0000-00000000feed",
        principal_id: str = "00000000-0000-0000-0000-0000000000a1",
        token_lifetime_seconds: int = 3600,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._identity_header = identity_header or secrets.token_urlsafe(24)
        self.tenant_id = tenant_id
        self.principal_id = principal_id
        self.token_lifetime_seconds = int(token_lifetime_seconds)
        self._lock = threading.Lock()
        self._issued: dict[str, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> IdentityEmulator:
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._requested_port), self)
        # A short poll interval keeps stop() fast; shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="identity-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> IdentityEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    @property
    def identity_header(self) -> str:
        return self._identity_header

    def env(self) -> dict[str, str]:
        """The variables that make ManagedIdentityCredential use this emulator."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self._identity_header}

    # -- tokens ----------------------------------------------------------------------

    @property
    def issued(self) -> dict[str, int]:
        """Tokens issued so far, per resource (a copy)."""
        with self._lock:
            return dict(self._issued)

    def token_for(self, resource: str, client_id: str | None = None) -> str:
        """Mint a token directly, for tests that do not go through azure-identity."""
        return self._issue(resource, client_id)["access_token"]

    def _issue(self, resource: str, client_id: str | None) -> dict[str, Any]:
        now = int(time.time())
        expires_on = now + self.token_lifetime_seconds
        appid = client_id or DEFAULT_CLIENT_ID
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "tid": self.tenant_id,
            "oid": self.principal_id,
            "sub": self.principal_id,
            "appid": appid,
            "iat": now,
            "nbf": now,
            "exp": expires_on,
        }
        with self._lock:
            self._issued[resource] = self._issued.get(resource, 0) + 1
        return {
            "access_token": encode_token(claims),
            # An integer string: the older date format is rejected by current clients.
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": appid,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.identity_emulator",
        description="App Service managed-identity endpoint emulator (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--identity-header",
        default=os.environ.get("IDENTITY_HEADER"),
        help="secret expected in X-IDENTITY-HEADER (default: $IDENTITY_HEADER, else random)",
    )
    parser.add_argument("--tenant-id", default="00000000-0000-0000-0000-00000000feed")
    parser.add_argument("--principal-id", default="00000000-0000-0000-0000-0000000000a1")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    emulator = IdentityEmulator(
        host=args.host,
        port=args.port,
        identity_header=args.identity_header,
        tenant_id=args.tenant_id,
        principal_id=args.principal_id,
        token_lifetime_seconds=args.token_lifetime,
    )
    if not args.identity_header:
        # A generated secret is useless unless the caller can read it back.
        print(f"identity header: {emulator.identity_header}", file=sys.stderr, flush=True)
    return _run(emulator)


def _run(emulator: IdentityEmulator) -> int:
    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emulator.start()
    print(f"identity emulator listening on {emulator.endpoint}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
