"""``python -m devtools.devhost``: run the dev host until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from devtools.devhost.errors import DevHostError
from devtools.devhost.host import DEFAULT_HOST, DevHost

log = logging.getLogger("devhost")


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.devhost",
        description=(
            "Serve an Azure Functions (Python v2) app locally: HTTP functions, timers and "
            "queue triggers."
        ),
    )
    parser.add_argument("--app-dir", default=".", help="folder holding function_app.py")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument(
        "--port", type=int, default=None, help="default: Host.LocalHttpPort, else 7071"
    )
    parser.add_argument("--no-timers", action="store_true", help="do not fire timers")
    parser.add_argument("--no-queues", action="store_true", help="do not poll queues")
    args = parser.parse_args(argv)
    _configure_logging()

    shutdown = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        shutdown.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    host = DevHost(
        args.app_dir,
        host=args.host,
        port=args.port,
        timers=not args.no_timers,
        queues=not args.no_queues,
    )
    try:
        host.start()
    except DevHostError as exc:
        log.error("Dev host cannot start: %s", exc)
        return 1
    print("\nFunctions:\n", flush=True)
    for line in host.listing():
        print(f"    {line}", flush=True)
    print(f"\nDev host listening on {host.base_url}", flush=True)
    while not shutdown.wait(3600):
        pass
    log.info("Shutting down")
    host.stop()
    return 0
