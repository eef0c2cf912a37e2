"""The chaos suite at CI size: separate scheduler processes, SIGKILL, AML faults, table outages,
edits, deletes and clock jumps, then recovery. `make chaos` runs it bigger (CHAOS_TRIALS)."""

from __future__ import annotations

import os

import pytest

from devtools.chaos.harness import Chaos, ChaosConfig

pytestmark = pytest.mark.chaos


def test_no_duplicate_no_hole_no_stuck_slot(tmp_path, capsys):
    config = ChaosConfig(fired_slots=int(os.environ.get("CHAOS_CI_TRIALS") or 150),
                         seed=int(os.environ.get("CHAOS_SEED") or 20261201), log_dir=tmp_path / "chaos")
    with Chaos(config) as chaos:
        figures = chaos.run()
    with capsys.disabled():
        print()
        for line in figures.lines():
            print(line)
    v = figures.verdict
    assert v.fired >= config.fired_slots and figures.counts["kills"] > 0 and figures.counts["faults"] > 0
    assert (v.duplicates, v.orphans, v.holes, v.doubles, v.stuck) == (0, 0, 0, 0, 0), v.problems[:20]
