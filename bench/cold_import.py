"""Cold-import time of function_app next to azure.functions alone (fresh interpreter each run).

Run with `make bench`. Prints median and spread over several runs; it asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = 9
SUBJECTS = {
    "azure.functions alone": "import azure.functions",
    "function_app": "import function_app",
    "function_app + runtime SDKs (what a trigger adds)": (
        "import function_app, azure.identity, azure.data.tables, requests"),
}


def timed(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip()) * 1000


def main() -> None:
    print(f"cold import, {RUNS} fresh interpreters each (milliseconds)")
    medians = {}
    for label, statement in SUBJECTS.items():
        samples = sorted(timed(statement) for _ in range(RUNS))
        medians[label] = statistics.median(samples)
        print(f"  {label:<52} median {medians[label]:7.1f}   min {samples[0]:7.1f}   max {samples[-1]:7.1f}")
    # The goal: function_app costs at most 1.3x what azure.functions alone costs.
    ratio = medians["function_app"] / medians["azure.functions alone"]
    print(f"  ratio function_app / azure.functions: {ratio:.2f}")


if __name__ == "__main__":
    main()
