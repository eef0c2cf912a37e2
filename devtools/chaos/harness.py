"""The chaos suite: scheduler instances as separate processes on one Azurite and one AML emulator.

Each instance is the app as the platform runs it (queue workers under the dev host) plus
the tick and the poll, which the harness calls at the times of its own logical clock.
Each round creates fresh schedules (new experiments, so AML has never heard of them),
of every target kind in turn (v1 pipelines, v2 jobs, v2 batch endpoints), and plays steps: every instance ticks (sometimes polls) at the step's time while the
harness, at random moments, SIGKILLs instances, injects AML faults (429 with
Retry-After, 503 bursts, 500, a submit AML carries out after the client gave up, hangs,
resets, failing run lookups), cuts table storage or the queue for a while, edits or
deletes a schedule, repeats slot messages, sends garbage and poisons slot messages, and
jumps the clock past leases or through an outage. Then the disturbances stop, the clock
moves on until every lease and retry has come due, and the round is checked (checks.py).

Real time and logical time meet in one place: before the clock moves on, the harness
waits until the emulator has acted on every request it received and the workers have
taken every visible message, since a real AML acts on a request within the settle
window that the clock is about to jump over.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devtools.chaos import disturbances
from devtools.chaos.checks import RoundSchedule, Verdict, verify
from devtools.chaos.instances import Instance
from devtools.chaos.stack import BATCH_ENDPOINT, COMPUTE, PIPELINE_ID, ChaosStack

UTC = timezone.utc
STEP = timedelta(seconds=10)
STEP_TIMEOUT = 90.0
QUIET_LIMIT = 15.0


def round_target(index: int, experiment: str) -> dict:
    """Every kind in turn: a v1 published pipeline, a v2 job (named per slot), a v2 batch
    endpoint invocation (a repeatability id per slot). Each schedule its own experiment."""
    kind = ("pipeline", "job", "batchEndpoint")[index % 3]
    if kind == "job":
        return {"kind": "job", "job": {"jobType": "Command", "experimentName": experiment, "computeId": COMPUTE,
                                       "command": "python score.py --slot {{slot}}",
                                       "environmentId": "azureml:AzureML-sklearn-1.5@latest"}}
    if kind == "batchEndpoint":
        return {"kind": "batchEndpoint", "endpointName": BATCH_ENDPOINT, "experimentName": experiment,
                "inputs": {"data": {"type": "uri_folder", "uri": "azureml://datastores/in/paths/{{slot:%H%M%S}}/"}}}
    return {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": experiment,
            "parameterAssignments": {"slot": "{{slot}}"}}


@dataclass
class ChaosConfig:
    fired_slots: int = 100        # play rounds until this many slots were fired (submitted or failed)
    seed: int = 20261201
    instances: int = 3
    schedules_per_round: int = 8
    steps_per_round: int = 12
    kill_rate: float = 0.25       # per instance and step
    fault_rate: float = 0.6       # per step, and likewise below
    table_outage_rate: float = 0.12
    queue_outage_rate: float = 0.12
    edit_rate: float = 0.15
    delete_rate: float = 0.05
    jump_rate: float = 0.1
    message_trick_rate: float = 0.3
    log_dir: Path | None = None


@dataclass
class Figures:
    rounds: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(
        ("kills", "faults", "table outages", "queue outages", "edits", "deletes", "clock jumps",
         "repeated messages", "poisoned messages", "garbage messages"), 0))
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
            "  " + ", ".join(f"{name} {count}" for name, count in self.counts.items()),
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

    def __enter__(self) -> "Chaos":
        self.stack = ChaosStack(self.log_dir, self.rng).__enter__()
        self.instances = [self._spawn(i) for i in range(self.config.instances)]
        for instance in self.instances:
            instance.wait_ready()
        return self

    def __exit__(self, *exc_info) -> None:
        for instance in getattr(self, "instances", []):
            instance.close()
        self.stack.__exit__(*exc_info)

    def _spawn(self, index: int) -> Instance:
        return Instance(f"instance-{index}", self.stack.worker_env, self.log_dir / f"instance-{index}.log")

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
                   "target": round_target(i, f"chaos_{self.config.seed}_r{number}_s{i}"),
                   "policy": {"misfire": self.rng.choice(["latest", "all", "skip"]), "maxCatchup": 5,
                              "misfireGraceSeconds": 300,
                              "concurrency": self.rng.choice(["Allow", "Allow", "Forbid", "Replace"]),
                              "retry": {"maxAttempts": 3, "backoffSeconds": self.rng.choice([1, 5, 60])}}}
            definition = parse_schedule(doc)
            self.stack.runtime.schedules.create(ScheduleRecord(definition, start, None, start, start))
            schedules.append(RoundSchedule(definition.id, start, definition.trigger.build()))
        now = start
        for _ in range(self.config.steps_per_round):
            now = self._next_time(now)
            self._play_step(now, schedules)
        self._recover(now, schedules)
        verdict = verify(self.stack.runtime, schedules, self.stack.aml.runs())
        # Checked: out of the way, or they would keep firing (and failing) in later rounds.
        for schedule in schedules:
            if not schedule.deleted:
                disturbances.delete(self.stack, schedule)
        return verdict

    def _next_time(self, now: datetime) -> datetime:
        now += STEP + timedelta(milliseconds=self.rng.randrange(0, 900))
        if self.rng.random() < self.config.jump_rate:
            self.figures.counts["clock jumps"] += 1
            leases = self.stack.runtime.engine.leases
            now += self.rng.choice([leases.lease + leases.settle, timedelta(hours=1)])
        return now

    def _play_step(self, now: datetime, schedules: list[RoundSchedule]) -> None:
        self._wait_until_quiet(now)
        counts, rng, config = self.figures.counts, self.rng, self.config
        if rng.random() < config.fault_rate:
            for fault in disturbances.aml_faults(rng):
                self.stack.aml.add_fault(**fault)
                counts["faults"] += 1
        for instance in self.instances:
            instance.send("poll" if rng.random() < 0.25 else "tick", now.isoformat())
        planned: list[tuple[float, object, tuple]] = []
        for instance in self.instances:
            if rng.random() < config.kill_rate:
                counts["kills"] += 1
                planned.append((rng.uniform(0, 0.5), instance.kill, ()))
        for proxy, rate, name in ((self.stack.tables_proxy, config.table_outage_rate, "table outages"),
                                  (self.stack.queues_proxy, config.queue_outage_rate, "queue outages")):
            if rng.random() < rate:
                counts[name] += 1
                planned.append((rng.uniform(0, 0.3), disturbances.outage, (proxy, rng.uniform(0.2, 1.5))))
        live = [s for s in schedules if not s.deleted]
        if live and rng.random() < config.edit_rate:
            counts["edits"] += 1
            planned.append((rng.uniform(0, 0.3), disturbances.edit, (self.stack, rng.choice(live), random.Random(rng.random()))))
        if live and rng.random() < config.delete_rate:
            counts["deletes"] += 1
            victim = rng.choice(live)
            victim.deleted = True
            planned.append((rng.uniform(0, 0.3), disturbances.delete, (self.stack, victim)))
        if rng.random() < config.message_trick_rate:
            trick = rng.choice(["repeated messages", "poisoned messages", "garbage messages"])
            counts[trick] += 1
            if trick == "garbage messages":
                planned.append((rng.uniform(0, 0.5), disturbances.garbage_message, (self.stack,)))
            else:
                act = disturbances.repeat_a_message if trick == "repeated messages" else disturbances.poison_a_message
                planned.append((rng.uniform(0, 0.8), act, (self.stack, schedules, random.Random(rng.random()))))
        timers = [threading.Timer(delay, action, args=args) for delay, action, args in planned]
        for timer in timers:
            timer.start()
        for timer in timers:
            timer.join()
        self._collect_answers()

    def _collect_answers(self) -> None:
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

    def _wait_until_quiet(self, now: datetime) -> None:
        """Until AML acted on every request it got and the workers took every visible message."""
        deadline = time.monotonic() + QUIET_LIMIT
        queue = self.stack.queue()
        while time.monotonic() < deadline:
            busy = 0
            for instance in self.instances:
                instance.send("busy", now.isoformat())
                answer = instance.answer(STEP_TIMEOUT)
                busy += answer["report"]["busy"] if answer else 0
            if not busy and not self.stack.aml.in_flight() and not list(queue.peek_messages(max_messages=1)):
                return
            time.sleep(0.05)

    def _recover(self, now: datetime, schedules: list[RoundSchedule]) -> None:
        """No more disturbances: move the clock to each next retry or lease expiry, poll and tick."""
        self.stack.aml.clear_faults()
        self.stack.tables_proxy.up()
        self.stack.queues_proxy.up()
        worker = self.instances[0]
        for _ in range(40):
            self._wait_until_quiet(now)
            in_flight = self._in_flight(schedules)
            if not in_flight:
                return
            waiting = [r.next_attempt_at for r in in_flight if r.pending and r.next_attempt_at]
            now = max(now + STEP, min(waiting, default=now) + timedelta(seconds=1))
            for op in ("poll", "tick"):
                worker.send(op, now.isoformat())
                if worker.answer(STEP_TIMEOUT) is None:
                    raise RuntimeError("a chaos instance died during recovery; see its log")
            self._wait_until_quiet(now)
            time.sleep(self.stack.aml.run_seconds + 0.1)  # AML finishes what was submitted
            worker.send("poll", now.isoformat())
            worker.answer(STEP_TIMEOUT)

    def _in_flight(self, schedules: list[RoundSchedule]) -> list:
        return [run for s in schedules for run in self.stack.runtime.runs.in_flight(s.id)]
