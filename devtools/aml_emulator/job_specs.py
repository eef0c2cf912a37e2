"""What an ARM job PUT body must hold, and what a second PUT of the same name may change.

Shapes follow ``JobBase`` with ``PipelineJob`` and ``CommandJob`` properties in the
2025-12-01 spec (examples/Job/PipelineJob/createOrUpdate.json, Job/CommandJob/get.json)
and azure-ai-ml's generated models (``JobBaseProperties``, ``JobInput``, ``JobOutput``).
Only the checks that matter to a scheduler are made: the job type, the name, the
compute references, a pipeline's ``jobs`` map, a command's command and environment,
and the input and output discriminators.

A second PUT of an existing name is an update in the real service: description, tags,
displayName, properties (added to, never altered) and isArchived may change; anything
else answers ``UserError`` with inner codes Immutable/JobPropertyImmutable (the
service's message quoted in azure-sdk-for-python#47389 and MicrosoftDocs/azure-docs#122250).
"""

from __future__ import annotations

import re
from typing import Any

from devtools.aml_emulator.errors import ApiError, bad_request
from devtools.aml_emulator.runs import EXPERIMENT_NAME
from devtools.aml_emulator.wire_formats import json_copy

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
JOB_TYPES = ("Pipeline", "Command")
INPUT_TYPES = frozenset({"literal", "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model",
                         "triton_model"})
OUTPUT_TYPES = INPUT_TYPES - {"literal"}
MUTABLE_FIELDS = ("description", "tags", "displayName", "properties", "isArchived")
# Filled in by the service; a client that sends a fetched job back echoes them.
SERVER_FIELDS = ("status", "services")
DEFAULT_EXPERIMENT = "Default"

_COMPUTE_ID = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/(?P<ws>[^/]+)/computes/(?P<name>[^/]+)",
    re.IGNORECASE,
)


def parse_job_properties(name: str, body: Any) -> dict[str, Any]:
    """The job's properties from a PUT body, checked and with defaults filled in, or a 400."""
    if not JOB_NAME.fullmatch(name):
        raise bad_request(f"Job name {name!r} is invalid: use 1-255 letters, digits, '_' or '-'.")
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise bad_request("The request body must be a JobBase object with properties.")
    props = json_copy(body["properties"])
    job_type = props.get("jobType")
    if job_type not in JOB_TYPES:
        raise bad_request(f"jobType {job_type!r} is not supported here; use one of {', '.join(JOB_TYPES)}.")
    experiment = props.get("experimentName") or DEFAULT_EXPERIMENT
    if not isinstance(experiment, str) or not EXPERIMENT_NAME.match(experiment):
        raise bad_request(f"experimentName {experiment!r} is invalid.")
    props["experimentName"] = experiment
    for key in ("tags", "properties"):
        value = props.get(key)
        if value is None:
            props[key] = {}
        elif not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            raise bad_request(f"{key} must map names to strings.")
    _check_bindings(props.get("inputs"), "inputs", "jobInputType", INPUT_TYPES)
    _check_bindings(props.get("outputs"), "outputs", "jobOutputType", OUTPUT_TYPES)
    if job_type == "Pipeline":
        jobs = props.get("jobs")
        if not isinstance(jobs, dict) or not jobs or any(not isinstance(n, dict) for n in jobs.values()):
            raise bad_request("A pipeline job needs jobs: a map of node names to node definitions.")
    else:
        if not isinstance(props.get("command"), str) or not props["command"].strip():
            raise bad_request("A command job needs a command.")
        if not isinstance(props.get("environmentId"), str) or not props["environmentId"]:
            raise bad_request("A command job needs an environmentId.")
    for key in SERVER_FIELDS:
        props.pop(key, None)
    return props


def _check_bindings(bindings: Any, field: str, discriminator: str, allowed: frozenset[str]) -> None:
    if bindings is None:
        return
    if not isinstance(bindings, dict):
        raise bad_request(f"{field} must map names to {discriminator} objects.")
    for key, binding in bindings.items():
        kind = binding.get(discriminator) if isinstance(binding, dict) else None
        if not isinstance(kind, str) or kind.lower() not in allowed:
            raise bad_request(f"{field}.{key}.{discriminator} must be one of {sorted(allowed)}.")
        if kind.lower() == "literal" and "value" not in binding:
            raise bad_request(f"{field}.{key} is a literal without a value.")
        if field == "inputs" and kind.lower() != "literal" and not binding.get("uri"):
            raise bad_request(f"{field}.{key} needs a uri.")


def compute_references(props: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, compute id) for every compute the job names: its own, the pipeline
    default and each node's; data-binding expressions are left to the pipeline."""
    found: list[tuple[str, str]] = []
    if props.get("computeId"):
        found.append(("computeId", props["computeId"]))
    settings = props.get("settings") if isinstance(props.get("settings"), dict) else {}
    for key in ("default_compute", "defaultCompute"):
        if settings.get(key):
            found.append((f"settings.{key}", settings[key]))
    for node_name, node in (props.get("jobs") or {}).items():
        if isinstance(node, dict) and node.get("computeId"):
            found.append((f"jobs.{node_name}.computeId", node["computeId"]))
    return [(where, ref) for where, ref in found if not (isinstance(ref, str) and ref.startswith("${{"))]


def compute_name(reference: Any, workspace: tuple[str, str, str]) -> str | None:
    """The compute name an ARM id names in ``workspace`` (sub, rg, ws), else None."""
    match = _COMPUTE_ID.fullmatch(reference) if isinstance(reference, str) else None
    if match is None:
        return None
    named = (match["sub"].lower(), match["rg"].lower(), match["ws"].lower())
    return match["name"] if named == tuple(part.lower() for part in workspace) else None


def updated_properties(name: str, stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """The job's properties after a second PUT, or the service's UserError for an
    immutable change. Properties may be added to; their values never change."""
    changed = [key for key in sorted((set(stored) | set(incoming)) - set(MUTABLE_FIELDS))
               if _meaningful(stored.get(key)) != _meaningful(incoming.get(key))]
    old_props, new_props = stored.get("properties") or {}, incoming.get("properties") or {}
    if any(key in old_props and old_props[key] != value for key, value in new_props.items()):
        changed.append("properties")
    if changed:
        fields = ", ".join(key[:1].upper() + key[1:] for key in changed)
        raise ApiError(
            400, "UserError",
            f"A job with this name ({name}) already exists. To create a new job use another name; an existing "
            f"job's {fields} cannot be changed. Only description, tags, displayName, properties (added to) and "
            "isArchived can be updated.",
            inner_code=("Immutable", "JobPropertyImmutable"),
        )
    updated = json_copy(stored)
    for key in ("description", "displayName", "isArchived"):
        if key in incoming:
            updated[key] = incoming[key]
    if "tags" in incoming:
        updated["tags"] = dict(incoming["tags"])
    updated["properties"] = {**old_props, **new_props}
    return updated


def _meaningful(value: Any) -> Any:
    """``value`` without nulls and empty containers, which a client may send or leave out alike."""
    if isinstance(value, dict):
        cleaned = {k: _meaningful(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])} or None
    if isinstance(value, list):
        return [_meaningful(v) for v in value] or None
    return value
