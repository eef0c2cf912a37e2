"""What a schedule runs: the target kinds, their validation and their per-slot rendering.

* `pipeline`, `pipelineEndpoint`: AML v1 published pipelines and pipeline endpoints
  (SDK v1, out of support since 2026-06-30; still served);
* `job`: an AML v2 job (pipeline or command), as ARM takes its properties — the same
  thing AML's own v2 schedule takes as `jobDefinition`;
* `batchEndpoint`: an invocation of an AML v2 batch endpoint (optionally one deployment),
  with its inputs and outputs.

Placeholders (`{{slot:%Y-%m-%d}}` ...) work in every string: v1 parameter values and data
paths, every string of a job, every input and output. An unknown placeholder is refused
when the schedule is saved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.aml import names
from shared.scheduling import ScheduleError
from shared.scheduling.templating import SlotContext, check_placeholders, render_parameters, render_text, validate_parameters

TARGET_KINDS = ("pipeline", "pipelineEndpoint", "job", "batchEndpoint")
JOB_TYPES = ("Pipeline", "Command")
INPUT_TYPES = ("uri_folder", "uri_file", "literal")
OUTPUT_TYPES = ("uri_folder", "uri_file")
MAX_JOB_BYTES = 32 * 1024
MAX_IO = 50
INPUT_MODES = ("ro_mount", "rw_mount", "download", "upload", "direct", "eval_mount", "eval_download")
# Where AML files a job that names no experiment.
DEFAULT_EXPERIMENT = "Default"
# Set by AML, never by a caller: a job definition that carries them was copied from a GET.
JOB_READ_ONLY = ("status", "services", "isArchived")
_COMPUTE_ID = re.compile(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices"
                         r"/workspaces/[^/]+/computes/(?P<name>[^/]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    kind: str
    target_id: str | None  # v1: the pipeline or endpoint id; batchEndpoint: the endpoint name
    experiment_name: str | None
    parameter_assignments: dict = field(default_factory=dict)
    data_path_assignments: dict = field(default_factory=dict)
    pipeline_version: str | None = None
    job: dict | None = None
    deployment: str | None = None
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)

    @property
    def is_v2(self) -> bool:
        return self.kind in ("job", "batchEndpoint")

    @property
    def unique_by_name(self) -> bool:
        """A second attempt of a slot cannot start a second run: jobs are named per slot,
        invocations carry a repeatability id. v1 submits rely on the run-key lookup."""
        return self.is_v2


    def label(self) -> str:
        """What the target is called, for lists and logs."""
        if self.kind == "job":
            return (self.job or {}).get("displayName") or self.experiment_name or "job"
        return self.target_id or ""

    def to_dict(self) -> dict:
        doc: dict[str, Any] = {"kind": self.kind}
        if self.kind == "job":
            doc["job"] = self.job
            return doc
        if self.kind == "batchEndpoint":
            doc["endpointName"] = self.target_id
            if self.deployment:
                doc["deployment"] = self.deployment
            if self.experiment_name:
                doc["experimentName"] = self.experiment_name
            doc["inputs"] = dict(self.inputs)
            doc["outputs"] = dict(self.outputs)
            return doc
        doc["pipelineId" if self.kind == "pipeline" else "pipelineEndpointId"] = self.target_id
        if self.pipeline_version is not None:
            doc["pipelineVersion"] = self.pipeline_version
        doc["experimentName"] = self.experiment_name
        doc["parameterAssignments"] = dict(self.parameter_assignments)
        doc["dataPathAssignments"] = dict(self.data_path_assignments)
        return doc

    # -- per slot ----------------------------------------------------------------------
    def experiment(self) -> str:
        """The experiment the slot's runs land in (what AML files them under when none is named)."""
        if self.experiment_name:
            return self.experiment_name
        return DEFAULT_EXPERIMENT if self.kind == "job" else (self.target_id or DEFAULT_EXPERIMENT)

    def rendered_parameters(self, ctx: SlotContext, overrides: dict | None = None) -> dict:
        """What the run record keeps as the slot's parameters, rendered at the claim: the
        values as sent. For v2 targets these are the inputs (and outputs) the submit uses;
        an override replaces an input by a literal value."""
        overrides = overrides or {}
        if self.kind == "job":
            inputs = {**(self.job or {}).get("inputs", {}),
                      **{name: {"jobInputType": "literal", "value": str(value)} for name, value in overrides.items()}}
            return render_nested({"inputs": inputs}, ctx)
        if self.kind == "batchEndpoint":
            inputs = {**self.inputs, **{name: {"type": "literal", "value": value} for name, value in overrides.items()}}
            return render_nested({"inputs": inputs, "outputs": self.outputs}, ctx)
        return render_parameters({**self.parameter_assignments, **overrides}, ctx)

    def rendered_job(self, ctx: SlotContext) -> dict:
        return render_nested(self.job or {}, ctx)

    def rendered_io(self, ctx: SlotContext) -> tuple[dict, dict]:
        return render_nested(self.inputs, ctx), render_nested(self.outputs, ctx)


def render_nested(value: Any, ctx: SlotContext) -> Any:
    """Every string in a JSON value rendered for the slot; nothing else changes."""
    if isinstance(value, str):
        return render_text(value, ctx)
    if isinstance(value, dict):
        return {key: render_nested(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [render_nested(item, ctx) for item in value]
    return value


def parse_target(doc: Any) -> Target:
    if not isinstance(doc, dict):
        raise ScheduleError("target", "must be an object")
    kind = doc.get("kind")
    if kind not in TARGET_KINDS:
        raise ScheduleError("target.kind", "must be one of " + ", ".join(TARGET_KINDS))
    if kind == "job":
        return _parse_job(doc)
    if kind == "batchEndpoint":
        return _parse_batch(doc)
    return _parse_v1(doc, kind)


def _known(doc: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ScheduleError(f"{where}.{unknown[0]}", "unknown field" + (f" for kind {doc.get('kind')}"
                                                                          if where == "target" else ""))


def _parse_v1(doc: dict, kind: str) -> Target:
    _known(doc, {"kind", "pipelineId", "pipelineEndpointId", "pipelineVersion", "experimentName",
                 "parameterAssignments", "dataPathAssignments"}, "target")
    id_key, id_kind = ("pipelineId", "pipeline id") if kind == "pipeline" else ("pipelineEndpointId", "pipeline endpoint id")
    other = "pipelineEndpointId" if kind == "pipeline" else "pipelineId"
    if other in doc:
        raise ScheduleError(f"target.{other}", f"does not apply to kind {kind}")
    if not names.is_valid(id_kind, doc.get(id_key)):
        raise ScheduleError(f"target.{id_key}", "is required and must be a GUID")
    version = doc.get("pipelineVersion")
    if version is not None:
        if kind != "pipelineEndpoint":
            raise ScheduleError("target.pipelineVersion", "applies to kind pipelineEndpoint only")
        if not names.is_valid("pipeline version", version):
            raise ScheduleError("target.pipelineVersion", "must be 1-64 letters, digits, '.', '-' or '_'")
    if not names.is_valid("experiment name", doc.get("experimentName")):
        raise ScheduleError("target.experimentName",
                            "is required: 1-255 letters, digits, '-' or '_', starting with a letter or digit")
    params = validate_parameters("target.parameterAssignments", doc.get("parameterAssignments", {}))
    paths = _data_paths(doc.get("dataPathAssignments", {}))
    return Target(kind, doc[id_key], doc["experimentName"], params, paths, version)


def _data_paths(doc: Any) -> dict:
    where = "target.dataPathAssignments"
    if not isinstance(doc, dict):
        raise ScheduleError(where, "must be an object")
    for name, value in doc.items():
        if not isinstance(value, dict):
            raise ScheduleError(f"{where}.{name}", "must be an object")
        _known(value, {"DataStoreName", "RelativePath"}, f"{where}.{name}")
        for key in ("DataStoreName", "RelativePath"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise ScheduleError(f"{where}.{name}.{key}", "is required and must be a string")
        validate_parameters(f"{where}.{name}", {"RelativePath": value["RelativePath"]})
    return dict(doc)


def _parse_job(doc: dict) -> Target:
    _known(doc, {"kind", "job"}, "target")
    job = doc.get("job")
    if not isinstance(job, dict):
        raise ScheduleError("target.job", "is required: the job's properties, as AML's REST API and AML's own "
                                          "v2 schedules (jobDefinition) take them")
    if len(json.dumps(job)) > MAX_JOB_BYTES:
        raise ScheduleError("target.job", f"must be at most {MAX_JOB_BYTES // 1024} KB of JSON")
    if job.get("jobType") not in JOB_TYPES:
        raise ScheduleError("target.job.jobType", "must be one of " + ", ".join(JOB_TYPES))
    for key in JOB_READ_ONLY:
        if key in job:
            raise ScheduleError(f"target.job.{key}", "is set by AML, not by a job definition")
    experiment = job.get("experimentName")
    if experiment is not None and not names.is_valid("experiment name", experiment):
        raise ScheduleError("target.job.experimentName", "must be 1-255 letters, digits, '-' or '_'")
    for key in ("displayName", "description"):
        if key in job and (not isinstance(job[key], str) or len(job[key]) > 1024):
            raise ScheduleError(f"target.job.{key}", "must be a string of at most 1024 characters")
    tags = job.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ScheduleError("target.job.tags", "must be an object of strings")
    settings, steps = job.get("settings", {}), job.get("jobs", {})
    if not isinstance(settings, dict) or not isinstance(steps, dict):
        raise ScheduleError("target.job." + ("settings" if not isinstance(settings, dict) else "jobs"),
                            "must be an object")
    references = [("computeId", job.get("computeId")), ("settings.default_compute", settings.get("default_compute"))]
    references += [(f"jobs.{step}.computeId", spec.get("computeId")) for step, spec in steps.items()
                   if isinstance(spec, dict)]
    for where, value in references:
        if value is not None and compute_reference_name(value) is None:
            raise ScheduleError(f"target.job.{where}", "must be a compute name, azureml:<name>, or the compute's ARM "
                                                       "resource id")
    check_placeholders_in("target.job", job)
    return Target("job", None, experiment, job=job)


def compute_reference_name(value: Any) -> str | None:
    """The compute's short name in a job's compute reference (a name, azureml:<name> or an
    ARM id), or None if the value is not one."""
    if not isinstance(value, str) or not value:
        return None
    match = _COMPUTE_ID.fullmatch(value)
    name = match.group("name") if match else value.removeprefix("azureml:")
    return name if names.is_valid("compute name", name) else None


def _parse_batch(doc: dict) -> Target:
    _known(doc, {"kind", "endpointName", "deployment", "experimentName", "inputs", "outputs"}, "target")
    if not names.is_valid("batch endpoint name", doc.get("endpointName")):
        raise ScheduleError("target.endpointName", "is required: 3-32 letters, digits or '-', starting with a letter")
    deployment = doc.get("deployment")
    if deployment is not None and not names.is_valid("deployment name", deployment):
        raise ScheduleError("target.deployment", "must be 3-32 letters, digits or '-', starting with a letter")
    experiment = doc.get("experimentName")
    if experiment is not None and not names.is_valid("experiment name", experiment):
        raise ScheduleError("target.experimentName", "must be 1-255 letters, digits, '-' or '_'")
    inputs = _io(doc.get("inputs", {}), "target.inputs", INPUT_TYPES)
    outputs = _io(doc.get("outputs", {}), "target.outputs", OUTPUT_TYPES)
    return Target("batchEndpoint", doc["endpointName"], experiment, deployment=deployment, inputs=inputs,
                  outputs=outputs)


def _io(doc: Any, where: str, types: tuple[str, ...]) -> dict:
    if not isinstance(doc, dict) or len(doc) > MAX_IO:
        raise ScheduleError(where, f"must be an object of at most {MAX_IO} named entries")
    for name, entry in doc.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name):
            raise ScheduleError(f"{where}.{name}", "names are letters, digits and '_', starting with a letter or '_'")
        if not isinstance(entry, dict):
            raise ScheduleError(f"{where}.{name}", 'must be {"type": ..., "uri": ...} or {"type": "literal", "value": ...}')
        kind = entry.get("type")
        if kind not in types:
            raise ScheduleError(f"{where}.{name}.type", "must be one of " + ", ".join(types))
        key = "value" if kind == "literal" else "uri"
        _known(entry, {"type", key, "mode"}, f"{where}.{name}")
        if "mode" in entry and entry["mode"] not in INPUT_MODES:
            raise ScheduleError(f"{where}.{name}.mode", "must be one of " + ", ".join(INPUT_MODES))
        value = entry.get(key)
        if kind == "literal":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ScheduleError(f"{where}.{name}.value", "is required: a string or a number")
        elif not isinstance(value, str) or not value or len(value) > 2048:
            raise ScheduleError(f"{where}.{name}.uri", "is required: a data URI (azureml://..., https://...) of at "
                                                       "most 2048 characters")
    check_placeholders_in(where, doc)
    return dict(doc)


def check_placeholders_in(where: str, value: Any) -> None:
    """Every string anywhere in `value` uses known placeholders only; errors name the path."""
    if isinstance(value, str):
        check_placeholders(where, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_placeholders_in(f"{where}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_placeholders_in(f"{where}[{index}]", item)
