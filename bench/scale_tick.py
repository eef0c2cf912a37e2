"""The tick scenarios of bench/scale.py: D of N schedules due at one slot, taken to AML.

One stack (Azurite, the AML emulator) serves every round with the same N: the N - D
schedules that are not due are seeded once; each round gets its own runs table and
queue, fresh workers, and D due schedules seeded anew, all due at a slot a few
seconds ahead. At the slot the bench runs the timer's part (`engine.tick`) and the
workers do the rest: dispatch each shard, then one attempt per slot message.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

import scale_seed
from scale_measure import (
    Snapshot,
    WorkerLog,
    aml_requests_since,
    delta,
    load_average,
    machine_busy_seconds,
    parse_rh_time,
    percentile,
    wait_for_work,
)
from scale_probe import RequestCounter
from scale_stack import Aml, Identity, Processes, Storage, Worker, app_settings, peak_memory_mb

UTC = timezone.utc
WARMUP_SECONDS = 60.0
# Long enough that no emulated run ends (and nothing polls) while a round is measured.
RUN_SECONDS = 3600.0
NOT_DUE_PREFIX, DUE_PREFIX = "sched-", "due-"
BENCH_PROCESS = "bench process"
DEFAULT_SEED_RATE = 500.0  # rows per second, when there was no bulk to learn it from


@dataclass
class TickFigures:
    label: str
    schedules: int
    due: int
    workers: int
    seed_seconds: float
    seed_note: str
    tick_seconds: float = math.nan
    tick_late_ms: float = math.nan
    claimed_by: float = math.nan
    queued_by: float = math.nan
    window_seconds: float = math.nan
    finished: bool = False
    submitted: int = 0  # AML runs
    distinct: int = 0  # slots they are for
    lags: list[float] = field(default_factory=list)
    record_vs_aml_ms: float = math.nan
    table_requests: int = 0
    tick_table_requests: int = 0
    queue_requests: int = 0
    failed_requests: int = 0  # tables and queues: no answer, 408, 429 or 5xx
    aml_requests: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds by role, in the window
    worker_peak_mb: list[float] = field(default_factory=list)
    others_cores: float = math.nan
    load: str = ""
    trouble: list[str] = field(default_factory=list)


class TickGroup:
    """Every round with N schedules: one stack, the not-due schedules seeded once."""

    def __init__(self, processes: Processes, identity: Identity, counter: RequestCounter, *, schedules: int, due: int,
                 latency: float, window_timeout: float, full_rows: bool):
        self.processes, self.identity, self.counter = processes, identity, counter
        self.schedules, self.due, self.latency, self.window_timeout = schedules, due, latency, window_timeout
        self.full_rows = full_rows

    def run(self, worker_counts: list[int]) -> Iterator[TickFigures]:
        """One round per worker count (a count may repeat), each yielded when it is done."""
        started_with = len(self.processes.children)
        own = []
        try:
            self.storage = Storage(self.processes, f"n{self.schedules}")
            self.aml = Aml(self.processes, f"n{self.schedules}", scale_seed.PIPELINE_ID, RUN_SECONDS)
            # This group's stack alone: another group's rounds may run between this one's.
            own = self.processes.children[started_with:]
            self._runtime(1)  # creates the tables and marks the layout current before the seeding
            t0 = time.perf_counter()
            now = datetime.now(UTC).replace(microsecond=0)
            later = scale_seed.ScheduleSet(NOT_DUE_PREFIX, range(self.schedules - self.due), now + timedelta(hours=2),
                                           spread_minutes=60, index_only=not self.full_rows)
            rows = scale_seed.seed_schedules(self.storage.tables, "schedules", later, now)
            self.bulk_seconds = time.perf_counter() - t0
            self.rows_per_second = rows / self.bulk_seconds if rows else DEFAULT_SEED_RATE
            rows_of = "schedule, due-index and history rows" if self.full_rows else "due-index rows only"
            self.bulk_note = f"{self.schedules - self.due:,} schedules not due: {rows:,} rows ({rows_of})"
            for index, workers in enumerate(worker_counts, 1):
                yield self._round(index, workers)
        finally:
            for child in (own or self.processes.children[started_with:])[::-1]:
                self.processes.stop(child)

    def _runtime(self, index: int):
        from shared.config import load_settings
        from shared.runtime import build_runtime

        self.settings = app_settings(self.storage, self.aml, self.identity, runs_table=f"runs{index}",
                                     queue=f"scale-slots-{index}")
        return build_runtime(load_settings(self.settings))

    def _round(self, index: int, worker_count: int) -> TickFigures:
        from shared.queue import SlotMessage

        label = f"tick N={self.schedules:,} D={self.due:,} {worker_count} worker process(es)"
        print(f"\n== {label}", flush=True)
        runtime = self._runtime(index)
        self.aml.reset()
        self.aml.delay("POST", "PipelineSubmit", self.latency)
        # The first message creates the queue, which the host waits for rather than creating it.
        warmup = SlotMessage("warmup", datetime(2000, 1, 1, tzinfo=UTC), "schedule")
        runtime.queue.send(warmup)
        workers = [Worker(self.processes, f"n{self.schedules}-r{index}-worker{i}", self.settings)
                   for i in range(worker_count)]
        try:
            for worker in workers:
                worker.wait_ready()
            logs = [WorkerLog(worker.child.log_path) for worker in workers]
            self._warm_up(runtime, warmup, logs)
            figures = self._measure(label, runtime, workers, logs)
        finally:
            for worker in workers:
                self.processes.stop(worker.child)
        return figures

    def _warm_up(self, runtime, message, logs: list[WorkerLog]) -> None:
        """Until every worker has worked a message (its app is imported, its clients are built),
        and every warm-up message sent is gone, so none is worked in the window."""
        sent, deadline = 1, time.monotonic() + WARMUP_SECONDS  # one went out before the workers started
        while time.monotonic() < deadline:
            for log in logs:
                log.read()
            if all(log.warmups for log in logs):
                break
            runtime.queue.send(message)
            sent += 1
            time.sleep(1.0)
        else:
            print("  warning: not every worker took a warm-up message; its start-up falls in the window")
        while time.monotonic() < deadline and sum(log.warmups for log in logs) < sent:
            time.sleep(0.1)
            for log in logs:
                log.read()
        for log in logs:
            log.forget()

    def _seed_due(self) -> tuple[datetime, float]:
        observer = scale_seed.table_client(self.storage.tables, "schedules")
        scale_seed.remove_schedules(observer, DUE_PREFIX)  # the previous round's, with their moved cursors
        t0 = time.perf_counter()
        # A whole second far enough ahead that the seeding is done before it, at half the bulk's pace.
        lead = 2 + 2 * 3 * self.due / self.rows_per_second
        slot = datetime.fromtimestamp(math.ceil(time.time() + lead), UTC)
        scale_seed.seed_schedules(self.storage.tables, "schedules",
                                  scale_seed.ScheduleSet(DUE_PREFIX, range(self.due), slot), slot, processes=1)
        return slot, time.perf_counter() - t0

    def _snapshot(self, workers: list[Worker]) -> Snapshot:
        requests = Counter(self.counter.snapshot())
        for worker in workers:
            requests.update(worker.request_counts())
        cpu = {**self.processes.cpu_by_role(), BENCH_PROCESS: time.process_time()}
        return Snapshot(time.time(), cpu, dict(requests), machine_busy_seconds())

    def _measure(self, label: str, runtime, workers: list[Worker], logs: list[WorkerLog]) -> TickFigures:
        slot, due_seconds = self._seed_due()
        figures = TickFigures(label, self.schedules, self.due, len(workers), self.bulk_seconds + due_seconds,
                              f"{self.bulk_note}, seeded once for every round with this N, "
                              f"+ {due_seconds:.1f} s for the {self.due:,} due ones")
        while time.time() < slot.timestamp() - 0.3:
            time.sleep(0.05)
        before = self._snapshot(workers)
        while time.time() < slot.timestamp():
            time.sleep(0.001)
        tick_cpu0, tick_requests0, t0 = time.process_time(), self.counter.snapshot(), time.time()
        report = runtime.engine.tick(datetime.now(UTC))
        t1, tick_cpu = time.time(), time.process_time() - tick_cpu0
        tick_requests = delta(self.counter.snapshot(), tick_requests0)
        figures.tick_table_requests = tick_requests.get(f"sent:{self.storage.table_port}", 0)
        figures.finished = wait_for_work(logs, report.enqueued, time.monotonic() + self.window_timeout)
        after = self._snapshot(workers)
        figures.window_seconds = after.at - t0
        figures.worker_peak_mb = [peak_memory_mb(worker.pid) for worker in workers]
        figures.tick_seconds, figures.tick_late_ms = t1 - t0, (t0 - slot.timestamp()) * 1000
        figures.load = load_average()

        cpu = delta(after.cpu, before.cpu)
        # The machine's busy time less every process of ours (the bench's watching included): the others'.
        figures.others_cores = max(0.0, after.machine - before.machine - sum(cpu.values())) / figures.window_seconds
        del cpu[BENCH_PROCESS]
        figures.cpu = {"tick": tick_cpu, **cpu}
        # In the window the bench process sent only the tick's requests; the rest are the workers'.
        requests = delta(after.requests, before.requests)
        tables, queues = self.storage.table_port, self.storage.queue_port
        figures.table_requests = requests.get(f"sent:{tables}", 0)
        figures.queue_requests = requests.get(f"sent:{queues}", 0)
        figures.failed_requests = requests.get(f"failed:{tables}", 0) + requests.get(f"failed:{queues}", 0)
        figures.trouble = [line for log in logs for line in log.trouble]

        shards = [s for log in logs for s in log.shards]
        figures.queued_by = max((at for at, _ in shards), default=math.nan) - t0
        self._read_outcomes(figures, runtime, slot, t0)
        return figures

    def _read_outcomes(self, figures: TickFigures, runtime, slot: datetime, t0: float) -> None:
        """AML's own submit times against the slot; the run records' claim and submit times."""
        runs = self.aml.runs()
        figures.aml_requests = aml_requests_since(self.aml.requests_log(), t0)
        aml_submitted = {r["tags"].get("scheduler_run_key"): parse_rh_time(r["submittedAt"]) for r in runs}
        figures.submitted, figures.distinct = len(runs), len(aml_submitted)
        figures.lags = sorted(parse_rh_time(r["submittedAt"]) - slot.timestamp() for r in runs)
        observer = scale_seed.table_client(self.storage.tables, runtime.settings.runs_table)
        records = list(observer.query_entities("RowKey ge '~'", select=["RunKey", "ClaimedAt", "SubmittedAt"]))
        claimed = [r["ClaimedAt"].timestamp() for r in records if r.get("ClaimedAt")]
        figures.claimed_by = max(claimed, default=math.nan) - t0
        differences = [abs(r["SubmittedAt"].timestamp() - aml_submitted[r["RunKey"]]) * 1000
                       for r in records if r.get("SubmittedAt") and r["RunKey"] in aml_submitted]
        figures.record_vs_aml_ms = max(differences, default=math.nan)


def lag_summary(figures: TickFigures) -> tuple[float, float, float]:
    return (percentile(figures.lags, 0.50), percentile(figures.lags, 0.99),
            figures.lags[-1] if figures.lags else math.nan)
