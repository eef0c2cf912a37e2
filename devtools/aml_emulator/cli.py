"""Command line: ``python -m devtools.aml_emulator [--port 8082] [--pipeline ID] ...``.

Serves until SIGTERM or SIGINT, then stops cleanly (exit status 0), so the local stack
can run it as a child process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from devtools.aml_emulator.emulator import AmlEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.aml_emulator",
        description="Azure ML data-plane emulator (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--subscription-id", default="00000000-0000-0000-0000-000000000000")
    parser.add_argument("--resource-group", default="rg-local")
    parser.add_argument("--workspace", default="ws-local")
    parser.add_argument("--run-seconds", type=float, default=6.0)
    parser.add_argument("--location", default="westeurope", help="the workspace's region")
    parser.add_argument("--operation-seconds", type=float, default=1.0,
                        help="how long an ARM compute operation runs")
    parser.add_argument("--pipeline", action="append", default=[], metavar="ID[:Completed|Failed]",
                        help="register a published pipeline (repeatable)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="ID[:V1,V2]",
                        help="register a pipeline endpoint (repeatable); first version is the default")
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    emulator = AmlEmulator(
        host=args.host,
        port=args.port,
        subscription_id=args.subscription_id,
        resource_group=args.resource_group,
        workspace=args.workspace,
        run_seconds=args.run_seconds,
        location=args.location,
        operation_seconds=args.operation_seconds,
    )
    try:
        for spec in args.pipeline:
            pipeline_id, _, outcome = spec.partition(":")
            emulator.register_pipeline(pipeline_id, outcome=outcome or "Completed")
        for spec in args.endpoint:
            endpoint_id, _, versions = spec.partition(":")
            emulator.register_pipeline(
                endpoint_id, kind="endpoint", versions=[v for v in versions.split(",") if v] or None
            )
    except ValueError as exc:
        parser.error(str(exc))

    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emulator.start()
    print(f"AML emulator listening on {emulator.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0
