"""`make chaos`: play chaos rounds until CHAOS_TRIALS slots were fired, print the figures.

    python -m devtools.chaos [--trials N] [--seed S] [--instances K] [--log-dir DIR]

Exits 1 when any duplicate, orphan, hole, double record or stuck slot was found, and
prints each of them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from devtools.chaos.harness import Chaos, ChaosConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.chaos")
    parser.add_argument("--trials", type=int, default=int(os.environ.get("CHAOS_TRIALS") or 300),
                        help="fired slots to play (default: CHAOS_TRIALS or 300)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED") or 20261201))
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    config = ChaosConfig(fired_slots=args.trials, seed=args.seed, instances=args.instances, log_dir=args.log_dir)
    # SIGTERM (a supervisor, `timeout`) stops it like Ctrl-C: the stack is taken down.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with Chaos(config) as chaos:
        print(f"chaos: seed {config.seed}, {config.instances} instances, logs in {chaos.log_dir}", flush=True)
        figures = chaos.run()
    for line in figures.lines():
        print(line)
    for problem in figures.verdict.problems[:50]:
        print(f"  ! {problem}")
    v = figures.verdict
    return 1 if v.duplicates or v.orphans or v.holes or v.doubles or v.stuck else 0


if __name__ == "__main__":
    sys.exit(main())
