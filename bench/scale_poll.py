"""The poll scenario of bench/scale.py: one `engine.poll` over many active runs and a long history.

Each active run has a schedule, a claimed record and a live row, and an AML run in the
emulator (submitted while seeding, long enough that it stays NotStarted through the
poll, so the poll reads and compares but writes nothing: the steady state). Behind
them lie finished records, hourly, in the same shard partitions. Every GET of a run
waits the given latency in the emulator.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import scale_seed
from scale_measure import aml_requests_since, delta, load_average, machine_busy_seconds
from scale_probe import RequestCounter
from scale_stack import Aml, Identity, Processes, Storage, app_settings

UTC = timezone.utc
RUN_SECONDS = 3600.0  # NotStarted for its first tenth: the whole poll
SUBMIT_THREADS = 32


@dataclass
class PollFigures:
    label: str
    active: int
    history: int
    concurrency: int
    latency: float
    seed_seconds: float = math.nan
    seed_note: str = ""
    poll_seconds: float = math.nan
    checked: int = 0
    changed: int = 0
    schedules: int = 0
    pruned: int = 0
    errors: int = 0
    table_requests: int = 0
    failed_requests: int = 0
    aml_requests: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    others_cores: float = math.nan
    load: str = ""

    @property
    def wait_floor(self) -> float:
        """The poll's time if only AML's latency counted: rounds of `concurrency` GETs."""
        return math.ceil(self.active / self.concurrency) * self.latency


class PollScenario:
    def __init__(self, processes: Processes, identity: Identity, counter: RequestCounter, *, active: int,
                 history: int, latency: float):
        self.processes, self.identity, self.counter = processes, identity, counter
        self.active, self.history, self.latency = active, history, latency

    def run(self) -> PollFigures:
        from shared.config import load_settings
        from shared.runtime import build_runtime

        started_with = len(self.processes.children)
        try:
            storage = Storage(self.processes, "poll")
            self.aml = Aml(self.processes, "poll", scale_seed.PIPELINE_ID, RUN_SECONDS)
            settings = app_settings(storage, self.aml, self.identity, runs_table="runs", queue="scale-slots-poll")
            runtime = build_runtime(load_settings(settings))
            figures = PollFigures(f"poll {self.active:,} active runs, {self.history:,} history records", self.active,
                                  self.history, runtime.settings.poll_concurrency, self.latency)
            print(f"\n== {figures.label}", flush=True)
            self._seed(storage, runtime, figures)
            self.aml.delay("GET", "/runs/", self.latency)
            self._measure(storage, runtime, figures)
            return figures
        finally:
            for child in self.processes.children[started_with:][::-1]:
                self.processes.stop(child)

    def _seed(self, storage: Storage, runtime, figures: PollFigures) -> None:
        t0 = time.perf_counter()
        now = datetime.now(UTC).replace(microsecond=0)
        schedules = scale_seed.ScheduleSet("sched-", range(self.active), now + timedelta(minutes=30), 60)
        schedule_rows = scale_seed.seed_schedules(storage.tables, "schedules", schedules, now)
        slot = now.replace(minute=0, second=0)

        def submit(number: int):
            schedule_id = schedules.schedule_id(number)
            probe = scale_seed.active_run(schedule_id, slot, "", now)
            run = runtime.aml.submit_pipeline(scale_seed.PIPELINE_ID, experiment_name=scale_seed.EXPERIMENT,
                                              parameter_assignments=probe.parameters,
                                              tags={"scheduler_run_key": probe.run_key})
            return scale_seed.active_run(schedule_id, slot, run.run_id, datetime.now(UTC))

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            active = list(pool.map(submit, range(self.active)))
        per_run = self.history // max(1, self.active)
        run_rows = scale_seed.seed_runs(storage.tables, "runs", active, per_run)
        figures.seed_seconds = time.perf_counter() - t0
        figures.seed_note = (f"{self.active:,} schedules ({schedule_rows:,} rows), {self.active:,} AML runs, "
                             f"{run_rows:,} run rows ({per_run} finished per active run)")

    def _measure(self, storage: Storage, runtime, figures: PollFigures) -> None:
        cpu0, requests0, busy0 = self.processes.cpu_by_role(), self.counter.snapshot(), machine_busy_seconds()
        own0, t0 = time.process_time(), time.time()
        report = runtime.engine.poll(datetime.now(UTC))
        t1, own = time.time(), time.process_time() - own0
        cpu = delta(self.processes.cpu_by_role(), cpu0)
        busy = machine_busy_seconds() - busy0
        figures.poll_seconds = t1 - t0
        figures.load = load_average()
        figures.cpu = {"poll": own, **cpu}
        figures.others_cores = max(0.0, busy - sum(figures.cpu.values())) / figures.poll_seconds
        requests = delta(self.counter.snapshot(), requests0)
        figures.table_requests = requests.get(f"sent:{storage.table_port}", 0)
        figures.failed_requests = requests.get(f"failed:{storage.table_port}", 0)
        figures.aml_requests = aml_requests_since(self.aml.requests_log(), t0)
        figures.checked, figures.changed, figures.schedules = report.checked, report.changed, report.schedules
        figures.pruned, figures.errors = report.pruned, len(report.errors)
