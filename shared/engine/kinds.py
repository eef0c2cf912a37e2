"""Per target kind: how a slot is submitted, found again after a crash, read and cancelled.

* v1 (`pipeline`, `pipelineEndpoint`): a submit cannot be named, so it is tagged with the
  slot's run key and attempt; after an attempt whose outcome is unknown, run history is
  searched for that tag before anything is sent again.
* `job`: the job is named after the slot (`job_name`), so every attempt of a slot PUTs
  the same name and AML can hold only one job for it; an earlier attempt's job is found
  with one GET of that name.
* `batchEndpoint`: every attempt of a slot sends the same repeatability id
  (`repeatability_id`), which the service answers with the first invocation's job; an
  attempt after one that may have reached AML repeats the invocation to learn its job.

A run whose AML run failed and is retried (retryOnRunFailure) starts a new generation:
a new job name and a new repeatability id, since the failed job is kept.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Callable

from shared.aml.errors import AmlError
from shared.engine.model import ATTEMPT_TAG, RUN_KEY_TAG, AmlPort
from shared.scheduling.templating import SlotContext, render_text
from shared.schedules import iso
from shared.store import RunRecord, ScheduleRecord
from shared.targets import compute_reference_name

if TYPE_CHECKING:
    from shared.aml.client import RunState, SubmittedRun

V2_KINDS = frozenset({"job", "batchEndpoint"})
# Namespace of the repeatability ids (uuid5 of the run key and generation): fixed forever,
# so a slot's id is the same in every process and after every deploy.
REPEATABILITY_NAMESPACE = uuid.UUID("5f0d3c2e-7a4b-4b8e-9a51-3c6d2f1e8b90")


def is_v2(run: RunRecord) -> bool:
    return run.target_kind in V2_KINDS


def generation(run: RunRecord) -> int:
    """How many AML runs of this slot failed and were retried (retryOnRunFailure)."""
    return len(run.previous_aml_run_ids or [])


def job_name(run: RunRecord) -> str:
    """The slot's job name: the run key (ids are [a-z0-9-], slot keys digits, 'T', 'Z', '.',
    '-manual'; '.' is the one character AML refuses, and '_' appears nowhere else)."""
    base = run.run_key.replace(".", "_")
    return base if not generation(run) else f"{base}-g{generation(run)}"


def repeatability_id(run: RunRecord) -> str:
    return str(uuid.uuid5(REPEATABILITY_NAMESPACE, f"{run.run_key}#{generation(run)}"))


def tags(record: ScheduleRecord, run: RunRecord, attempt: int) -> dict[str, str]:
    return {RUN_KEY_TAG: run.run_key, ATTEMPT_TAG: str(attempt), "scheduler_schedule_id": record.id,
            "scheduler_slot": iso(run.slot), "scheduler_trigger": run.trigger}


def submit(aml: AmlPort, record: ScheduleRecord, run: RunRecord, attempt: int,
           context: Callable[[], SlotContext]) -> "SubmittedRun | RunState":
    """Send the slot to AML; `context` builds the slot context when something needs rendering."""
    target = record.definition.target
    labels = tags(record, run, attempt)
    if target.kind == "job":
        properties = with_compute_ids(target.rendered_job(context()), aml.compute_id)
        if run.parameters and "inputs" in run.parameters:
            properties["inputs"] = run.parameters["inputs"]  # as rendered at the claim, overrides included
        properties["tags"] = {**(properties.get("tags") or {}), **labels}
        properties.setdefault("displayName", f"{record.id} {iso(run.slot)}")
        properties.setdefault("description", f"{run.trigger} run of {record.id} for slot {iso(run.slot)}")
        return aml.submit_job(job_name(run), properties, tag=RUN_KEY_TAG, value=run.run_key)
    if target.kind == "batchEndpoint":
        inputs, outputs = _batch_io(target, run, context)
        return aml.invoke_batch(target.target_id, inputs, outputs, deployment=target.deployment,
                                experiment_name=target.experiment_name, tags=labels,
                                repeatability_id=repeatability_id(run))
    return _submit_v1(aml, record, run, labels, context)


def with_compute_ids(job: dict, compute_id: Callable[[str], str]) -> dict:
    """The job with every compute reference (a name, azureml:<name>, or an ARM id) as the
    ARM id ARM takes: the CLI and SDK make the same conversion before they PUT."""
    job = dict(job)
    if compute_reference_name(job.get("computeId")):
        job["computeId"] = compute_id(compute_reference_name(job["computeId"]))
    settings = job.get("settings")
    if isinstance(settings, dict) and compute_reference_name(settings.get("default_compute")):
        job["settings"] = {**settings, "default_compute": compute_id(compute_reference_name(settings["default_compute"]))}
    steps = job.get("jobs")
    if isinstance(steps, dict):
        job["jobs"] = {name: ({**step, "computeId": compute_id(compute_reference_name(step["computeId"]))}
                              if isinstance(step, dict) and compute_reference_name(step.get("computeId")) else step)
                       for name, step in steps.items()}
    return job


def _batch_io(target, run: RunRecord, context) -> tuple[dict, dict]:
    if run.parameters and "inputs" in run.parameters:
        return run.parameters["inputs"], run.parameters.get("outputs", {})
    return target.rendered_io(context())


def _submit_v1(aml: AmlPort, record: ScheduleRecord, run: RunRecord, labels: dict, context) -> "SubmittedRun":
    target = record.definition.target
    parameters, data_paths = run.parameters, {}
    # Parameters were rendered when the slot was claimed; the slot context (which walks
    # the trigger back to the previous fire time) is only rebuilt when something still
    # needs it.
    if parameters is None or target.data_path_assignments:
        ctx = context()
        if parameters is None:
            parameters = target.rendered_parameters(ctx)
        data_paths = {name: {**entry, "RelativePath": render_text(entry["RelativePath"], ctx)}
                      for name, entry in target.data_path_assignments.items()}
    common = dict(experiment_name=target.experiment_name, parameter_assignments=parameters,
                  data_path_assignments=data_paths or None,
                  description=f"{run.trigger} run of {record.id} for slot {iso(run.slot)}", tags=labels)
    if target.kind == "pipelineEndpoint":
        return aml.submit_pipeline_endpoint(target.target_id, pipeline_version=target.pipeline_version, **common)
    return aml.submit_pipeline(target.target_id, **common)


def find_lost(aml: AmlPort, record: ScheduleRecord | None, run: RunRecord,
              context: Callable[[], SlotContext] | None = None) -> "tuple[RunState, int] | None":
    """The AML run an earlier attempt of this slot started without it being recorded."""
    if run.target_kind == "job":
        state = aml.find_job(job_name(run))
        if state is None or state.tags.get(RUN_KEY_TAG) != run.run_key:
            return None
        return state, _attempt_of(state, run)
    if run.target_kind == "batchEndpoint":
        if run.attempts == 0 or record is None or context is None:
            return None  # no attempt got as far as AML: the next one sends the same id anyway
        try:
            return submit(aml, record, run, run.attempts, context), max(run.attempts, 1)
        except AmlError as exc:
            if exc.retryable or exc.uncertain:
                raise
            return None  # AML refuses it now (the endpoint is gone): nothing was started
    return _find_lost_v1(aml, run)


def _attempt_of(state: "RunState", run: RunRecord) -> int:
    try:
        return int(state.tags.get(ATTEMPT_TAG, ""))
    except (TypeError, ValueError):
        return max(run.attempts, 1)


def _find_lost_v1(aml: AmlPort, run: RunRecord) -> "tuple[RunState, int] | None":
    """Candidates carry the slot's run key and an attempt number no lower than the last
    recorded one: the recorded attempt if its outcome was unknown, the next one if the
    process died between submitting and recording. Runs already known to have failed
    (retryOnRunFailure) are not candidates."""
    known = set(run.previous_aml_run_ids or [])
    best: "tuple[RunState, int] | None" = None
    for state in aml.find_runs_by_tags(run.experiment_name, {RUN_KEY_TAG: run.run_key}):
        try:
            attempt = int(state.tags.get(ATTEMPT_TAG, "0"))
        except (TypeError, ValueError):
            continue
        if state.run_id in known or attempt < max(run.attempts, 1):
            continue
        if best is None or attempt > best[1]:
            best = (state, attempt)
    return best


def read(aml: AmlPort, run: RunRecord) -> "RunState":
    if is_v2(run):
        return aml.get_job(run.aml_run_id)
    return aml.get_run(run.experiment_name, run.aml_run_id)


def cancel(aml: AmlPort, run: RunRecord) -> None:
    if is_v2(run):
        aml.cancel_job(run.aml_run_id)
    else:
        aml.cancel_run(run.experiment_name, run.aml_run_id)

