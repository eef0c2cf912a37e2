"""The dev host under a burst of concurrent connections, as a local load test sees it.

Run with `make bench-devhost` (or `python bench/devhost_load.py --help`). Starts a
DevHost in this process against bench/devhost_app (one cheap route), then opens
--connections asyncio clients at once, in two rounds:

- new connection per request: every request connects, sends `Connection: close` and
  reads the answer; this is what fills the listen backlog;
- kept alive: each client sends all its requests on one connection.

Each round runs once per --backlog value (default: 5, the value Python's socketserver
uses when nothing is set, then the dev host's own) and prints latency percentiles,
connection resets, other errors and requests/s. It asserts nothing.

When the listen queue overflows, Linux drops the handshake (the client retries after
1 s, 3 s, 7 s...) unless net.ipv4.tcp_abort_on_overflow is set, in which case it resets
the connection; so the same overflow shows as timeouts on one machine, resets on another.
With a short queue most clients stall, so compare requests/s and the tail, not p50.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from devtools.devhost import DevHost  # noqa: E402 - needs the repo root on sys.path

APP_DIR = Path(__file__).resolve().parent / "devhost_app"
# Python's socketserver listens with this backlog unless a server sets its own.
SOCKETSERVER_DEFAULT_BACKLOG = 5


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    resets: int = 0
    errors: int = 0
    bad_status: int = 0
    failure_kinds: Counter[str] = field(default_factory=Counter)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer may already have reset it; that was counted where it happened


def _record(outcome: Outcome, started: float, status: int) -> None:
    outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
    if status != 200:
        outcome.bad_status += 1


def _count_failure(outcome: Outcome, exc: BaseException) -> None:
    # A reset shows up as ECONNRESET, or as the stream ending before a whole answer.
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError)):
        outcome.resets += 1
    else:
        outcome.errors += 1
    outcome.failure_kinds[type(exc).__name__] += 1


async def _fresh_connections(args, port: int, outcome: Outcome, go: asyncio.Event) -> None:
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    await go.wait()
    for _ in range(args.requests):
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), args.timeout)
            try:
                status = await asyncio.wait_for(_exchange(reader, writer, request), args.timeout)
            finally:
                await _close(writer)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            _count_failure(outcome, exc)
            continue
        _record(outcome, started, status)


async def _kept_alive(args, port: int, outcome: Outcome, go: asyncio.Event) -> None:
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    await go.wait()
    writer = None
    for _ in range(args.requests):
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), args.timeout)
            status = await asyncio.wait_for(_exchange(reader, writer, request), args.timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            _count_failure(outcome, exc)
            if writer is not None:
                await _close(writer)
            writer = None  # start over on a new connection, as a client library would
            continue
        _record(outcome, started, status)
    if writer is not None:
        await _close(writer)


async def _round(args, port: int, client) -> tuple[Outcome, float]:
    outcome = Outcome()
    go = asyncio.Event()
    tasks = [asyncio.create_task(client(args, port, outcome, go)) for _ in range(args.connections)]
    await asyncio.sleep(0)  # every client is parked on the event, so they start together
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    return outcome, time.perf_counter() - started


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _report(label: str, outcome: Outcome, seconds: float) -> None:
    ordered = sorted(outcome.latencies_ms)
    figures = "  ".join(f"{name} {_percentile(ordered, share):7.1f}" for name, share in
                        (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)))
    rate = len(ordered) / seconds if seconds else 0.0
    print(f"  {label:<28} {figures} ms   ok {len(ordered):5d}  resets {outcome.resets:4d}"
          f"  errors {outcome.errors:4d}  non-200 {outcome.bad_status:4d}  {rate:7.0f} req/s", flush=True)
    if outcome.failure_kinds:
        kinds = ", ".join(f"{name} x{count}" for name, count in outcome.failure_kinds.most_common())
        print(f"  {'':<28} failures: {kinds}", flush=True)


def _run_one_backlog(args, backlog: int) -> None:
    host = DevHost(APP_DIR, port=0, timers=False, queues=False)
    host.listen_backlog = backlog
    with host:
        print(f"backlog {backlog}:", flush=True)
        for label, client in (("new connection per request", _fresh_connections), ("kept alive", _kept_alive)):
            outcome, seconds = asyncio.run(_round(args, host.port, client))
            _report(label, outcome, seconds)
            if outcome.resets or outcome.errors:
                # Let the kernel forget half-open connections before the next round.
                time.sleep(1)


def _quiet_logging() -> None:
    # The CLI logs a line per request; keep that cost in the figures, not on the screen.
    handler = logging.FileHandler(os.devnull, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--requests", type=int, default=10, help="requests per client per round (default 10)")
    parser.add_argument("--backlog", type=int, action="append",
                        help="listen backlog to run with; repeat for several (default: 5 and the dev host's)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as an error")
    parser.add_argument("--path", default="/api/ping")
    args = parser.parse_args(argv)
    backlogs = args.backlog or [SOCKETSERVER_DEFAULT_BACKLOG, DevHost.listen_backlog]
    _quiet_logging()
    print(f"{args.connections} concurrent clients x {args.requests} requests each, GET {args.path}, "
          f"{os.cpu_count()} CPUs, latency in ms from connect (or send) to the last byte", flush=True)
    for backlog in backlogs:
        _run_one_backlog(args, backlog)
    print("resets: ECONNRESET or a connection closed before a whole answer; errors: timeouts, refusals")


if __name__ == "__main__":
    main()
