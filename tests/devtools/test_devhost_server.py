"""The server under the pipeline: kept-alive connections, many connections at once, stopping."""

from __future__ import annotations

import http.client
import socket
import struct
import sys
import threading

import pytest

from devtools.devhost.pipeline import HttpPipeline
from devtools.devhost.server import DevHostHTTPServer
from tests.devtools.devhost_support import SOCKET_TIMEOUT, fixture_host, read_answer

CONCURRENT_CONNECTIONS = 200


@pytest.fixture(scope="module")
def host():
    with fixture_host(timers=False) as dev:
        yield dev


def test_one_kept_alive_connection_serves_answers_and_errors_in_turn(host):
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=SOCKET_TIMEOUT)
    try:
        answers = []
        local_ports = set()
        for method, path, body in [
            ("GET", "/api/health", None),
            ("PUT", "/api/nope", b"an unread body"),
            ("TRACE", "/api/items/1", b"another unread body"),
            ("PUT", "/api/items/3", b"read"),
        ]:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Connection")))
            local_ports.add(conn.sock.getsockname()[1])
    finally:
        conn.close()
    assert answers == [(200, None), (404, None), (405, None), (200, None)]
    assert len(local_ports) == 1  # never reconnected: every answer came on one connection


def _one_request_on_a_new_connection(port, start, outcomes):
    start.wait()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            outcomes.append(read_answer(sock)[0])
    except OSError as exc:
        outcomes.append(repr(exc))


def test_concurrent_connections_are_all_answered_without_a_reset(host):
    # Every client connects at the same moment, so the listen queue takes the burst.
    start = threading.Barrier(CONCURRENT_CONNECTIONS)
    outcomes = []
    clients = [
        threading.Thread(target=_one_request_on_a_new_connection, args=(host.port, start, outcomes))
        for _ in range(CONCURRENT_CONNECTIONS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    failures = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) == CONCURRENT_CONNECTIONS
    assert failures == []


@pytest.mark.skipif(sys.platform != "linux", reason="reads the listen queue size from Linux's TCP_INFO")
def test_listen_queue_takes_a_burst_of_connections():
    server = DevHostHTTPServer(("127.0.0.1", 0), HttpPipeline("api", []))
    try:
        info = server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    finally:
        server.server_close()
    # For a listening socket Linux reports the queue's capacity in tcpi_sacked (after
    # 8 one-byte fields and 5 four-byte ones), already capped by net.core.somaxconn.
    capacity = struct.unpack_from("8B6I", info)[13]
    somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    assert capacity >= min(CONCURRENT_CONNECTIONS, somaxconn)
    assert capacity > 5  # socketserver's default, which made bursts wait out SYN retries


def test_stop_closes_kept_alive_connections():
    with fixture_host(timers=False) as dev:
        conn = http.client.HTTPConnection("127.0.0.1", dev.port, timeout=SOCKET_TIMEOUT)
        conn.request("GET", "/api/health")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    try:
        # The connection was idle between requests: stop() ends it, so no thread of the
        # stopped host is left to serve it.
        assert conn.sock.recv(1) == b""
    finally:
        conn.close()
