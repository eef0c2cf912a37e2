import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from shared.scheduling.jitter import jitter_offset

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_is_stable_across_processes():
    # Python salts hash() per process; the offset must not depend on that.
    probe = "from shared.scheduling.jitter import jitter_offset; print(jitter_offset('nightly-scoring', 3600).seconds)"
    runs = {subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           cwd=REPO_ROOT, env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}).stdout.strip()
            for seed in ("1", "2", "random")}
    assert runs == {str(jitter_offset("nightly-scoring", 3600).seconds)}


def test_known_values():
    # Pinned: a change of hash or reduction would move every schedule's runs.
    assert jitter_offset("nightly-scoring", 3600) == timedelta(seconds=3465)
    assert jitter_offset("nightly-scoring", 60) == timedelta(seconds=29)


@pytest.mark.parametrize("jitter", [1, 59, 600, 3600])
def test_range_is_whole_seconds_from_zero_to_jitter(jitter):
    offsets = [jitter_offset(f"schedule-{i}", jitter) for i in range(2000)]
    assert all(timedelta(0) <= o <= timedelta(seconds=jitter) and o.microseconds == 0 for o in offsets)
    # Spread over the range, not clumped: every tenth of it is hit.
    assert {min(9, o.seconds * 10 // (jitter + 1)) for o in offsets} == set(range(10)) or jitter < 10
    if jitter < 10:
        assert {o.seconds for o in offsets} == set(range(jitter + 1))


def test_zero_means_no_delay_and_negative_is_refused():
    assert jitter_offset("any", 0) == timedelta(0)
    with pytest.raises(ValueError):
        jitter_offset("any", -1)


def test_differs_between_schedules():
    assert len({jitter_offset(name, 3600) for name in ("a", "b", "c", "d", "e")}) > 1
