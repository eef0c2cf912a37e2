"""The chaos suite: separate scheduler processes on one Azurite and one AML emulator, on their worst days.

Each round creates fresh schedules (new experiments, so AML has never heard of them),
then plays steps of the harness's logical clock. In a step every instance is told to
tick (sometimes to poll) at that time while the harness may, at random moments:
SIGKILL instances, inject AML faults (429 with Retry-After, 503 bursts, 500, a submit
that AML carries out after the client gave up, hangs, resets, failing run lookups),
cut table storage for a while, edit or delete a schedule, and jump the clock past
leases or through an outage. Then faults stop, the clock moves on until every lease
and retry has come due, and the round is checked (checks.py).

Real time and logical time meet in one place: before the clock moves on, the harness
waits until the emulator has acted on every request it received, since a real AML acts
on a request within the settle window that the clock is about to jump over.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devtools.aml_emulator import AmlEmulator
from devtools.chaos.checks import RoundSchedule, Verdict, verify
from devtools.chaos.instances import Instance
from devtools.chaos.proxy import CuttableProxy
from devtools.identity_emulator import IdentityEmulator
from devtools.stack import free_port, start_azurite, stop_process_group, tables_connection_string, wait_for_port

UTC = timezone.utc
PIPELINE_ID = "11111111-2222-3333-4444-555555555555"
STEP = timedelta(seconds=10)
STEP_TIMEOUT = 90.0


@dataclass
class ChaosConfig:
    fired_slots: int = 100        # play rounds until this many slots were fired (submitted or failed)
    seed: int = 20261201
    instances: int = 3
    schedules_per_round: int = 8
    steps_per_round: int = 12
    kill_rate: float = 0.25       # per instance and step
    fault_rate: float = 0.6       # per step
    outage_rate: float = 0.15     # per step
    edit_rate: float = 0.15       # per step
    delete_rate: float = 0.05     # per step
    jump_rate: float = 0.1        # per step
    log_dir: Path | None = None


@dataclass
class Figures:
    rounds: int = 0
    kills: int = 0
    faults: int = 0
    outages: int = 0
    edits: int = 0
    deletes: int = 0
    jumps: int = 0
    verdict: Verdict = field(default_factory=Verdict)
    seconds: float = 0.0

    def add(self, verdict: Verdict) -> None:
        for name in ("slots", "fired", "skipped", "aml_runs", "duplicates", "orphans", "holes", "doubles", "stuck"):
            setattr(self.verdict, name, getattr(self.verdict, name) + getattr(verdict, name))
        self.verdict.problems.extend(verdict.problems)

    def lines(self) -> list[str]:
        v = self.verdict
        per_slot = v.aml_runs / v.fired if v.fired else 0.0
        return [
            f"chaos: {self.rounds} round(s) in {self.seconds:.0f} s",
            f"  slot-trials {v.slots} (fired {v.fired}, skipped {v.skipped}); AML runs {v.aml_runs} "
            f"({per_slot:.3f} per fired slot)",
            f"  kills {self.kills}, AML faults {self.faults}, table outages {self.outages}, edits {self.edits}, "
            f"deletes {self.deletes}, clock jumps {self.jumps}",
            f"  duplicates {v.duplicates}, orphan AML runs {v.orphans}, slots with no final record {v.holes}, "
            f"slots with two records {v.doubles}, slots not final after recovery {v.stuck}",
        ]


class Chaos:
    def __init__(self, config: ChaosConfig):
        self.config = config
        self.rng = random.Random(config.seed)
        self.figures = Figures()
        self.log_dir = Path(config.log_dir or tempfile.mkdtemp(prefix="chaos-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)

    # -- the stack ------------------------------------------------------------------
    def __enter__(self) -> "Chaos":
        port = free_port()
        self._azurite = start_azurite(port, self.log_dir / "azurite.log")
        wait_for_port("127.0.0.1", port, 30)
        self.proxy = CuttableProxy(port).start()
        self.identity = IdentityEmulator().start()
        self.aml = AmlEmulator(run_seconds=0.3, cancel_seconds=0.1, retry_after_seconds=1).start()
        self.aml.register_pipeline(PIPELINE_ID)
        suffix = f"{self.rng.randrange(16**8):08x}"
        settings = {
            "AML_SUBSCRIPTION_ID": self.aml.subscription_id, "AML_RESOURCE_GROUP": self.aml.resource_group,
            "AML_WORKSPACE_NAME": self.aml.workspace, "AML_API_BASE_URL": self.aml.base_url,
            "ARM_BASE_URL": self.aml.base_url, "SCHEDULES_TABLE": f"chaossched{suffix}",
            "RUNS_TABLE": f"chaosruns{suffix}", "AML_HTTP_TIMEOUT_SECONDS": "1", "AML_MAX_RETRIES": "2",
        }
        import os

        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AML_", "IDENTITY_", "MSI_"))}
        self.worker_env = {**base_env, **self.identity.env(), **settings,
                           "TABLES_CONNECTION_STRING": tables_connection_string(self.proxy.port)}
        from shared.config import load_settings
        from shared.runtime import build_runtime

        # The harness's own view, straight to Azurite: edits, deletes and the checks.
        self.runtime = build_runtime(load_settings({**settings, **self.identity.env(),
                                                    "TABLES_CONNECTION_STRING": tables_connection_string(port)}))
        self.instances = [self._spawn(i) for i in range(self.config.instances)]
        for instance in self.instances:
            instance.wait_ready()
        return self

    def __exit__(self, *exc_info) -> None:
        for instance in getattr(self, "instances", []):
            instance.close()
        self.aml.stop()
        self.identity.stop()
        self.proxy.stop()
        stop_process_group(self._azurite)

    def _spawn(self, index: int) -> Instance:
        return Instance(f"instance-{index}", self.worker_env, self.log_dir / f"instance-{index}.log")

    # -- rounds ---------------------------------------------------------------------
    def run(self) -> Figures:
        started = time.monotonic()
        while self.figures.verdict.fired < self.config.fired_slots:
            self.figures.add(self.play_round(self.figures.rounds))
            self.figures.rounds += 1
        self.figures.seconds = time.monotonic() - started
        return self.figures

    def play_round(self, number: int) -> Verdict:
        from shared.schedules import parse_schedule
        from shared.store import ScheduleRecord

        start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=number)
        schedules = []
        for i in range(self.config.schedules_per_round):
            doc = {"id": f"r{number}-s{i}", "trigger": {"cron": "*/10 * * * * *"},
                   "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID,
                              "experimentName": f"chaos_{self.config.seed}_r{number}_s{i}",
                              "parameterAssignments": {"slot": "{{slot}}"}},
                   "policy": {"misfire": self.rng.choice(["latest", "all", "skip"]), "maxCatchup": 5,
                              "misfireGraceSeconds": 300,
                              "concurrency": self.rng.choice(["Allow", "Allow", "Forbid", "Replace"]),
                              "retry": {"maxAttempts": 3, "backoffSeconds": self.rng.choice([1, 5, 60])}}}
            definition = parse_schedule(doc)
            self.runtime.schedules.create(ScheduleRecord(definition, start, None, start, start))
            schedules.append(RoundSchedule(definition.id, start, definition.trigger.build()))
        now = start
        for _ in range(self.config.steps_per_round):
            now = self._next_time(now)
            self._play_step(now, schedules)
        self._recover(now)
        return verify(self.runtime, schedules, self.aml.runs())

    def _next_time(self, now: datetime) -> datetime:
        now += STEP + timedelta(milliseconds=self.rng.randrange(0, 900))
        if self.rng.random() < self.config.jump_rate:
            self.figures.jumps += 1
            leases = self.runtime.engine.leases
            now += self.rng.choice([leases.lease + leases.settle, timedelta(hours=1)])
        return now

    def _play_step(self, now: datetime, schedules: list[RoundSchedule]) -> None:
        self._wait_until_aml_has_acted()
        if self.rng.random() < self.config.fault_rate:
            self._inject_faults()
        for instance in self.instances:
            instance.send("poll" if self.rng.random() < 0.25 else "tick", now.isoformat())
        disturbances = [threading.Timer(self.rng.uniform(0, 0.3), instance.kill)
                        for instance in self.instances if self.rng.random() < self.config.kill_rate]
        self.figures.kills += len(disturbances)
        if self.rng.random() < self.config.outage_rate:
            self.figures.outages += 1
            disturbances.append(threading.Timer(self.rng.uniform(0, 0.2), self._outage, args=(self.rng.uniform(0.2, 1.5),)))
        live = [s for s in schedules if not s.deleted]
        if live and self.rng.random() < self.config.edit_rate:
            self.figures.edits += 1
            disturbances.append(threading.Timer(self.rng.uniform(0, 0.2), self._edit, args=(self.rng.choice(live),)))
        if live and self.rng.random() < self.config.delete_rate:
            self.figures.deletes += 1
            victim = self.rng.choice(live)
            victim.deleted = True
            disturbances.append(threading.Timer(self.rng.uniform(0, 0.2), self._delete, args=(victim,)))
        for timer in disturbances:
            timer.start()
        for timer in disturbances:
            timer.join()
        replaced = []
        for index, instance in enumerate(self.instances):
            answered = instance.answer(STEP_TIMEOUT) is not None
            # A kill can also land just after the answer: such an instance is gone too.
            if not answered or not instance.alive():
                instance.kill()
                instance.close()
                self.instances[index] = self._spawn(index)
                replaced.append(self.instances[index])
        for instance in replaced:
            instance.wait_ready()

    def _inject_faults(self) -> None:
        submit = "PipelineSubmit"
        kinds = [
            dict(path_contains=submit, status=429, retry_after=1, times=self.rng.randint(1, 3)),
            dict(path_contains=submit, status=503, times=self.rng.randint(2, 6)),
            dict(path_contains=submit, status=500, times=self.rng.randint(1, 2)),
            # AML carries the submit out after the client gave up (read timeout 1 s).
            dict(path_contains=submit, delay_seconds=1.5, times=1),
            dict(path_contains=submit, hang=True, hang_seconds=1.5, reset=True, times=1),
            dict(path_contains=submit, reset=True, times=1),
            dict(path_contains="runs:query", status=503, times=self.rng.randint(1, 3)),
            dict(path_contains="/runs/", status=500, times=self.rng.randint(1, 3)),
        ]
        for fault in self.rng.sample(kinds, self.rng.randint(1, 2)):
            self.aml.add_fault(method="POST" if fault["path_contains"] != "/runs/" else "GET", **fault)
            self.figures.faults += 1

    def _outage(self, seconds: float) -> None:
        self.proxy.down()
        time.sleep(seconds)
        self.proxy.up()

    def _edit(self, schedule: RoundSchedule) -> None:
        from shared.schedules import parse_schedule
        from shared.store import NotFound, PreconditionFailed

        try:
            record = self.runtime.schedules.get(schedule.id)
            record.definition = parse_schedule({**record.definition.to_dict(),
                                                "description": f"edited {self.rng.random():.6f}"})
            self.runtime.schedules.replace(record)
        except (NotFound, PreconditionFailed):
            pass

    def _delete(self, schedule: RoundSchedule) -> None:
        from shared.store import NotFound

        try:
            self.runtime.schedules.delete(schedule.id)
        except NotFound:
            pass

    def _wait_until_aml_has_acted(self, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while self.aml.in_flight() and time.monotonic() < deadline:
            time.sleep(0.02)

    def _recover(self, now: datetime) -> None:
        """No more faults or kills: move the clock to each next retry or lease expiry, tick and poll."""
        self.aml.clear_faults()
        self.proxy.up()
        worker = self.instances[0]
        for _ in range(40):
            self._wait_until_aml_has_acted()
            waiting = [r.next_attempt_at for r in self._pending() if r.next_attempt_at]
            now = max(now + STEP, min(waiting, default=now) + timedelta(seconds=1))
            for op in ("tick", "poll"):
                worker.send(op, now.isoformat())
                if worker.answer(STEP_TIMEOUT) is None:
                    raise RuntimeError("a chaos instance died during recovery; see its log")
            time.sleep(self.aml.run_seconds + 0.1)  # AML finishes what was submitted
            worker.send("poll", now.isoformat())
            worker.answer(STEP_TIMEOUT)
            if self._settled():
                return

    def _pending(self) -> list:
        return self.runtime.runs.pending_runs(datetime.max.replace(tzinfo=UTC), limit=1000)

    def _settled(self) -> bool:
        return not next(iter(self.runtime.runs.active_runs()), None) and not self._pending()
