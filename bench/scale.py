"""Scale on the local stack: N schedules with D due at one slot, from the tick to AML; and one poll.

Run with `make bench-scale` (or `python bench/scale.py --help`). Every part runs as it
would deployed, each in a process of its own: Azurite (tables, queues), the AML and
identity emulators, and the queue workers as dev hosts (timers off,
PYTHON_THREADPOOL_THREAD_COUNT=32, the repo's host.json), one or two of them as
FUNCTIONS_WORKER_PROCESS_COUNT would give. The bench process plays the timer: at the
slot it runs `engine.tick`; the workers dispatch the shards and submit the slots. AML
answers each submit after --latency-ms.

Per scenario it prints seeding time (not part of the figures); the tick's time and
when every slot was claimed and queued; the lag from the slot to AML's own submit time
(p50/p99/max) and how far the records' submittedAt are from it; table, queue and AML
requests per slot; CPU per slot by role and the workers' peak memory; and the
"CPU-bound ideal", the app's CPU for the D slots spread over every core, against the
p99 lag, and the machine's floor, everything's CPU (storage and emulators included)
spread the same way: on a machine they share, no lag can be lower. The poll scenario
times one `engine.poll`. It asserts nothing.

Two dev hosts poll the queue independently, so together they hold up to twice the
messages one host hands its worker processes (batchSize + newBatchThreshold each).
The figures share the machine with whatever else runs on it; each scenario says how
many cores other processes kept busy meanwhile. The machine's own speed drifts by a
fifth or more within an hour, so each N keeps its stack and the N's rounds take turns
(N=10,000 with 1 worker, N=100,000 with 1 worker, N=10,000 with 2, ...); `--repeat K`
runs every case K times, and the summary's "growth with N" compares the medians.

The N - D schedules that are not due are seeded as their due-index rows alone (each
carries the whole schedule, and it is all the tick path reads of them): Azurite scans
a partition on every insert, so with their schedule and history rows too 100,000
schedules would take an estimated 15 minutes to seed (`--full-rows` does it anyway).
The D due schedules get all their rows.

With the defaults all scenarios take about 10 minutes on two cores, two thirds of it
seeding (most of that the poll's 100,000 history records).
To see where a worker's time goes, point py-spy at it during a round:
`py-spy record --gil --pid <pid of a scale_probe.py process> -o worker.svg`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from scale_measure import load_average  # noqa: E402 - after the repo root is on sys.path
from scale_poll import PollFigures, PollScenario  # noqa: E402
from scale_probe import RequestCounter  # noqa: E402
from scale_stack import WORKER_THREADS, Identity, Processes  # noqa: E402
from scale_tick import TickFigures, TickGroup, lag_summary  # noqa: E402

CORES = len(os.sched_getaffinity(0))
ROLES = ("tick", "workers", "Azurite tables", "Azurite queues", "AML emulator", "identity")


def _ms(seconds: float, per: int) -> str:
    return f"{seconds * 1000 / per:.1f}" if per else "-"


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    for row in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))


def app_cpu(figures: TickFigures) -> float:
    return figures.cpu.get("tick", 0.0) + figures.cpu.get("workers", 0.0)


def all_cpu(figures: TickFigures) -> float:
    """Every role's CPU: on this machine the storage and the emulators share the app's cores."""
    return sum(figures.cpu.get(role, 0.0) for role in ROLES)


def print_tick(f: TickFigures) -> None:
    p50, p99, worst = lag_summary(f)
    d = f.due
    print(f"  seeding: {f.seed_seconds:.1f} s ({f.seed_note}); not part of the figures")
    print(f"  tick (engine.tick): {f.tick_seconds * 1000:.0f} ms, started {f.tick_late_ms:.0f} ms after the slot, "
          f"{f.tick_table_requests} table requests")
    print(f"  every slot claimed by +{f.claimed_by:.2f} s (latest claimedAt), queued by +{f.queued_by:.2f} s "
          f"(last shard dispatch done, workers' logs)")
    state = "all slot messages worked" if f.finished else "TIMED OUT before every slot message was worked"
    print(f"  window: {f.window_seconds:.1f} s, {state}; AML has {f.submitted} runs for {f.distinct} of {d} slots")
    print(f"  lag slot -> AML submit time: p50 {p50:.2f} s, p99 {p99:.2f} s, max {worst:.2f} s; "
          f"records' submittedAt vs AML: at most {f.record_vs_aml_ms:.0f} ms apart")
    aml = sum(f.aml_requests.values())
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(f.aml_requests.items()))
    print(f"  requests per slot: tables {f.table_requests / d:.2f}, queues {f.queue_requests / d:.2f}, "
          f"AML {aml / d:.2f} ({kinds}); {f.failed_requests} table/queue requests failed")
    cpu = ", ".join(f"{role} {_ms(f.cpu.get(role, 0.0), d)}" for role in ROLES)
    print(f"  CPU ms per slot: {cpu}; app (tick + workers) {_ms(app_cpu(f), d)}")
    peaks = ", ".join(f"{mb:.0f}" for mb in f.worker_peak_mb)
    ideal = app_cpu(f) / CORES
    print(f"  worker peak memory (VmHWM): {peaks} MB")
    print(f"  CPU-bound ideal: {ideal:.2f} s (app CPU over {CORES} cores); p99 lag / ideal = {p99 / ideal:.1f}"
          if ideal else "  CPU-bound ideal: -")
    floor = all_cpu(f) / CORES
    print(f"  machine floor: {floor:.2f} s (every role's CPU over {CORES} cores: no p99 lag on this machine can be "
          f"lower); p99 lag / floor = {p99 / floor:.1f}" if floor else "  machine floor: -")
    print(f"  other processes on the machine kept {f.others_cores:.2f} cores busy; load average {f.load}")
    for line in f.trouble[:5]:
        print(f"  worker log: {line}")


def print_poll(f: PollFigures) -> None:
    print(f"  seeding: {f.seed_seconds:.1f} s ({f.seed_note}); not part of the figures")
    print(f"  engine.poll: {f.poll_seconds:.2f} s, POLL_CONCURRENCY {f.concurrency}; {f.checked} checked, "
          f"{f.changed} changed, {f.schedules} schedules, {f.pruned} pruned, {f.errors} errors")
    print(f"  if only AML's {f.latency * 1000:.0f} ms per GET counted: {f.wait_floor:.2f} s")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(f.aml_requests.items()))
    print(f"  requests: tables {f.table_requests} ({f.failed_requests} failed), AML {sum(f.aml_requests.values())} "
          f"({kinds})")
    cpu = ", ".join(f"{role} {seconds * 1000:.0f}" for role, seconds in f.cpu.items())
    print(f"  CPU ms: {cpu}; per checked run: poll {_ms(f.cpu.get('poll', 0.0), f.checked)}")
    print(f"  other processes on the machine kept {f.others_cores:.2f} cores busy; load average {f.load}")


def interleave(rounds: Iterable[Iterator[TickFigures]]) -> Iterator[TickFigures]:
    """One round of each N in turn, so that N=10,000 and N=100,000 meet the same hour of the machine:
    its speed drifts by a fifth or more within an hour, as much as the difference being measured."""
    pending = list(rounds)
    while pending:
        for group in list(pending):
            try:
                yield next(group)
            except StopIteration:
                pending.remove(group)


def _median(figures: list[TickFigures], value) -> float:
    return statistics.median(value(f) for f in figures)


def _growth(small: float, large: float) -> str:
    return f"{small:.2f} -> {large:.2f} ({100 * (large / small - 1):+.0f}%)" if small else "-"


def print_scaling(ticks: list[TickFigures]) -> None:
    """Each larger N against the smallest, per worker count: medians over the (interleaved) rounds."""
    by_case: dict[tuple[int, int], list[TickFigures]] = defaultdict(list)
    for f in ticks:
        by_case[(f.schedules, f.workers)].append(f)
    smallest = min(f.schedules for f in ticks)
    measures = {
        "lag p50": lambda f: lag_summary(f)[0],
        "lag p99": lambda f: lag_summary(f)[1],
        "tick": lambda f: f.tick_seconds,
        "floor": lambda f: all_cpu(f) / CORES,
        "app CPU ms/slot": lambda f: app_cpu(f) * 1000 / f.due,
        "Azurite tab ms/slot": lambda f: f.cpu.get("Azurite tables", 0.0) * 1000 / f.due,
    }
    rows = []
    for (schedules, workers), large in sorted(by_case.items()):
        small = by_case.get((smallest, workers))
        if schedules == smallest or not small:
            continue
        rows.append([f"N={schedules:,} vs N={smallest:,} workers={workers}", f"{len(small)}/{len(large)}",
                     *(_growth(_median(small, value), _median(large, value)) for value in measures.values())])
    if rows:
        print("\nGrowth with N: medians of each case's rounds, which ran in turn (smaller N -> larger N)")
        _table(["cases", "rounds", *measures], rows)


def summary(ticks: list[TickFigures], polls: list[PollFigures]) -> None:
    print("\n== summary")
    if ticks:
        print("Tick to AML: seconds from the tick's start (tick, claimed, queued) or from the slot (lag)")
        rows = []
        for f in ticks:
            p50, p99, worst = lag_summary(f)
            ideal, floor = app_cpu(f) / CORES, all_cpu(f) / CORES
            rows.append([f"N={f.schedules:,} D={f.due:,} workers={f.workers}", f"{f.seed_seconds:.0f}",
                         f"{f.tick_seconds:.2f}", f"{f.claimed_by:.2f}", f"{f.queued_by:.2f}",
                         f"{f.submitted}/{f.distinct}", f"{p50:.2f}", f"{p99:.2f}", f"{worst:.2f}",
                         f"{f.record_vs_aml_ms:.0f}", f"{ideal:.2f}", f"{p99 / ideal:.1f}" if ideal else "-",
                         f"{floor:.2f}", f"{f.others_cores:.1f}"])
        _table(["scenario", "seed s", "tick", "claimed", "queued", "AML runs/slots", "lag p50", "p99", "max",
                "rec-AML ms", "CPU ideal", "p99/ideal", "floor", "others' cores"], rows)
        print("\nPer slot: requests, and CPU ms by role; the workers' peak memory")
        _table(["scenario", "tables", "queues", "failed", "AML", "tick", "workers", "Azurite tab", "Azurite q",
                "AML emu", "app", "peak MB"],
               [[f"N={f.schedules:,} D={f.due:,} workers={f.workers}", f"{f.table_requests / f.due:.2f}",
                 f"{f.queue_requests / f.due:.2f}", f"{f.failed_requests / f.due:.2f}",
                 f"{sum(f.aml_requests.values()) / f.due:.2f}",
                 _ms(f.cpu.get("tick", 0.0), f.due), _ms(f.cpu.get("workers", 0.0), f.due),
                 _ms(f.cpu.get("Azurite tables", 0.0), f.due), _ms(f.cpu.get("Azurite queues", 0.0), f.due),
                 _ms(f.cpu.get("AML emulator", 0.0), f.due), _ms(app_cpu(f), f.due),
                 "/".join(f"{mb:.0f}" for mb in f.worker_peak_mb)] for f in ticks])
        print_scaling(ticks)
    if polls:
        print("\nPoll: one engine.poll")
        _table(["scenario", "seed s", "poll s", "wait floor s", "checked", "changed", "tables", "AML",
                "CPU ms/run: poll", "Azurite tab", "AML emu", "others' cores"],
               [[f"active={f.active:,} history={f.history:,}", f"{f.seed_seconds:.0f}", f"{f.poll_seconds:.2f}",
                 f"{f.wait_floor:.2f}", str(f.checked), str(f.changed), str(f.table_requests),
                 str(sum(f.aml_requests.values())), _ms(f.cpu.get("poll", 0.0), f.checked),
                 _ms(f.cpu.get("Azurite tables", 0.0), f.checked), _ms(f.cpu.get("AML emulator", 0.0), f.checked),
                 f"{f.others_cores:.1f}"] for f in polls])
    print("\nTable and queue requests: counted in the app's own processes (the bench process for the tick and the "
          "poll, every worker with its dev host's queue receives and deletes) by wrapping requests.Session.send, by "
          "destination port; failed: no answer, 408, 429 or 5xx. AML requests: the "
          "emulator's request log. CPU: utime+stime from /proc/<pid>/stat of every process started, by role; "
          "CPU ideal: the app's CPU (tick + workers) for the D slots over all cores; floor: every role's CPU "
          "(Azurite and the emulators too) over all cores; others' cores: what the rest "
          "of the machine kept busy meanwhile (/proc/stat less ours).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, nargs="*", default=[10_000, 100_000],
                        help="N for the tick scenarios (default 10000 100000; none: skip them)")
    parser.add_argument("--due", type=int, default=1_000, help="D: schedules due at the slot (default 1000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker processes per round (default 1 2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of each (N, workers) case; the N's rounds take turns (default 1)")
    parser.add_argument("--latency-ms", type=float, default=100.0,
                        help="AML's latency per submit and per run GET (default 100)")
    parser.add_argument("--poll-active", type=int, default=1_000, help="active runs for the poll (0: skip it)")
    parser.add_argument("--poll-history", type=int, default=100_000, help="finished run records behind them")
    parser.add_argument("--window-timeout", type=float, default=180.0,
                        help="seconds a round may take from the tick until every slot is worked")
    parser.add_argument("--full-rows", action="store_true",
                        help="seed the schedules not due with their schedule and history rows too (slow: an "
                             "estimated 15 minutes for 100,000)")
    parser.add_argument("--log-dir", type=Path, help="where the processes' logs go (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{CORES} cores, load average {load_average()}; AML latency {args.latency_ms:g} ms; workers with "
          f"{WORKER_THREADS} threads each; logs in {log_dir}", flush=True)
    counter = RequestCounter().install()
    processes = Processes(log_dir)
    ticks: list[TickFigures] = []
    polls: list[PollFigures] = []
    try:
        identity = Identity(processes)
        os.environ.update(identity.env())  # the bench process's credential (the tick's, the poll's) uses it
        groups = [TickGroup(processes, identity, counter, schedules=schedules, due=args.due,
                            latency=args.latency_ms / 1000, window_timeout=args.window_timeout,
                            full_rows=args.full_rows) for schedules in args.schedules]
        for figures in interleave(group.run(args.workers * args.repeat) for group in groups):
            ticks.append(figures)
            print_tick(figures)
        if args.poll_active:
            figures = PollScenario(processes, identity, counter, active=args.poll_active, history=args.poll_history,
                                   latency=args.latency_ms / 1000).run()
            polls.append(figures)
            print_poll(figures)
    finally:
        processes.stop_all()
    summary(ticks, polls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
