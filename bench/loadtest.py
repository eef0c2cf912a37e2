"""`make loadtest`: the app's main read routes under threads x iterations, figures per route.

Without a URL it starts the local stack itself (Azurite, both emulators, the dev host on
free ports, as the end-to-end tests do), seeds schedules over the app's own API (some
with backfilled run history), runs the load, and stops every process it started. Given
a deployed app's URL (and a function key) it loads that instead and writes nothing:

    python bench/loadtest.py                                  # local stack
    python bench/loadtest.py --url https://<app>.azurewebsites.net/api --key <function key>
    LOADTEST_URL=... LOADTEST_KEY=... python bench/loadtest.py --threads 8 --iterations 100

Each thread keeps one HTTP session (kept-alive connections, as a real client has) and
walks the routes in order per iteration: health, GET schedules, GET schedules/{id},
GET schedules/{id}/runs, GET schedules/{id}/preview, GET computes, GET openapi.json,
GET me and the console page. The key goes in the x-functions-key header, never in a URL
and never on the screen. Every route is asked once before the clock starts (the first
call in a process builds its handlers); those figures are printed apart. Prints requests/s,
p50/p95/p99/max latency and error counts per route; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PIPELINE_ID = "10ad7e57-0000-4000-8000-000000000001"
SCHEDULE_PREFIX = "loadtest-"
# (label, path template); {id} is a schedule id drawn per request.
ROUTES = (
    ("health", "health"),
    ("schedules", "schedules?limit=50"),
    ("schedule", "schedules/{id}"),
    ("runs", "schedules/{id}/runs?limit=50"),
    ("preview", "schedules/{id}/preview?count=10"),
    ("computes", "computes"),
    ("openapi", "openapi.json"),
    ("me", "me"),
    ("console", "console"),
)


@dataclass
class RouteFigures:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # exceptions by type: no answer at all

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 400) + sum(self.failures.values())


class Figures:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.routes: dict[str, RouteFigures] = defaultdict(RouteFigures)

    def record(self, route: str, started: float, status: int | None, failure: str | None) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            figures = self.routes[route]
            if failure is not None:
                figures.failures[failure] += 1
            else:
                figures.latencies_ms.append(elapsed)
                figures.statuses[status] += 1


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def session(key: str | None) -> requests.Session:
    http = requests.Session()
    http.headers["Accept"] = "application/json"
    if key:
        http.headers["x-functions-key"] = key
    return http


def ask(http: requests.Session, base: str, route: str, path: str, ids: list[str], rng: random.Random,
        figures: Figures, timeout: float) -> None:
    if "{id}" in path:
        if not ids:
            return
        path = path.replace("{id}", rng.choice(ids))
    started = time.perf_counter()
    try:
        response = http.get(f"{base}/{path}", timeout=timeout)
        response.content  # the whole answer counts
    except requests.RequestException as exc:
        figures.record(route, started, None, type(exc).__name__)
        return
    figures.record(route, started, response.status_code, None)


def load(base: str, key: str | None, ids: list[str], *, threads: int, iterations: int, max_seconds: float,
         timeout: float) -> tuple[Figures, float, int]:
    """Run the load; returns the figures, the seconds it took, and iterations left undone at the deadline."""
    figures = Figures()
    deadline = time.monotonic() + max_seconds
    undone = Counter()
    go = threading.Barrier(threads + 1)

    def worker(number: int) -> None:
        rng = random.Random(number)
        http = session(key)
        go.wait()
        for done in range(iterations):
            if time.monotonic() > deadline:
                undone[number] = iterations - done
                break
            for route, path in ROUTES:
                ask(http, base, route, path, ids, rng, figures, timeout)
        http.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    go.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    return figures, time.perf_counter() - started, sum(undone.values())


def warm_up(base: str, key: str | None, ids: list[str], timeout: float) -> Figures:
    figures = Figures()
    http = session(key)
    for route, path in ROUTES:
        ask(http, base, route, path, ids, random.Random(0), figures, timeout)
    http.close()
    return figures


def report(figures: Figures, seconds: float) -> None:
    header = f"  {'route':<10} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  statuses"
    print(header)
    total = RouteFigures()
    for route, _ in ROUTES:
        if route not in figures.routes:
            print(f"  {route:<10} {'-':>8}   (skipped: no schedule to ask for)")
            continue
        line(route, figures.routes[route], seconds)
        total.latencies_ms += figures.routes[route].latencies_ms
        total.statuses.update(figures.routes[route].statuses)
        total.failures.update(figures.routes[route].failures)
    line("all", total, seconds)


def line(label: str, figures: RouteFigures, seconds: float) -> None:
    ordered = sorted(figures.latencies_ms)
    count = len(ordered) + sum(figures.failures.values())
    rate = f"{count / seconds:7.1f}" if seconds else f"{'-':>7}"
    latency = " ".join(f"{percentile(ordered, share):7.1f}" for share in (0.50, 0.95, 0.99, 1.0))
    statuses = ", ".join(f"{status} x{n}" for status, n in sorted(figures.statuses.items()))
    if figures.failures:
        statuses += "; no answer: " + ", ".join(f"{kind} x{n}" for kind, n in figures.failures.most_common())
    print(f"  {label:<10} {count:8d} {figures.errors:6d} {rate} {latency}  {statuses}", flush=True)


# -- the local stack --------------------------------------------------------------------

def seed(base: str, count: int, with_history: int) -> list[str]:
    """`count` schedules over the API; the first `with_history` get a day of backfilled hourly slots."""
    http = requests.Session()
    ids = []
    for n in range(count):
        schedule_id = f"{SCHEDULE_PREFIX}{n:03d}"
        doc = {"id": schedule_id, "description": f"load test schedule {n}",
               "trigger": {"cron": f"0 {n % 60} * * * *", "timeZone": "Europe/Berlin"},
               "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "loadtest",
                          "parameterAssignments": {"day": "{{slot_local:%Y-%m-%d}}"}}}
        response = http.put(f"{base}/schedules/{schedule_id}", json=doc, timeout=30)
        response.raise_for_status()
        ids.append(schedule_id)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    window = {"from": (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
              "to": now.isoformat().replace("+00:00", "Z")}
    for schedule_id in ids[:with_history]:
        http.post(f"{base}/schedules/{schedule_id}/backfill", json=window, timeout=30).raise_for_status()
    # The queue workers submit the backfilled slots; wait (bounded) until the runs have AML ids.
    deadline = time.monotonic() + 60
    for schedule_id in ids[:with_history]:
        while time.monotonic() < deadline:
            runs = http.get(f"{base}/schedules/{schedule_id}/runs?limit=50", timeout=30).json()["value"]
            if runs and all(r["amlRunId"] for r in runs):
                break
            time.sleep(0.5)
    http.close()
    return ids


def existing_ids(base: str, key: str | None, timeout: float) -> list[str]:
    http = session(key)
    try:
        response = http.get(f"{base}/schedules?limit=50", timeout=timeout)
        response.raise_for_status()
        return [s["id"] for s in response.json()["value"]]
    finally:
        http.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LOADTEST_URL"),
                        help="the app's API base, e.g. https://<app>.azurewebsites.net/api (env LOADTEST_URL); "
                             "default: start the local stack")
    parser.add_argument("--key", default=os.environ.get("LOADTEST_KEY"),
                        help="a function key, sent as x-functions-key (env LOADTEST_KEY)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--iterations", type=int, default=50,
                        help=f"passes over the {len(ROUTES)} routes per thread (default 50)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop starting passes after this (default 120)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as no answer")
    parser.add_argument("--schedules", type=int, default=40, help="schedules seeded on the local stack (default 40)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.iterations < 1:
        parser.error("--threads and --iterations must be at least 1")

    stack = None
    try:
        if args.url:
            base = args.url.rstrip("/")
            ids = existing_ids(base, args.key, args.timeout)
            where = f"{base} ({'with' if args.key else 'without'} a function key; {len(ids)} schedule id(s) to read)"
        else:
            from devtools.stack import LocalStack, StackError

            stack = LocalStack(REPO_ROOT, fixed_ports=False, pipelines=[PIPELINE_ID],
                               log_dir=tempfile.mkdtemp(prefix="loadtest-logs-"))
            try:
                stack.start()
            except StackError as exc:
                print(f"could not start the local stack: {exc}", file=sys.stderr)
                return 1
            base = stack.dev_host_url
            print(f"local stack up ({base}); seeding {args.schedules} schedules ...", flush=True)
            ids = seed(base, args.schedules, with_history=min(5, args.schedules))
            where = f"the local stack's dev host, {len(ids)} schedules (5 with a day of hourly runs)"
        print(f"loading {where}: {args.threads} threads x {args.iterations} iterations x {len(ROUTES)} routes, "
              f"at most {args.max_seconds:g} s; {os.cpu_count()} CPUs here; latency in ms", flush=True)
        print("warm-up (one request per route, not in the figures below):")
        report(warm_up(base, args.key, ids, args.timeout), 0)
        figures, seconds, undone = load(base, args.key, ids, threads=args.threads, iterations=args.iterations,
                                        max_seconds=args.max_seconds, timeout=args.timeout)
        print(f"load: {seconds:.1f} s" + (f"; {undone} iteration(s) not started (--max-seconds)" if undone else ""))
        report(figures, seconds)
        print("errors: answers of 400 and above, and requests with no answer (timeouts, refused connections)")
        if stack is not None:
            print(f"logs of the local stack: {stack.log_dir}")
        return 0
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
