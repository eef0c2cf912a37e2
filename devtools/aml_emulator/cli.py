"""Command line: ``python -m devtools.aml_emulator [--port 8082] [--pipeline ID] ...``.

Serves until SIGTERM or SIGINT, then stops cleanly (exit status 0), so the local stack
can run it as a child process. Seeding flags: ``--pipeline``, ``--endpoint`` (v1),
``--compute``, ``--batch-endpoint``, ``--schedule-file`` and ``--local-seeds`` (v2;
``--local-seeds`` adds what ``local_seeds`` lists, for ``make run``).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

from devtools.aml_emulator.emulator import AmlEmulator
from devtools.aml_emulator.jobs import DUPLICATE_JOB_PUT_MODES
from devtools.aml_emulator.local_seeds import seed_local_workspace


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
    parser.add_argument("--inference-base-url", default=None, metavar="URL",
                        help="base of batch endpoint scoring URIs (default: the emulator's own URL)")
    parser.add_argument("--duplicate-job-put", choices=DUPLICATE_JOB_PUT_MODES, default="update",
                        help="what a second PUT of an existing job name does")
    parser.add_argument("--compute", action="append", default=[], metavar="NAME[:AmlCompute|ComputeInstance]",
                        help="seed a compute (repeatable)")
    parser.add_argument("--batch-endpoint", action="append", default=[], metavar="NAME[:D1,D2]",
                        help="seed a batch endpoint (repeatable); its first deployment is the default")
    parser.add_argument("--schedule-file", action="append", default=[], metavar="PATH",
                        help='seed AML v2 schedules from a JSON file {"name": {"properties": {...}}} (repeatable)')
    parser.add_argument("--local-seeds", action="store_true",
                        help="seed the local stack's workspace: cpu-cluster, score-batch, nightly-batch-score")
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
        inference_base_url=args.inference_base_url,
        duplicate_job_put=args.duplicate_job_put,
    )
    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    # Started before seeding, because a batch endpoint's scoring URI names the running server.
    emulator.start()
    try:
        _seed(emulator, args)
    except ValueError as exc:
        emulator.stop()
        parser.error(str(exc))
    print(f"AML emulator listening on {emulator.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


def _seed(emulator: AmlEmulator, args: argparse.Namespace) -> None:
    """Register and seed what the flags say; ValueError names the first bad one."""
    for spec in args.pipeline:
        pipeline_id, _, outcome = spec.partition(":")
        emulator.register_pipeline(pipeline_id, outcome=outcome or "Completed")
    for spec in args.endpoint:
        endpoint_id, _, versions = spec.partition(":")
        emulator.register_pipeline(
            endpoint_id, kind="endpoint", versions=[v for v in versions.split(",") if v] or None
        )
    if args.local_seeds:
        seed_local_workspace(emulator)
    for spec in args.compute:
        name, _, compute_type = spec.partition(":")
        emulator.seed_compute(name, compute_type or "AmlCompute")
    for spec in args.batch_endpoint:
        name, _, deployments = spec.partition(":")
        emulator.seed_batch_endpoint(name, [d for d in deployments.split(",") if d] or ["blue"])
    for path in args.schedule_file:
        for name, body in _schedule_file(path).items():
            emulator.seed_schedule(name, body.get("properties") if isinstance(body, dict) else None)


def _schedule_file(path: str) -> dict:
    """The ``{"name": {"properties": ...}}`` object in ``path``; ValueError if it is not one."""
    try:
        with open(path, encoding="utf-8") as handle:
            schedules = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read schedules from {path}: {exc}") from None
    if not isinstance(schedules, dict):
        raise ValueError(f"{path} must hold an object of schedule names to {{\"properties\": ...}}")
    return schedules
